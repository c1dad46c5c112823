/**
 * Renders one Kernel IR kernel as a WebAssembly function `(start, end)` that computes work
 * items [start, end) of its first loop (so threads can split it).
 *
 * Loop nest: the kernel's outer (non-reduced) dims, then per reduce stage and for the store the
 * reduced dims. Every expression is placed at the loop level of the deepest coordinate it
 * depends on (loop-invariant code motion), and kept in a local; values that depend on a reduce
 * stage are computed after that stage. Loads index their buffer through the view's strides
 * (+ a mask check for padded views).
 *
 * @example
 * const { func, workItems } = emitKernel(m, kernel, ctx);
 */
import type { FunctionBuilder, ModuleBuilder, FuncRef, ValType } from "./asm/index.js";
import type { Kernel, KExpr, Plan } from "../../jit/kernel/index.js";
import { View, reshapeExpr } from "../../jit/kernel/index.js";
import type { DType } from "../../jit/dtype.js";
import { itemSize, castValue } from "../../jit/dtype.js";
import { valType, emitLoad, emitStore, emitUnary, emitBinary, emitCast, emitConst, scratch, type ScalarEnv } from "./scalar.js";
import { emitAnchorValue, emitScatter, anchorWork } from "./anchors.js";
import { emitMatmul, type MatmulSpec } from "./matmul.js";
import { emitConvAsMatmul, emitDepthwise } from "./conv.js";
import { emitInt8Conv } from "./qconv.js";
import { emitQGemm, type QGemmSpec, type QOutDtype } from "./qmatmul.js";

export interface KernelCtx extends ScalarEnv {
  readonly plan: Plan;
  /** Absolute byte address of a buffer. */
  addr(buf: number): number;
  /** Whether relaxed SIMD may be used (the engine validated it). */
  readonly relaxedSimd: boolean;
  /** Address of the i32 error slot: kernels store (kernel id + 1) there on a bad index. */
  readonly errorAddr: number;
  /** Reserves memory (packed weights when `init` is given, else scratch); returns its address. */
  alloc(bytes: number, align: number, init?: Uint8Array): number;
}

type Scope = Map<KExpr, number>;

/** Ops with a 4-lane f32 form of their own. */
const VEC_OPS = new Set(["neg", "abs", "sqrt", "floor", "ceil", "round", "recip", "not", "isnan", "isinf",
  "add", "sub", "mul", "div", "max", "min", "lt", "le", "eq", "and", "or", "xor"]);
/** Ops that vectorize through the wasm math library (when the module has it). */
export const MATH_OPS = new Set(["exp", "log", "tanh", "erf", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "pow"]);

/**
 * A kernel's code: phases that run in order, each over its own independent work items, with an
 * estimate of its work (`cost`, in {@link COST} units) that decides whether it is worth splitting
 * across threads.
 */
export interface EmittedKernel {
  readonly phases: readonly {
    readonly func: FuncRef; readonly workItems: number; readonly cost: number;
    /** What the phase is, for explain() (e.g. "int8 GEMM 1×128×768×768: tile …"). */
    readonly describe?: string;
  }[];
}

/**
 * Weights of the work estimate per unit of each kind of work, chosen so that a cost is about the
 * nanoseconds the phase takes on one core (Node 20/V8, x86-64 with SIMD, 2-core VM; bench/threshold.ts
 * prints time per cost unit: 0.4–1.5 ns for elementwise, reduce, softmax, matmul and conv kernels
 * of 16K–1M elements): the threshold in index.ts compares it with the cost of waking workers.
 * Only the orders of magnitude matter.
 */
export const COST = {
  /** A multiply-add of the blocked SIMD matmul (matmul.ts): ~16 per ns. */
  matmulMac: 1 / 16,
  /** A multiply-add of the int8 GEMM (qmatmul.ts): ~28 per ns. */
  int8Mac: 1 / 28,
  /** A multiply-add of the depthwise convolution (conv.ts). */
  depthwiseMac: 1 / 4,
  /** An element copied by im2col. */
  copy: 1 / 2,
  /** An operation per element of a loop kernel (elementwise, reduce; SIMD where it vectorizes). */
  loopOp: 1 / 2,
  /** An inner-loop step of a scalar anchor (matmul, conv, pool, … accumulating in f64; anchors.ts). */
  anchorStep: 1,
};

/**
 * Code generation switches for tests: with `blockedMatmul` off, float matmuls take the scalar
 * path, which accumulates in f64 exactly like the reference (the blocked SIMD kernel
 * accumulates in f32 and is checked against the reference with a tolerance instead), and int8
 * GEMMs (exact either way) take the scalar path instead of qmatmul.ts / qconv.ts; with
 * `exactMath` on, exp/log/tanh/… call JS's Math (bit-identical to the reference) instead of the
 * wasm math library (within 1 ulp, vectorized, several times faster).
 */
export const codegenOptions = { blockedMatmul: true, exactMath: false };

export function emitKernel(m: ModuleBuilder, k: Kernel, ctx: KernelCtx): EmittedKernel {
  const fast = !codegenOptions.blockedMatmul ? undefined
    : k.anchor?.node.attrs.zeroB ? (k.anchor.op === "matmul" ? emitInt8Matmul(m, k, ctx) : k.anchor.op === "conv" ? emitInt8Conv(m, k, ctx) : undefined)
    : k.anchor?.op === "matmul" ? emitBlockedMatmul(m, k, ctx)
    : k.anchor?.op === "conv" ? emitConvAsMatmul(m, k, ctx) ?? emitDepthwise(m, k, ctx) : undefined;
  if (fast) return fast;
  const f = m.func({ params: ["i32", "i32"] }, { name: `k${k.id}` });
  if (k.anchor?.op === "scatterElements") {
    emitScatter(f, k, ctx);
    return { phases: [{ func: f, workItems: 1, cost: 0 }] }; // one work item: never split
  }
  const e = new LoopEmitter(f, k, ctx);
  e.emit();
  return { phases: [{ func: f, workItems: e.workItems, cost: e.cost }] };
}

/** Float32 row-major data of a constant buffer read through a view (resolved at compile time). */
function constThroughView(ctx: KernelCtx, buf: number, v: View): Float32Array | undefined {
  const b = ctx.plan.buffers[buf]!;
  if (b.kind !== "const" || b.dtype !== "float32") return undefined;
  const src = b.value!.data as Float32Array;
  if (v.isContiguous && v.size === src.length) return src;
  const out = new Float32Array(v.size), c = new Array<number>(v.shape.length).fill(0);
  for (let i = 0; i < out.length; i++) {
    const o = v.indexOf(c);
    out[i] = o < 0 ? 0 : src[o]!;
    for (let d = c.length - 1; d >= 0; d--) { if (++c[d]! < v.shape[d]!) break; c[d] = 0; }
  }
  return out;
}

/**
 * A float32 matmul anchor through the blocked SIMD generator (matmul.ts), with the kernel's
 * epilogue applied to each result tile. Undefined when the shapes do not fit it (batch dims
 * that no single stride describes), so the scalar path takes over.
 */
