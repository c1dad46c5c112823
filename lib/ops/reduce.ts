/**
 * Reductions over axes, built on the IR's `reduce` (which keeps reduced axes as size 1),
 * `argreduce` and `cumsum`.
 *
 * Axes: a number or an array of numbers, negative counting from the end; omitted = every axis;
 * `[]` reduces nothing. Repeated or out-of-range axes are a ShapeError naming the op.
 *
 * Dtype rules:
 * - `sum`, `prod`, `cumsum`: bool, int8 and uint8 accumulate into int32 (so `mask.sum()` counts);
 *   int32 and int64 keep their dtype (and wrap); floats keep their dtype. float16 is
 *   accumulated in float32 and rounded back to float16 once.
 * - `max`, `min`: keep the dtype (bool included); NaN propagates; an empty reduction that has
 *   output elements is a ValueError (there is no identity).
 * - `mean`, `variance`, `std`, `logsumexp`: integer and bool inputs → float32; float16 is
 *   computed in float32 and the result rounded to float16. The mean of nothing is NaN.
 * - `argmax`, `argmin` → int64, first occurrence wins, the first NaN wins.
 *
 * @example
 * tensor([[1, 2], [3, 4]]).sum(1)        // [3, 7]
 * tensor([[1, 2], [3, 4]]).mean(-1, true) // [[1.5], [3.5]]
 */
import { Tensor } from "../tensor.js";
import { apply, castTo, normAxis, shapeError, valueError } from "../core.js";
import { numel, type ReduceFn } from "../../jit/ir.js";
import { isFloat, type DType } from "../../jit/dtype.js";
import { add, sub, mul, div, exp, log, sqrt, isinf, where } from "./elementwise.js";

/** Axes as given by the user: one axis or a list. */
export type ReduceAxes = number | readonly number[];

// ---------------------------------------------------------------- helpers

/** Normalizes `axis` (undefined = all) to sorted, distinct, non-negative axes. */
function normAxes(op: string, axis: ReduceAxes | undefined, rank: number): number[] {
  if (axis === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axis === "number" ? [axis] : axis;
  if (!Array.isArray(list)) valueError(op, `axis must be a number or an array of numbers, got ${JSON.stringify(axis)}`);
  const out: number[] = [];
  for (const a of list) {
    if (typeof a !== "number") valueError(op, `axis must be a number or an array of numbers, got ${JSON.stringify(axis)}`);
    const n = normAxis(op, a, rank);
    if (rank === 0) continue; // axis 0 / -1 of a 0-d tensor reduces nothing
    if (out.includes(n)) shapeError(op, `axis ${a} is repeated in [${list.join(", ")}]`, "list each axis once");
    out.push(n);
  }
  return out.sort((x, y) => x - y);
}

/** Shape after reducing `axes` (kept as 1 or removed). */
const reducedShape = (shape: readonly number[], axes: readonly number[], keepdims: boolean): number[] =>
  keepdims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));

function reshape(t: Tensor, shape: readonly number[]): Tensor {
  return t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]) ? t : apply("reshape", [t], {}, shape);
}

/** The raw IR reduction over normalized axes (axes kept as 1), or `t` itself when there are none. */
function rawReduce(t: Tensor, fn: ReduceFn, axes: readonly number[]): Tensor {
  return axes.length === 0 ? t : apply("reduce", [t], { fn, axes });
}

/** The accumulation dtype of sum/prod/cumsum (see the module doc). */
function sumDType(d: DType): DType {
  return d === "bool" || d === "int8" || d === "uint8" ? "int32" : d;
}

/** Float dtype of mean/var/std/logsumexp results. */
const floatDType = (d: DType): DType => (isFloat(d) ? d : "float32");

/** Casts `t` for computing in `d`: float16 is widened to float32. */
const widen = (t: Tensor, d: DType): Tensor => castTo(t, d === "float16" ? "float32" : d);

function checkKeepdims(op: string, keepdims: unknown): boolean {
  if (typeof keepdims !== "boolean") valueError(op, `keepdims must be a boolean, got ${JSON.stringify(keepdims)}`);
  return keepdims;
}

