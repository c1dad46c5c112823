/**
 * The pass pipeline. Each pass is a function Graph → Graph, testable alone; `opt` selects
 * which run:
 * - 0: none (the graph as traced; dead nodes are never collected in the first place)
 * - 1: dce, int8, fold, cse: no-op movement goes first so that CSE sees through it; the int8
 *   lowering (dequantize→matmul/conv becomes an int8 GEMM, see quant/lower.ts) before folding,
 *   which would turn a small dequantized weight into a float constant; folding runs bottom-up
 *   in one run, and CSE then merges the constants and nodes it made equal. Together they
 *   reach a fixed point (running them again changes nothing).
 * - 2: dce, int8, fold, cse, simplify, fold, cse: simplification after CSE (so `max(x, x)` and
 *   `where(c, x, x)` see one `x`), then folding what it exposed (e.g. ops on reshaped
 *   constants) and merging again. Simplify removes the same no-ops as DCE, so no final DCE is
 *   needed (`rebuild` drops unreachable nodes in every pass).
 * - 3: as 2, then `converge`: simplify, fold, cse again until the graph stops changing (at
 *   most 8 rounds), for graphs where a merge enables another rule.
 *
 * Constant folding needs a host evaluator registered by a backend (see `setConstEvaluator` in
 * fold.ts); without one it leaves graphs unchanged.
 */
import type { Graph } from "../graph.js";
import type { OptLevel } from "../backend.js";
import { fold } from "./fold.js";
import { cse } from "./cse.js";
import { dce } from "./dce.js";
import { simplify } from "./simplify.js";
import { lowerInt8 } from "../quant/lower.js";

export { fold, makeFoldPass, foldWith, setConstEvaluator, getConstEvaluator, type ConstEvaluator, type FoldLimits, DEFAULT_FOLD_LIMITS } from "./fold.js";
export { cse } from "./cse.js";
export { dce, liveNodes } from "./dce.js";
export { simplify, losslessCast } from "./simplify.js";

export type Pass = (g: Graph) => Graph;
export interface PassLog { readonly pass: string; readonly nodesBefore: number; readonly nodesAfter: number }

/** Whether two graphs are the same nodes (by identity) with the same outputs. */
export function sameGraph(a: Graph, b: Graph): boolean {
  return a.nodes.length === b.nodes.length && a.nodes.every((n, i) => n === b.nodes[i]) &&
    a.outputs.length === b.outputs.length && a.outputs.every((n, i) => n === b.outputs[i]);
}

/** Repeats simplify, fold, cse until a round changes nothing (at most `rounds`). */
export function converge(g: Graph, rounds = 8): Graph {
  for (let r = 0; r < rounds; r++) {
    const next = cse(fold(simplify(g)));
    if (sameGraph(next, g)) return next;
    g = next;
  }
  return g;
}

const O1: readonly [string, Pass][] = [["dce", dce], ["int8", lowerInt8], ["fold", fold], ["cse", cse]];
const O2: readonly [string, Pass][] = [...O1, ["simplify", simplify], ["fold", fold], ["cse", cse]];

export const PIPELINES: Record<OptLevel, readonly [string, Pass][]> = {
  0: [],
  1: O1,
  2: O2,
  3: [...O2, ["converge", (g) => converge(g)]],
};

/** Runs the passes of an opt level, logging node counts before and after each. */
export function runPasses(g: Graph, opt: OptLevel, skip: ReadonlySet<string> = new Set()): { graph: Graph; log: PassLog[] } {
  const log: PassLog[] = [];
  for (const [name, pass] of PIPELINES[opt]) {
    if (skip.has(name)) continue;
    const before = g.nodes.length;
    g = pass(g);
    log.push({ pass: name, nodesBefore: before, nodesAfter: g.nodes.length });
  }
  return { graph: g, log };
}
