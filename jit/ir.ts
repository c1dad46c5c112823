/**
 * The op-level IR: a DAG of immutable nodes with static shapes and dtypes.
 *
 * Primitives (everything in lib/ lowers to these):
 * - sources: `const` (host data), `input` (a jit placeholder), `external` (the pending result
 *   of a compiled call; only in lazy graphs, replaced by `const` before compiling)
 * - elementwise (all inputs have the output's shape; broadcasting is an explicit `expand`):
 *   unary {@link UNARY_OPS}, binary {@link BINARY_OPS}, `where`, `cast`
 * - reductions (keep reduced axes as size 1): `reduce` {fn, axes}, `argreduce` {fn, axis},
 *   `cumsum` {axis, exclusive, reverse}
 * - movement (views): `reshape`, `permute` {perm}, `expand`, `slice` {starts, steps},
 *   `pad` {pads, mode, value}, `concat` {axis}
 * - anchors (own tiled kernels): `matmul`, `conv`, `convTranspose`, `pool`, `gather`,
 *   `gatherElements`, `scatterElements`
 *
 * @example
 * const a = constNode(hostBuffer), b = node("exp", [a]);   // b.shape equals a.shape
 */
import { DType, isFloat } from "./dtype.js";
import { ShapeError, DTypeError } from "./errors.js";
import type { HostBuffer } from "./buffer.js";
import { Site } from "./site.js";

export type Shape = readonly number[];

export const UNARY_OPS = [
  "neg", "abs", "sign", "exp", "log", "sqrt", "recip", "sin", "cos", "tan", "tanh", "asin",
  "acos", "atan", "sinh", "cosh", "erf", "floor", "ceil", "round", "not", "isnan", "isinf",
] as const;
export const BINARY_OPS = [
  "add", "sub", "mul", "div", "pow", "mod", "fmod", "max", "min", "lt", "le", "eq", "and", "or", "xor",
] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];
export type BinaryOp = (typeof BINARY_OPS)[number];
export const COMPARE_OPS: ReadonlySet<string> = new Set(["lt", "le", "eq"]);
export const LOGIC_OPS: ReadonlySet<string> = new Set(["and", "or", "xor"]);
/** Unary ops whose result is bool. */
export const PREDICATE_OPS: ReadonlySet<string> = new Set(["not", "isnan", "isinf"]);
/** Unary ops only defined for floats (integers are cast by lib before). */
export const FLOAT_UNARY: ReadonlySet<string> = new Set([
  "exp", "log", "sqrt", "recip", "sin", "cos", "tan", "tanh", "asin", "acos", "atan", "sinh", "cosh", "erf",
]);

export type MovementOp = "reshape" | "permute" | "expand" | "slice" | "pad" | "concat";
export type AnchorOp = "matmul" | "conv" | "convTranspose" | "pool" | "gather" | "gatherElements" | "scatterElements";
export type Op =
  | "const" | "input" | "external"
  | UnaryOp | BinaryOp | "where" | "cast"
  | "reduce" | "argreduce" | "cumsum"
  | MovementOp | AnchorOp;

export type ReduceFn = "sum" | "max" | "min" | "prod";
export type PadMode = "constant" | "reflect" | "edge";

/** Attributes per op. Kept as plain JSON-able data (plus host buffers / thunks for sources). */
export interface Attrs {
  value?: HostBuffer;                      // const
  index?: number; name?: string;           // input
  thunk?: () => Promise<HostBuffer>;        // external
  to?: DType;                              // cast
  fn?: ReduceFn | "argmax" | "argmin" | "maxpool" | "avgpool";
  axes?: readonly number[];                // reduce
  axis?: number;                           // argreduce, cumsum, concat, gather*, scatter*
  selectLast?: boolean;                    // argreduce
  exclusive?: boolean; reverse?: boolean;  // cumsum
  perm?: readonly number[];                // permute
  starts?: readonly number[]; steps?: readonly number[]; // slice
  pads?: readonly number[];                // pad [before..., after...]; conv/pool [begin..., end...]
  mode?: PadMode; padValue?: number;       // pad
  strides?: readonly number[]; dilations?: readonly number[]; groups?: number; // conv
  outputPadding?: readonly number[];       // convTranspose
  kernel?: readonly number[]; countIncludePad?: boolean; ceilMode?: boolean; // pool
  reduction?: "none" | "add" | "mul" | "max" | "min"; // scatterElements
  /**
   * matmul/conv on 8-bit integers (the int8 GEMM): present marks the node as one. Inputs are
   * int8 or uint8 (each its own), the output is int32: Σ (a − zeroA)(b − zeroB[col]), exact.
   * `zeroB` has one entry, or one per output column (matmul) / output channel (conv).
   */
  zeroA?: number; zeroB?: readonly number[];
}