function emitBlockedMatmul(m: ModuleBuilder, k: Kernel, ctx: KernelCtx): EmittedKernel | undefined {
  const a = k.anchor;
  if (a?.op !== "matmul" || a.node.dtype !== "float32") return undefined;
  const r = k.shape.length, M = k.shape[r - 2]!, N = k.shape[r - 1]!, K = a.a.view.shape[r - 1]!;
  const batch = k.shape.slice(0, r - 2).reduce((x, y) => x * y, 1);
  const av = a.a.view.reshape([batch, M, K]), bv = a.b.view.reshape([batch, K, N]);
  if (!av || !bv || av.mask || bv.mask) return undefined;
  const constB = constThroughView(ctx, a.b.buf, bv);
  const bSpec: MatmulSpec["b"] = constB
    ? { constant: constB, batched: bv.strides[0] !== 0 && batch > 1 }
    : { base: ctx.addr(a.b.buf) + bv.offset * 4, sb: bv.strides[0]!, sk: bv.strides[1]!, sn: bv.strides[2]! };
  const value = r === 3 ? k.value : reshapeExpr(k.value, [batch, M, N]);
  if (!value) return undefined;
  return matmulWithEpilogue(m, { ...k, shape: [batch, M, N], outShape: [batch, M, N], value }, ctx, { base: ctx.addr(a.a.buf) + av.offset * 4, sb: av.strides[0]!, sm: av.strides[1]!, sk: av.strides[2]! }, bSpec, { batch, M, N, K });
}

/** Row-major values of a constant 8-bit buffer read through a view (undefined: not a constant). */
export function const8ThroughView(ctx: KernelCtx, buf: number, v: View): ArrayLike<number> | undefined {
  const b = ctx.plan.buffers[buf]!;
  if (b.kind !== "const" || (b.dtype !== "int8" && b.dtype !== "uint8")) return undefined;
  const src = b.value!.data as Int8Array | Uint8Array;
  if (v.isContiguous && v.size === src.length) return src;
  const out = new Int16Array(v.size), c = new Array<number>(v.shape.length).fill(0);
  for (let i = 0; i < out.length; i++) {
    const o = v.indexOf(c);
    out[i] = o < 0 ? 0 : src[o]!;
    for (let d = c.length - 1; d >= 0; d--) { if (++c[d]! < v.shape[d]!) break; c[d] = 0; }
  }
  return out;
}

/**
 * An int8 GEMM matmul anchor (zero points set) through the int8 GEMM generator (qmatmul.ts);
 * undefined when the batch dims need more than one stride (the scalar path then takes it).
 */
function emitInt8Matmul(m: ModuleBuilder, k: Kernel, ctx: KernelCtx): EmittedKernel | undefined {
  const a = k.anchor;
  if (a?.op !== "matmul" || !a.node.attrs.zeroB) return undefined;
  const r = k.shape.length, M = k.shape[r - 2]!, N = k.shape[r - 1]!, K = a.a.view.shape[r - 1]!;
  const batch = k.shape.slice(0, r - 2).reduce((x, y) => x * y, 1);
  const av = a.a.view.reshape([batch, M, K]), bv = a.b.view.reshape([batch, K, N]);
  if (!av || !bv || av.mask || bv.mask) return undefined;
  const da = ctx.plan.buffers[a.a.buf]!.dtype, db = ctx.plan.buffers[a.b.buf]!.dtype;
  const za = a.node.attrs.zeroA ?? 0, zb = a.node.attrs.zeroB;
  const constB = const8ThroughView(ctx, a.b.buf, bv);
  const bBatched = bv.strides[0] !== 0 && batch > 1;
  const bSpec: QGemmSpec["b"] = constB
    // a B shared by the batches (stride 0) is its first batch
    ? { constant: bBatched ? constB : Array.prototype.slice.call(constB, 0, K * N) as number[], batched: bBatched, zero: zb }
    : { base: ctx.addr(a.b.buf) + bv.offset, sb: bv.strides[0]!, sk: bv.strides[1]!, sn: bv.strides[2]!, signed: db === "int8", zero: zb };
  const value = r === 3 ? k.value : reshapeExpr(k.value, [batch, M, N]);
  if (!value) return undefined;
  const aSpec: QGemmSpec["a"] = { base: ctx.addr(a.a.buf) + av.offset, sb: av.strides[0]!, sm: av.strides[1]!, sk: av.strides[2]!, signed: da === "int8", zero: za };
  return qgemmWithEpilogue(m, { ...k, shape: [batch, M, N], outShape: [batch, M, N], value }, ctx, aSpec, bSpec, { batch, M, N, K });
}

const Q_OUT: ReadonlySet<string> = new Set(["float32", "int32", "uint8", "int8"]);

/**
 * The int8 GEMM over a kernel of shape [batch, M, N] whose value is the epilogue over the int32
 * anchor, stored as the kernel's output dtype (float32, int32, uint8 or int8); undefined when the
 * output is another dtype (the scalar path then takes it). An epilogue with math functions runs
 * as a strip epilogue (per row panel, out of the micro-kernel; see qmatmul.ts).
 */
export function qgemmWithEpilogue(m: ModuleBuilder, k: Kernel, ctx: KernelCtx, a: QGemmSpec["a"], b: QGemmSpec["b"],
  dims: { batch: number; M: number; N: number; K: number }, outDtype?: DType, groups?: number): EmittedKernel | undefined {
  const dt = outDtype ?? ctx.plan.buffers[k.out]!.dtype;
  if (!Q_OUT.has(dt) || k.value.dtype !== dt) return undefined;
  const isPlain = k.value.op === "anchor";
  // math functions (GELU, sigmoid, …) in the epilogue: applied per row panel by a function of its
  // own over the panel's int32 sums (an L1-resident strip; see QGemmSpec.epilogue.strip), so the
  // micro-kernel stays free of calls
  const strip = !isPlain && usesMath(k.value);
  if (isPlain && dt !== "int32") return undefined;
  let row: LoopEmitter | undefined;
  const vecOk = isPlain ? false : new LoopEmitter(undefined, k, ctx).epilogueVectorizable();
  // grouped (conv): the GEMM's batch t = image·G + group and row m stand for the kernel's
  // coordinates (t / G, (t mod G)·M + m)
  const coords = (f: FunctionBuilder, bb: number, mm: number): [number, number] => {
    if (!groups) return [bb, mm];
    const b2 = f.local("i32"), m2 = f.local("i32");
    f.local_get(bb).i32_const(groups).i32_div_u().local_set(b2);
    f.local_get(bb).i32_const(groups).i32_rem_u().i32_const(dims.M).i32_mul().local_get(mm).i32_add().local_set(m2);
    return [b2, m2];
  };
  let rowCoords: [number, number] | undefined;
  const spec: QGemmSpec = {
    ...dims, a, b,
    c: ctx.addr(k.out), cDtype: dt as QOutDtype,
    epilogue: isPlain ? null : {
      vectorizable: vecOk, strip,
      beginRow: (f, bb, mm) => { rowCoords = coords(f, bb, mm); row = new LoopEmitter(f, k, ctx); row.epilogueRow(vecOk, ...rowCoords); },
      emit: (f, vector, bb, mm, n) => {
        if (row?.f === f && rowCoords) { row.epilogue(vector, ...rowCoords, n); return; }
        const [b2, m2] = coords(f, bb, mm);
        new LoopEmitter(f, k, ctx).epilogue(vector, b2, m2, n);
      },
    },
    alloc: ctx.alloc,
    aBatchMod: groups,
  };
  const r = emitQGemm(m, spec, `k${k.id}`);
  return { phases: [{ func: r.func, workItems: r.workItems, cost: r.macs * COST.int8Mac, describe: r.describe }] };
}

/**
 * The blocked matmul over a kernel of shape [batch, M, N] whose value is the epilogue (the
 * "anchor" expression stands for each product).
 */
// expressions are DAGs (shared subexpressions): every walk keeps a seen set, or it is exponential
function contains(e: KExpr, x: KExpr, seen = new Set<KExpr>()): boolean {
  if (e === x) return true;
  if (seen.has(e) || !("args" in e)) return false;
  seen.add(e);
  return e.args.some((a) => contains(a, x, seen));
}

