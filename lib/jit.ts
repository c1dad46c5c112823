/**
 * `jit(fn)`: traces `fn` once per input signature with placeholder tensors, compiles the graph
 * through passes and a backend, caches it, and returns lazy results on every call.
 *
 * Lives in lib/ (not jit/) because it works on Tensors, the user's API; the node-level
 * machinery it drives (graph, passes, compile cache) is in jit/.
 *
 * @example
 * const f = jit((x: Tensor) => x.matmul(w).add(b).relu(), { backend: "js" });
 * const y = f(randn([32, 784]));          // lazy
 * console.log(await y.data());
 * console.log(f.explain(randn([32, 784])).toString());
 */
import { node, fmtShape, type Node } from "../jit/ir.js";
import type { HostBuffer } from "../jit/buffer.js";
import { buildGraph, printGraph, type Graph } from "../jit/graph.js";
import { compileGraph, type Compiled } from "../jit/compile.js";
import { getDefaultBackend, getBackend, type OptLevel, type ExplainSection } from "../jit/backend.js";
import type { PassLog } from "../jit/passes/index.js";
import { TraceError, ValueError } from "../jit/errors.js";
import { Site, userSite } from "../jit/site.js";
import { Tensor } from "./tensor.js";
import { realize } from "./realize.js";
import { enterTrace, exitTrace } from "./trace-state.js";
import * as Q from "../jit/quant/index.js";

export interface JitOptions {
  /** "js" | "wasm" | "webgpu" | "cuda" (default: KILN_BACKEND or the best available). */
  backend?: string;
  /** 0: as traced; 1: fold, CSE, DCE; 2 (default): + algebraic simplification; 3: everything. */
  opt?: OptLevel;
  /**
   * Worker threads for backends that use them, the calling thread included (default: the
   * available cores). wasm: kernels with enough work are split across one process-wide worker
   * pool; where threads are unavailable (a page that is not cross-origin isolated) it runs on
   * one thread and warns once.
   */
  threads?: number;
  /**
   * Post-training int8 quantization (needs opt ≥ 2 for the int8 kernels). Matmuls and
   * convolutions with constant weights run as int8 GEMMs: weights symmetric int8 per output
   * channel, activations uint8 per tensor from calibrated ranges ("int8") or int8 scaled per
   * call ("int8-dynamic"), int32 accumulation, the requantize fused as the kernel's epilogue.
   * A static compile calibrates on its first call (asynchronously: `await f.compile(...)`
   * does it ahead).
   */
  quantize?: QuantizeOptions;
}

/**
 * Options of `jit(f, { quantize })`.
 * @example
 * const g = jit(model, { quantize: { mode: "int8", calibration: samples, method: "percentile" } });
 */
export interface QuantizeOptions {
  mode: Q.QuantMode;
  /**
   * Static mode: sample inputs, each the arguments of one call (an array of them), or the
   * single argument of a one-argument function. Their shapes may differ from later calls.
   */
  calibration?: readonly unknown[];
  /** How activation ranges are chosen (default "minmax"). */
  method?: Q.CalibrationMethod;
  /** The percentile kept by method "percentile" (default 99.99). */
  percentile?: number;
  /** Per-output-channel weight scales (default true). */
  perChannel?: boolean;
  /** Kept in float: op kinds ("matmul", "conv"), model node names, or layer names from quantReport. */
  exclude?: readonly string[];
  /**
   * Accuracy budget on the calibration inputs: every output's relative L2 error at most
   * `maxError`, and top-1 agreement at least `minTop1` (for outputs whose last axis is a class
   * axis). While it does not hold, the layer that hurts most goes back to float, one at a time;
   * `quantReport` lists the reverted layers.
   */
  maxError?: number;
  minTop1?: number;
}

/** What `f.quantReport(samples)` returns. */
export interface QuantReport extends Q.QuantReport {
  /** Layers the accuracy budget sent back to float. */
  reverted: string[];
  /** Layers running in int8. */
  quantized: string[];
}