/** sum/prod core: accumulates in the sum dtype, float16 via float32. */
function sumLike(op: string, fn: "sum" | "prod", a: Tensor, axis: ReduceAxes | undefined, keepdims: boolean): Tensor {
  checkKeepdims(op, keepdims);
  const axes = normAxes(op, axis, a.ndim), d = sumDType(a.dtype);
  const r = rawReduce(widen(a, d), fn, axes);
  return castTo(reshape(r, reducedShape(a.shape, axes, keepdims)), d);
}

/** Number of elements folded into each output of a reduction over `axes`. */
const countOf = (shape: readonly number[], axes: readonly number[]): number => numel(axes.map((i) => shape[i]!));

/** Mean computed in the (widened) float dtype, keeping reduced axes as size 1. */
function meanKept(x: Tensor, axes: readonly number[]): Tensor {
  return div(rawReduce(x, "sum", axes), countOf(x.shape, axes));
}

// ---------------------------------------------------------------- sum / prod / mean / max / min

/**
 * Sum over `axis` (default: all). bool/int8/uint8 → int32.
 * Example: `sum(tensor([[1, 2], [3, 4]]), 0)` → [4, 6]; `sum(x)` → 0-d.
 */
export function sum(a: Tensor, axis?: ReduceAxes, keepdims = false): Tensor {
  return sumLike("sum", "sum", a, axis, keepdims);
}

/**
 * Product over `axis` (default: all); the product of nothing is 1. bool/int8/uint8 → int32.
 * Example: `prod(tensor([1, 2, 3, 4]))` → 24.
 */
export function prod(a: Tensor, axis?: ReduceAxes, keepdims = false): Tensor {
  return sumLike("prod", "prod", a, axis, keepdims);
}

/**
 * Arithmetic mean over `axis` (default: all); integers → float32, the mean of nothing is NaN.
 * Example: `mean(tensor([[1, 2], [3, 4]]), -1, true)` → [[1.5], [3.5]].
 */
export function mean(a: Tensor, axis?: ReduceAxes, keepdims = false): Tensor {
  checkKeepdims("mean", keepdims);
  const axes = normAxes("mean", axis, a.ndim), d = floatDType(a.dtype);
  const m = meanKept(widen(a, d), axes);
  return castTo(reshape(m, reducedShape(a.shape, axes, keepdims)), d);
}

function maxMin(op: "max" | "min", a: Tensor, axis: ReduceAxes | undefined, keepdims: boolean): Tensor {
  checkKeepdims(op, keepdims);
  const axes = normAxes(op, axis, a.ndim);
  const out = reducedShape(a.shape, axes, keepdims);
  if (a.size === 0 && numel(out) > 0)
    valueError(op, `cannot take the ${op} over an empty axis (input shape [${a.shape.join(", ")}])`, "reduce over non-empty axes only");
  return reshape(rawReduce(a, op, axes), out);
}

/**
 * Maximum over `axis` (default: all), keeping the dtype; NaN propagates.
 * Example: `max(tensor([[1, 5], [3, 2]]), 1)` → [5, 3].
 */
export function max(a: Tensor, axis?: ReduceAxes, keepdims = false): Tensor {
  return maxMin("max", a, axis, keepdims);
}

/**
 * Minimum over `axis` (default: all), keeping the dtype; NaN propagates.
 * Example: `min(tensor([[1, 5], [3, 2]]), 0)` → [1, 2].
 */
export function min(a: Tensor, axis?: ReduceAxes, keepdims = false): Tensor {
  return maxMin("min", a, axis, keepdims);
}

// ---------------------------------------------------------------- argmax / argmin

