/**
 * Shared helpers for pass tests: a host evaluator for constant folding, running graphs on the
 * js reference backend, exact comparison of results, and a fast-check arbitrary of random
 * valid graphs.
 */
import fc from "fast-check";
import * as jsBackendModule from "../../backends/js/index.js";
import * as K from "../../backends/js/kernels.js";
import { getBackend, type OptLevel } from "../../jit/backend.js";
import { buildGraph, rebuild, type Graph } from "../../jit/graph.js";
import {
  Node, node, constNode, numel, UNARY_OPS, BINARY_OPS, FLOAT_UNARY, type Shape,
} from "../../jit/ir.js";
import { fromF64, toF64, type HostBuffer } from "../../jit/buffer.js";
import { castValue, isFloat, isInt, type DType } from "../../jit/dtype.js";
import { KilnError } from "../../jit/errors.js";
import { getConstEvaluator, setConstEvaluator, type ConstEvaluator } from "../../jit/passes/fold.js";
import { runPasses } from "../../jit/passes/index.js";

// ---------------------------------------------------------------- constant evaluator

const UNARY = new Set<string>(UNARY_OPS), BINARY = new Set<string>(BINARY_OPS);

/**
 * The same evaluation as the js backend's interpreter (backends/js/index.ts evalNode + roundTo),
 * used when the backend does not register one itself.
 */
