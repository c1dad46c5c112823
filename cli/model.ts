/**
 * `kiln run | check | bench | explain model.onnx`: load a model, feed it inputs from `.npy` /
 * `.pb` files (or seeded random ones), and run, verify, time or describe it.
 */
import { readFileSync, writeFileSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join, basename } from "node:path";
import { Tensor } from "../lib/tensor.js";
import { jit, type Jitted, type JitOptions, type QuantReport } from "../lib/jit.js";
import { randn, randint, rand } from "../lib/creation.js";
import { readNpy, writeNpy } from "../lib/npy.js";
import { load, compile, compareBuffers, decodeTensor, type OnnxModel } from "../lib/onnx/index.js";
import { onnx as proto } from "../lib/onnx/proto.js";
import { constNode } from "../jit/ir.js";
import type { HostBuffer } from "../jit/buffer.js";
import { getDefaultBackend, type ExplainSection } from "../jit/backend.js";
import type { Graph } from "../jit/graph.js";
import { ValueError } from "../jit/errors.js";
import { parseArgs, type Io, type Parsed } from "./args.js";

const COMMON = {
  backend: "string", threads: "number", input: "list", dim: "list", seed: "number", opt: "number",
  quantize: "string", calibrate: "string", method: "string", percentile: "number", exclude: "list",
} as const;

/** Reads a tensor file: `.npy`, or `.pb` (a serialized onnx.TensorProto). */
export function readTensorFile(path: string): HostBuffer {
  let bytes: Uint8Array;
  try { bytes = readFileSync(path); }
  catch (e) { throw new ValueError(`cannot read ${path}: ${(e as Error).message}`); }
  if (path.endsWith(".npy")) return readNpy(bytes, path);
  if (path.endsWith(".pb")) return decodeTensor(proto.TensorProto.decode(bytes), path).buffer;
  throw new ValueError(`${path}: unknown tensor file type`, { hint: "use .npy (numpy.save) or .pb (a serialized onnx.TensorProto)" });
}

/** NAME=FILE pairs. */
function pairs(list: readonly string[], flag: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const p of list) {
    const i = p.indexOf("=");
    if (i <= 0) throw new ValueError(`--${flag} takes NAME=FILE, got "${p}"`);
    m.set(p.slice(0, i), p.slice(i + 1));
  }
  return m;
}

function loadModel(a: Parsed, io: Io, cmd: string): { model: OnnxModel; path: string } {
  const path = a.positional[0];
  if (!path) throw new ValueError(`kiln ${cmd} needs a model file`, { hint: `kiln ${cmd} model.onnx` });
  if (a.positional.length > 1) throw new ValueError(`kiln ${cmd} takes one model, got ${a.positional.length} arguments`);
  if (io.isTTY) io.progress(`loading ${basename(path)}…`);
  const model = load(path);
  if (io.isTTY) io.progress("");
  for (const w of model.warnings) io.err(`kiln: note: ${w}\n`);
  return { model, path };
}

/** The feeds: files given with --input, seeded random tensors for the rest (symbolic dims from --dim, default 1). */
export function makeFeeds(model: OnnxModel, a: Parsed, firstSeed?: number): Record<string, Tensor> {
  const files = pairs(a.list("input"), "input");
  const dims = new Map([...pairs(a.list("dim"), "dim")].map(([k, v]) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new ValueError(`--dim ${k}=${v}: the size must be an integer >= 0`);
    return [k, n] as const;
  }));
  const names = new Set(model.inputs.map((i) => i.name));
  for (const k of files.keys()) if (!names.has(k)) throw new ValueError(`--input ${k}: the model has no input "${k}"`, { hint: `its inputs: ${[...names].join(", ") || "(none)"}` });
  const feeds: Record<string, Tensor> = {};
  let seed = firstSeed ?? a.num("seed") ?? 0;
  for (const info of model.inputs) {
    const file = files.get(info.name);
    if (file) {
      const b = readTensorFile(file);
      feeds[info.name] = new Tensor(constNode(b));
      if (b.dtype !== info.dtype && info.dtype) feeds[info.name] = feeds[info.name]!.cast(info.dtype);
      continue;
    }
    const shape = (info.shape ?? []).map((d) => (typeof d === "number" ? d : dims.get(d ?? "") ?? 1));
    const s = seed++;
    const t = info.dtype === "bool" ? rand(shape, { seed: s }).lt(0.5)
      : info.dtype === "float32" || info.dtype === "float16" ? randn(shape, { seed: s, dtype: info.dtype })
      : randint(0, info.dtype === "uint8" ? 256 : 10, shape, { seed: s, dtype: info.dtype });
    feeds[info.name] = t;
  }
  return feeds;
}

