import { describe, it, expect } from "vitest";
import { node } from "../../jit/ir.js";
import { buildGraph } from "../../jit/graph.js";
import { cse } from "../../jit/passes/cse.js";
import { inp, cst, opCounts, sameResults } from "./helpers.js";

describe("cse", () => {
  it("merges equal nodes: exp(x) + exp(x) becomes e + e", async () => {
    const x = inp(0, "float32", [3]);
    const g = buildGraph([x], [node("add", [node("exp", [x]), node("exp", [x])])]);
    const c = cse(g);
    expect(g.nodes.length).toBe(4);
    expect(c.nodes.length).toBe(3);
    const add = c.outputs[0]!;
    expect(add.inputs[0]).toBe(add.inputs[1]);
    expect(await sameResults(g, c)).toBe("");
  });

  it("merges whole equal chains, bottom-up", () => {
    const x = inp(0, "float32", [2, 3]);
    const chain = () => node("reduce", [node("neg", [node("permute", [x], { perm: [1, 0] })])], { fn: "sum", axes: [0] });
    const g = buildGraph([x], [chain(), chain(), chain()]);
    expect(g.nodes.length).toBe(10);
    const c = cse(g);
    expect(c.nodes.length).toBe(4);
    expect(new Set(c.outputs).size).toBe(1);
  });

  it("merges equal constants (by dtype, shape and bytes), not different ones", () => {
    const a = cst("float32", [2], [1, 2]), b = cst("float32", [2], [1, 2]);
    const g = buildGraph([], [a, b, cst("float32", [1, 2], [1, 2]), cst("int32", [2], [1, 2]), cst("float32", [2], [1, 3])]);
    const c = cse(g);
    expect(c.outputs[0]).toBe(c.outputs[1]);
    expect(new Set(c.outputs).size).toBe(4);
  });

  it("keeps -0 and +0 apart, and merges equal NaNs", () => {
    const g = buildGraph([], [cst("float32", [1], [0]), cst("float32", [1], [-0]), cst("float32", [1], [NaN]), cst("float32", [1], [NaN])]);
    const c = cse(g);
    expect(c.outputs[0]).not.toBe(c.outputs[1]);
    expect(c.outputs[2]).toBe(c.outputs[3]);
  });

  it("compares large constants in full (their hash only looks at the ends)", () => {
    const n = 40000;
    const v1 = new Float64Array(n).map((_, i) => i), v2 = v1.slice(), v3 = v1.slice();
    v3[n / 2] = -1; // same ends, different middle
    const g = buildGraph([], [cst("float32", [n], v1), cst("float32", [n], v2), cst("float32", [n], v3)]);
    const c = cse(g);
    expect(c.outputs[0]).toBe(c.outputs[1]);
    expect(c.outputs[2]).not.toBe(c.outputs[0]);
  });

  it("compares attributes deeply, not by object identity", () => {
    const x = inp(0, "float32", [2, 3, 4]);
    const g = buildGraph([x], [
      node("permute", [x], { perm: [2, 0, 1] }),
      node("permute", [x], { perm: [2, 0, 1] }),
      node("permute", [x], { perm: [1, 0, 2] }),
    ]);
    const c = cse(g);
    expect(c.outputs[0]).toBe(c.outputs[1]);
    expect(c.outputs[2]).not.toBe(c.outputs[0]);
  });

  it("tells apart attribute values JSON would confuse (NaN, Infinity, -0)", () => {
    const x = inp(0, "float32", [2]);
    const pad = (v: number) => node("pad", [x], { pads: [1, 0], mode: "constant", padValue: v });
    const g = buildGraph([x], [pad(NaN), pad(Infinity), pad(0), pad(-0), pad(NaN)]);
    const c = cse(g);
    expect(new Set(c.outputs).size).toBe(4);
    expect(c.outputs[0]).toBe(c.outputs[4]);
  });

  it("treats undefined attributes as missing", () => {
    const x = inp(0, "float32", [2]);
    const g = buildGraph([x], [node("cumsum", [x], { axis: 0, exclusive: undefined }), node("cumsum", [x], { axis: 0 })]);
    const c = cse(g);
    expect(c.outputs[0]).toBe(c.outputs[1]);
  });

  it("keeps nodes with different shapes or dtypes apart", () => {
    const x = inp(0, "float32", [2, 3]);
    const g = buildGraph([x], [
      node("reshape", [x], {}, [3, 2]), node("reshape", [x], {}, [6]),
      node("cast", [x], { to: "int32" }), node("cast", [x], { to: "int8" }),
    ]);
    expect(new Set(cse(g).outputs).size).toBe(4);
  });

  it("never merges placeholders or pending results", () => {
    const x = inp(0, "float32", [2]), y = inp(1, "float32", [2]);
    const g = buildGraph([x, y], [node("exp", [x]), node("exp", [y])]);
    const c = cse(g);
    expect(c.inputs).toEqual([x, y]);
    expect(c.outputs[0]).not.toBe(c.outputs[1]);
    expect(opCounts(c)).toEqual({ input: 2, exp: 2 });
  });

  it("leaves a graph with nothing to merge as it was", () => {
    const x = inp(0, "float32", [2]);
    const g = buildGraph([x], [node("exp", [node("neg", [x])])]);
    const c = cse(g);
    expect(c.nodes.every((n, i) => n === g.nodes[i])).toBe(true);
  });
});
