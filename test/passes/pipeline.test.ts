import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { node } from "../../jit/ir.js";
import { buildGraph, printGraph, type Graph } from "../../jit/graph.js";
import type { OptLevel } from "../../jit/backend.js";
import { PIPELINES, runPasses, converge, sameGraph, fold, cse, dce, simplify, type Pass } from "../../jit/passes/index.js";
import { ensureEvaluator, buildRandom, graphSpec, compareOpt, outcome, diffBuffers, checkWellFormed, inp, splat, opCounts, type GraphSpec } from "./helpers.js";

ensureEvaluator();

/** Raise with KILN_PROPERTY_RUNS=5000 for a longer hunt. */
const RUNS = Number(process.env.KILN_PROPERTY_RUNS ?? 300);

/**
 * Nodes that compute something: not constants, placeholders or broadcasts of constants
 * (folding may turn one op into a new constant plus a lazy expand of it).
 */
const computeNodes = (g: Graph): number =>
  g.nodes.filter((n) => n.op !== "const" && n.op !== "input" && !(n.op === "expand" && n.inputs[0]!.op === "const")).length;

/** "" when `pass` keeps `g` well formed and its results exact, and adds no computation. */
async function passPreserves(spec: GraphSpec, pass: Pass): Promise<string> {
  const { graph, inputs } = buildRandom(spec);
  const out = pass(graph);
  const wf = checkWellFormed(out);
  if (wf) return wf;
  if (out.inputs.length !== graph.inputs.length || out.inputs.some((p, i) => p !== graph.inputs[i])) return "inputs changed";
  if (out.outputs.length !== graph.outputs.length) return "output count changed";
  if (computeNodes(out) > computeNodes(graph)) return `grew from ${computeNodes(graph)} to ${computeNodes(out)} compute nodes`;
  const [a, b] = [await outcome(graph, inputs), await outcome(out, inputs)];
  if (a.error || b.error) return a.error === b.error ? "" : `error ${a.error} vs ${b.error}`;
  for (let i = 0; i < a.outs!.length; i++) { const d = diffBuffers(a.outs![i]!, b.outs![i]!); if (d) return `output ${i}: ${d}`; }
  return "";
}

describe("pipelines", () => {
  it("run the documented passes per opt level", () => {
    const names = (o: OptLevel) => PIPELINES[o].map(([n]) => n);
    expect(names(0)).toEqual([]);
    expect(names(1)).toEqual(["dce", "int8", "fold", "cse"]);
    expect(names(2)).toEqual(["dce", "int8", "fold", "cse", "simplify", "fold", "cse"]);
    expect(names(3)).toEqual(["dce", "int8", "fold", "cse", "simplify", "fold", "cse", "converge"]);
  });

  it("log node counts per pass", () => {
    const x = inp(0, "float32", [4]);
    const y = node("add", [node("mul", [x, splat(1, "float32", [4])]), node("mul", [x, splat(1, "float32", [4])])]);
    const g = buildGraph([x], [y]);
    const { graph, log } = runPasses(g, 2);
    expect(log.map((l) => [l.pass, l.nodesBefore, l.nodesAfter])).toEqual([
      ["dce", 10, 10], ["int8", 10, 10], ["fold", 10, 8], ["cse", 8, 5], ["simplify", 5, 2], ["fold", 2, 2], ["cse", 2, 2],
    ]);
    expect(opCounts(graph)).toEqual({ input: 1, add: 1 });
    expect(graph.outputs[0]!.inputs).toEqual([x, x]);
    expect(runPasses(g, 0).graph).toBe(g);
  });

  it("converge reaches what one round of simplify cannot", () => {
    // simplify turns exp(neg(neg x)) into a new exp(x); only the CSE after it sees that both
    // branches of the where are one node, and only another simplify then removes the where
    const x = inp(0, "float32", [3]);
    const a = node("exp", [node("neg", [node("neg", [x])])]), b = node("exp", [x]);
    const g = buildGraph([x], [node("where", [node("lt", [x, x]), a, b])]);
    expect(opCounts(runPasses(g, 2).graph)).toEqual({ input: 1, exp: 1, lt: 1, where: 1 });
    expect(opCounts(runPasses(g, 3).graph)).toEqual({ input: 1, exp: 1 });
    const c = converge(runPasses(g, 3).graph);
    expect(sameGraph(c, converge(c))).toBe(true);
  });

  it("opt 1, 2 and 3 give exactly the results of opt 0 on random graphs", async () => {
    await fc.assert(fc.asyncProperty(graphSpec, async (spec) => {
      const { graph, inputs } = buildRandom(spec);
      for (const opt of [1, 2, 3] as const) {
        const d = await compareOpt(graph, inputs, opt);
        if (d) throw new Error(`${d}\n${printGraph(graph)}\n--- after:\n${printGraph(runPasses(graph, opt).graph)}`);
      }
    }), { numRuns: RUNS });
  });

  const passes: [string, Pass][] = [["fold", fold], ["cse", cse], ["dce", dce], ["simplify", simplify], ["converge", converge]];
  for (const [name, pass] of passes)
    it(`${name} alone keeps results, inputs and well-formedness, and never adds computation`, async () => {
      await fc.assert(fc.asyncProperty(graphSpec, async (spec) => {
        const d = await passPreserves(spec, pass);
        if (d) throw new Error(d);
      }), { numRuns: Math.ceil(RUNS / 3) });
    });

  it("opt 1 and opt 3 are fixed points: running them again changes nothing", () => {
    fc.assert(fc.property(graphSpec, (spec) => {
      const { graph } = buildRandom(spec);
      for (const opt of [1, 3] as const) {
        const once: Graph = runPasses(graph, opt).graph;
        const twice = runPasses(once, opt).graph;
        expect(printGraph(twice)).toBe(printGraph(once));
      }
    }), { numRuns: RUNS });
  });

  it("higher levels never leave more computation", () => {
    fc.assert(fc.property(graphSpec, (spec) => {
      const { graph } = buildRandom(spec);
      const n = ([0, 1, 2, 3] as const).map((o) => computeNodes(runPasses(graph, o).graph));
      expect(n[1]).toBeLessThanOrEqual(n[0]!);
      expect(n[2]).toBeLessThanOrEqual(n[1]!);
      expect(n[3]).toBeLessThanOrEqual(n[2]!);
    }), { numRuns: RUNS });
  });
});
