import { describe, it, expect } from "vitest";
import fc from "fast-check";
import "../../backends/wasm/index.js";
import { getBackend } from "../../jit/backend.js";
import { printGraph } from "../../jit/graph.js";
import { runPasses } from "../../jit/passes/index.js";
import { graphSpec, buildRandom, runGraph, diffBuffers, ensureEvaluator } from "../passes/helpers.js";
import type { HostBuffer } from "../../jit/buffer.js";

/** Same values, with ±0 equal (wasm's f32.max(-0, 0) and the reference may pick different zeros). */
function diff(a: HostBuffer, b: HostBuffer): string {
  const d = diffBuffers(a, b);
  return /: -?0 vs -?0$/.test(d) ? "" : d;
}

describe("wasm backend", () => {
  ensureEvaluator();
  it("agrees with the reference on random graphs at opt 0 and 2", async () => {
    await fc.assert(fc.asyncProperty(graphSpec, fc.constantFrom(0, 2) as fc.Arbitrary<0 | 2>, async (spec, opt) => {
      const { graph, inputs } = buildRandom(spec);
      let ref: HostBuffer[];
      try { ref = await runGraph(graph, inputs); } catch { return; }
      const g = runPasses(graph, opt).graph;
      const exe = getBackend("wasm").compile(g, { opt });
      const got = await exe.run(inputs);
      ref.forEach((r, i) => {
        const d = diff(got[i]!, r);
        if (d) throw new Error(`output ${i}: ${d}\n${printGraph(g)}\n${exe.explain().slice(0, 2).map((s) => s.text).join("\n")}`);
      });
    }), { numRuns: 500 });
  });
});