/** `e` with every occurrence of `x` (by identity) replaced by `by`. */
function replaceExpr(e: KExpr, x: KExpr, by: KExpr, memo = new Map<KExpr, KExpr>()): KExpr {
  if (e === x) return by;
  if (!("args" in e)) return e;
  let r = memo.get(e);
  if (!r) { r = { ...e, args: e.args.map((a) => replaceExpr(a, x, by, memo)) } as KExpr; memo.set(e, r); }
  return r;
}

function findAnchor(e: KExpr, seen = new Set<KExpr>()): KExpr | undefined {
  if (e.op === "anchor") return e;
  if (seen.has(e) || !("args" in e)) return undefined;
  seen.add(e);
  for (const a of e.args) { const r = findAnchor(a, seen); if (r) return r; }
  return undefined;
}

function usesMath(e: KExpr, seen = new Set<KExpr>()): boolean {
  if (seen.has(e) || !("args" in e)) return false;
  seen.add(e);
  return MATH_OPS.has(e.op) || e.args.some((a) => usesMath(a, seen));
}


export function matmulWithEpilogue(m: ModuleBuilder, k: Kernel, ctx: KernelCtx, a: MatmulSpec["a"], b: MatmulSpec["b"],
  dims: { batch: number; M: number; N: number; K: number }): EmittedKernel | undefined {
  // the tiles store f32: an epilogue ending in another dtype (a cast, a comparison) takes the scalar path
  if (k.value.dtype !== "float32" || ctx.plan.buffers[k.out]!.dtype !== "float32") return undefined;
  // An epilogue calling math functions (GELU, sigmoid, …) would bloat the micro-kernel and
  // cost V8's register allocation more than it saves: such an epilogue runs as a second,
  // vectorized phase over the stored tile instead (still one kernel, no extra buffer).
  if (k.value.op !== "anchor" && usesMath(k.value)) {
    const mm = matmulWithEpilogue(m, { ...k, value: { op: "anchor", dtype: "float32" } }, ctx, a, b, dims);
    if (!mm) return undefined;
    const load: KExpr = { op: "load", buf: k.out, view: View.contiguous(k.shape), dtype: "float32" };
    const second: Kernel = { ...k, anchor: undefined, value: replaceExpr(k.value, findAnchor(k.value)!, load) };
    const f = m.func({ params: ["i32", "i32"] }, { name: `k${k.id}_epilogue` });
    const e = new LoopEmitter(f, second, ctx);
    e.emit();
    return { phases: [...mm.phases, { func: f, workItems: e.workItems, cost: e.cost }] };
  }
  const isPlain = k.value.op === "anchor";
  let row: LoopEmitter | undefined;
  const vecOk = isPlain ? false : new LoopEmitter(undefined, k, ctx).epilogueVectorizable();
  const spec: MatmulSpec = {
    ...dims, a, b,
    c: ctx.addr(k.out),
    epilogue: isPlain ? null : {
      vectorizable: vecOk,
      // one emitter per tile row: what depends on the row only (a bias) is loaded once per row
      beginRow: (f, bb, mm) => { row = new LoopEmitter(f, k, ctx); row.epilogueRow(vecOk, bb, mm); },
      emit: (f, vector, bb, mm, n) => (row?.f === f ? row : new LoopEmitter(f, k, ctx)).epilogue(vector, bb, mm, n),
    },
    alloc: ctx.alloc,
    features: { relaxedSimd: ctx.relaxedSimd },
  };
  const r = emitMatmul(m, spec, `k${k.id}`);
  return { phases: [{ func: r.func, workItems: r.workItems, cost: r.macs * COST.matmulMac }] };
}

/**
 * Whether a kernel stores or loads int32, int8 or uint8 values (quantize, dequantize and
 * requantize kernels, the int32 sums of an int8 GEMM read back): its emitter then uses int lanes,
 * so that integer arithmetic, casts between f32 and those integers and 8-bit stores vectorize.
 */
function touchesIntLanes(k: Kernel, plan: Plan): boolean {
  if (INT_LANES.has(plan.buffers[k.out]!.dtype)) return true;
  const seen = new Set<KExpr>();
  const walk = (e: KExpr): boolean => {
    if (seen.has(e)) return false;
    seen.add(e);
    if (e.op === "load") return INT_LANES.has(e.dtype);
    return "args" in e && e.args.some(walk);
  };
  return walk(k.value) || k.stages.some((st) => walk(st.expr));
}

/** Integer dtypes with a vector form in int-lane epilogues (i32x4 lanes). */
const INT_LANES: ReadonlySet<string> = new Set(["int32", "int8", "uint8"]);

/** Wraps i32x4 lanes to an integer dtype's range, as the scalar store does (emitWrap). */
function wrapLanes(f: FunctionBuilder, d: DType): void {
  if (d === "uint8") f.v128_const_i32x4(255, 255, 255, 255).v128_and();
  else if (d === "int8") f.i32_const(24).i32x4_shl().i32_const(24).i32x4_shr_s();
}

/**
 * Whether a float32 expression's value (NaN aside) provably lies within ±2^30, so that a cast to an
 * integer truncates it exactly with `i32x4.trunc_sat_f32x4_s` (the scalar cast wraps values past
 * 2^31 instead; NaN gives 0 in both). Interval bounds through clips (max/min against constants),
 * rounding, casts from 8-bit integers, add/sub/mul and where.
 */
function f32InIntRange(e: KExpr): boolean {
  const LIM = 2 ** 30;
  const memo = new Map<KExpr, [number, number]>();
  const range = (x: KExpr): [number, number] => {
    let r = memo.get(x);
    if (r) return r;
    const all: [number, number] = [-Infinity, Infinity];
    switch (x.op) {
      case "const": r = Number.isNaN(x.value) ? all : [Math.fround(x.value), Math.fround(x.value)]; break;
      case "max": case "min": {
        const [p, q] = x.args as [KExpr, KExpr];
        const [a, b] = range(p), [u, v] = range(q);
        r = x.op === "max" ? [Math.max(a, u), Math.max(b, v)] : [Math.min(a, u), Math.min(b, v)];
        break;
      }
      case "round": case "floor": case "ceil": { const [a, b] = range(x.args[0]!); r = [a - 1, b + 1]; break; }
      case "cast": {
        const from = x.args[0]!.dtype;
        r = from === "uint8" ? [0, 255] : from === "int8" ? [-128, 127] : from === "bool" ? [0, 1] : from === "float32" ? range(x.args[0]!) : all;
        break;
      }
      case "add": case "sub": case "mul": {
        const [a, b] = range(x.args[0]!), [u, v] = range(x.args[1]!);
        if (![a, b, u, v].every(Number.isFinite)) { r = all; break; }
        if (x.op === "add") r = [a + u, b + v];
        else if (x.op === "sub") r = [a - v, b - u];
        else { const p = [a * u, a * v, b * u, b * v]; r = [Math.min(...p), Math.max(...p)]; }
        // f32 rounding of the results: a margin
        r = [r[0] - Math.abs(r[0]) * 2 ** -20 - 1, r[1] + Math.abs(r[1]) * 2 ** -20 + 1];
        break;
      }
      case "neg": { const [a, b] = range(x.args[0]!); r = [-b, -a]; break; }
      case "where": { const [a, b] = range(x.args[1]!), [u, v] = range(x.args[2]!); r = [Math.min(a, u), Math.max(b, v)]; break; }
      default: r = all;
    }
    memo.set(x, r);
    return r;
  };
  const [lo, hi] = range(e);
  return lo >= -LIM && hi <= LIM;
}