function argReduce(op: "argmax" | "argmin", a: Tensor, axis: number | undefined, keepdims: boolean): Tensor {
  checkKeepdims(op, keepdims);
  if (axis !== undefined && typeof axis !== "number") valueError(op, `axis must be a single number, got ${JSON.stringify(axis)}`, "argmax/argmin reduce one axis; omit it to search the flattened tensor");
  if (axis === undefined || a.ndim === 0) {
    if (axis !== undefined) normAxis(op, axis, 0);
    if (a.size === 0) valueError(op, `cannot take the ${op} of an empty tensor (shape [${a.shape.join(", ")}])`);
    const flat = apply("argreduce", [reshape(a, [a.size])], { fn: op, axis: 0 });
    return reshape(flat, keepdims ? a.shape.map(() => 1) : []);
  }
  const ax = normAxis(op, axis, a.ndim);
  const out = reducedShape(a.shape, [ax], keepdims);
  if (a.shape[ax] === 0) valueError(op, `cannot take the ${op} over axis ${axis} of size 0 (input shape [${a.shape.join(", ")}])`);
  return reshape(apply("argreduce", [a], { fn: op, axis: ax }), out);
}

/**
 * Index (int64) of the largest value along `axis`; no axis = index into the flattened tensor.
 * Ties: the first occurrence; a NaN counts as the largest (the first NaN wins).
 * Example: `argmax(tensor([[1, 5], [7, 2]]), 1)` → [1, 0]; `argmax(tensor([[1, 5], [7, 2]]))` → 2.
 */
export function argmax(a: Tensor, axis?: number, keepdims = false): Tensor {
  return argReduce("argmax", a, axis, keepdims);
}

/**
 * Index (int64) of the smallest value along `axis`; no axis = index into the flattened tensor.
 * Example: `argmin(tensor([3, 1, 1]))` → 1.
 */
export function argmin(a: Tensor, axis?: number, keepdims = false): Tensor {
  return argReduce("argmin", a, axis, keepdims);
}

// ---------------------------------------------------------------- variance / std / logsumexp

function varianceKept(op: string, a: Tensor, axis: ReduceAxes | undefined, keepdims: boolean, correction: number): { v: Tensor; axes: number[]; d: DType } {
  checkKeepdims(op, keepdims);
  if (typeof correction !== "number" || !Number.isFinite(correction)) valueError(op, `correction must be a finite number, got ${String(correction)}`);
  const axes = normAxes(op, axis, a.ndim), d = floatDType(a.dtype);
  const x = widen(a, d);
  const dev = sub(x, meanKept(x, axes));
  const n = Math.max(countOf(a.shape, axes) - correction, 0);
  return { v: div(rawReduce(mul(dev, dev), "sum", axes), n), axes, d };
}

/**
 * Variance over `axis` (default: all): Σ(x - mean)² / (N - correction), with the divisor clamped
 * at 0 (so N ≤ correction gives inf or NaN). Integers → float32. Method name: `var`.
 * Example: `variance(tensor([1, 2, 3, 4]))` → 1.25; `variance(x, 0, false, 1)` (unbiased).
 */
export function variance(a: Tensor, axis?: ReduceAxes, keepdims = false, correction = 0): Tensor {
  const { v, axes, d } = varianceKept("variance", a, axis, keepdims, correction);
  return castTo(reshape(v, reducedShape(a.shape, axes, keepdims)), d);
}

/**
 * Standard deviation: the square root of `variance` with the same arguments.
 * Example: `std(tensor([1, 2, 3, 4]), 0, false, 1)` → 1.2910.
 */
export function std(a: Tensor, axis?: ReduceAxes, keepdims = false, correction = 0): Tensor {
  const { v, axes, d } = varianceKept("std", a, axis, keepdims, correction);
  return castTo(reshape(sqrt(v), reducedShape(a.shape, axes, keepdims)), d);
}

/**
 * log Σ exp(x) over `axis` (default: all), stabilized by the maximum; rows of all -inf give
 * -inf, a +inf gives +inf, the empty sum gives -inf. Integers → float32.
 * Example: `logsumexp(tensor([0, 0]))` → 0.6931 (ln 2); `logsumexp(tensor([1000, 1000]))` → 1000.6931.
 */
export function logsumexp(a: Tensor, axis?: ReduceAxes, keepdims = false): Tensor {
  checkKeepdims("logsumexp", keepdims);
  const axes = normAxes("logsumexp", axis, a.ndim), d = floatDType(a.dtype);
  const x = widen(a, d);
  const m = rawReduce(x, "max", axes);
  const shift = where(isinf(m), 0, m); // an infinite max would make x - m NaN
  const r = add(log(rawReduce(exp(sub(x, shift)), "sum", axes)), shift);
  return castTo(reshape(r, reducedShape(a.shape, axes, keepdims)), d);
}

