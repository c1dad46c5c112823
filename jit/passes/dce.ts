/**
 * Dead-code elimination: keeps only the nodes the outputs need, and removes movement that
 * does nothing (reshape/expand to the same shape, identity permute, a slice taking everything
 * in order, a pad of zeros, a concat of one input, a cast to the same dtype).
 *
 * Reachability: `rebuild` adds only what the outputs need, walking back from them; this pass
 * relies on that and checks it. Unused graph inputs stay in `inputs` (argument order).
 *
 * @example
 * // reshape(x, x.shape) + 1  →  x + 1
 * const g2 = dce(g);
 */
import { rebuild, type Graph } from "../graph.js";
import type { Node } from "../ir.js";
import { noopReplacement } from "./util.js";

/** The nodes the outputs of `g` need (a set; the graph's `nodes` keeps their order). */
export function liveNodes(g: Graph): Set<Node> {
  const live = new Set<Node>(), stack = [...g.outputs];
  while (stack.length) {
    const n = stack.pop()!;
    if (live.has(n)) continue;
    live.add(n);
    for (const i of n.inputs) stack.push(i);
  }
  return live;
}

export function dce(g: Graph): Graph {
  const out = rebuild(g, (n, ins) => noopReplacement(n, ins));
  const live = liveNodes(out);
  if (live.size !== out.nodes.length || out.nodes.some((n) => !live.has(n))) throw new Error("internal: rebuild kept a dead node");
  return out;
}