export class LoopEmitter {
  readonly f: FunctionBuilder;
  /** Loop dims: outer (non-reduced, extent > 1) then reduced (extent > 1). */
  readonly outer: number[];
  readonly reduced: number[];
  readonly coord: number[];
  private readonly levelOfDim = new Map<number, number>();
  private readonly levels = new Map<KExpr, { level: number; acc: boolean }>();
  private readonly scopes: Scope[] = [];
  /** Vector values (v128 locals) per loop scope, parallel to `scopes`. */
  private readonly vscopes: Scope[] = [];
  private readonly accLocal: number[] = [];
  readonly workItems: number;

  /**
   * Vector forms also for int32/int8/uint8 values (i32x4 lanes holding each value as its scalar
   * i32, already wrapped to its dtype): on for int8 GEMM epilogues (and their second phase).
   */
  readonly intLanes: boolean;

  /** `f` undefined: analysis only (no code, no locals). */
  constructor(f: FunctionBuilder | undefined, readonly k: Kernel, readonly ctx: KernelCtx, opts: { intLanes?: boolean } = {}) {
    this.f = f as FunctionBuilder;
    this.intLanes = opts.intLanes ?? (!!k.anchor?.node.attrs.zeroB || touchesIntLanes(k, ctx.plan));
    this.storeValue = k.value;
    const R = new Set(k.reduceAxes);
    this.outer = k.shape.map((_, i) => i).filter((i) => !R.has(i) && k.shape[i]! > 1);
    // an empty reduced axis still loops (zero times), so stages keep their initial value
    this.reduced = k.reduceAxes.filter((i) => k.shape[i]! !== 1);
    [...this.outer, ...this.reduced].forEach((d, l) => this.levelOfDim.set(d, l));
    this.coord = f ? k.shape.map(() => f.local("i32")) : [];
    this.workItems = this.outer.length ? k.shape[this.outer[0]!]! : 1;
  }

  /** Work estimate ({@link COST} units): every loop iteration evaluates (at most) each expression node once, plus an anchor's inner loop. */
  get cost(): number {
    const seen = new Set<KExpr>();
    const count = (e: KExpr): number => {
      if (seen.has(e) || e.op === "const" || e.op === "acc" || e.op === "anchor") return 0;
      seen.add(e);
      // exp, tanh, erf, … are polynomial evaluations of ~10 operations each
      return (MATH_OPS.has(e.op) ? 10 : 1) + ("args" in e ? e.args.reduce((n, a) => n + count(a), 0) : 0);
    };
    const ops = this.k.stages.reduce((n, st) => n + count(st.expr), count(this.k.value));
    return this.k.shape.reduce((a, b) => a * b, 1) * (Math.max(1, ops) * COST.loopOp + anchorWork(this.k) * COST.anchorStep);
  }

  private get nOuter(): number { return this.outer.length; }

  /** Deepest loop level an expression depends on (-1: none), and whether it reads a stage. */
  private levelOf(e: KExpr): { level: number; acc: boolean } {
    let r = this.levels.get(e);
    if (r) return r;
    const dimsLevel = (v: View | undefined, dims: readonly (readonly [number, number])[] | undefined) => {
      let l = -1;
      this.k.shape.forEach((ext, d) => {
        if (ext <= 1) return;
        const uses = (v && v.shape[d]! > 1 && (v.strides[d] !== 0 || (v.mask && (v.mask[d]![0] > 0 || v.mask[d]![1] < v.shape[d]!))))
          || (dims && (dims[d]![0] > 0 || dims[d]![1] < ext));
        if (uses) l = Math.max(l, this.levelOfDim.get(d)!);
      });
      return l;
    };
    switch (e.op) {
      case "const": r = { level: -1, acc: false }; break;
      case "load": r = { level: dimsLevel(e.view, undefined), acc: false }; break;
      case "acc": r = { level: this.nOuter - 1, acc: true }; break;
      case "anchor": r = { level: this.nOuter + this.reduced.length - 1, acc: false }; break;
      default: {
        let level = e.op === "select" ? dimsLevel(undefined, e.mask) : -1, acc = false;
        for (const a of e.args) { const x = this.levelOf(a); level = Math.max(level, x.level); acc ||= x.acc; }
        r = { level, acc };
      }
    }
    this.levels.set(e, r);
    return r;
  }

  private cached(e: KExpr): number | undefined {
    for (let i = this.scopes.length - 1; i >= 0; i--) { const l = this.scopes[i]!.get(e); if (l !== undefined) return l; }
    return undefined;
  }

  /** Pushes e's value, computing (and caching in the current scope) what is not cached. */
  private value(e: KExpr): void {
    const f = this.f;
    const c = this.cached(e);
    if (c !== undefined) { f.local_get(c); return; }
    if (e.op === "const") { emitConst(f, e.value, e.dtype); return; }
    this.compute(e);
    const l = f.local(valType(e.dtype));
    f.local_tee(l);
    this.scopes[this.scopes.length - 1]!.set(e, l);
  }

  private compute(e: KExpr): void {
    const f = this.f, ctx = this.ctx;
    switch (e.op) {
      case "load": this.load(e.buf, e.view, e.dtype); return;
      case "acc": f.local_get(this.accLocal[e.stage]!); return;
      case "anchor":
        if (this.anchorLocal !== undefined) { f.local_get(this.anchorLocal); return; }
        emitAnchorValue(f, this.k, this.coord, ctx); return;
      case "select": {
        this.value(e.args[0]); this.value(e.args[1]);
        this.inMask(e.mask);
        f.select();
        return;
      }
      case "where": this.value(e.args[1]!); this.value(e.args[2]!); this.value(e.args[0]!); f.select(); return;
      case "cast": this.value(e.args[0]!); emitCast(f, e.args[0]!.dtype, e.dtype, ctx); return;
      case "const": emitConst(f, e.value, e.dtype); return;
    }
    if (e.args.length === 1) { this.value(e.args[0]!); emitUnary(f, e.op, e.args[0]!.dtype, ctx); return; }
    this.value(e.args[0]!); this.value(e.args[1]!);
    emitBinary(f, e.op, e.args[0]!.dtype, ctx);
  }

  /** Pushes an i32: 1 when every coordinate is inside the ranges. */
  private inMask(mask: readonly (readonly [number, number])[]): void {
    const f = this.f;
    let any = false;
    mask.forEach(([lo, hi], d) => {
      const ext = this.k.shape[d]!;
      if (lo <= 0 && hi >= ext) return;
      // (c - lo) <u (hi - lo) tests lo <= c < hi in one comparison
      if (ext <= 1) f.i32_const(0 >= lo && 0 < hi ? 1 : 0);
      else f.local_get(this.coord[d]!).i32_const(lo).i32_sub().i32_const(Math.max(hi - lo, 0)).i32_lt_u();
      if (any) f.i32_and();
      any = true;
    });
    if (!any) f.i32_const(1);
  }

  /** Pushes the element of `buf` the view maps the current coordinates to (0 outside its mask). */
  load(buf: number, v: View, d: DType): void {
    const f = this.f;
    const base = this.ctx.addr(buf), size = itemSize(d);
    const terms: [number, number][] = [];
    v.shape.forEach((ext, i) => { if (ext > 1 && v.strides[i] !== 0 && this.k.shape[i]! > 1) terms.push([this.coord[i]!, v.strides[i]! * size]); });
    const emitAddr = () => {
      f.i32_const(base + v.offset * size);
      for (const [c, s] of terms) { f.local_get(c); if (s !== 1) f.i32_const(s).i32_mul(); f.i32_add(); }
    };
    if (!v.mask) { emitAddr(); emitLoad(f, d, this.ctx); return; }
    const mask = v.mask.map(([lo, hi], i) => (v.shape[i] === 1 && this.k.shape[i]! > 1 ? [lo, hi === 0 ? 0 : this.k.shape[i]!] as const : [lo, hi] as const));
    // masked: read address `base` (always valid) when outside, then select 0
    const ok = scratch(f, "i32", 7);
    this.inMask(mask);
    f.local_set(ok);
    emitAddr();
    f.i32_const(base).local_get(ok).select();
    emitLoad(f, d, this.ctx);
    emitConst(f, 0, d);
    f.local_get(ok).select();
  }

