/**
 * Lowering from the op-level IR to a Plan: fusion into kernels, then memory planning.
 * The one entry point code-generating backends call.
 *
 * @example
 * const plan = lower(graph, { fuse: true });
 * for (const k of plan.kernels) console.log(printKernel(k));
 */
import type { Graph } from "../graph.js";
import { fuse, type FuseOptions } from "./fuse.js";
import { planMemory } from "./memory.js";
import type { Plan } from "./ir.js";

export function lower(g: Graph, opts: FuseOptions): Plan {
  const f = fuse(g, opts);
  const memory = planMemory(f);
  return { ...f, memory };
}

export { printKernel, printExpr, reshapeExpr } from "./ir.js";
export type { Plan, Kernel, KExpr, KBuffer, Anchor, Operand, ReduceStage, MemoryStats } from "./ir.js";
export { View } from "./view.js";
export { ALIGN } from "./memory.js";
