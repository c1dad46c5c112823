/**
 * Indexing ops: reading and writing elements at positions given by an integer tensor.
 * `gather`, `gatherElements` and `scatterElements` are IR anchors (ONNX semantics, negative
 * indices count from the end, out-of-range indices fail when the value is computed);
 * `take` and `oneHot` are written in terms of them and of elementwise primitives.
 *
 * @example
 * const rows = table.gather(tensor([2, 0], { dtype: "int32" }));   // rows 2 and 0
 * const hot = oneHot(tensor([1, -1], { dtype: "int32" }), 3);      // [[0, 1, 0], [0, 0, 1]]
 */
import { Tensor } from "../tensor.js";
import { apply, castTo, checkDType, normAxis, scalar, shapeError, valueError } from "../core.js";
import { tensor } from "../creation.js";
import { broadcastTo, reshape, unsqueeze } from "./movement.js";
import { constNode, fmtShape, sameShape } from "../../jit/ir.js";
import { fromF64 } from "../../jit/buffer.js";
import { isInt, type DType } from "../../jit/dtype.js";
import { DTypeError } from "../../jit/errors.js";
import { Site } from "../../jit/site.js";

/** Indices: an integer tensor, or plain JS integers (nested arrays) made into one. */
export type IndexArray = number | IndexArray[];
export type IndexLike = Tensor | IndexArray;

/** Makes `idx` an int32/int64 tensor (int8/uint8 are widened; plain arrays become int32 or int64). */
function toIndices(op: string, idx: IndexLike, input: number): Tensor {
  if (!(idx instanceof Tensor)) {
    let big = false;
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) { v.forEach(walk); return; }
      if (typeof v !== "number" || !Number.isInteger(v)) valueError(op, `indices must be integers, got ${JSON.stringify(v)}`, "pass an integer tensor or nested arrays of integers");
      if (Math.abs(v) > 2 ** 31 - 1) big = true;
    };
    walk(idx);
    return tensor(idx, { dtype: big ? "int64" : "int32" });
  }
  if (idx.dtype === "int32" || idx.dtype === "int64") return idx;
  if (isInt(idx.dtype)) return castTo(idx, "int32");
  throw new DTypeError(`indices must be an integer tensor, got ${idx.dtype}`, { op, input, site: new Site().toString(), hint: 'cast them first, e.g. idx.cast("int32")' });
}

function needRank(op: string, a: Tensor): void {
  if (a.ndim === 0) shapeError(op, "cannot index into a 0-d tensor", "reshape it to [1] first");
}

/** For gatherElements/scatterElements: indices of the data's rank, no larger off the axis. */
function checkElementIndices(op: string, a: Tensor, idx: Tensor, ax: number): void {
  if (idx.ndim !== a.ndim)
    shapeError(op, `indices ${fmtShape(idx.shape)} must have the same rank as the data ${fmtShape(a.shape)}`, "add size-1 axes with unsqueeze, or use gather to select whole slices", 1);
  idx.shape.forEach((d, i) => {
    if (i !== ax && d > a.shape[i]!)
      shapeError(op, `indices ${fmtShape(idx.shape)} are larger than the data ${fmtShape(a.shape)} on axis ${i} (${d} > ${a.shape[i]})`, `off axis ${ax}, indices may be at most as large as the data`, 1);
  });
}

function gatherAs(op: string, a: Tensor, indices: IndexLike, axis: number): Tensor {
  needRank(op, a);
  const ax = normAxis(op, axis, a.ndim);
  return apply("gather", [a, toIndices(op, indices, 1)], { axis: ax });
}

/**
 * Selects whole slices along `axis` (ONNX Gather): the output's shape is
 * `a.shape[:axis] + indices.shape + a.shape[axis+1:]`. Negative indices count from the end.
 * @example gather(tensor([[1, 2], [3, 4], [5, 6]]), tensor([2, -3], { dtype: "int32" })) // [[5, 6], [1, 2]]
 */
export function gather(a: Tensor, indices: IndexLike, axis = 0): Tensor {
  return gatherAs("gather", a, indices, axis);
}

/**
 * Picks single elements (ONNX GatherElements, torch.gather): `out[i][j] = a[idx[i][j]][j]` for
 * axis 0. `indices` has the data's rank; the output has the indices' shape.
 * @example gatherElements(tensor([[1, 2], [3, 4]]), tensor([[1, 0]], { dtype: "int32" }), 0) // [[3, 2]]
 */
export function gatherElements(a: Tensor, indices: IndexLike, axis = 0): Tensor {
  const op = "gatherElements";
  needRank(op, a);
  const ax = normAxis(op, axis, a.ndim), idx = toIndices(op, indices, 1);
  checkElementIndices(op, a, idx, ax);
  return apply("gatherElements", [a, idx], { axis: ax });
}

const REDUCTIONS: readonly string[] = ["none", "add", "mul", "max", "min"];
export type ScatterReduction = "none" | "add" | "mul" | "max" | "min";

/**
 * A copy of `a` with elements written at `indices` (ONNX ScatterElements, torch.scatter): for
 * axis 0, `out[idx[i][j]][j] = updates[i][j]`, or combined with the old value by `reduction`.
 * `updates` (cast to `a`'s dtype) broadcasts to the indices' shape. With reduction "none",
 * the last write to a position wins.
 * @example scatterElements(zeros([3]), tensor([0, 2], { dtype: "int32" }), tensor([5, 7])) // [5, 0, 7]
 * @example scatterElements(ones([2]), tensor([1, 1], { dtype: "int32" }), 2, 0, "add")  // [1, 5]
 */