  /** Computes and caches every expression reachable from roots whose level is `level`. */
  private hoist(roots: readonly KExpr[], level: number, withAcc: boolean): void {
    const seen = new Set<KExpr>();
    const visit = (e: KExpr) => {
      if (seen.has(e)) return;
      seen.add(e);
      const l = this.levelOf(e);
      if (l.level > level || (l.acc && !withAcc)) {
        if ("args" in e) e.args.forEach(visit);
        return;
      }
      if (l.level === level && e.op !== "const" && this.cached(e) === undefined) { this.value(e); this.f.drop(); }
    };
    roots.forEach(visit);
  }

  emit(): void {
    const f = this.f, k = this.k;
    this.scopes.push(new Map());
    this.vscopes.push(new Map());
    // dims of extent 1 (or not looped) sit at coordinate 0
    this.coord.forEach((c) => f.i32_const(0).local_set(c));
    const roots = [...k.stages.map((s) => s.expr), k.value];
    this.hoist(roots, -1, false);
    if (this.nOuter === 0) { this.phases(); return; }
    // without reduced dims the store is the innermost work of the outer nest
    const storeOnly = k.stages.length === 0;
    this.nest(this.outer, 0, roots, false, storeOnly ? () => this.store(true) : undefined, storeOnly ? (v) => this.store(false, v) : undefined, () => this.phases());
  }

  /**
   * Loops over `dims` (levels from `level0`), hoisting each level's expressions. The innermost
   * loop runs `vec` 4 elements at a time when `vecOk` says the phase vectorizes, then `body`
   * for the rest; `inner` replaces both when given (work that is not itself a loop body).
   */
  private nest(dims: readonly number[], level0: number, roots: readonly KExpr[], withAcc: boolean,
    vecOk: (() => boolean) | undefined, vec: ((v: boolean) => void) | undefined, body: () => void): void {
    const go = (j: number): void => {
      // only the outermost outer loop takes its range from the (start, end) parameters
      const d = dims[j]!, level = level0 + j, first = dims === this.outer && j === 0;
      const innermost = j === dims.length - 1;
      const lo: "start" | 0 = first ? "start" : 0, hi: number | "end" = first ? "end" : this.k.shape[d]!;
      if (innermost && vecOk && vec && this.k.shape[d]! >= 4 && vecOk() && this.vectorizable(roots, level)) {
        this.loop(d, lo, hi, () => { this.hoistVec = level; vec(true); this.hoistVec = -2; }, 4);
        this.loop(d, "continue", hi, () => { this.hoist(roots, level, withAcc); vec(false); });
      } else {
        this.loop(d, lo, hi, () => {
          this.hoist(roots, level, withAcc);
          if (innermost) body(); else go(j + 1);
        });
      }
    };
    if (dims.length) go(0); else body();
  }

  private hoistVec = -2;

  private loop(dim: number, from: "start" | 0 | "continue", to: number | "end", body: () => void, step = 1): void {
    const f = this.f, c = this.coord[dim]!;
    if (from === "start") f.local_get(0).local_set(c); else if (from === 0) f.i32_const(0).local_set(c);
    const exit = f.block();
    const top = f.loop();
    f.local_get(c);
    if (step > 1) f.i32_const(step - 1).i32_add();
    if (to === "end") f.local_get(1); else f.i32_const(to);
    f.i32_ge_s().br_if(exit);
    this.scopes.push(new Map());
    this.vscopes.push(new Map());
    body();
    this.vscopes.pop();
    this.scopes.pop();
    f.local_get(c).i32_const(step).i32_add().local_set(c).br(top);
    f.end().end();
  }

  private phases(): void {
    const f = this.f, k = this.k;
    const last = this.nOuter - 1;
    const rLevel = this.nOuter;
    const storeLoops = k.reduceAxes.length > 0 && k.outShape.every((d, i) => d === k.shape[i]);
    // Two-pass form: when the store needs the last stage's summand (softmax: exp(x − max) both in
    // the sum and in the output), that stage also writes it to the output, and the store reads
    // it back instead of computing it again.
    const lastStage = k.stages[k.stages.length - 1];
    const outDt = this.ctx.plan.buffers[k.out]!.dtype;
    const reuse = storeLoops && lastStage && lastStage.expr.dtype === outDt && outDt === "float32" && contains(k.value, lastStage.expr) && lastStage.expr.op !== "load";
    this.storeValue = reuse
      ? replaceExpr(k.value, lastStage.expr, { op: "load", buf: k.out, view: View.contiguous(k.shape), dtype: outDt })
      : k.value;
    k.stages.forEach((s, i) => {
      this.hoist([s.expr], last, true);
      // accumulate in f64 (floats) like the reference, then round to the stage's dtype
      const t: ValType = valType(s.dtype) === "f32" ? "f64" : valType(s.dtype);
      const acc = f.local(t);
      const init = s.fn === "sum" ? 0 : s.fn === "prod" ? 1 : s.fn === "max" ? -Infinity : Infinity;
      // over an empty axis an integer max/min is the reference's cast of ∓inf: 0
      const empty = k.reduceAxes.some((d) => k.shape[d] === 0);
      if (t === "f64") f.f64_const(init);
      else if (empty || Number.isFinite(init)) emitConst(f, castValue(init, s.dtype), t === "i64" ? "int64" : "int32");
      else if (t === "i64") f.i64_const(s.fn === "max" ? -(2n ** 63n) : 2n ** 63n - 1n);
      else f.i32_const(s.fn === "max" ? -(2 ** 31) : 2 ** 31 - 1);
      f.local_set(acc);
      // vector lanes accumulate separately (f64x2 pairs for sum/prod), folded into acc after the loop
      let vacc: number[] | undefined;
      const keep = reuse && i === k.stages.length - 1;
      // a stage that also writes the output vectorizes only where the output is contiguous
      const vecOk = () => s.dtype === "float32" && (!keep || this.store(true));
      const vec = (v: boolean) => {
        if (keep) this.store(false, v, s.expr);
        if (!v) { this.value(s.expr); if (t === "f64") f.f64_promote_f32(); this.combine(s.fn, t, acc); return; }
        if (!vacc) throw new Error("internal: vector accumulators");
        this.vvalue(s.expr);
        this.vcombine(s.fn, vacc);
      };
      const before = () => {
        if (!(vecOk() && this.reduced.length && this.k.shape[this.reduced[this.reduced.length - 1]!]! >= 4 && this.vectorizable([s.expr], rLevel + this.reduced.length - 1))) return;
        vacc = this.vinit(s.fn);
      };
      before();
      this.nest(this.reduced, rLevel, [s.expr], true, vacc ? vecOk : undefined, vacc ? vec : undefined, () => vec(false));
      if (vacc) this.vfold(s.fn, vacc, acc, t);
      const out = f.local(valType(s.dtype));
      f.local_get(acc);
      if (t === "f64") {
        f.f32_demote_f64();
        if (s.dtype === "float16") this.ctx.callImport(f, "f16round");
      } else if (t === "i32" && s.dtype !== "int32") {
        // wrap narrow ints like the reference's store
        emitCast(f, "int32", s.dtype, this.ctx);
      }
      f.local_set(out);
      this.accLocal[i] = out;
      // reduced coordinates return to 0 for what follows
      for (const d of this.reduced) f.i32_const(0).local_set(this.coord[d]!);
    });
    this.hoist([this.storeValue], last, true);
    if (storeLoops) {
      this.nest(this.reduced, rLevel, [this.storeValue], true, () => this.store(true), (v) => this.store(false, v), () => this.store(false, false));
      for (const d of this.reduced) f.i32_const(0).local_set(this.coord[d]!);
    } else this.store(false, false);
  }