/**
 * Calibration samples for `--quantize int8`: from `--calibrate DIR` (one subfolder per sample
 * holding `input_N.pb` files in input order or `NAME.npy`/`NAME.pb` files by input name, or for a
 * one-input model one file per sample), else 16 seeded random inputs, with a note saying so.
 */
export function calibrationFeeds(model: OnnxModel, a: Parsed, io: Io): Record<string, Tensor>[] {
  const dir = a.str("calibrate");
  if (!dir) {
    io.err("kiln: note: no --calibrate DIR: calibrating on 16 seeded random inputs (give real samples for real ranges)\n");
    const seed = (a.num("seed") ?? 0) + 1000;
    return Array.from({ length: 16 }, (_, i) => makeFeeds(model, a, seed + i * model.inputs.length));
  }
  let entries: string[];
  try { entries = readdirSync(dir).sort(); }
  catch (e) { throw new ValueError(`--calibrate ${dir}: ${(e as Error).message}`, { hint: "a folder of samples" }); }
  const tensorOf = (file: string, name: string): [string, Tensor] => {
    const info = model.inputs.find((i) => i.name === name)!;
    let t = new Tensor(constNode(readTensorFile(file)));
    if (info.dtype && t.dtype !== info.dtype) t = t.cast(info.dtype);
    return [name, t];
  };
  const samples: Record<string, Tensor>[] = [];
  for (const e of entries) {
    const path = join(dir, e);
    if (statSync(path).isDirectory()) {
      const files = readdirSync(path).filter((f) => /\.(npy|pb)$/.test(f)).sort();
      samples.push(Object.fromEntries(files.map((f) => {
        const m = /^input_(\d+)\.pb$/.exec(f);
        const name = m ? model.inputs[Number(m[1])]?.name : f.replace(/\.(npy|pb)$/, "");
        if (!name || !model.inputs.some((i) => i.name === name)) throw new ValueError(`--calibrate: ${join(path, f)} names no model input`, { hint: `inputs: ${model.inputs.map((i) => i.name).join(", ")}; name files input_N.pb or NAME.npy` });
        return tensorOf(join(path, f), name);
      })));
    } else if (/\.(npy|pb)$/.test(e)) {
      if (model.inputs.length !== 1) throw new ValueError(`--calibrate ${dir}: loose files need a one-input model, this one has ${model.inputs.length}`, { hint: "use one subfolder per sample with input_N.pb or NAME.npy files" });
      samples.push(Object.fromEntries([tensorOf(path, model.inputs[0]!.name)]));
    }
  }
  if (!samples.length) throw new ValueError(`--calibrate ${dir}: no samples found`, { hint: "one subfolder per sample (input_N.pb / NAME.npy), or .npy/.pb files for a one-input model" });
  return samples;
}

