/**
 * Movement ops: views that rearrange, select, pad or repeat elements without arithmetic.
 * Each lowers to the IR's view primitives (reshape, permute, expand, slice, pad, concat) and
 * emits the least IR it can: nothing when the result equals the input, and one node for a
 * chain of the same view (reshape of a reshape, permute of a permute, slice of a slice,
 * expand of an expand, concat of a concat along the same axis).
 *
 * @example
 * const y = x.reshape([2, -1]).transpose().slice([0], [1], [1]);
 */
import { Tensor } from "../tensor.js";
import { apply, castTo, normAxis, shapeError, valueError } from "../core.js";
import { fmtShape, numel, sameShape, type PadMode, type Shape } from "../../jit/ir.js";
import { promote } from "../../jit/dtype.js";

// ---------------------------------------------------------------- helpers

/** Whether `t` is an unrealized node of `op` (so a following view of the same kind can fold into it). */
const foldable = (t: Tensor, op: string): boolean => t.node.op === op && !t.node.realized;
/** The (first) input of `t`'s node, as a tensor. */
const inputOf = (t: Tensor): Tensor => new Tensor(t.node.inputs[0]!);
const fmtList = (v: readonly number[]): string => `[${v.join(", ")}]`;

function checkIntList(op: string, what: string, v: unknown): number[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== "number" || !Number.isInteger(x)))
    valueError(op, `${what} must be an array of integers, got ${JSON.stringify(v)}`);
  return v as number[];
}

/** Normalizes an axis or axes list against `rank`, rejecting repeats. */
function normAxes(op: string, axis: number | readonly number[], rank: number): number[] {
  const list = typeof axis === "number" ? [axis] : checkIntList(op, "axes", axis);
  const out = list.map((a) => normAxis(op, a, rank));
  const dup = out.find((a, i) => out.indexOf(a) !== i);
  if (dup !== undefined) valueError(op, `axis ${dup} is given more than once in ${fmtList(list)}`, "list each axis once");
  return out;
}

/** Reshape to `s`, or nothing; a reshape of a reshape becomes one reshape of the original. */
function reshapeTo(a: Tensor, s: Shape): Tensor {
  if (sameShape(a.shape, s)) return a;
  const x = foldable(a, "reshape") ? inputOf(a) : a;
  if (sameShape(x.shape, s)) return x;
  return apply("reshape", [x], {}, [...s]);
}

/** Adds leading 1s then expands to `s` (already checked to be reachable); no-op when already there. */
function expandTo(a: Tensor, s: Shape): Tensor {
  if (sameShape(a.shape, s)) return a;
  // an expand's input reaches `s` too (its sizes are the expand's or 1)
  let x = foldable(a, "expand") ? inputOf(a) : a;
  if (x.ndim < s.length) x = reshapeTo(x, [...new Array<number>(s.length - x.ndim).fill(1), ...x.shape]);
  if (sameShape(x.shape, s)) return x;
  return apply("expand", [x], {}, [...s]);
}

/**
 * The IR slice {starts, steps} → `shape`, canonicalized (axes of size 0 or 1 get step 1) and
 * folded into a slice it reads from. Returns the input when the view is the identity.
 */
function sliceView(a: Tensor, starts: readonly number[], steps: readonly number[], shape: Shape): Tensor {
  let st = starts.map((s, i) => (shape[i]! === 0 ? 0 : s));
  let sp = steps.map((s, i) => (shape[i]! <= 1 ? 1 : s));
  let x = a;
  if (foldable(a, "slice")) {
    const st1 = a.node.attrs.starts!, sp1 = a.node.attrs.steps!;
    st = st.map((s, i) => (shape[i]! === 0 ? 0 : st1[i]! + s * sp1[i]!));
    sp = sp.map((s, i) => (shape[i]! <= 1 ? 1 : s * sp1[i]!));
    x = inputOf(a);
  }
  if (sameShape(x.shape, shape) && (numel(shape) === 0 || (st.every((s) => s === 0) && sp.every((s) => s === 1)))) return x;
  return apply("slice", [x], { starts: st, steps: sp }, [...shape]);
}