let nextId = 1;
let ambientLabel: string | undefined;

/**
 * Runs `fn` with `label` attached to every node it creates (an imported model's node name), so
 * passes and reports can name what a node came from.
 * @example
 * const y = withLabel("conv1", () => conv2d(x, w));   // y.node.label === "conv1"
 */
export function withLabel<T>(label: string, fn: () => T): T {
  const prev = ambientLabel;
  ambientLabel = label;
  try { return fn(); } finally { ambientLabel = prev; }
}

/** One IR node. Nodes are immutable except `realized`, set once when its value is computed. */
export class Node {
  readonly id = nextId++;
  /** The model node this one was made for (see {@link withLabel}). */
  readonly label = ambientLabel;
  /** Set when this node's value has been computed eagerly; graphs then treat it as a constant. */
  realized?: HostBuffer;
  constructor(
    readonly op: Op,
    readonly inputs: readonly Node[],
    readonly attrs: Attrs,
    readonly shape: Shape,
    readonly dtype: DType,
    readonly site?: Site,
  ) {}
  get size(): number { return numel(this.shape); }
  toString(): string { return `%${this.id}`; }
}

export const numel = (s: Shape): number => s.reduce((a, b) => a * b, 1);
export const sameShape = (a: Shape, b: Shape): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
export const fmtShape = (s: Shape): string => `[${s.join(", ")}]`;

/** Row-major strides of a shape. */
export function stridesOf(s: Shape): number[] {
  const st = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) { st[i] = acc; acc *= s[i]!; }
  return st;
}

// ---------------------------------------------------------------- shape/dtype inference

function fail(op: string, what: string): never { throw new ShapeError(what, { op }); }

/** Output spatial size of a sliding window (conv/pool). */
export function windowOut(inp: number, k: number, stride: number, dil: number, padBegin: number, padEnd: number, ceil = false): number {
  const eff = dil * (k - 1) + 1;
  const span = inp + padBegin + padEnd - eff;
  let out = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  // a ceil-mode window must start inside the input or the begin padding
  if (ceil && (out - 1) * stride >= inp + padBegin) out--;
  return Math.max(out, 0);
}

/**
 * Infers the output shape and dtype of a primitive from its inputs and attrs, checking what the
 * IR requires. lib/ checks user-facing arguments first with friendlier messages; this is the
 * last line that keeps malformed nodes out of every backend.
 */