const kernelEvaluator: ConstEvaluator = (n, inputs) => {
  const v = inputs.map(toF64);
  const x = v[0]!, xs = n.inputs[0]?.shape ?? [], a = n.attrs;
  const intIn = n.inputs.length > 0 && isInt(n.inputs[0]!.dtype);
  let out: Float64Array;
  if (UNARY.has(n.op)) out = x.map(K.unaryFn(n.op, intIn));
  else if (BINARY.has(n.op)) {
    const f = K.binaryFn(n.op, intIn), y = v[1]!;
    out = new Float64Array(x.length);
    for (let i = 0; i < out.length; i++) out[i] = f(x[i]!, y[i]!);
  } else {
    switch (n.op) {
      case "where": out = new Float64Array(x.length); for (let i = 0; i < out.length; i++) out[i] = x[i] !== 0 ? v[1]![i]! : v[2]![i]!; break;
      case "cast": case "reshape": out = Float64Array.from(x); break;
      case "reduce": out = K.reduce(x, xs, a.axes!, a.fn!); break;
      case "argreduce": out = K.argreduce(x, xs, a.axis!, a.fn!, !!a.selectLast); break;
      case "cumsum": out = K.cumsum(x, xs, a.axis!, !!a.exclusive, !!a.reverse); break;
      case "permute": out = K.permute(x, xs, a.perm!); break;
      case "expand": out = K.expand(x, xs, n.shape); break;
      case "slice": out = K.slice(x, xs, n.shape, a.starts!, a.steps!); break;
      case "pad": out = K.pad(x, xs, a.pads!, a.mode ?? "constant", a.padValue ?? 0); break;
      case "concat": out = K.concat(v, n.inputs.map((i) => i.shape), a.axis!); break;
      case "matmul": out = K.matmul(x, v[1]!, xs, n.inputs[1]!.shape); break;
      case "conv": out = K.conv(x, v[1]!, n); break;
      case "convTranspose": out = K.convTranspose(x, v[1]!, n); break;
      case "pool": out = K.pool(x, n); break;
      case "gather": out = K.gather(x, v[1]!, n); break;
      case "gatherElements": out = K.gatherElements(x, v[1]!, n); break;
      case "scatterElements": out = K.scatterElements(x, v[1]!, v[2]!, n); break;
      default: throw new Error(`no rule for ${n.op}`);
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = castValue(out[i]!, n.dtype);
  return fromF64(n.dtype, n.shape, out);
};

/**
 * Makes sure folding has an evaluator: the js backend's own (`evalNodeOnHost`, once the backend
 * registers it), else the kernel-based one above.
 */
export function ensureEvaluator(): ConstEvaluator {
  const have = getConstEvaluator();
  if (have) return have;
  const own = (jsBackendModule as unknown as Record<string, unknown>).evalNodeOnHost;
  const ev = typeof own === "function" ? (own as ConstEvaluator) : kernelEvaluator;
  setConstEvaluator(ev);
  return ev;
}

// ---------------------------------------------------------------- running and comparing

/**
 * Whether the js backend's `cast` writes into its input's values (its interpreter returns the
 * input array for cast and rounds it in place, so a later use of the input sees the cast
 * values). Probed once: float32 0.5 cast to bool, then the input read again.
 */
let castAliasProbe: Promise<boolean> | undefined;
function castAliases(): Promise<boolean> {
  castAliasProbe ??= (async () => {
    const x = node("input", [], { index: 0, to: "float32" }, []);
    const c = node("cast", [x], { to: "bool" });
    const g = buildGraph([x], [node("where", [c, x, x])]);
    const [y] = await getBackend("js").compile(g, { opt: 0 }).run([fromF64("float32", [], [0.5])]);
    return toF64(y!)[0] !== 0.5;
  })();
  return castAliasProbe;
}

/** Gives every cast a fresh copy of its input (an identity permute), so aliasing cannot show. */
function isolateCasts(g: Graph): Graph {
  return rebuild(g, (n, ins) => n.op === "cast"
    ? new Node("cast", [node("permute", [ins[0]!], { perm: ins[0]!.shape.map((_, i) => i) })], n.attrs, n.shape, n.dtype)
    : undefined);
}

/** Runs a graph on the js reference backend (working around the cast aliasing bug if present). */
export async function runGraph(g: Graph, inputs: readonly HostBuffer[]): Promise<HostBuffer[]> {
  if (await castAliases()) g = isolateCasts(g);
  return getBackend("js").compile(g, { opt: 0 }).run(inputs);
}

/** Equal dtype, shape and values; NaN equals NaN, -0 differs from +0. Returns a reason or "". */
export function diffBuffers(a: HostBuffer, b: HostBuffer): string {
  if (a.dtype !== b.dtype) return `dtype ${a.dtype} vs ${b.dtype}`;
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return `shape [${a.shape}] vs [${b.shape}]`;
  const x = toF64(a), y = toF64(b);
  const fmt = (v: number) => (Object.is(v, -0) ? "-0" : String(v));
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return `element ${i}: ${fmt(x[i]!)} vs ${fmt(y[i]!)}`;
  return "";
}

/** Checks the graph invariants every pass must keep: topological order, outputs present. */
export function checkWellFormed(g: Graph): string {
  const pos = new Map<Node, number>();
  g.nodes.forEach((n, i) => pos.set(n, i));
  if (pos.size !== g.nodes.length) return "a node is listed twice";
  for (const [n, i] of pos) for (const x of n.inputs) {
    const j = pos.get(x);
    if (j === undefined || j >= i) return `input of ${n.op} is missing or later`;
  }
  for (const o of g.outputs) if (!pos.has(o)) return "an output is not among the nodes";
  for (const n of g.nodes) if (n.op === "input" && !g.inputs.includes(n)) return "a placeholder is not an input";
  return "";
}

export interface Outcome { outs?: HostBuffer[]; error?: string }

export async function outcome(g: Graph, inputs: readonly HostBuffer[]): Promise<Outcome> {
  try { return { outs: await runGraph(g, inputs) }; }
  catch (e) { return { error: e instanceof KilnError ? e.constructor.name : String(e) }; }
}

/** Runs `g` at opt 0 and at `opt` and returns "" when every output agrees exactly. */
export async function compareOpt(g: Graph, inputs: readonly HostBuffer[], opt: OptLevel): Promise<string> {
  const ref = await outcome(g, inputs);
  const { graph } = runPasses(g, opt);
  const wf = checkWellFormed(graph);
  if (wf) return `opt ${opt}: ${wf}`;
  const got = await outcome(graph, inputs);
  if (ref.error || got.error) return ref.error === got.error ? "" : `opt ${opt}: error ${ref.error} vs ${got.error}`;
  for (let i = 0; i < ref.outs!.length; i++) {
    const d = diffBuffers(ref.outs![i]!, got.outs![i]!);
    if (d) return `opt ${opt}, output ${i}: ${d}`;
  }
  return "";
}

// ---------------------------------------------------------------- values

/** A tiny deterministic generator (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FLOAT_SPECIALS = [0, -0, -0, 1, -1, 0.5, 2, -3.25, NaN, Infinity, -Infinity, 1e-3, 100, -0];
const INT_SPECIALS: Record<string, number[]> = {
  int32: [0, 1, -1, 2, -3, 7, 2147483647, -2147483648],
  int8: [0, 1, -1, 2, -3, 127, -128],
  uint8: [0, 1, 2, 3, 200, 255],
  int64: [0, 1, -1, 2, -3, 5],
  bool: [0, 1],
};

/** Random values of a dtype, with the special values that make passes misbehave. */
export function randomBuffer(dtype: DType, shape: Shape, rnd: () => number): HostBuffer {
  const n = numel(shape), v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const special = rnd() < 0.4;
    if (isFloat(dtype)) v[i] = special ? FLOAT_SPECIALS[Math.floor(rnd() * FLOAT_SPECIALS.length)]! : Math.round((rnd() * 8 - 4) * 64) / 64;
    else {
      const s = INT_SPECIALS[dtype]!;
      v[i] = special ? s[Math.floor(rnd() * s.length)]! : dtype === "bool" ? (rnd() < 0.5 ? 0 : 1) : Math.floor(rnd() * 9) - (dtype === "uint8" ? 0 : 4);
    }
  }
  return fromF64(dtype, shape, v);
}

// ---------------------------------------------------------------- random graphs

/**
 * int64 is left out: the js backend keeps int64 intermediates as unwrapped float64 numbers,
 * while a folded constant is stored (wrapped) in a BigInt64Array, so values past 2^63 differ.
 */
export const GRAPH_DTYPES: readonly DType[] = ["float32", "float16", "int32", "int8", "uint8", "bool"];
const DIMS = [1, 2, 3, 1, 2, 3, 4, 5, 0];
const SPLATS = [1, 0, -0, 1, 0, -0, -1, 2, Infinity, -Infinity, NaN, 0.5];
/** Per binary op, indices into SPLATS of its identities and near misses. */
const NEAR_IDENTITY: Partial<Record<string, number[]>> = {
  add: [1, 2], sub: [1, 2], mul: [0, 1], div: [0, 6], pow: [0, 1], max: [8, 9], min: [8, 9], and: [0, 1], or: [0, 1], xor: [1, 0],
};
/** Binary ops, the arithmetic ones (where identities live) twice as likely. */
const BINARY_PICK = [...BINARY_OPS, "add", "sub", "mul", "div", "add", "sub", "mul", "div"] as const;

export interface GraphSpec {
  readonly inputs: readonly { readonly dtype: number; readonly dims: readonly number[] }[];
  readonly steps: readonly (readonly number[])[];
  readonly outputs: readonly number[];
  readonly seed: number;
}

const specInput = fc.record({ dtype: fc.nat(50), dims: fc.array(fc.nat(50), { maxLength: 3 }) });
const specStep = fc.array(fc.nat(1000), { minLength: 10, maxLength: 10 });

export const graphSpec: fc.Arbitrary<GraphSpec> = fc.record({
  inputs: fc.array(specInput, { minLength: 1, maxLength: 3 }),
  steps: fc.array(specStep, { minLength: 1, maxLength: 12 }),
  outputs: fc.array(fc.nat(50), { minLength: 0, maxLength: 2 }),
  seed: fc.nat(),
});

const pickOf = <T>(xs: readonly T[], r: number): T => xs[r % xs.length]!;

/**
 * Step kinds, weighted: 0 unary, 1 binary, 2 where, 3 cast, 4 reduce, 5 argreduce, 6 cumsum,
 * 7 reshape, 8 permute, 9 expand, 10 slice, 11 pad, 12 concat, 13 matmul, 14 a kind twice.
 */
const KINDS = [0, 0, 0, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 14, 14];

/** Builds a valid graph and matching input values from a spec. */
export class GraphBuilder {
  readonly pool: Node[] = [];
  readonly placeholders: Node[] = [];
  readonly inputValues: HostBuffer[] = [];
  private readonly rnd: () => number;

  constructor(readonly spec: GraphSpec) {
    this.rnd = prng(spec.seed);
    spec.inputs.forEach((inp, i) => {
      const dtype = pickOf(GRAPH_DTYPES, inp.dtype), shape = inp.dims.map((d) => pickOf(DIMS, d));
      const p = node("input", [], { index: i, to: dtype }, shape);
      this.placeholders.push(p);
      this.pool.push(p);
      this.inputValues.push(randomBuffer(dtype, shape, this.rnd));
    });
  }

  /** A recent node (recent ones are likelier, so chains of ops form). */
  pick(r: number): Node {
    const k = r % Math.min(this.pool.length, 4);
    return r % 7 === 6 ? this.pool[r % this.pool.length]! : this.pool[this.pool.length - 1 - k]!;
  }

  /** A random constant, as lib/ makes them: whole arrays, or scalars reshaped and expanded. */
  constant(dtype: DType, shape: Shape, r: number): Node {
    if (r % 3 !== 0) return splat(pickOf(SPLATS, r >> 2), dtype, shape);
    return constNode(randomBuffer(dtype, shape, this.rnd));
  }

  cast(x: Node, to: DType): Node { return x.dtype === to ? x : node("cast", [x], { to }); }

  /** Any node brought to a shape and dtype with reshape/slice/pad/cast. */
  fit(x: Node, shape: Shape, dtype: DType, r: number): Node {
    const t = this.cast(x, dtype), n = numel(shape);
    if (t.size === n) return node("reshape", [t], {}, shape);
    let flat = node("reshape", [t], {}, [t.size]);
    if (t.size > n) flat = node("slice", [flat], { starts: [0], steps: [1] }, [n]);
    else flat = node("pad", [flat], { pads: [0, n - t.size], mode: t.size > 0 && r % 2 ? "edge" : "constant", padValue: pickOf(SPLATS, r) }, undefined);
    return node("reshape", [flat], {}, shape);
  }

  /** A second operand for `x`: a constant, or another node fitted to x. */
  operand(x: Node, r: number): Node {
    if (r % 5 < 3) return this.constant(x.dtype, x.shape, r >> 3);
    return this.fit(this.pick(r >> 3), x.shape, x.dtype, r);
  }

  step(s: readonly number[]): void {
    const kind = pickOf(KINDS, s[0]!);
    try {
      if (kind === 14) {
        // the same kind twice in a row: neg∘neg, permute∘permute, slice∘slice, cast∘cast …
        const inner = pickOf([0, 3, 4, 7, 8, 9, 10, 11], s[1]!);
        this.pool.push(this.make(inner, s));
        this.pool.push(this.make(inner, [s[0]!, ...s.slice(2), s[1]!], true));
      } else this.pool.push(this.make(kind, s));
    } catch (e) {
      if (!(e instanceof KilnError)) throw e; // an invalid combination: skip the step
    }
  }

  private make(kind: number, s: readonly number[], last = false): Node {
    const x = last ? this.pool[this.pool.length - 1]! : this.pick(s[2]!);
    const r = s.slice(3);
    const R = (i: number) => r[i % r.length]!;
    switch (kind) {
      case 0: { // unary
        const op = last && x.op !== "input" && (UNARY_OPS as readonly string[]).includes(x.op) ? x.op as typeof UNARY_OPS[number] : pickOf(UNARY_OPS, s[1]!);
        return node(op, [FLOAT_UNARY.has(op) ? this.cast(x, isFloat(x.dtype) ? x.dtype : "float32") : op === "not" && R(0) % 2 ? this.cast(x, "bool") : x]);
      }
      case 1: { // binary
        const op = pickOf(BINARY_PICK, s[1]!);
        // a third of the time the constant is an identity of the op, or its near miss (±0, ±inf)
        const y = R(2) % 3 === 0 ? splat(SPLATS[pickOf(NEAR_IDENTITY[op] ?? [0], R(3))]!, x.dtype, x.shape) : this.operand(x, R(0));
        return R(1) % 4 === 0 ? node(op, [y, x]) : node(op, [x, y]);
      }
      case 2: { // where
        const c = R(0) % 2 ? this.constant("bool", x.shape, R(1)) : this.fit(this.pick(R(1)), x.shape, "bool", R(2));
        return node("where", [c, x, R(3) % 4 === 0 ? x : this.operand(x, R(4))]);
      }
      case 3: { // cast
        const chain: DType[] = ["int8", "int32", "float32", "float16", "uint8", "bool", "int32", "float32"];
        return node("cast", [x], { to: pickOf(last ? GRAPH_DTYPES : chain, s[1]!) });
      }
      case 4: { // reduce
        const axes = x.shape.map((_, i) => i).filter((i) => (R(0) >> i) & 1);
        return node("reduce", [x], { fn: pickOf(["sum", "max", "min", "prod"] as const, last ? s[1]! : R(1)), axes });
      }
      case 5: { // argreduce (int64 out, cast to int32)
        if (!x.shape.length) throw new KilnError("rank 0");
        const a = node("argreduce", [x], { fn: R(0) % 2 ? "argmax" : "argmin", axis: R(1) % x.shape.length, selectLast: R(2) % 2 === 1 });
        return node("cast", [a], { to: "int32" });
      }
      case 6: { // cumsum
        if (!x.shape.length) throw new KilnError("rank 0");
        return node("cumsum", [x], { axis: R(0) % x.shape.length, exclusive: R(1) % 2 === 1, reverse: R(2) % 2 === 1 });
      }
      case 7: { // reshape: same shape, flatten, insert a 1, or merge two neighbours
        const sh = [...x.shape];
        const how = R(0) % 4;
        let to: number[];
        if (how === 0) to = sh;
        else if (how === 1) to = [x.size];
        else if (how === 2) { to = [...sh]; to.splice(R(1) % (sh.length + 1), 0, 1); }
        else if (sh.length >= 2) { const i = R(1) % (sh.length - 1); to = [...sh.slice(0, i), sh[i]! * sh[i + 1]!, ...sh.slice(i + 2)]; }
        else to = sh.filter((d) => d !== 1);
        return node("reshape", [x], {}, to);
      }
      case 8: { // permute (identity sometimes)
        const perm = x.shape.map((_, i) => i);
        if (R(0) % 4) for (let i = perm.length - 1; i > 0; i--) { const j = R(i) % (i + 1); [perm[i], perm[j]] = [perm[j]!, perm[i]!]; }
        return node("permute", [x], { perm });
      }
      case 9: { // expand size-1 axes (inserting one first if there is none)
        let t = x;
        if (!t.shape.includes(1) && R(0) % 3) { const to = [...t.shape]; to.splice(R(1) % (to.length + 1), 0, 1); t = node("reshape", [t], {}, to); }
        return node("expand", [t], {}, t.shape.map((d, i) => (d === 1 ? 1 + (R(i + 2) % 3) : d)));
      }
      case 10: { // slice (full sometimes)
        const full = R(0) % 4 === 0;
        const starts: number[] = [], steps: number[] = [], to: number[] = [];
        x.shape.forEach((d, i) => {
          if (full || d === 0) { starts.push(0); steps.push(1); to.push(d); return; }
          const step = pickOf([1, 1, 2, -1, -2, 3], R(3 * i + 1));
          const start = step > 0 ? R(3 * i + 2) % d : d - 1 - (R(3 * i + 2) % d);
          const room = step > 0 ? Math.floor((d - 1 - start) / step) + 1 : Math.floor(start / -step) + 1;
          starts.push(start); steps.push(step); to.push(R(3 * i + 3) % 3 ? room : R(3 * i + 4) % (room + 1));
        });
        return node("slice", [x], { starts, steps }, to);
      }
      case 11: { // pad (zeros sometimes)
        const mode = pickOf(["constant", "constant", "edge", "reflect"] as const, R(0));
        const zero = R(1) % 4 === 0, rk = x.shape.length;
        const pads = Array.from({ length: 2 * rk }, (_, i) => {
          if (zero) return 0;
          const d = x.shape[i % rk]!, p = R(i + 2) % 3;
          return mode === "reflect" ? Math.min(p, Math.max(d - 1, 0)) : mode === "edge" && d === 0 ? 0 : p;
        });
        return node("pad", [x], { pads, mode, padValue: mode === "constant" ? pickOf(SPLATS, R(2)) : undefined });
      }
      case 12: { // concat of 1–3
        if (!x.shape.length) throw new KilnError("rank 0");
        const axis = R(0) % x.shape.length, k = R(1) % 3;
        const parts = [x];
        for (let j = 0; j < k; j++) parts.push(this.fit(this.pick(R(j + 2)), x.shape.map((d, i) => (i === axis ? 1 + (R(j + 5) % 2) : d)), x.dtype, R(j)));
        return node("concat", parts, { axis });
      }
      default: { // 13: matmul, 2-d or batched 3-d
        const m = 1 + (R(0) % 3), kk = R(1) % 4, n = 1 + (R(2) % 3), b = R(3) % 2 ? [1 + (R(4) % 2)] : [];
        const dt = x.dtype === "bool" ? "float32" : x.dtype;
        return node("matmul", [this.fit(x, [...b, m, kk], dt, R(5)), this.fit(this.pick(R(6)), [...b, kk, n], dt, R(7))]);
      }
    }
  }

  build(): { graph: Graph; inputs: HostBuffer[] } {
    for (const s of this.spec.steps) this.step(s);
    // every node no other node uses is an output (so every step is live), plus a few chosen ones
    const used = new Set<Node>();
    for (const n of this.pool) for (const i of n.inputs) used.add(i);
    const sinks = this.pool.filter((n, i) => !used.has(n) && (i === this.pool.length - 1 || n.op !== "input"));
    const outs = [...sinks, ...this.spec.outputs.map((i) => this.pool[i % this.pool.length]!)];
    return { graph: buildGraph(this.placeholders, outs), inputs: this.inputValues };
  }
}

export function buildRandom(spec: GraphSpec): { graph: Graph; inputs: HostBuffer[] } {
  return new GraphBuilder(spec).build();
}

// ---------------------------------------------------------------- hand-built graphs

/** A placeholder. */
export const inp = (index: number, dtype: DType, shape: Shape): Node => node("input", [], { index, to: dtype }, shape);
/** A constant from plain numbers. */
export const cst = (dtype: DType, shape: Shape, values: ArrayLike<number>): Node => constNode(fromF64(dtype, shape, values));
/** A scalar constant broadcast to `shape` the way lib/ does it (0-d const → reshape → expand). */
export function splat(v: number, dtype: DType, shape: Shape): Node {
  let c = constNode(fromF64(dtype, [], [v]));
  if (shape.length) c = node("reshape", [c], {}, shape.map(() => 1));
  return node("expand", [c], {}, shape);
}
/** How many nodes of each op a graph has, e.g. `{ input: 1, exp: 1 }`. */
export function opCounts(g: Graph): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of g.nodes) c[n.op] = (c[n.op] ?? 0) + 1;
  return c;
}
/** Random inputs (with special values) for a graph's placeholders. */
export function inputsFor(g: Graph, seed = 1): HostBuffer[] {
  const rnd = prng(seed);
  return g.inputs.map((p) => randomBuffer(p.dtype, p.shape, rnd));
}
/** "" when `a` and `b` give exactly the same outputs on several random inputs. */
export async function sameResults(a: Graph, b: Graph, trials = 8): Promise<string> {
  for (let t = 0; t < trials; t++) {
    const ins = inputsFor(a, t + 1);
    const [x, y] = [await outcome(a, ins), await outcome(b, ins)];
    if (x.error || y.error) { if (x.error !== y.error) return `error ${x.error} vs ${y.error}`; continue; }
    for (let i = 0; i < x.outs!.length; i++) { const d = diffBuffers(x.outs![i]!, y.outs![i]!); if (d) return `output ${i}: ${d}`; }
  }
  return "";
}