/** How arguments and results are laid out around their tensors. */
type Spec =
  | { k: "t"; i: number }
  | { k: "a"; items: Spec[] }
  | { k: "o"; keys: string[]; items: Spec[] }
  | { k: "s"; v: unknown };

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null);

function flatten(x: unknown, leaves: Tensor[]): Spec {
  if (x instanceof Tensor) { leaves.push(x); return { k: "t", i: leaves.length - 1 }; }
  if (Array.isArray(x)) return { k: "a", items: x.map((y) => flatten(y, leaves)) };
  if (isPlainObject(x)) { const keys = Object.keys(x).sort(); return { k: "o", keys, items: keys.map((k) => flatten(x[k], leaves)) }; }
  return { k: "s", v: x };
}

function unflatten(s: Spec, leaves: readonly unknown[]): unknown {
  switch (s.k) {
    case "t": return leaves[s.i];
    case "a": return s.items.map((i) => unflatten(i, leaves));
    case "o": return Object.fromEntries(s.keys.map((k, j) => [k, unflatten(s.items[j]!, leaves)]));
    case "s": return s.v;
  }
}

const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;
/** A string for static values in the signature: JSON for data, identity for functions/objects. */
function staticKey(v: unknown): string {
  if (v === undefined) return "u";
  if (typeof v === "bigint") return `${v}n`;
  if ((typeof v === "object" && v !== null) || typeof v === "function") {
    let id = objectIds.get(v as object);
    if (!id) { id = nextObjectId++; objectIds.set(v as object, id); }
    return `@${id}`;
  }
  return JSON.stringify(v);
}

function specKey(s: Spec, leaves: readonly Tensor[]): string {
  switch (s.k) {
    case "t": { const t = leaves[s.i]!; return `${t.dtype}${fmtShape(t.shape)}`; }
    case "a": return `[${s.items.map((i) => specKey(i, leaves)).join(",")}]`;
    case "o": return `{${s.keys.map((k, j) => `${JSON.stringify(k)}:${specKey(s.items[j]!, leaves)}`).join(",")}}`;
    case "s": return staticKey(s.v);
  }
}


function checkQuantize(q: QuantizeOptions): QuantizeOptions {
  const bad = (what: string, hint: string) => new ValueError(what, { op: "jit", site: userSite(), hint });
  if (q.mode !== "int8" && q.mode !== "int8-dynamic") throw bad(`quantize.mode must be "int8" or "int8-dynamic", got ${JSON.stringify(q.mode)}`, "int8: calibrated static quantization; int8-dynamic: activations scaled per call");
  if (q.method !== undefined && !["minmax", "percentile", "entropy"].includes(q.method)) throw bad(`quantize.method must be "minmax", "percentile" or "entropy", got ${JSON.stringify(q.method)}`, "minmax is the default");
  if (q.mode === "int8" && !q.calibration?.length) throw bad("static int8 quantization needs calibration samples", "pass quantize.calibration (sample inputs, each the arguments of one call), or use mode \"int8-dynamic\"");
  if ((q.maxError !== undefined || q.minTop1 !== undefined) && !q.calibration?.length) throw bad("an accuracy budget (maxError/minTop1) needs calibration samples to be checked on", "pass quantize.calibration");
  if (q.percentile !== undefined && !(q.percentile > 50 && q.percentile <= 100)) throw bad(`quantize.percentile must be in (50, 100], got ${q.percentile}`, "e.g. 99.99");
  if (q.maxError !== undefined && !(q.maxError > 0)) throw bad(`quantize.maxError must be > 0, got ${q.maxError}`, "a relative L2 error, e.g. 0.05");
  if (q.minTop1 !== undefined && !(q.minTop1 >= 0 && q.minTop1 <= 1)) throw bad(`quantize.minTop1 must be in [0, 1], got ${q.minTop1}`, "a fraction, e.g. 0.99");
  return q;
}