export function infer(op: Op, ins: readonly Node[], a: Attrs, shape?: Shape): { shape: Shape; dtype: DType } {
  const x = ins[0];
  const need = (n: number) => { if (ins.length !== n) fail(op, `expects ${n} inputs, got ${ins.length}`); };
  if ((UNARY_OPS as readonly string[]).includes(op)) {
    need(1);
    if (FLOAT_UNARY.has(op) && !isFloat(x!.dtype)) throw new DTypeError(`needs a float input, got ${x!.dtype}`, { op });
    return { shape: x!.shape, dtype: PREDICATE_OPS.has(op) ? "bool" : x!.dtype };
  }
  if ((BINARY_OPS as readonly string[]).includes(op)) {
    need(2);
    const y = ins[1]!;
    if (!sameShape(x!.shape, y.shape)) fail(op, `input shapes differ: ${fmtShape(x!.shape)} vs ${fmtShape(y.shape)}`);
    if (x!.dtype !== y.dtype) throw new DTypeError(`input dtypes differ: ${x!.dtype} vs ${y.dtype}`, { op });
    return { shape: x!.shape, dtype: COMPARE_OPS.has(op) ? "bool" : x!.dtype };
  }
  switch (op) {
    case "const": return { shape: a.value!.shape, dtype: a.value!.dtype };
    case "input": case "external": return { shape: shape!, dtype: a.to! };
    case "cast": need(1); return { shape: x!.shape, dtype: a.to! };
    case "where": {
      need(3);
      const [c, t, f] = ins as [Node, Node, Node];
      if (c.dtype !== "bool") throw new DTypeError(`condition must be bool, got ${c.dtype}`, { op });
      if (!sameShape(c.shape, t.shape) || !sameShape(t.shape, f.shape)) fail(op, "input shapes differ");
      if (t.dtype !== f.dtype) throw new DTypeError(`branch dtypes differ: ${t.dtype} vs ${f.dtype}`, { op });
      return { shape: t.shape, dtype: t.dtype };
    }
    case "reduce": {
      need(1);
      const axes = a.axes!;
      checkAxes(op, axes, x!.shape.length);
      return { shape: x!.shape.map((d, i) => (axes.includes(i) ? 1 : d)), dtype: x!.dtype };
    }
    case "argreduce": {
      need(1);
      checkAxes(op, [a.axis!], x!.shape.length);
      if (x!.shape[a.axis!] === 0) fail(op, "cannot take argmax/argmin over an empty axis");
      return { shape: x!.shape.map((d, i) => (i === a.axis ? 1 : d)), dtype: "int64" };
    }
    case "cumsum": need(1); checkAxes(op, [a.axis!], x!.shape.length); return { shape: x!.shape, dtype: x!.dtype };
    case "reshape":
      need(1);
      if (numel(shape!) !== x!.size) fail(op, `cannot reshape ${fmtShape(x!.shape)} (${x!.size} elements) to ${fmtShape(shape!)}`);
      return { shape: shape!, dtype: x!.dtype };
    case "permute": {
      need(1);
      const p = a.perm!;
      if (p.length !== x!.shape.length || [...p].sort((u, v) => u - v).some((v, i) => v !== i)) fail(op, `perm ${fmtShape(p)} is not a permutation of ${x!.shape.length} axes`);
      return { shape: p.map((i) => x!.shape[i]!), dtype: x!.dtype };
    }
    case "expand": {
      need(1);
      const s = shape!;
      if (s.length !== x!.shape.length || x!.shape.some((d, i) => d !== s[i] && d !== 1)) fail(op, `cannot expand ${fmtShape(x!.shape)} to ${fmtShape(s)}`);
      return { shape: s, dtype: x!.dtype };
    }
    case "slice": {
      need(1);
      const s = shape!, st = a.starts!, sp = a.steps!;
      if (s.length !== x!.shape.length || st.length !== s.length || sp.length !== s.length) fail(op, "rank mismatch");
      s.forEach((n, i) => {
        const d = x!.shape[i]!, step = sp[i]!;
        if (step === 0) fail(op, "slice step 0");
        if (n > 0 && (st[i]! < 0 || st[i]! >= d || st[i]! + (n - 1) * step < 0 || st[i]! + (n - 1) * step >= d)) fail(op, `slice out of range on axis ${i}`);
      });
      return { shape: s, dtype: x!.dtype };
    }
    case "pad": {
      need(1);
      const r = x!.shape.length, p = a.pads!;
      if (p.length !== 2 * r || p.some((v) => v < 0)) fail(op, `pads must be 2*rank non-negative numbers`);
      if (a.mode === "reflect" && x!.shape.some((d, i) => (p[i]! > 0 || p[i + r]! > 0) && p[i]! > d - 1 || p[i + r]! > d - 1 && p[i + r]! > 0))
        fail(op, "reflect padding must be smaller than the padded dimension");
      if (a.mode === "edge" && x!.shape.some((d, i) => d === 0 && (p[i]! > 0 || p[i + r]! > 0))) fail(op, "edge padding of an empty axis");
      return { shape: x!.shape.map((d, i) => d + p[i]! + p[i + r]!), dtype: x!.dtype };
    }
    case "concat": {
      if (ins.length < 1) fail(op, "needs at least one input");
      const ax = a.axis!;
      checkAxes(op, [ax], x!.shape.length);
      let total = 0;
      for (const t of ins) {
        if (t.dtype !== x!.dtype) throw new DTypeError("input dtypes differ", { op });
        if (t.shape.length !== x!.shape.length || t.shape.some((d, i) => i !== ax && d !== x!.shape[i])) fail(op, `shapes ${fmtShape(x!.shape)} and ${fmtShape(t.shape)} differ off axis ${ax}`);
        total += t.shape[ax]!;
      }
      return { shape: x!.shape.map((d, i) => (i === ax ? total : d)), dtype: x!.dtype };
    }
    case "matmul": {
      need(2);
      const [p, q] = ins as [Node, Node];
      const r = p.shape.length;
      if (r < 2 || q.shape.length !== r) fail(op, "IR matmul needs equal ranks >= 2");
      if (p.shape[r - 1] !== q.shape[r - 2]) fail(op, `inner dims differ: ${fmtShape(p.shape)} @ ${fmtShape(q.shape)}`);
      for (let i = 0; i < r - 2; i++) if (p.shape[i] !== q.shape[i]) fail(op, "IR matmul batch dims must be equal");
      const shape = [...p.shape.slice(0, r - 1), q.shape[r - 1]!];
      if (a.zeroB) return { shape, dtype: checkInt8Gemm(op, p, q, a, q.shape[r - 1]!) };
      if (p.dtype !== q.dtype) throw new DTypeError("input dtypes differ", { op });
      return { shape, dtype: p.dtype };
    }
    case "conv": case "convTranspose": {
      need(2);
      const [xi, w] = ins as [Node, Node];
      const sp = xi.shape.length - 2, g = a.groups!;
      if (sp < 1 || w.shape.length !== sp + 2) fail(op, "input and weight must have rank 2 + spatial dims");
      const C = xi.shape[1]!;
      if (a.zeroB && op === "conv") checkInt8Gemm(op, xi, w, a, w.shape[0]!);
      else if (xi.dtype !== w.dtype) throw new DTypeError("input dtypes differ", { op });
      const out: number[] = [xi.shape[0]!];
      if (op === "conv") {
        if (C !== w.shape[1]! * g || w.shape[0]! % g !== 0) fail(op, `channels ${C} do not match weight ${fmtShape(w.shape)} with groups ${g}`);
        out.push(w.shape[0]!);
        for (let i = 0; i < sp; i++) out.push(windowOut(xi.shape[i + 2]!, w.shape[i + 2]!, a.strides![i]!, a.dilations![i]!, a.pads![i]!, a.pads![i + sp]!));
      } else {
        if (C !== w.shape[0]! || C % g !== 0) fail(op, `channels ${C} do not match weight ${fmtShape(w.shape)} with groups ${g}`);
        out.push(w.shape[1]! * g);
        for (let i = 0; i < sp; i++)
          out.push(a.strides![i]! * (xi.shape[i + 2]! - 1) + a.outputPadding![i]! + a.dilations![i]! * (w.shape[i + 2]! - 1) + 1 - a.pads![i]! - a.pads![i + sp]!);
      }
      if (out.some((d) => d < 0)) fail(op, "negative output size");
      return { shape: out, dtype: a.zeroB ? "int32" : xi.dtype };
    }
    case "pool": {
      need(1);
      const k = a.kernel!, sp = k.length;
      if (x!.shape.length !== sp + 2) fail(op, `input rank ${x!.shape.length} does not match a ${sp}-d window`);
      const out = [x!.shape[0]!, x!.shape[1]!];
      for (let i = 0; i < sp; i++) {
        if (a.pads![i]! >= k[i]! * a.dilations![i]! || a.pads![i + sp]! >= k[i]! * a.dilations![i]!) fail(op, "padding must be smaller than the window");
        out.push(windowOut(x!.shape[i + 2]!, k[i]!, a.strides![i]!, a.dilations![i]!, a.pads![i]!, a.pads![i + sp]!, a.ceilMode));
      }
      return { shape: out, dtype: x!.dtype };
    }
    case "gather": {
      need(2);
      const ax = a.axis!, idx = ins[1]!;
      checkAxes(op, [ax], x!.shape.length);
      if (idx.dtype !== "int32" && idx.dtype !== "int64") throw new DTypeError(`indices must be int32/int64, got ${idx.dtype}`, { op, input: 1 });
      return { shape: [...x!.shape.slice(0, ax), ...idx.shape, ...x!.shape.slice(ax + 1)], dtype: x!.dtype };
    }
    case "gatherElements": {
      need(2);
      const idx = ins[1]!;
      checkAxes(op, [a.axis!], x!.shape.length);
      if (idx.dtype !== "int32" && idx.dtype !== "int64") throw new DTypeError(`indices must be int32/int64, got ${idx.dtype}`, { op, input: 1 });
      if (idx.shape.length !== x!.shape.length) fail(op, "indices must have the data's rank");
      return { shape: idx.shape, dtype: x!.dtype };
    }
    case "scatterElements": {
      need(3);
      const [d, idx, u] = ins as [Node, Node, Node];
      checkAxes(op, [a.axis!], d.shape.length);
      if (idx.dtype !== "int32" && idx.dtype !== "int64") throw new DTypeError(`indices must be int32/int64, got ${idx.dtype}`, { op, input: 1 });
      if (!sameShape(idx.shape, u.shape) || idx.shape.length !== d.shape.length) fail(op, "indices and updates must share a shape of the data's rank");
      if (u.dtype !== d.dtype) throw new DTypeError("updates dtype differs from data", { op, input: 2 });
      return { shape: d.shape, dtype: d.dtype };
    }
  }
  fail(op, "unknown op");
}