/** `a[start : start + size]` along one axis. */
function narrow(a: Tensor, axis: number, start: number, size: number): Tensor {
  const starts = a.shape.map((_, i) => (i === axis ? start : 0));
  return sliceView(a, starts, a.shape.map(() => 1), a.shape.map((d, i) => (i === axis ? size : d)));
}

function checkTensorList(op: string, list: unknown): Tensor[] {
  if (!Array.isArray(list) || list.length === 0) valueError(op, "needs a non-empty array of tensors", `e.g. ${op}([a, b])`);
  (list as unknown[]).forEach((t, i) => {
    if (!(t instanceof Tensor)) valueError(op, `tensor ${i} is not a Tensor (got ${t === null ? "null" : typeof t})`, "create one with tensor(...)");
  });
  return list as Tensor[];
}

// ---------------------------------------------------------------- reshape family

/**
 * A view with a new shape holding the same elements in row-major order. One size may be -1:
 * it is inferred from the others.
 * @example reshape(arange(6), [2, -1]) // [[0, 1, 2], [3, 4, 5]]
 */
export function reshape(a: Tensor, shape: readonly number[]): Tensor {
  const s = checkIntList("reshape", "shape", shape);
  if (s.some((d) => d < -1)) shapeError("reshape", `invalid size in shape ${fmtList(s)}`, "sizes are non-negative integers, or -1 for one inferred size");
  const holes = s.filter((d) => d === -1).length;
  if (holes > 1) valueError("reshape", `shape ${fmtList(s)} has more than one -1`, "only one size can be inferred; give the others explicitly");
  const known = s.reduce((p, d) => (d === -1 ? p : p * d), 1);
  let out = s;
  if (holes === 1) {
    if (known === 0) shapeError("reshape", `cannot infer the -1 in ${fmtList(s)} for ${fmtShape(a.shape)}: the other sizes multiply to 0`, "give every size explicitly");
    if (a.size % known !== 0)
      shapeError("reshape", `cannot reshape ${fmtShape(a.shape)} (${a.size} elements) to ${fmtList(s)}: ${a.size} is not divisible by ${known}`, "the new shape must hold the same number of elements");
    out = s.map((d) => (d === -1 ? a.size / known : d));
  } else if (known !== a.size) {
    shapeError("reshape", `cannot reshape ${fmtShape(a.shape)} (${a.size} elements) to ${fmtList(s)} (${known} elements)`, "the new shape must hold the same number of elements; use -1 for one size to infer it");
  }
  return reshapeTo(a, out);
}

/**
 * Removes size-1 axes: all of them, or the given ones (which must have size 1).
 * @example squeeze(zeros([1, 3, 1]))      // shape [3]
 * @example squeeze(zeros([1, 3, 1]), -1)  // shape [1, 3]
 */
export function squeeze(a: Tensor, axis?: number | readonly number[]): Tensor {
  if (axis === undefined) return reshapeTo(a, a.shape.filter((d) => d !== 1));
  if (a.ndim === 0) { normAxes("squeeze", axis, 0); return a; }
  const axes = normAxes("squeeze", axis, a.ndim);
  for (const ax of axes)
    if (a.shape[ax] !== 1) shapeError("squeeze", `cannot squeeze axis ${ax} of ${fmtShape(a.shape)}: its size is ${a.shape[ax]}, not 1`, "squeeze only removes size-1 axes; use slice or reshape for others");
  return reshapeTo(a, a.shape.filter((_, i) => !axes.includes(i)));
}

/**
 * Inserts size-1 axes. Axes refer to positions in the output (negative ones count from its end).
 * @example unsqueeze(zeros([3]), 0)        // shape [1, 3]
 * @example unsqueeze(zeros([3]), [0, -1])  // shape [1, 3, 1]
 */
export function unsqueeze(a: Tensor, axis: number | readonly number[]): Tensor {
  const n = typeof axis === "number" ? 1 : checkIntList("unsqueeze", "axes", axis).length;
  const r = a.ndim + n;
  const axes = normAxes("unsqueeze", axis, r);
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < r; i++) out.push(axes.includes(i) ? 1 : a.shape[k++]!);
  return reshapeTo(a, out);
}

