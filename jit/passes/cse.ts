/**
 * Common-subexpression elimination: nodes with the same op, dtype, shape, inputs and deep-equal
 * attributes become one. Constants merge when their dtype, shape and bytes are equal (so -0
 * and +0, or two NaN payloads, stay apart). Placeholders (`input`) and pending results
 * (`external`) never merge.
 *
 * Works bottom-up in one run: once two inputs merge, their users see the same input and
 * merge too.
 *
 * @example
 * // exp(x) + exp(x)  →  e = exp(x); e + e
 * const g2 = cse(g);
 */
import { Node, fmtShape } from "../ir.js";
import { bufferBytes, hashBytes, type HostBuffer } from "../buffer.js";
import { rebuild, type Graph } from "../graph.js";
import { attrKey } from "./util.js";

/** Constants up to this many bytes are hashed whole; larger ones by their ends and length. */
const FULL_HASH_BYTES = 1 << 16;
const EDGE_BYTES = 256;

function constKey(b: HostBuffer): string {
  const bytes = bufferBytes(b);
  const h = bytes.length <= FULL_HASH_BYTES
    ? hashBytes(bytes)
    : `${hashBytes(bytes.subarray(0, EDGE_BYTES))}${hashBytes(bytes.subarray(bytes.length - EDGE_BYTES))}`;
  return `${b.dtype}${fmtShape(b.shape)}#${bytes.length}:${h}`;
}

function sameBytes(a: HostBuffer, b: HostBuffer): boolean {
  if (a.data === b.data) return true;
  const x = bufferBytes(a), y = bufferBytes(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

export function cse(g: Graph): Graph {
  const consts = new Map<string, Node[]>();
  const ops = new Map<string, Node>();
  return rebuild(g, (n, ins) => {
    if (n.op === "input" || n.op === "external") return undefined;
    if (n.op === "const") {
      const v = n.attrs.value!, k = constKey(v);
      const bucket = consts.get(k);
      if (!bucket) { consts.set(k, [n]); return undefined; }
      const same = bucket.find((c) => sameBytes(c.attrs.value!, v));
      if (same) return same;
      bucket.push(n);
      return undefined;
    }
    const k = `${n.op}|${n.dtype}${fmtShape(n.shape)}|${ins.map((i) => i.id).join(",")}|${attrKey(n.attrs)}`;
    const hit = ops.get(k);
    if (hit) return hit;
    // the node rebuild keeps for n: n itself, or a copy on the new inputs; rebuild makes the
    // copy after we return, so make it here to know its identity
    const kept = ins.every((x, i) => x === n.inputs[i]) ? n : new Node(n.op, ins, n.attrs, n.shape, n.dtype, n.site);
    ops.set(k, kept);
    return kept;
  });
}