function jitOptions(a: Parsed, model?: OnnxModel, io?: Io): JitOptions {
  const opt = a.num("opt");
  if (opt !== undefined && ![0, 1, 2, 3].includes(opt)) throw new ValueError(`--opt must be 0, 1, 2 or 3, got ${opt}`);
  const o: JitOptions = { backend: a.str("backend"), threads: a.num("threads"), opt: opt as 0 | 1 | 2 | 3 | undefined };
  const mode = a.str("quantize");
  if (mode === undefined) {
    for (const k of ["calibrate", "method", "percentile"]) if (a.str(k) !== undefined || a.num(k) !== undefined) throw new ValueError(`--${k} needs --quantize int8`);
    return o;
  }
  if (mode !== "int8" && mode !== "int8-dynamic") throw new ValueError(`--quantize must be int8 or int8-dynamic, got "${mode}"`);
  const calibration = mode === "int8" && model && io ? calibrationFeeds(model, a, io) : undefined;
  return { ...o, quantize: { mode, calibration, method: a.str("method") as "minmax" | undefined, percentile: a.num("percentile"), exclude: a.list("exclude") } };
}
function jitFor(model: OnnxModel, a: Parsed, io: Io): Jitted<OnnxModel> { return jit(model, jitOptions(a, model, io)); }
/** run/check: specialize on shape-setting inputs (onnx.compile); quantized: plain jit (calibrated once). */
function callerFor(model: OnnxModel, a: Parsed, io: Io): (feeds: Record<string, Tensor>) => Record<string, Tensor> {
  return a.str("quantize") ? jitFor(model, a, io) : compile(model, jitOptions(a));
}

async function outputs(r: Record<string, Tensor>, model: OnnxModel): Promise<HostBuffer[]> {
  return Promise.all(model.outputs.map((o) => r[o.name]!.buffer()));
}

const safeName = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_") || "_";

export async function runCmd(argv: string[], io: Io): Promise<number> {
  const a = parseArgs(argv, { ...COMMON, out: "string" }, "run");
  const { model } = loadModel(a, io, "run");
  const feeds = makeFeeds(model, a);
  // run and check specialize on shape-setting inputs (onnx.compile); bench and explain need one jit graph
  const outs = await outputs(callerFor(model, a, io)(feeds), model);
  const dir = a.str("out");
  if (dir) mkdirSync(dir, { recursive: true });
  model.outputs.forEach((o, i) => {
    const b = outs[i]!;
    let line = `${o.name}: ${b.dtype}[${b.shape.join(", ")}]`;
    if (dir) { const p = join(dir, `${safeName(o.name)}.npy`); writeFileSync(p, writeNpy(b)); line += ` → ${p}`; }
    io.out(line + "\n");
  });
  return 0;
}

export async function checkCmd(argv: string[], io: Io): Promise<number> {
  const a = parseArgs(argv, { ...COMMON, expect: "list", rtol: "number", atol: "number", json: "bool", report: "bool", "min-cosine": "number" }, "check");
  const { model } = loadModel(a, io, "check");
  if (a.str("quantize") && !a.list("expect").length) return checkQuantized(model, a, io);
  if (a.bool("report")) throw new ValueError("--report needs --quantize int8 (it reports int8 against float)");
  const rtol = a.num("rtol") ?? 1e-3, atol = a.num("atol") ?? 1e-5;
  const feeds = makeFeeds(model, a);
  const expects = pairs(a.list("expect"), "expect");
  for (const k of expects.keys()) if (!model.outputs.some((o) => o.name === k)) throw new ValueError(`--expect ${k}: the model has no output "${k}"`, { hint: `its outputs: ${model.outputs.map((o) => o.name).join(", ")}` });
  const got = await outputs(callerFor(model, a, io)(feeds), model);
  // without --expect, the reference interpreter is the oracle
  const ref = expects.size ? undefined : await outputs(compile(model, { backend: "js", opt: 0 })(feeds), model);
  const rows = model.outputs.flatMap((o, i) => {
    const want = ref ? ref[i]! : expects.has(o.name) ? readTensorFile(expects.get(o.name)!) : undefined;
    if (!want) return [];
    const c = compareBuffers(got[i]!, want, rtol, atol);
    return [{ name: o.name, maxAbsDiff: c.maxAbs, maxRelDiff: c.maxRel, ok: c.ok, ...(c.why ? { reason: c.why } : {}) }];
  });
  const ok = rows.every((r) => r.ok);
  if (a.bool("json")) io.out(JSON.stringify({ ok, outputs: rows.map((r) => ({ ...r, maxAbsDiff: finite(r.maxAbsDiff), maxRelDiff: finite(r.maxRelDiff) })) }) + "\n");
  else {
    io.out(`checking ${a.str("backend") ?? getDefaultBackend()} against ${ref ? "the js reference" : "the expected files"} (rtol ${rtol}, atol ${atol})\n`);
    for (const r of rows) io.out(`${r.ok ? "ok  " : "FAIL"} ${r.name}: max abs diff ${r.maxAbsDiff.toPrecision(3)}, max rel diff ${r.maxRelDiff.toPrecision(3)}${r.reason ? ` (${r.reason})` : ""}\n`);
  }
  return ok ? 0 : 1;
}
const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