/**
 * Merges axes startDim..endDim (inclusive) into one. A 0-d tensor becomes shape [1].
 * @example flatten(zeros([2, 3, 4]))        // shape [24]
 * @example flatten(zeros([2, 3, 4]), 1)     // shape [2, 12]
 */
export function flatten(a: Tensor, startDim = 0, endDim = -1): Tensor {
  if (a.ndim === 0) { normAxis("flatten", startDim, 0); normAxis("flatten", endDim, 0); return reshapeTo(a, [1]); }
  const s = normAxis("flatten", startDim, a.ndim), e = normAxis("flatten", endDim, a.ndim);
  if (s > e) shapeError("flatten", `startDim ${startDim} comes after endDim ${endDim} for ${fmtShape(a.shape)}`, "pass startDim <= endDim");
  return reshapeTo(a, [...a.shape.slice(0, s), numel(a.shape.slice(s, e + 1)), ...a.shape.slice(e + 1)]);
}

// ---------------------------------------------------------------- permutations

/**
 * Reorders axes: output axis i is input axis perm[i] (negative entries allowed).
 * @example permute(zeros([2, 3, 4]), [2, 0, 1]) // shape [4, 2, 3]
 */
export function permute(a: Tensor, perm: readonly number[]): Tensor {
  return permuteAs("permute", a, perm);
}

function permuteAs(op: string, a: Tensor, perm: readonly number[]): Tensor {
  const p0 = checkIntList(op, "perm", perm);
  const r = a.ndim;
  const p = p0.map((v) => (v < 0 ? v + r : v));
  if (p.length !== r || p.some((v) => v < 0 || v >= r) || new Set(p).size !== r)
    shapeError(op, `perm ${fmtList(p0)} is not a permutation of the ${r} axes of ${fmtShape(a.shape)}`, `list each axis of 0..${r - 1} exactly once`);
  let x = a, q = p;
  if (foldable(a, "permute")) {
    const inner = a.node.attrs.perm!;
    q = p.map((v) => inner[v]!);
    x = inputOf(a);
  }
  if (q.every((v, i) => v === i)) return x;
  return apply("permute", [x], { perm: q });
}

/**
 * Permutes axes; without `perm`, reverses them (the matrix transpose for 2-d).
 * @example transpose(tensor([[1, 2, 3]])) // [[1], [2], [3]]
 */
export function transpose(a: Tensor, perm?: readonly number[]): Tensor {
  return permuteAs("transpose", a, perm ?? a.shape.map((_, i) => a.ndim - 1 - i));
}

// ---------------------------------------------------------------- broadcasting

function broadcastShape(op: string, a: Tensor, shape: readonly number[], keep: boolean): number[] {
  const s = checkIntList(op, "shape", shape);
  const r = s.length, off = r - a.ndim;
  if (off < 0) shapeError(op, `cannot ${op === "expand" ? "expand" : "broadcast"} ${fmtShape(a.shape)} to ${fmtList(s)}: the target has fewer axes`, "the target shape needs at least as many axes as the tensor");
  return s.map((d, i) => {
    const own = i >= off ? a.shape[i - off]! : undefined;
    if (keep && d === -1) {
      if (own === undefined) shapeError(op, `-1 at position ${i} of ${fmtList(s)} has no axis of ${fmtShape(a.shape)} to keep`, "-1 may only stand for an existing axis; give new leading sizes explicitly");
      return own;
    }
    if (d < 0) shapeError(op, `invalid size ${d} in ${fmtList(s)}`, keep ? "sizes are non-negative, or -1 to keep a size" : "sizes are non-negative");
    if (own !== undefined && own !== d && own !== 1)
      shapeError(op, `cannot ${op === "expand" ? "expand" : "broadcast"} ${fmtShape(a.shape)} to ${fmtList(s)}: axis ${i - off} has size ${own}, which is neither ${d} nor 1`, "only size-1 axes can be repeated; use tile to repeat others");
    return d;
  });
}

/**
 * Repeats size-1 axes (and adds leading axes) without copying; -1 keeps an axis' size.
 * @example expand(tensor([[1], [2]]), [-1, 3]) // [[1, 1, 1], [2, 2, 2]]
 */
