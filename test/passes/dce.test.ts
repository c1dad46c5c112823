import { describe, it, expect } from "vitest";
import { node, type Node } from "../../jit/ir.js";
import { buildGraph, type Graph } from "../../jit/graph.js";
import { dce, liveNodes } from "../../jit/passes/dce.js";
import { inp, opCounts, sameResults } from "./helpers.js";

/** A graph `exp(op(x))` to see whether DCE removes `op`. */
function around(make: (x: Node) => Node, shape = [2, 3], dtype: "float32" | "int32" = "float32"): Graph {
  const x = inp(0, dtype, shape);
  return buildGraph([x], [node("exp", [node("cast", [make(x)], { to: "float32" })])]);
}

describe("dce", () => {
  const noops: [string, (x: Node) => Node][] = [
    ["reshape to the same shape", (x) => node("reshape", [x], {}, [2, 3])],
    ["identity permute", (x) => node("permute", [x], { perm: [0, 1] })],
    ["expand to the same shape", (x) => node("expand", [x], {}, [2, 3])],
    ["slice of everything", (x) => node("slice", [x], { starts: [0, 0], steps: [1, 1] }, [2, 3])],
    ["pad of zeros", (x) => node("pad", [x], { pads: [0, 0, 0, 0], mode: "reflect" })],
    ["concat of one input", (x) => node("concat", [x], { axis: 1 })],
  ];
  for (const [what, make] of noops)
    it(`removes a ${what}`, async () => {
      const g = around(make);
      const d = dce(g);
      // x, op, cast(float32→float32), exp → x, exp
      expect(g.nodes.length).toBe(4);
      expect(opCounts(d)).toEqual({ input: 1, exp: 1 });
      expect(await sameResults(g, d)).toBe("");
    });

  it("removes a slice over a size-1 axis whatever its step", () => {
    const g = around((x) => node("slice", [x], { starts: [0, 0], steps: [-1, 1] }, [1, 3]), [1, 3]);
    expect(opCounts(dce(g))).toEqual({ input: 1, exp: 1 });
  });

  it("keeps movement that does something", () => {
    const kept: ((x: Node) => Node)[] = [
      (x) => node("reshape", [x], {}, [3, 2]),
      (x) => node("permute", [x], { perm: [1, 0] }),
      (x) => node("slice", [x], { starts: [1, 0], steps: [-1, 1] }, [2, 3]),
      (x) => node("slice", [x], { starts: [0, 0], steps: [1, 1] }, [2, 2]),
      (x) => node("pad", [x], { pads: [0, 1, 0, 0], mode: "constant", padValue: 0 }),
    ];
    for (const make of kept) {
      const d = dce(around(make)); // the float32→float32 cast goes, the op stays
      expect(d.nodes.map((n) => n.op)).toEqual(["input", make(inp(0, "float32", [2, 3])).op, "exp"]);
    }
    // a cast to another dtype stays too
    expect(dce(around((x) => x, [2], "int32")).nodes.length).toBe(3);
  });

  it("replaces an output that is a no-op by its input", () => {
    const x = inp(0, "float32", [4]);
    const g = buildGraph([x], [node("reshape", [x], {}, [4])]);
    const d = dce(g);
    expect(d.outputs[0]).toBe(x);
    expect(d.nodes).toEqual([x]);
  });

  it("drops nodes no output needs and keeps unused inputs in the signature", () => {
    const x = inp(0, "float32", [2]), y = inp(1, "float32", [2]);
    const dead = node("exp", [y]);
    const live = node("neg", [x]);
    const g: Graph = { inputs: [x, y], nodes: [x, y, dead, live], outputs: [live] };
    expect(liveNodes(g).has(dead)).toBe(false);
    const d = dce(g);
    expect(d.nodes).toEqual([x, live]);
    expect(d.inputs).toEqual([x, y]);
  });

  it("removes chains of no-ops at once", () => {
    const x = inp(0, "float32", [2, 3]);
    let t: Node = x;
    for (let i = 0; i < 5; i++) t = node("permute", [node("reshape", [t], {}, [2, 3])], { perm: [0, 1] });
    const g = buildGraph([x], [node("neg", [t])]);
    expect(g.nodes.length).toBe(12);
    expect(opCounts(dce(g))).toEqual({ input: 1, neg: 1 });
  });
});