/**
 * `kiln check --quantize …` without --expect: the quantized model against its float self on
 * the inputs (`--input`/seeded); passes when every float output's cosine similarity is at least
 * --min-cosine (default 0.99). `--report` adds the per-layer table (or its JSON).
 */
async function checkQuantized(model: OnnxModel, a: Parsed, io: Io): Promise<number> {
  const minCos = a.num("min-cosine") ?? 0.99;
  const f = jitFor(model, a, io);
  const r = await f.quantReport([makeFeeds(model, a)]);
  const rows = model.outputs.map((o, i) => ({ name: o.name, ...r.outputs[i]! })).filter((o) => Number.isFinite(o.cosine));
  const ok = rows.every((o) => o.cosine >= minCos);
  if (a.bool("json")) io.out(JSON.stringify({ ok, mode: r.mode, minCosine: minCos, outputs: rows, ...(a.bool("report") ? { layers: r.layers, worst: r.worst ?? null, reverted: r.reverted } : {}) }) + "\n");
  else {
    io.out(`checking ${r.mode} on ${a.str("backend") ?? getDefaultBackend()} against float (cosine >= ${minCos})\n`);
    for (const o of rows) io.out(`${o.cosine >= minCos ? "ok  " : "FAIL"} ${o.name}: cosine ${o.cosine.toFixed(5)}, max abs err ${o.maxAbs.toPrecision(3)}, rel L2 ${o.relL2.toPrecision(3)}${o.top1 !== undefined ? `, top-1 ${(100 * o.top1).toFixed(1)}%` : ""}\n`);
    if (a.bool("report")) io.out(reportText(r));
  }
  return ok ? 0 : 1;
}

/** The per-layer part of a quantization report as a table. */
export function reportText(r: QuantReport): string {
  const lines = [`${r.layers.length} int8 layer(s); error of each layer's output against float (accumulated):`];
  const w = Math.max(5, ...r.layers.map((l) => l.name.length));
  lines.push(`  ${"layer".padEnd(w)}  op      cosine    rel L2    max abs`);
  for (const l of r.layers) lines.push(`  ${l.name.padEnd(w)}  ${l.op.padEnd(6)}  ${l.cosine.toFixed(5)}  ${l.relL2.toExponential(2)}  ${l.maxAbs.toPrecision(3)}${l.name === r.worst ? "  <- hurts most" : ""}`);
  if (r.reverted.length) lines.push(`reverted to float by the accuracy budget: ${r.reverted.join(", ")}`);
  return lines.join("\n") + "\n";
}

/** Sums a metric over explain sections. */
function metric(sections: readonly ExplainSection[], k: string): number | null {
  const v = sections.map((s) => s.metrics?.[k]).filter((x): x is number => x !== undefined);
  return v.length ? v.reduce((x, y) => x + y, 0) : null;
}