export function expand(a: Tensor, shape: readonly number[]): Tensor {
  return expandTo(a, broadcastShape("expand", a, shape, true));
}

/**
 * Numpy broadcasting of `a` to `shape` (leading axes added, size-1 axes repeated).
 * @example broadcastTo(tensor([1, 2]), [2, 2]) // [[1, 2], [1, 2]]
 */
export function broadcastTo(a: Tensor, shape: readonly number[]): Tensor {
  return expandTo(a, broadcastShape("broadcastTo", a, shape, false));
}

// ---------------------------------------------------------------- slicing and padding

const isBound = (v: unknown): v is number => typeof v === "number" && (Number.isInteger(v) || v === Infinity || v === -Infinity);

/**
 * ONNX Slice: for each listed axis, elements start, start+step, ... up to (excluding) end.
 * Negative starts/ends count from the end; out-of-range values clamp (so huge ends mean "to
 * the end"); negative steps walk backwards. `axes` defaults to 0..n-1, `steps` to 1.
 * @example slice(arange(10), [2], [8], [0], [3])      // [2, 5]
 * @example slice(arange(5), [-1], [-Infinity], [0], [-1]) // [4, 3, 2, 1, 0]
 */
export function slice(a: Tensor, starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]): Tensor {
  const op = "slice";
  if (!Array.isArray(starts) || !starts.every(isBound)) valueError(op, `starts must be an array of integers, got ${JSON.stringify(starts)}`);
  if (!Array.isArray(ends) || !ends.every(isBound)) valueError(op, `ends must be an array of integers, got ${JSON.stringify(ends)}`);
  const n = starts.length;
  if (ends.length !== n) valueError(op, `starts has ${n} entries but ends has ${ends.length}`, "give one start and one end per sliced axis");
  const ax = axes === undefined ? Array.from({ length: n }, (_, i) => i) : checkIntList(op, "axes", axes);
  if (ax.length !== n) valueError(op, `axes has ${ax.length} entries but starts has ${n}`, "give one start and one end per sliced axis");
  if (axes === undefined && n > a.ndim) shapeError(op, `${n} starts for a tensor of rank ${a.ndim} ${fmtShape(a.shape)}`, "give at most one start/end per axis");
  const axn = normAxes(op, ax, a.ndim);
  const sp = steps === undefined ? new Array<number>(n).fill(1) : checkIntList(op, "steps", steps);
  if (sp.length !== n) valueError(op, `steps has ${sp.length} entries but starts has ${n}`, "give one step per sliced axis");
  if (sp.some((s) => s === 0)) valueError(op, `steps ${fmtList(sp)} contain 0`, "steps must be non-zero (negative steps walk backwards)");

  const outStarts = a.shape.map(() => 0), outSteps = a.shape.map(() => 1), outShape = [...a.shape];
  axn.forEach((axis, k) => {
    const d = a.shape[axis]!, step = sp[k]!;
    let s = starts[k]!, e = ends[k]!;
    if (s < 0) s += d;
    if (e < 0) e += d;
    let len: number;
    if (step > 0) {
      s = Math.min(Math.max(s, 0), d);
      e = Math.min(Math.max(e, 0), d);
      len = Math.max(0, Math.ceil((e - s) / step));
    } else {
      s = Math.min(Math.max(s, 0), d - 1);
      e = Math.min(Math.max(e, -1), d - 1);
      len = d === 0 ? 0 : Math.max(0, Math.ceil((s - e) / -step));
    }
    outStarts[axis] = len > 0 ? s : 0;
    outSteps[axis] = step;
    outShape[axis] = len;
  });
  return sliceView(a, outStarts, outSteps, outShape);
}

const PAD_MODES: readonly string[] = ["constant", "reflect", "edge"];

/**
 * Pads with one [before, after] pair per axis from axis 0 (fewer pairs leave the trailing axes
 * alone). Modes: "constant" (fills `value`), "reflect" (mirrors without repeating the edge),
 * "edge" (repeats the edge). Negative amounts crop; crops apply before padding.
 * @example pad(tensor([1, 2, 3]), [[2, 1]], "reflect") // [3, 2, 1, 2, 3, 2]
 * @example pad(tensor([[1, 2]]), [[0, 0], [1, -1]])      // [[0, 1]]
 */
