import { describe, it, expect } from "vitest";
import fc from "fast-check";
import "../../backends/wasm/index.js";
import { codegenOptions } from "../../backends/wasm/kernel.js";
import { getBackend } from "../../jit/backend.js";
import { printGraph } from "../../jit/graph.js";
import { runPasses } from "../../jit/passes/index.js";
import { graphSpec, buildRandom, runGraph, diffBuffers, ensureEvaluator } from "../passes/helpers.js";
import { toF64, type HostBuffer } from "../../jit/buffer.js";
import type { Graph } from "../../jit/graph.js";

/** Same values, with ±0 equal (wasm's f32.max(-0, 0) and the reference may pick different zeros). */
function diff(a: HostBuffer, b: HostBuffer): string {
  const d = diffBuffers(a, b);
  return /: -?0 vs -?0$/.test(d) ? "" : d;
}

describe("wasm backend", () => {
  ensureEvaluator();
  it("agrees with the reference bit for bit on random graphs at opt 0 and 2 (scalar matmul)", async () => {
    codegenOptions.blockedMatmul = false;
    codegenOptions.exactMath = true;
    try { await randomGraphs(500); } finally { codegenOptions.blockedMatmul = true; codegenOptions.exactMath = false; }
  });
  it("agrees with the reference on random graphs with the blocked matmul and the wasm math library, within float tolerance", async () => {
    await randomGraphs(150, true);
  });
});

async function randomGraphs(numRuns: number, tolerant = false): Promise<void> {
  await fc.assert(fc.asyncProperty(graphSpec, fc.constantFrom(0, 2) as fc.Arbitrary<0 | 2>, async (spec, opt) => {
      const { graph, inputs } = buildRandom(spec);
      let ref: HostBuffer[];
      try { ref = await runGraph(graph, inputs); } catch { return; }
      const g = runPasses(graph, opt).graph;
      const exe = getBackend("wasm").compile(g, { opt });
      const got = await exe.run(inputs);
      ref.forEach((r, i) => {
        const d = tolerant ? close(got[i]!, r, g) : diff(got[i]!, r);
        if (d) throw new Error(`output ${i}: ${d}\n${printGraph(g)}\n${exe.explain().slice(0, 2).map((s) => s.text).join("\n")}`);
      });
    }), { numRuns });
}

/**
 * For graphs with a matmul (accumulated in f32 by the blocked kernel, in f64 by the reference)
 * or a transcendental function (the wasm math library is within 1 ulp of Math.*):
 * float outputs agree within 1e-3 relative, or both are non-finite; integer outputs are not
 * compared, since a discontinuous op after the matmul (floor, a comparison, a cast) may turn a
 * last-bit difference into any value. Graphs without a matmul must agree exactly.
 */
const INEXACT = new Set(["matmul", "exp", "log", "tanh", "erf", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "pow"]);
function close(a: HostBuffer, b: HostBuffer, g: Graph): string {
  if (!g.nodes.some((n) => INEXACT.has(n.op))) return diff(a, b);
  if (a.dtype !== "float32" && a.dtype !== "float16") return ""; // integer results of float matmuls may round differently
  const x = toF64(a), y = toF64(b);
  for (let i = 0; i < x.length; i++) {
    const p = x[i]!, q = y[i]!;
    if (Number.isNaN(p) !== Number.isNaN(q) && Math.abs(q) < 1e30) return `element ${i}: ${p} vs ${q}`;
    if (Number.isFinite(q) && Number.isFinite(p) && Math.abs(p - q) > 1e-3 * (1 + Math.abs(q))) return `element ${i}: ${p} vs ${q}`;
  }
  return "";
}