function quantText(q: Q.QuantizedGraph): string {
  const lines = [`${q.sites.length} layer(s) in int8: ${q.sites.map((s) => s.name).join(", ") || "none"}`];
  if (q.reverted.length) lines.push(`reverted to float by the accuracy budget: ${q.reverted.join(", ")}`);
  return lines.join("\n");
}

/** One trace: the compiled graph and how to rebuild the function's result. */
interface Trace {
  /** Set once compiled (quantized static compiles finish asynchronously, see `ready`). */
  compiled?: Compiled;
  readonly ready: Promise<Compiled>;
  readonly outSpec: Spec;
  readonly outNodes: readonly Node[];
  readonly signature: string;
  /** Quantized traces: the float graph, and what quantization did. */
  readonly float?: Graph;
  quant?: Q.QuantizedGraph;
}

/** What `f.explain(...)` returns; `toString()` prints every section. */
export class Explanation {
  constructor(
    readonly signature: string,
    readonly key: string,
    readonly backend: string,
    readonly traced: Graph,
    readonly graph: Graph,
    readonly passes: readonly PassLog[],
    readonly sections: readonly ExplainSection[],
  ) {}
  toString(): string {
    const out = [
      `== kiln explain: backend ${this.backend}, cache key ${this.key}`,
      `signature: ${this.signature}`,
      `passes: ${this.passes.length ? this.passes.map((p) => `${p.pass} ${p.nodesBefore}→${p.nodesAfter}`).join(", ") : "none"}`,
      `== graph after passes (${this.graph.nodes.length} nodes; traced: ${this.traced.nodes.length})`,
      printGraph(this.graph),
    ];
    for (const s of this.sections) out.push(`== ${s.title}`, s.text);
    return out.join("\n");
  }
}

export interface Jitted<F extends (...args: any[]) => any> {
  (...args: Parameters<F>): ReturnType<F>;
  /** Traces/compiles for these arguments (or reuses the cache) and describes the result. */
  explain(...args: Parameters<F>): Explanation;
  /** How many input signatures have been traced and compiled. */
  readonly cacheSize: number;
  /** Forgets every trace of this function. */
  clear(): void;
  /**
   * Traces and compiles for these arguments without running; for quantized functions this is
   * when calibration happens.
   */
  compile(...args: Parameters<F>): Promise<void>;
  /**
   * A quantized function against its float self on `samples` (each the arguments of one call,
   * as for `calibration`; all of one input signature): per output max abs/relative error,
   * cosine similarity and top-1 agreement, and the same per quantized layer.
   */
  quantReport(samples: readonly unknown[]): Promise<QuantReport>;
}

/**
 * Compiles `fn` per input signature (tensor shapes and dtypes, plus the values of non-tensor
 * arguments). Arguments may be tensors or arrays/plain objects of tensors; tensors captured
 * from the enclosing scope become constants.
 * @example
 * const f = jit((x: Tensor) => x.mul(2).add(1));
 * const y = await f(tensor([1, 2])).toArray(); // [3, 5]
 */