  /** Emits the store of the kernel's value (vector: 4 lanes). As a check (probe = true): whether a vector store is possible. */
  private store(probe: true): boolean;
  private store(probe: false, vector: boolean, expr?: KExpr): void;
  private store(probe: boolean, vector = false, expr?: KExpr): boolean | void {
    const f = this.f, k = this.k;
    const dt = this.ctx.plan.buffers[k.out]!.dtype;
    if (probe) {
      // contiguous along the innermost looped dim: every later dim of the output has size 1
      const loops = [...this.outer, ...(k.outShape.every((d, i) => d === k.shape[i]) ? this.reduced : [])];
      const inner = loops[loops.length - 1];
      // float32, or (int lanes) an integer dtype stored from its own i32x4 lanes (8-bit: narrowed)
      const lanes = (dt === "float32" && k.value.dtype === "float32") || (this.intLanes && INT_LANES.has(dt) && k.value.dtype === dt);
      return lanes && inner !== undefined && k.outShape.slice(inner + 1).every((d) => d === 1) && !k.anchor;
    }
    const size = itemSize(dt);
    f.i32_const(this.ctx.addr(k.out));
    let st = 1;
    for (let d = k.outShape.length - 1; d >= 0; d--) {
      if (k.outShape[d]! > 1) { f.local_get(this.coord[d]!); if (st * size !== 1) f.i32_const(st * size).i32_mul(); f.i32_add(); }
      st *= k.outShape[d]!;
    }
    const v = expr ?? this.storeValue;
    if (vector) {
      this.vvalue(v);
      if (size === 4) { f.v128_store(0, 4); return; }
      // 8-bit lanes (already wrapped to the dtype's range) narrow exactly to 4 bytes
      const t = scratch(f, "v128", 24);
      f.local_tee(t).local_get(t).i16x8_narrow_i32x4_s().local_tee(t).local_get(t);
      if (dt === "uint8") f.i8x16_narrow_i16x8_u(); else f.i8x16_narrow_i16x8_s();
      f.v128_store32_lane(0, 0, 1);
      return;
    }
    this.value(v);
    if (v.dtype !== dt) emitCast(f, v.dtype, dt, this.ctx);
    emitStore(f, dt, this.ctx);
  }

  /** What the store phase stores: the kernel's value, or a rewrite reusing a stage's stored terms. */
  private storeValue: KExpr;

  /** Value used for the "anchor" expression while emitting an epilogue. */
  private anchorLocal?: number;

  /** Whether the epilogue (the kernel's value over the anchor) has a 4-lane form along the last dim. */
  epilogueVectorizable(): boolean {
    const last = this.k.shape.length - 1;
    if (this.k.shape[last]! <= 1 || !this.levelOfDim.has(last)) return false;
    this.anchorLocal = -1; // the anchor is a vector value in epilogues
    const lanesOk = this.k.value.dtype === "float32" || (this.intLanes && INT_LANES.has(this.k.value.dtype));
    try { return this.store(true) || lanesOk && this.vectorizable([this.k.value], this.levelOfDim.get(last)!); }
    finally { this.anchorLocal = undefined; }
  }

  /**
   * Emits the epilogue into a matmul tile: consumes the anchor value on the stack (f32, or a
   * v128 of columns n..n+3) and leaves the kernel's value for those coordinates.
   */
  epilogue(vector: boolean, b: number, m: number, n: number): void {
    const f = this.f, k = this.k, r = k.shape.length;
    this.anchorLocal = f.local(vector ? "v128" : valType(findAnchor(k.value)?.dtype ?? "float32"));
    f.local_set(this.anchorLocal);
    // after epilogueRow: a scope of its own over the row's (popped below), else one that stays
    const inRow = this.rowOpen;
    this.scopes.push(new Map());
    this.vscopes.push(new Map());
    this.epilogueCoords(b, m, n);
    if (vector) { this.hoistVec = this.levelOfDim.get(r - 1)!; this.vvalue(k.value); this.hoistVec = -2; }
    else this.value(k.value);
    if (inRow) { this.scopes.pop(); this.vscopes.pop(); }
  }

  private rowOpen = false;

  /**
   * Starts a row of epilogues sharing (b, m) (a matmul tile row, a depthwise plane): computes
   * now, in straight-line code, every part of the epilogue that depends on (b, m) only (a
   * bias load, a per-channel scale; also splatted when `vector`), so that the epilogue() calls
   * that follow for this row's columns, on this emitter, reuse them instead of reloading them
   * per vector.
   */
  epilogueRow(vector: boolean, b: number, m: number): void {
    const f = this.f, k = this.k, r = k.shape.length;
    this.scopes.push(new Map());
    this.vscopes.push(new Map());
    this.rowOpen = true;
    const nLevel = this.levelOfDim.get(r - 1);
    if (nLevel === undefined) return;
    this.epilogueCoords(b, m, -1);
    const seen = new Set<KExpr>(), found: KExpr[] = [];
    const walk = (e: KExpr): void => {
      if (seen.has(e)) return;
      seen.add(e);
      if (e.op === "const" || e.op === "anchor" || e.op === "acc") return;
      const l = this.levelOf(e);
      if (l.level < nLevel && !l.acc) { found.push(e); return; }
      if ("args" in e) for (const a of e.args) walk(a);
    };
    walk(k.value);
    for (const e of found) {
      this.value(e);
      if (vector && (e.dtype === "float32" || (this.intLanes && INT_LANES.has(e.dtype)))) {
        const v = f.local("v128");
        if (e.dtype === "float32") f.f32x4_splat(); else f.i32x4_splat();
        f.local_set(v);
        this.vscopes[this.vscopes.length - 1]!.set(e, v);
      } else f.drop();
    }
  }

  /** Sets the coordinate locals: batch dims from the flat batch index, then m, n (n < 0: not yet). */
  private epilogueCoords(b: number, m: number, n: number): void {
    const f = this.f, k = this.k, r = k.shape.length;
    // coordinates: batch dims from the flat batch index, then m, n
    let rest = b;
    const tmp = f.local("i32");
    f.local_get(b).local_set(tmp);
    for (let d = r - 3; d >= 0; d--) {
      const ext = k.shape[d]!;
      f.local_get(tmp).i32_const(ext).i32_rem_u().local_set(this.coord[d]!);
      f.local_get(tmp).i32_const(ext).i32_div_u().local_set(tmp);
    }
    void rest;
    f.local_get(m).local_set(this.coord[r - 2]!);
    if (n >= 0) f.local_get(n).local_set(this.coord[r - 1]!);
  }