export async function benchCmd(argv: string[], io: Io): Promise<number> {
  const a = parseArgs(argv, { ...COMMON, runs: "number", warmup: "number", json: "bool" }, "bench");
  const { model } = loadModel(a, io, "bench");
  const runs = a.num("runs") ?? 20, warmup = a.num("warmup") ?? 3;
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(warmup) || warmup < 0) throw new ValueError("--runs must be an integer >= 1 and --warmup >= 0");
  const feeds = makeFeeds(model, a);
  const f = jitFor(model, a, io);
  if (io.isTTY) io.progress(a.str("quantize") === "int8" ? "calibrating and compiling…" : "compiling…");
  let t0 = performance.now();
  await f.compile(feeds); // traces, calibrates (--quantize int8) and compiles
  const ex = f.explain(feeds);
  const compileMs = performance.now() - t0;
  t0 = performance.now();
  await outputs(f(feeds), model);
  const firstRunMs = performance.now() - t0;
  const times: number[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    if (io.isTTY) io.progress(`run ${i + 1}/${warmup + runs}`);
    const s = performance.now();
    await outputs(f(feeds), model);
    if (i >= warmup) times.push(performance.now() - s);
  }
  if (io.isTTY) io.progress("");
  times.sort((x, y) => x - y);
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  const res = {
    backend: ex.backend, threads: metric(ex.sections, "threads") ?? 1,
    compileMs: r3(compileMs), firstRunMs: r3(firstRunMs),
    latencyMs: { median: r3(times[times.length >> 1]!), min: r3(times[0]!), max: r3(times[times.length - 1]!) },
    kernels: metric(ex.sections, "kernels"), arenaBytes: metric(ex.sections, "arenaBytes"),
    ...(a.str("quantize") ? { quantize: a.str("quantize") } : {}),
  };
  if (a.bool("json")) io.out(JSON.stringify(res) + "\n");
  else io.out(`${basename(a.positional[0]!)} on ${res.backend}: compile ${res.compileMs} ms, first run ${res.firstRunMs} ms, latency median ${res.latencyMs.median} ms (min ${res.latencyMs.min}, max ${res.latencyMs.max}) over ${runs} runs; ${res.kernels ?? "?"} kernels, arena ${res.arenaBytes ?? "?"} bytes\n`);
  return 0;
}

export async function explainCmd(argv: string[], io: Io): Promise<number> {
  const a = parseArgs(argv, { ...COMMON, format: "string" }, "explain");
  const format = a.str("format") ?? "text";
  if (format !== "text" && format !== "dot") throw new ValueError(`--format must be text or dot, got "${format}"`);
  const { model } = loadModel(a, io, "explain");
  const feeds = makeFeeds(model, a), f = jitFor(model, a, io);
  await f.compile(feeds);
  const ex = f.explain(feeds);
  io.out(format === "dot" ? toDot(ex.graph) : `${ex.toString()}\n`);
  return 0;
}

/** The optimized graph as Graphviz dot. Labels are escaped: model names never break the syntax. */
export function toDot(g: Graph): string {
  const esc = (s: string) => s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, "\\n");
  const id = new Map(g.nodes.map((n, i) => [n, `n${i}`]));
  const lines = ["digraph kiln {", "  rankdir=TB;", "  node [shape=box, fontname=monospace, fontsize=10];"];
  for (const n of g.nodes) {
    const label = `${n.op === "input" ? `input ${n.attrs.index}` : n.op} ${n.dtype}[${n.shape.join(",")}]`;
    const style = n.op === "input" ? ", style=filled, fillcolor=lightblue" : n.op === "const" ? ", style=filled, fillcolor=lightgrey" : g.outputs.includes(n) ? ", style=filled, fillcolor=palegreen" : "";
    lines.push(`  ${id.get(n)} [label="${esc(label)}"${style}];`);
    for (const x of n.inputs) lines.push(`  ${id.get(x)} -> ${id.get(n)};`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}