export function scatterElements(a: Tensor, indices: IndexLike, updates: Tensor | number | boolean, axis = 0, reduction: ScatterReduction = "none"): Tensor {
  const op = "scatterElements";
  if (!REDUCTIONS.includes(reduction)) valueError(op, `unknown reduction ${JSON.stringify(reduction)}`, 'use "none", "add", "mul", "max" or "min"');
  needRank(op, a);
  const ax = normAxis(op, axis, a.ndim), idx = toIndices(op, indices, 1);
  checkElementIndices(op, a, idx, ax);
  let u: Tensor;
  if (updates instanceof Tensor) {
    const s = updates.shape, off = idx.ndim - s.length;
    if (off < 0 || s.some((d, i) => d !== 1 && d !== idx.shape[i + off]))
      shapeError(op, `updates ${fmtShape(s)} do not match indices ${fmtShape(idx.shape)}`, "updates need the indices' shape (or one that broadcasts to it)", 2);
    u = castTo(updates, a.dtype);
  } else if (typeof updates === "number" || typeof updates === "boolean") u = scalar(updates, a.dtype);
  else valueError(op, `updates must be a Tensor, number or boolean, got ${typeof updates}`);
  if (!sameShape(u.shape, idx.shape)) u = broadcastTo(u, idx.shape);
  return apply("scatterElements", [a, idx, u], { axis: ax, reduction });
}

/**
 * Gathers from the flattened tensor: the output has the indices' shape.
 * @example take(tensor([[1, 2], [3, 4]]), tensor([[3, 0]], { dtype: "int32" })) // [[4, 1]]
 */
export function take(a: Tensor, indices: IndexLike): Tensor {
  return gatherAs("take", reshape(a, [a.size]), indices, 0);
}

export interface OneHotOptions {
  /** Output dtype (default float32). */
  dtype?: DType;
  /** Where the new axis of size `depth` goes, counted in the output's rank (default -1). */
  axis?: number;
  /** Value at the hot position (default 1). */
  on?: number | boolean;
  /** Value elsewhere (default 0). */
  off?: number | boolean;
}

/**
 * One-hot encoding (ONNX OneHot): a new axis of size `depth` holding `on` where its position
 * equals the index and `off` elsewhere. Index -k means depth-k; indices outside
 * [-depth, depth-1] give all `off`.
 * @example oneHot(tensor([0, 2, -1], { dtype: "int32" }), 3) // [[1, 0, 0], [0, 0, 1], [0, 0, 1]]
 */
export function oneHot(indices: IndexLike, depth: number, opts: OneHotOptions = {}): Tensor {
  const op = "oneHot";
  if (typeof depth !== "number" || !Number.isInteger(depth) || depth < 0) valueError(op, `depth must be a non-negative integer, got ${depth}`);
  const dtype: DType = opts.dtype === undefined ? "float32" : checkDType(op, opts.dtype);
  const on = opts.on ?? 1, off = opts.off ?? 0;
  for (const [k, v] of [["on", on], ["off", off]] as const)
    if (typeof v !== "number" && typeof v !== "boolean") valueError(op, `${k} must be a number or boolean, got ${typeof v}`);
  const signed = !(indices instanceof Tensor && indices.dtype === "uint8");
  const idx = toIndices(op, indices, 0);
  const ax = normAxis(op, opts.axis ?? -1, idx.ndim + 1);
  const outShape = [...idx.shape.slice(0, ax), depth, ...idx.shape.slice(ax)];
  const rangeShape = outShape.map((d, i) => (i === ax ? d : 1));
  const u = broadcastTo(unsqueeze(idx, ax), outShape);
  const positions = (first: number) =>
    broadcastTo(new Tensor(constNode(fromF64(idx.dtype, rangeShape, Array.from({ length: depth }, (_, i) => first + i)), new Site())), outShape);
  let mask = apply("eq", [u, positions(0)]);
  if (signed && depth > 0) mask = apply("or", [mask, apply("eq", [u, positions(-depth)])]);
  const isOne = (v: number | boolean) => v === 1 || v === true, isZero = (v: number | boolean) => v === 0 || v === false;
  if (isOne(on) && isZero(off)) return castTo(mask, dtype);
  return apply("where", [mask, broadcastTo(scalar(on, dtype), outShape), broadcastTo(scalar(off, dtype), outShape)]);
}

/** Methods installed on Tensor (see lib/ops/index.ts). */
export const indexingMethods = {
  /** Example: `table.gather(ids)`, `x.gather(tensor([0, -1], { dtype: "int32" }), 1)`. */
  gather(this: Tensor, indices: IndexLike, axis = 0): Tensor { return gather(this, indices, axis); },
  /** Example: `logits.gatherElements(labels.unsqueeze(1), 1)`. */
  gatherElements(this: Tensor, indices: IndexLike, axis = 0): Tensor { return gatherElements(this, indices, axis); },
  /** Example: `zeros([3]).scatterElements(idx, vals)`, `acc.scatterElements(idx, 1, 0, "add")`. */
  scatterElements(this: Tensor, indices: IndexLike, updates: Tensor | number | boolean, axis = 0, reduction: ScatterReduction = "none"): Tensor {
    return scatterElements(this, indices, updates, axis, reduction);
  },
  /** Example: `x.take([0, 5])` (flattened positions). */
  take(this: Tensor, indices: IndexLike): Tensor { return take(this, indices); },
  /** Called on the indices. Example: `labels.oneHot(10)`. */
  oneHot(this: Tensor, depth: number, opts: OneHotOptions = {}): Tensor { return oneHot(this, depth, opts); },
};
export type IndexingMethods = typeof indexingMethods;