  /** Whether every expression of `roots` at `level` has a 4-lane f32 form. */
  private vectorizable(roots: readonly KExpr[], level: number): boolean {
    const seen = new Set<KExpr>();
    const ok = (e: KExpr): boolean => {
      if (seen.has(e)) return true;
      seen.add(e);
      const l = this.levelOf(e);
      const idt = this.intLanes && INT_LANES.has(e.dtype);
      if (l.level < level) return valType(e.dtype) === "f32" || e.dtype === "bool" || idt;
      const fdt = e.dtype === "float32";
      if (this.intLanes) {
        const r = this.intVectorizable(e, level, ok);
        if (r !== undefined) return r;
      }
      switch (e.op) {
        case "load": {
          // float32 values, or bool masks (bytes widened to −1/0 lanes)
          const d = this.innerDim(level);
          return (fdt || e.dtype === "bool") && e.view.strides[d] === 1 && !(e.view.mask && (e.view.mask[d]![0] > 0 || e.view.mask[d]![1] < e.view.shape[d]!));
        }
        case "const": return true;
        case "anchor": return this.anchorLocal !== undefined;
        case "acc": case "select": return false;
        case "where": return fdt && e.args.every(ok);
        case "cast": return fdt && e.args[0]!.dtype === "float32" && ok(e.args[0]!);
      }
      if (!e.args.every((a) => a.dtype === "float32" || a.dtype === "bool") || !e.args.every(ok)) return false;
      const logic = ["and", "or", "xor"].includes(e.op);
      // masks combine bitwise; logic on float values yields 1.0/0.0 (scalar only)
      if (logic !== e.args.every((a) => a.dtype === "bool")) return false;
      if (e.args.some((a) => a.dtype === "bool") && !logic && e.op !== "not") return false;
      return VEC_OPS.has(e.op) || (MATH_OPS.has(e.op) && !!this.ctx.callMath && !codegenOptions.exactMath);
    };
    return roots.every(ok);
  }

  /**
   * Int-lane rules (intLanes): whether `e` has a vector form, or undefined to use the float rules.
   * Integer values: loads (int32, 8-bit), the anchor, add/sub/mul/max/min/neg/abs, where, casts
   * between integer dtypes (wrapping) and from float32 when the value is known to lie well inside
   * the int32 range (a clip), where `i32x4.trunc_sat_f32x4_s` equals the scalar cast; float32
   * values: also casts from integers (`f32x4.convert_i32x4_s`, exact like `f32.convert_i32_s`).
   */
  private intVectorizable(e: KExpr, level: number, ok: (e: KExpr) => boolean): boolean | undefined {
    const idt = INT_LANES.has(e.dtype);
    if (e.op === "cast") {
      const from = e.args[0]!.dtype;
      if (e.dtype === "float32" && INT_LANES.has(from)) return ok(e.args[0]!);
      if (idt && INT_LANES.has(from)) return ok(e.args[0]!);
      if (idt && from === "float32") return f32InIntRange(e.args[0]!) && ok(e.args[0]!);
      return idt ? false : undefined;
    }
    if (!idt) return undefined;
    switch (e.op) {
      case "load": {
        const d = this.innerDim(level);
        return e.view.strides[d] === 1 && !(e.view.mask && (e.view.mask[d]![0] > 0 || e.view.mask[d]![1] < e.view.shape[d]!));
      }
      case "const": return true;
      case "anchor": return this.anchorLocal !== undefined;
      case "where": return e.args.every(ok);
      case "add": case "sub": case "mul": case "max": case "min": case "neg": case "abs":
        return e.args.every((a) => a.dtype === e.dtype) && e.args.every(ok);
    }
    return false;
  }

  private innerDim(level: number): number {
    return [...this.outer, ...this.reduced][level]!;
  }

  private vcached(e: KExpr): number | undefined {
    for (let i = this.vscopes.length - 1; i >= 0; i--) { const l = this.vscopes[i]!.get(e); if (l !== undefined) return l; }
    return undefined;
  }

  /** Pushes e as a v128 (4 consecutive positions of the innermost dim); lower-level values are splatted. */
  private vvalue(e: KExpr): void {
    const f = this.f;
    const c = this.vcached(e);
    if (c !== undefined) { f.local_get(c); return; }
    const l = this.levelOf(e);
    if (l.level < this.hoistVec || e.op === "const") {
      const ints = this.intLanes && INT_LANES.has(e.dtype);
      if (e.op === "const") {
        if (e.dtype === "bool") f.i32_const(e.value ? -1 : 0).i32x4_splat();
        else if (ints) f.i32_const(castValue(e.value, e.dtype) | 0).i32x4_splat();
        else f.f32_const(e.value).f32x4_splat();
      }
      else if (e.dtype === "bool") { const t = scratch(f, "i32", 23); this.value(e); f.local_set(t).i32_const(0).local_get(t).i32_sub().i32x4_splat(); }
      else if (ints) { this.value(e); f.i32x4_splat(); }
      else { this.value(e); f.f32x4_splat(); }
    } else this.vcompute(e);
    const loc = f.local("v128");
    f.local_tee(loc);
    this.vscopes[this.vscopes.length - 1]!.set(e, loc);
  }

  private vcompute(e: KExpr): void {
    const f = this.f;
    if (this.intLanes && this.vcomputeInt(e)) return;
    switch (e.op) {
      case "load": {
        const v = e.view, base = this.ctx.addr(e.buf), size = e.dtype === "bool" ? 1 : 4;
        f.i32_const(base + v.offset * size);
        v.shape.forEach((ext, i) => { if (ext > 1 && v.strides[i] !== 0 && this.k.shape[i]! > 1) { f.local_get(this.coord[i]!); if (v.strides[i]! * size !== 1) f.i32_const(v.strides[i]! * size).i32_mul(); f.i32_add(); } });
        if (size === 4) { f.v128_load(0, 4); return; }
        // 4 bool bytes → −1/0 lanes (any nonzero byte is true, like the scalar select)
        f.v128_load32_zero(0, 1).v128_const_i32x4(0, 0, 0, 0).i8x16_ne().i16x8_extend_low_i8x16_s().i32x4_extend_low_i16x8_s();
        return;
      }
      case "where": this.vvalue(e.args[1]!); this.vvalue(e.args[2]!); this.vvalue(e.args[0]!); f.v128_bitselect(); return;
      case "cast": this.vvalue(e.args[0]!); return;
      case "anchor": f.local_get(this.anchorLocal!); return;
      case "const": case "acc": case "select": throw new Error("internal: not vectorizable");
    }
    const args = e.args;
    if (args.length === 1) {
      this.vvalue(args[0]!);
      switch (e.op) {
        case "neg": f.f32x4_neg(); return;
        case "abs": f.f32x4_abs(); return;
        case "sqrt": f.f32x4_sqrt(); return;
        case "floor": f.f32x4_floor(); return;
        case "ceil": f.f32x4_ceil(); return;
        case "round": f.f32x4_nearest(); return;
        case "recip": { const t = scratch(f, "v128", 20); f.local_set(t).f32_const(1).f32x4_splat().local_get(t).f32x4_div(); return; }
        case "not": if (args[0]!.dtype === "bool") f.v128_not(); else f.f32_const(0).f32x4_splat().f32x4_eq(); return;
        case "isnan": { const t = scratch(f, "v128", 20); f.local_tee(t).local_get(t).f32x4_ne(); return; }
        case "isinf": f.f32x4_abs().f32_const(Infinity).f32x4_splat().f32x4_eq(); return;
      }
      if (this.ctx.callMath?.(f, e.op, true)) return;
      throw new Error(`internal: vector ${e.op}`);
    }
    if ((e.op === "max" || e.op === "min") && e.dtype === "float32") {
      // max/min against a constant (relu, clamps): f32x4.max/min carry NaN and ±0 rules that
      // cost V8 about six instructions on x64; pmax/pmin (`x < c ? c : x`) are one, and equal
      // them here: a NaN x stays NaN, and the one signed-zero tie that differs, max(−0, +0),
      // is fixed by adding +0 (min against −0 keeps the exact form)
      const ci = args[1]!.op === "const" ? 1 : args[0]!.op === "const" ? 0 : -1;
      const c = ci >= 0 ? Math.fround(Number((args[ci] as { value: number }).value)) : NaN;
      if (!Number.isNaN(c) && !(e.op === "min" && Object.is(c, -0))) {
        this.vvalue(args[1 - ci]!); f.f32_const(c).f32x4_splat();
        if (e.op === "max") { f.f32x4_pmax(); if (Object.is(c, 0)) f.f32_const(0).f32x4_splat().f32x4_add(); }
        else f.f32x4_pmin();
        return;
      }
    }
    this.vvalue(args[0]!); this.vvalue(args[1]!);
    switch (e.op) {
      case "add": f.f32x4_add(); return;
      case "sub": f.f32x4_sub(); return;
      case "mul": f.f32x4_mul(); return;
      case "div": f.f32x4_div(); return;
      case "max": f.f32x4_max(); return;
      case "min": f.f32x4_min(); return;
      case "lt": f.f32x4_lt(); return;
      case "le": f.f32x4_le(); return;
      case "eq": f.f32x4_eq(); return;
      case "pow": if (this.ctx.callMath?.(f, "pow", true)) return; break;
      case "and": f.v128_and(); return;
      case "or": f.v128_or(); return;
      case "xor": f.v128_xor(); return;
    }
    throw new Error(`internal: vector ${e.op}`);
  }