// ---------------------------------------------------------------- cumsum

export interface CumsumOptions {
  /** Leave each element out of its own sum (the first output is 0). */
  exclusive?: boolean;
  /** Accumulate from the end of the axis. */
  reverse?: boolean;
}

/**
 * Running sum along `axis`; bool/int8/uint8 → int32 (like `sum`).
 * Example: `cumsum(tensor([1, 2, 3]), 0)` → [1, 3, 6]; `{ exclusive: true }` → [0, 1, 3];
 * `{ reverse: true }` → [6, 5, 3].
 */
export function cumsum(a: Tensor, axis: number, opts: CumsumOptions = {}): Tensor {
  if (typeof axis !== "number") valueError("cumsum", `axis must be a number, got ${JSON.stringify(axis)}`, "cumsum runs along one axis, e.g. cumsum(x, 0)");
  if (typeof opts !== "object" || opts === null) valueError("cumsum", `options must be an object like { exclusive, reverse }, got ${JSON.stringify(opts)}`);
  const exclusive = opts.exclusive ?? false, reverse = opts.reverse ?? false;
  if (typeof exclusive !== "boolean" || typeof reverse !== "boolean") valueError("cumsum", "exclusive and reverse must be booleans");
  const ax = a.ndim === 0 ? (normAxis("cumsum", axis, 0), 0) : normAxis("cumsum", axis, a.ndim);
  const d = sumDType(a.dtype);
  const x = widen(a, d);
  const x1 = a.ndim === 0 ? reshape(x, [1]) : x;
  const r = apply("cumsum", [x1], { axis: ax, exclusive, reverse });
  return castTo(reshape(r, a.shape), d);
}

// ---------------------------------------------------------------- methods

/** Methods installed on Tensor (see lib/ops/index.ts); each equals the free function. */
export const reduceMethods = {
  /** Example: `x.sum()`, `x.sum([0, 2], true)`. */
  sum(this: Tensor, axis?: ReduceAxes, keepdims = false): Tensor { return sum(this, axis, keepdims); },
  /** Example: `x.mean(-1)`. */
  mean(this: Tensor, axis?: ReduceAxes, keepdims = false): Tensor { return mean(this, axis, keepdims); },
  /** Example: `x.max(1)`. */
  max(this: Tensor, axis?: ReduceAxes, keepdims = false): Tensor { return max(this, axis, keepdims); },
  /** Example: `x.min()`. */
  min(this: Tensor, axis?: ReduceAxes, keepdims = false): Tensor { return min(this, axis, keepdims); },
  /** Example: `x.prod(0)`. */
  prod(this: Tensor, axis?: ReduceAxes, keepdims = false): Tensor { return prod(this, axis, keepdims); },
  /** Example: `logits.argmax(-1)`. */
  argmax(this: Tensor, axis?: number, keepdims = false): Tensor { return argmax(this, axis, keepdims); },
  /** Example: `x.argmin()`. */
  argmin(this: Tensor, axis?: number, keepdims = false): Tensor { return argmin(this, axis, keepdims); },
  /** Variance (free function `variance`). Example: `x.var(0, false, 1)`. */
  var(this: Tensor, axis?: ReduceAxes, keepdims = false, correction = 0): Tensor { return variance(this, axis, keepdims, correction); },
  /** Example: `x.std(-1, true)`. */
  std(this: Tensor, axis?: ReduceAxes, keepdims = false, correction = 0): Tensor { return std(this, axis, keepdims, correction); },
  /** Example: `scores.logsumexp(-1)`. */
  logsumexp(this: Tensor, axis?: ReduceAxes, keepdims = false): Tensor { return logsumexp(this, axis, keepdims); },
  /** Example: `x.cumsum(0, { exclusive: true })`. */
  cumsum(this: Tensor, axis: number, opts: CumsumOptions = {}): Tensor { return cumsum(this, axis, opts); },
};
export type ReduceMethods = typeof reduceMethods;
