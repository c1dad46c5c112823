/**
 * Host-side evaluation of constant subgraphs for the quantization passes (a weight under its
 * movement ops, a zero point broadcast to an operand's shape), with the reference semantics
 * registered for constant folding.
 *
 * @example
 * const w = evaluate(matmulNode.inputs[1]!);   // the weight as the matmul sees it, or undefined
 */
import { hostValue, numel, type Node } from "../ir.js";
import { getConstEvaluator } from "../passes/fold.js";
import type { HostBuffer } from "../buffer.js";

/**
 * Host value of a node built only from constants (and movement/elementwise on them); undefined
 * for anything reaching an input, or deeper than a constant chain plausibly is.
 */
export function evaluate(n: Node, memo = new Map<Node, HostBuffer>(), depth = 0): HostBuffer | undefined {
  const h = hostValue(n);
  if (h) return h;
  if (n.op === "input" || n.op === "external") return undefined;
  const ev = getConstEvaluator();
  if (!ev || numel(n.shape) > 1 << 22 || depth > 64) return undefined;
  if (memo.has(n)) return memo.get(n);
  const ins: HostBuffer[] = [];
  for (const i of n.inputs) { const v = evaluate(i, memo, depth + 1); if (!v) return undefined; ins.push(v); }
  const v = ev(n, ins);
  memo.set(n, v);
  return v;
}