  /** The int-lane vector forms (see intVectorizable); false when `e` takes the float forms. */
  private vcomputeInt(e: KExpr): boolean {
    const f = this.f, ints = INT_LANES.has(e.dtype);
    if (e.op === "cast") {
      const from = e.args[0]!.dtype;
      if (e.dtype === "float32" && INT_LANES.has(from)) { this.vvalue(e.args[0]!); f.f32x4_convert_i32x4_s(); return true; }
      if (!ints) return false;
      this.vvalue(e.args[0]!);
      if (from === "float32") { f.i32x4_trunc_sat_f32x4_s(); wrapLanes(f, e.dtype); }
      else if (e.dtype !== from && e.dtype !== "int32") wrapLanes(f, e.dtype);
      return true;
    }
    if (!ints) return false;
    switch (e.op) {
      case "load": {
        const v = e.view, size = itemSize(e.dtype);
        f.i32_const(this.ctx.addr(e.buf) + v.offset * size);
        v.shape.forEach((ext, i) => { if (ext > 1 && v.strides[i] !== 0 && this.k.shape[i]! > 1) { f.local_get(this.coord[i]!); if (v.strides[i]! * size !== 1) f.i32_const(v.strides[i]! * size).i32_mul(); f.i32_add(); } });
        if (size === 4) f.v128_load(0, 1);
        else if (e.dtype === "int8") f.v128_load32_zero(0, 1).i16x8_extend_low_i8x16_s().i32x4_extend_low_i16x8_s();
        else f.v128_load32_zero(0, 1).i16x8_extend_low_i8x16_u().i32x4_extend_low_i16x8_u();
        return true;
      }
      case "anchor": f.local_get(this.anchorLocal!); return true;
      case "where": this.vvalue(e.args[1]!); this.vvalue(e.args[2]!); this.vvalue(e.args[0]!); f.v128_bitselect(); return true;
      case "neg": f.v128_const_i32x4(0, 0, 0, 0); this.vvalue(e.args[0]!); f.i32x4_sub(); wrapLanes(f, e.dtype); return true;
      case "abs": this.vvalue(e.args[0]!); f.i32x4_abs(); wrapLanes(f, e.dtype); return true;
    }
    const args = (e as { args: readonly KExpr[] }).args;
    this.vvalue(args[0]!); this.vvalue(args[1]!);
    switch (e.op) {
      case "add": f.i32x4_add(); break;
      case "sub": f.i32x4_sub(); break;
      case "mul": f.i32x4_mul(); break;
      case "max": f.i32x4_max_s(); return true;
      case "min": f.i32x4_min_s(); return true;
      default: throw new Error(`internal: int vector ${e.op}`);
    }
    wrapLanes(f, e.dtype);
    return true;
  }

  /** Vector accumulators: two f64x2 for sum/prod (the reference's f64 precision), one f32x4 for max/min. */
  private vinit(fn: string): number[] {
    const f = this.f;
    if (fn === "sum" || fn === "prod") {
      const a = f.local("v128"), b = f.local("v128");
      f.f64_const(fn === "sum" ? 0 : 1).f64x2_splat().local_tee(a).local_set(b);
      return [a, b];
    }
    const a = f.local("v128"), nan = f.local("v128");
    f.f32_const(fn === "max" ? -Infinity : Infinity).f32x4_splat().local_set(a);
    f.v128_const_i32x4(0, 0, 0, 0).local_set(nan);
    return [a, nan];
  }

  private vcombine(fn: string, acc: number[]): void {
    const f = this.f, v = scratch(f, "v128", 21);
    f.local_set(v);
    if (fn === "sum" || fn === "prod") {
      const op = () => (fn === "sum" ? f.f64x2_add() : f.f64x2_mul());
      f.local_get(acc[0]!).local_get(v).f64x2_promote_low_f32x4(); op(); f.local_set(acc[0]!);
      f.local_get(acc[1]!).local_get(v).local_get(v).i8x16_shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]).f64x2_promote_low_f32x4(); op(); f.local_set(acc[1]!);
      return;
    }
    // NaNs are tracked apart so the result is NaN whatever the lane order
    f.local_get(acc[1]!).local_get(v).local_get(v).f32x4_ne().v128_or().local_set(acc[1]!);
    f.local_get(acc[0]!).local_get(v);
    fn === "max" ? f.f32x4_pmax() : f.f32x4_pmin();
    f.local_set(acc[0]!);
  }

  /** Folds vector lanes into the scalar accumulator (which the scalar tail then continues). */
  private vfold(fn: string, acc: number[], out: number, t: ValType): void {
    const f = this.f;
    if (t !== "f64") throw new Error("internal: vector fold type");
    if (fn === "sum" || fn === "prod") {
      const op = () => (fn === "sum" ? f.f64_add() : f.f64_mul());
      for (const a of acc) for (const lane of [0, 1]) { f.local_get(out).local_get(a).f64x2_extract_lane(lane); op(); f.local_set(out); }
      return;
    }
    for (let lane = 0; lane < 4; lane++) {
      const v = scratch(f, "f64", 22);
      f.local_get(acc[0]!).f32x4_extract_lane(lane).f64_promote_f32().local_set(v);
      f.local_get(v).local_get(out).local_get(v).local_get(out);
      fn === "max" ? f.f64_gt() : f.f64_lt();
      f.select().local_set(out);
    }
    // any NaN seen makes the result NaN
    f.f64_const(NaN).local_get(out).local_get(acc[1]!).v128_any_true().select().local_set(out);
  }

  private combine(fn: string, t: ValType, acc: number): void {
    const f = this.f;
    if (fn === "sum" || fn === "prod") {
      f.local_get(acc);
      if (t === "f64") fn === "sum" ? f.f64_add() : f.f64_mul();
      else if (t === "i64") fn === "sum" ? f.i64_add() : f.i64_mul();
      else fn === "sum" ? f.i32_add() : f.i32_mul();
      f.local_set(acc);
      return;
    }
    // max/min: the first NaN sticks (v != v), else a strictly better value replaces acc
    const v = scratch(f, t, 8);
    f.local_set(v).local_get(v).local_get(acc);
    if (t === "f64") {
      f.local_get(v).local_get(acc); fn === "max" ? f.f64_gt() : f.f64_lt();
      f.local_get(v).local_get(v).f64_ne().i32_or();
    } else if (t === "i64") { f.local_get(v).local_get(acc); fn === "max" ? f.i64_gt_s() : f.i64_lt_s(); }
    else { f.local_get(v).local_get(acc); fn === "max" ? f.i32_gt_s() : f.i32_lt_s(); }
    f.select().local_set(acc);
  }
}