export function pad(a: Tensor, pads: readonly (readonly [number, number])[], mode: PadMode = "constant", value: number | boolean = 0): Tensor {
  const op = "pad";
  if (!PAD_MODES.includes(mode)) valueError(op, `unknown mode ${JSON.stringify(mode)}`, 'use "constant", "reflect" or "edge"');
  if (typeof value !== "number" && typeof value !== "boolean") valueError(op, `value must be a number or boolean, got ${typeof value}`);
  if (!Array.isArray(pads) || pads.some((p) => !Array.isArray(p) || p.length !== 2 || !p.every((v) => typeof v === "number" && Number.isInteger(v))))
    valueError(op, `pads must be an array of [before, after] integer pairs, got ${JSON.stringify(pads)}`, "e.g. [[1, 1], [0, 2]] pads axis 0 by 1 on both sides and axis 1 by 2 at the end");
  const r = a.ndim;
  if (pads.length > r) shapeError(op, `${pads.length} [before, after] pairs for a tensor of rank ${r} ${fmtShape(a.shape)}`, "give at most one pair per axis, from axis 0");
  const before = a.shape.map((_, i) => pads[i]?.[0] ?? 0), after = a.shape.map((_, i) => pads[i]?.[1] ?? 0);

  // crop first (negative amounts), as a slice
  let x = a;
  if (before.some((v) => v < 0) || after.some((v) => v < 0)) {
    const cropB = before.map((v) => Math.max(-v, 0)), cropA = after.map((v) => Math.max(-v, 0));
    a.shape.forEach((d, i) => {
      if (cropB[i]! + cropA[i]! > d) shapeError(op, `cannot crop ${cropB[i]} + ${cropA[i]} elements from axis ${i} of ${fmtShape(a.shape)} (size ${d})`, "negative pads remove elements; they cannot remove more than the axis holds");
    });
    x = sliceView(a, cropB, a.shape.map(() => 1), a.shape.map((d, i) => d - cropB[i]! - cropA[i]!));
  }
  const pb = before.map((v) => Math.max(v, 0)), pa = after.map((v) => Math.max(v, 0));
  if (pb.every((v) => v === 0) && pa.every((v) => v === 0)) return x;
  x.shape.forEach((d, i) => {
    const p = Math.max(pb[i]!, pa[i]!);
    if (p === 0) return;
    if (mode === "reflect" && p > d - 1)
      shapeError(op, `reflect padding of ${p} on axis ${i} needs more than ${p} elements there, but ${fmtShape(x.shape)} has ${d}`, 'reflect pads must be smaller than the axis; use mode "edge" or smaller pads');
    if (mode === "edge" && d === 0) shapeError(op, `cannot edge-pad axis ${i} of ${fmtShape(x.shape)}: it is empty`, 'use mode "constant" for empty axes');
  });
  const v = typeof value === "boolean" ? (value ? 1 : 0) : value;
  return apply("pad", [x], { pads: [...pb, ...pa], mode, padValue: mode === "constant" ? v : 0 });
}

// ---------------------------------------------------------------- joining and splitting

/**
 * Joins tensors along an existing axis; all other sizes must match. Dtypes are promoted.
 * @example concat([tensor([[1, 2]]), tensor([[3, 4]])], 0) // [[1, 2], [3, 4]]
 */
export function concat(list: readonly Tensor[], axis = 0): Tensor {
  const op = "concat", tensors = checkTensorList(op, list);
  const first = tensors[0]!, r = first.ndim;
  if (r === 0) shapeError(op, "cannot concatenate 0-d tensors", "use stack to join scalars into a vector");
  const ax = normAxis(op, axis, r);
  tensors.forEach((t, i) => {
    if (t.ndim !== r || t.shape.some((d, k) => k !== ax && d !== first.shape[k]))
      shapeError(op, `tensor ${i} has shape ${fmtShape(t.shape)}, which does not match tensor 0's ${fmtShape(first.shape)} off axis ${ax}`, `every size except axis ${ax} must be equal`, i);
  });
  const dt = tensors.reduce((d, t) => promote(d, t.dtype), first.dtype);
  // flatten nested concats along the same axis and drop parts that are empty along it
  const parts: Tensor[] = [];
  for (const t of tensors) {
    if (foldable(t, "concat") && t.node.attrs.axis === ax && t.dtype === dt) parts.push(...t.node.inputs.map((n) => new Tensor(n)));
    else parts.push(t);
  }
  const kept = parts.filter((t) => t.shape[ax]! > 0);
  const ins = (kept.length ? kept : [parts[0]!]).map((t) => castTo(t, dt));
  if (ins.length === 1) return ins[0]!;
  return apply("concat", ins, { axis: ax });
}

