/**
 * Helpers shared by the op-level passes: canonical attribute keys, splat-constant detection,
 * no-op movement detection and host-side permutation of constants.
 *
 * @example
 * if (isNoop(n, ins)) return ins[0];           // reshape to the same shape, identity permute, …
 * const v = splatValue(ins[1]!);                // 1 when ins[1] is an expanded constant 1
 */
import { Node, numel, sameShape, stridesOf, type Attrs, type Shape } from "../ir.js";
import { hostBuffer, type HostBuffer } from "../buffer.js";
import { allocStorage, readElement, type Storage } from "../dtype.js";

/** A number's text that keeps what JSON loses: -0, NaN, ±Infinity. */
function numKey(v: number): string {
  return Object.is(v, -0) ? "-0" : String(v);
}

function valueKey(v: unknown): string {
  if (typeof v === "number") return numKey(v);
  if (Array.isArray(v)) return `[${v.map(valueKey).join(",")}]`;
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

/**
 * A canonical text for a node's attributes other than `value` and `thunk` (keys sorted,
 * undefined entries dropped), so that deep-equal attrs give equal keys.
 */
export function attrKey(a: Attrs): string {
  const parts: string[] = [];
  for (const k of Object.keys(a).sort()) {
    const v = (a as Record<string, unknown>)[k];
    if (v === undefined || k === "value" || k === "thunk") continue;
    parts.push(`${k}=${valueKey(v)}`);
  }
  return parts.join(";");
}

export const sameArr = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);

type Indexable = { [i: number]: number | bigint; readonly length: number };

const splatCache = new WeakMap<Node, number | null>();

/**
 * The value of every element when `n` is a constant whose elements are all bit-identical
 * (seen through reshape/expand/permute/slice of such a constant), else undefined. Empty
 * tensors are not splats. Float values keep their sign of zero.
 */
export function splatValue(n: Node): number | undefined {
  if (n.size === 0) return undefined;
  // walk down the movement chain (iteratively: chains can be long), then cache along it
  const path: Node[] = [];
  let m = n, r: number | null | undefined;
  for (;;) {
    r = splatCache.get(m);
    if (r !== undefined) break;
    path.push(m);
    if (m.op === "reshape" || m.op === "expand" || m.op === "permute" || m.op === "slice") { m = m.inputs[0]!; continue; }
    r = null;
    if (m.op === "const") {
      const d = m.attrs.value!.data as Indexable, v0 = d[0]!;
      let all = true;
      for (let i = 1; i < d.length; i++) if (!Object.is(d[i], v0)) { all = false; break; }
      if (all) r = readElement(m.attrs.value!.data, m.dtype, 0);
    }
    break;
  }
  for (const p of path) splatCache.set(p, r);
  return r ?? undefined;
}

/** Whether slice attrs take every element of `from` in order. */
function fullSlice(from: Shape, to: Shape, starts: readonly number[], steps: readonly number[]): boolean {
  return sameShape(from, to) && from.every((d, i) => d <= 1 || (starts[i] === 0 && steps[i] === 1));
}

/**
 * The node a no-op `n` (with rewritten inputs `ins`) can be replaced by, or undefined:
 * reshape/expand to the same shape, identity permute, a slice taking everything in order,
 * a pad of zeros, a concat of one input, a cast to the same dtype.
 */
export function noopReplacement(n: Node, ins: readonly Node[]): Node | undefined {
  const x = ins[0];
  if (!x) return undefined;
  switch (n.op) {
    case "reshape": case "expand": return sameShape(x.shape, n.shape) ? x : undefined;
    case "permute": return n.attrs.perm!.every((p, i) => p === i) ? x : undefined;
    case "slice": return fullSlice(x.shape, n.shape, n.attrs.starts!, n.attrs.steps!) ? x : undefined;
    case "pad": return n.attrs.pads!.every((p) => p === 0) ? x : undefined;
    case "concat": return ins.length === 1 ? x : undefined;
    case "cast": return x.dtype === n.dtype ? x : undefined;
  }
  return undefined;
}

/** A constant's data permuted on the host (any dtype, int64 included). */
export function permuteBuffer(b: HostBuffer, perm: readonly number[]): HostBuffer {
  const shape = perm.map((p) => b.shape[p]!);
  const out = allocStorage(b.dtype, numel(shape)) as Storage;
  const src = b.data as Indexable, dst = out as unknown as Indexable;
  const st = stridesOf(b.shape), r = shape.length, n = numel(shape);
  const c = new Array<number>(r).fill(0);
  let off = 0; // source offset of coordinate c
  for (let flat = 0; flat < n; flat++) {
    dst[flat] = src[off]!;
    for (let d = r - 1; d >= 0; d--) {
      const s = st[perm[d]!]!;
      if (++c[d]! < shape[d]!) { off += s; break; }
      off -= (c[d]! - 1) * s;
      c[d] = 0;
    }
  }
  return hostBuffer(b.dtype, shape, out);
}

/** A constant's data under a new shape (shares the typed array: host buffers are immutable). */
export function reshapeBuffer(b: HostBuffer, shape: Shape): HostBuffer {
  return hostBuffer(b.dtype, shape, b.data);
}
