/**
 * The pass pipeline. Each pass is a function Graph → Graph, testable alone; `opt` selects
 * which run:
 * - 0: none (the graph as traced; dead nodes are never collected in the first place)
 * - 1: constant folding, CSE, DCE
 * - 2: + algebraic simplification
 * - 3: same as 2 (reserved for passes that trade compile time for speed)
 */
import type { Graph } from "../graph.js";
import type { OptLevel } from "../backend.js";

export type Pass = (g: Graph) => Graph;
export interface PassLog { readonly pass: string; readonly nodesBefore: number; readonly nodesAfter: number }

export const PIPELINES: Record<OptLevel, readonly [string, Pass][]> = {
  0: [],
  1: [],
  2: [],
  3: [],
};

/** Runs the passes of an opt level, logging node counts before and after each. */
export function runPasses(g: Graph, opt: OptLevel): { graph: Graph; log: PassLog[] } {
  const log: PassLog[] = [];
  for (const [name, pass] of PIPELINES[opt]) {
    const before = g.nodes.length;
    g = pass(g);
    log.push({ pass: name, nodesBefore: before, nodesAfter: g.nodes.length });
  }
  return { graph: g, log };
}