/**
 * Joins same-shape tensors along a new axis (`axis` counts in the output's rank).
 * @example stack([tensor([1, 2]), tensor([3, 4])], 1) // [[1, 3], [2, 4]]
 */
export function stack(list: readonly Tensor[], axis = 0): Tensor {
  const op = "stack", tensors = checkTensorList(op, list);
  const first = tensors[0]!;
  tensors.forEach((t, i) => {
    if (!sameShape(t.shape, first.shape)) shapeError(op, `tensor ${i} has shape ${fmtShape(t.shape)} but tensor 0 has ${fmtShape(first.shape)}`, "stack needs tensors of one shape; use concat to join along an existing axis", i);
  });
  const ax = normAxis(op, axis, first.ndim + 1);
  return concat(tensors.map((t) => unsqueeze(t, ax)), ax);
}

/**
 * Splits along an axis into `sections` equal parts (a number) or parts of the given sizes.
 * @example split(arange(6), 3)       // [[0, 1], [2, 3], [4, 5]]
 * @example split(arange(6), [1, 5])  // [[0], [1, 2, 3, 4, 5]]
 */
export function split(a: Tensor, sections: number | readonly number[], axis = 0): Tensor[] {
  const op = "split";
  if (a.ndim === 0) shapeError(op, "cannot split a 0-d tensor", "reshape it to [1] first");
  const ax = normAxis(op, axis, a.ndim), d = a.shape[ax]!;
  let sizes: number[];
  if (typeof sections === "number") {
    if (!Number.isInteger(sections) || sections < 1) valueError(op, `the number of sections must be a positive integer, got ${sections}`);
    if (d % sections !== 0) {
      const q = Math.floor(d / sections);
      shapeError(op, `cannot split axis ${ax} of ${fmtShape(a.shape)} (size ${d}) into ${sections} equal parts`, `pass a list of sizes instead, e.g. [${[...new Array<number>(sections - 1).fill(q), d - q * (sections - 1)].join(", ")}]`);
    }
    sizes = new Array<number>(sections).fill(d / sections);
  } else {
    sizes = checkIntList(op, "sections", sections);
    if (sizes.length === 0 || sizes.some((s) => s < 0)) valueError(op, `section sizes ${fmtList(sizes)} must be a non-empty list of non-negative integers`);
    const sum = sizes.reduce((p, s) => p + s, 0);
    if (sum !== d) shapeError(op, `section sizes ${fmtList(sizes)} sum to ${sum}, but axis ${ax} of ${fmtShape(a.shape)} has size ${d}`, `make the sizes sum to ${d}`);
  }
  let off = 0;
  return sizes.map((s) => { const t = narrow(a, ax, off, s); off += s; return t; });
}

/**
 * Repeats the whole tensor `reps[i]` times along each axis (numpy tile: shorter `reps` are
 * padded with leading 1s, longer ones add leading axes to `a`).
 * @example tile(tensor([1, 2]), [2, 2]) // [[1, 2, 1, 2], [1, 2, 1, 2]]
 */
export function tile(a: Tensor, reps: readonly number[]): Tensor {
  const rp0 = checkIntList("tile", "reps", reps);
  if (rp0.some((v) => v < 0)) valueError("tile", `reps ${fmtList(rp0)} must be non-negative`);
  const r = Math.max(a.ndim, rp0.length);
  const shape = [...new Array<number>(r - a.ndim).fill(1), ...a.shape];
  const rp = [...new Array<number>(r - rp0.length).fill(1), ...rp0];
  // [d] repeated r times = reshape [1, d] → expand [r, d] → reshape [r*d]; a size-1 axis just expands
  const mid: number[] = [], big: number[] = [];
  shape.forEach((d, i) => {
    const k = rp[i]!;
    if (k !== 1 && d !== 1) { mid.push(1, d); big.push(k, d); }
    else { mid.push(d); big.push(d * k); }
  });
  return reshapeTo(expandTo(reshapeTo(a, mid), big), shape.map((d, i) => d * rp[i]!));
}