export function jit<F extends (...args: any[]) => any>(fn: F, options: JitOptions = {}): Jitted<F> {
  if (typeof fn !== "function") throw new ValueError(`jit needs a function, got ${typeof fn}`, { op: "jit", site: userSite() });
  const backend = options.backend ?? getDefaultBackend();
  getBackend(backend); // fail now, at the jit() line, for unknown backends
  const opt: OptLevel = options.opt ?? 2;
  if (![0, 1, 2, 3].includes(opt)) throw new ValueError(`opt must be 0, 1, 2 or 3, got ${opt}`, { op: "jit", site: userSite() });
  const traces = new Map<string, Trace>();
  const quant = options.quantize && checkQuantize(options.quantize);
  const runOpts: Q.RunOptions = { backend, threads: options.threads, opt };
  let ranges: Promise<Map<string, Q.Range>> | undefined;

  /** The float graph of one call signature (placeholders in flattened argument order). */
  const traceGraph = (spec: Spec, leaves: readonly Tensor[]): { graph: Graph; outSpec: Spec; outs: Tensor[] } => {
    const site = new Site();
    const ph = leaves.map((t, i) => node("input", [], { index: i, to: t.dtype }, t.shape, site));
    let result: unknown;
    enterTrace();
    try { result = fn(...(unflatten(spec, ph.map((n) => new Tensor(n))) as unknown[])); }
    finally { exitTrace(); }
    if (result && typeof (result as Promise<unknown>).then === "function") {
      (result as Promise<unknown>).then(undefined, () => undefined); // we report it; don't leave it unhandled
      throw new TraceError("the function given to jit returned a Promise", { op: "jit", site: site.toString(), hint: "jit functions must be synchronous: build the graph, return tensors, and await .data() outside" });
    }
    const outs: Tensor[] = [];
    const outSpec = flatten(result, outs);
    if (!outs.length) throw new TraceError("the function given to jit returned no tensor", { op: "jit", site: site.toString(), hint: "return a Tensor, or an array/object of Tensors" });
    return { graph: buildGraph(ph, outs.map((t) => t.node)), outSpec, outs };
  };

  /** Realized inputs of each sample, grouped by signature with that signature's float graph. */
  const sampleGroups = async (samples: readonly unknown[]) => {
    const groups = new Map<string, { graph: Graph; inputs: HostBuffer[][] }>();
    for (const s of samples) {
      const leaves: Tensor[] = [];
      const spec = flatten(sampleArgs(s), leaves);
      if (!leaves.length) throw new ValueError("a quantization sample holds no tensor", { op: "quantize", hint: "each sample is the arguments of one call: a tensor, an object of tensors, or an array of arguments" });
      const sig = specKey(spec, leaves);
      let g = groups.get(sig);
      if (!g) { g = { graph: traceGraph(spec, leaves).graph, inputs: [] }; groups.set(sig, g); }
      g.inputs.push(await realize(leaves.map((t) => t.node)));
    }
    return groups;
  };
  const sampleArgs = (s: unknown): unknown[] => (Array.isArray(s) && fn.length !== 1 ? s : [s]);

  /** The calibration samples, realized and traced (once per jit function). */
  let calibrationGroups: ReturnType<typeof sampleGroups> | undefined;
  const calibrationSamples = async () => [...(await (calibrationGroups ??= sampleGroups(quant!.calibration ?? []))).values()];

  /** Activation ranges from the calibration samples (once per jit function). */
  const calibrated = () => (ranges ??= (async () => {
    const q = quant!;
    const observers = new Map<string, Q.Observer>();
    let r = new Map<string, Q.Range>();
    for (const g of await calibrationSamples())
      r = await Q.calibrate(g.graph, Q.findSites(g.graph, q.exclude ?? []), g.inputs, { ...runOpts, method: q.method ?? "minmax", observer: { percentile: q.percentile } }, observers);
    return r;
  })());

  const baseOptions = async () => ({ mode: quant!.mode, perChannel: quant!.perChannel ?? true, ranges: quant!.mode === "int8" ? await calibrated() : undefined });

  /**
   * The layers an accuracy budget sends back to float (once per jit function): decided on the
   * calibration samples of the first signature, by their own trace, and applied to every signature.
   */
  let budgetReverted: Promise<string[]> | undefined;
  const reverted = () => (budgetReverted ??= (async () => {
    const q = quant!;
    if (q.maxError === undefined && q.minTop1 === undefined) return [];
    const probe = (await calibrationSamples())[0]!;
    const decided = await Q.quantize(probe.graph, { ...await baseOptions(), exclude: q.exclude ?? [], budget: { maxError: q.maxError, minTop1: q.minTop1 }, samples: probe.inputs }, runOpts);
    return decided.reverted;
  })());

  const quantizedCompile = async (graph: Graph): Promise<{ compiled: Compiled; q: Q.QuantizedGraph }> => {
    const back = await reverted();
    const final = await Q.quantize(graph, { ...await baseOptions(), exclude: [...(quant!.exclude ?? []), ...back] }, runOpts);
    return { compiled: compileGraph(final.graph, backend, { opt, threads: options.threads }), q: { ...final, reverted: back } };
  };

  const traceFor = (args: unknown[]): { trace: Trace; leaves: Tensor[] } => {
    const leaves: Tensor[] = [];
    const spec = flatten(args, leaves);
    const signature = specKey(spec, leaves);
    let trace = traces.get(signature);
    if (!trace) {
      const { graph, outSpec, outs } = traceGraph(spec, leaves);
      const outNodes = outs.map((t) => t.node);
      if (!quant) {
        const compiled = compileGraph(graph, backend, { opt, threads: options.threads });
        trace = { compiled, ready: Promise.resolve(compiled), outSpec, outNodes, signature };
      } else {
        const t: Trace = {
          ready: quantizedCompile(graph).then((r) => { t.compiled = r.compiled; t.quant = r.q; return r.compiled; }),
          outSpec, outNodes, signature, float: graph,
        };
        t.ready.catch(() => traces.delete(signature)); // a failed calibration is retried next call
        trace = t;
      }
      traces.set(signature, trace);
    }
    return { trace, leaves };
  };

  const call = (...args: unknown[]): unknown => {
    const { trace, leaves } = traceFor(args);
    let pending: Promise<HostBuffer[]> | undefined;
    const run = () => (pending ??= Promise.all([trace.ready, realize(leaves.map((t) => t.node))]).then(([c, ins]) => c.exe.run(ins)));
    const site = new Site();
    const results = trace.outNodes.map((o, i) =>
      new Tensor(node("external", [], { thunk: () => run().then((r) => r[i]!), to: o.dtype }, o.shape, site)));
    return unflatten(trace.outSpec, results);
  };

  const jitted = call as unknown as Jitted<F>;
  jitted.explain = (...args: Parameters<F>) => {
    const { trace } = traceFor(args);
    const c = trace.compiled;
    if (!c) throw new ValueError("this quantized function is still calibrating", { op: "explain", site: userSite(), hint: "await f.compile(...args) (or a call's .data()) before explain()" });
    const sections = c.exe.explain();
    if (trace.quant) sections.unshift({ title: "quantization", text: quantText(trace.quant) });
    return new Explanation(trace.signature, c.key, c.backend, c.traced, c.graph, c.passes, sections);
  };
  Object.defineProperty(jitted, "cacheSize", { get: () => traces.size });
  jitted.clear = () => { traces.clear(); ranges = undefined; calibrationGroups = undefined; budgetReverted = undefined; };
  jitted.compile = async (...args: Parameters<F>) => { await traceFor(args).trace.ready; };
  jitted.quantReport = async (samples: readonly unknown[]) => {
    if (!quant) throw new ValueError("quantReport needs a function compiled with the quantize option", { op: "quantReport", site: userSite(), hint: "jit(f, { quantize: { mode: \"int8\", calibration } })" });
    const groups = [...(await sampleGroups(samples)).values()];
    if (groups.length !== 1) throw new ValueError(`quantReport needs samples of one input signature, got ${groups.length}`, { op: "quantReport", site: userSite(), hint: "report each input shape separately" });
    const g = groups[0]!;
    const { trace } = traceFor(sampleArgs(samples[0]));
    await trace.ready;
    const q = trace.quant!;
    const r = await Q.compare(trace.float!, q.graph, q.sites, q.outputs, g.inputs, quant.mode, runOpts);
    return { ...r, reverted: q.reverted, quantized: q.sites.map((s) => s.name) };
  };
  return jitted;
}