const is8 = (d: DType) => d === "int8" || d === "uint8";
const inRange = (v: number, d: DType) => Number.isInteger(v) && (d === "uint8" ? v >= 0 && v <= 255 : v >= -128 && v <= 127);

/** Validates an int8 GEMM's operands and zero points; its result type is int32. */
function checkInt8Gemm(op: string, p: Node, q: Node, a: Attrs, cols: number): DType {
  if (!is8(p.dtype) || !is8(q.dtype)) throw new DTypeError(`an int8 ${op} needs int8/uint8 inputs, got ${p.dtype} and ${q.dtype}`, { op });
  const zb = a.zeroB!;
  if (zb.length !== 1 && zb.length !== cols) fail(op, `zeroB needs 1 or ${cols} entries, got ${zb.length}`);
  if (!inRange(a.zeroA ?? 0, p.dtype) || zb.some((z) => !inRange(z, q.dtype))) fail(op, `zero points must be ${p.dtype}/${q.dtype} values`);
  return "int32";
}

function checkAxes(op: string, axes: readonly number[], rank: number): void {
  for (const ax of axes) if (!Number.isInteger(ax) || ax < 0 || ax >= rank) fail(op, `axis ${ax} out of range for rank ${rank}`);
}

/** Creates a node, inferring its shape and dtype (and validating the IR's rules). */
export function node(op: Op, inputs: readonly Node[], attrs: Attrs = {}, shape?: Shape, site?: Site): Node {
  const r = infer(op, inputs, attrs, shape);
  return new Node(op, inputs, attrs, r.shape, r.dtype, site);
}

/** A constant node holding host data. */
export function constNode(value: HostBuffer, site?: Site): Node {
  return new Node("const", [], { value }, value.shape, value.dtype, site);
}

/** The value of a node if it is known on the host (a const or an already realized node). */
export function hostValue(n: Node): HostBuffer | undefined {
  return n.op === "const" ? n.attrs.value : n.realized;
}