/**
 * Reverses the order of elements along the given axes (all axes by default).
 * @example flip(tensor([[1, 2], [3, 4]]), 1) // [[2, 1], [4, 3]]
 */
export function flip(a: Tensor, axes?: number | readonly number[]): Tensor {
  if (a.ndim === 0) { if (axes !== undefined) normAxes("flip", axes, 0); return a; }
  const ax = axes === undefined ? a.shape.map((_, i) => i) : normAxes("flip", axes, a.ndim);
  const starts = a.shape.map((d, i) => (ax.includes(i) ? Math.max(d - 1, 0) : 0));
  const steps = a.shape.map((_, i) => (ax.includes(i) ? -1 : 1));
  return sliceView(a, starts, steps, a.shape);
}

// ---------------------------------------------------------------- methods

/** Methods installed on Tensor (see lib/ops/index.ts). */
export const movementMethods = {
  /** Example: `x.reshape([2, -1])`. */
  reshape(this: Tensor, shape: readonly number[]): Tensor { return reshape(this, shape); },
  /** Example: `m.transpose()` (reverses axes), `x.transpose([0, 2, 1])`. */
  transpose(this: Tensor, perm?: readonly number[]): Tensor { return transpose(this, perm); },
  /** Example: `x.permute([2, 0, 1])`. */
  permute(this: Tensor, perm: readonly number[]): Tensor { return permute(this, perm); },
  /** Example: `x.expand([-1, 4])`. */
  expand(this: Tensor, shape: readonly number[]): Tensor { return expand(this, shape); },
  /** Example: `bias.broadcastTo([8, 16])`. */
  broadcastTo(this: Tensor, shape: readonly number[]): Tensor { return broadcastTo(this, shape); },
  /** Example: `x.squeeze()`, `x.squeeze(0)`. */
  squeeze(this: Tensor, axis?: number | readonly number[]): Tensor { return squeeze(this, axis); },
  /** Example: `x.unsqueeze(-1)`. */
  unsqueeze(this: Tensor, axis: number | readonly number[]): Tensor { return unsqueeze(this, axis); },
  /** Example: `x.flatten(1)`. */
  flatten(this: Tensor, startDim = 0, endDim = -1): Tensor { return flatten(this, startDim, endDim); },
  /** Example: `x.slice([1], [-1], [0])` (drops the first and last rows). */
  slice(this: Tensor, starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]): Tensor { return slice(this, starts, ends, axes, steps); },
  /** Example: `x.pad([[1, 1], [2, 2]], "edge")`. */
  pad(this: Tensor, pads: readonly (readonly [number, number])[], mode: PadMode = "constant", value: number | boolean = 0): Tensor { return pad(this, pads, mode, value); },
  /** `x.concat(others, axis)` = `concat([x, ...others], axis)`. Example: `x.concat([y], 1)`. */
  concat(this: Tensor, others: readonly Tensor[], axis = 0): Tensor { return concat([this, ...others], axis); },
  /** `x.stack(others, axis)` = `stack([x, ...others], axis)`. Example: `x.stack([y])`. */
  stack(this: Tensor, others: readonly Tensor[], axis = 0): Tensor { return stack([this, ...others], axis); },
  /** Example: `const [a, b] = x.split(2, -1)`. */
  split(this: Tensor, sections: number | readonly number[], axis = 0): Tensor[] { return split(this, sections, axis); },
  /** Example: `x.tile([2, 1])`. */
  tile(this: Tensor, reps: readonly number[]): Tensor { return tile(this, reps); },
  /** Example: `x.flip(-1)`. */
  flip(this: Tensor, axes?: number | readonly number[]): Tensor { return flip(this, axes); },
};
export type MovementMethods = typeof movementMethods;
