import { describe, it, expect } from "vitest";
import { node, type Node } from "../../jit/ir.js";
import { buildGraph, type Graph } from "../../jit/graph.js";
import { toF64 } from "../../jit/buffer.js";
import type { DType } from "../../jit/dtype.js";
import { simplify, losslessCast } from "../../jit/passes/simplify.js";
import { ensureEvaluator, inp, cst, splat, opCounts, sameResults } from "./helpers.js";

ensureEvaluator();

interface Case {
  readonly name: string;
  readonly dtype?: DType;
  readonly shape?: number[];
  readonly make: (x: Node) => Node;
  /** Op counts after simplify (placeholders included). */
  readonly after: Record<string, number>;
}

const S = [2, 3];
const removes = (name: string, make: (x: Node) => Node, dtype: DType = "float32", shape = S): Case => ({ name, dtype, shape, make, after: { input: 1 } });
const keeps = (name: string, make: (x: Node) => Node, after: Record<string, number>, dtype: DType = "float32", shape = S): Case => ({ name, dtype, shape, make, after });

const bin = (op: "add" | "sub" | "mul" | "div" | "pow" | "max" | "min" | "and" | "or" | "xor", v: number, left = false) =>
  (x: Node) => { const c = splat(v, x.dtype, x.shape); return node(op, left ? [c, x] : [x, c]); };

const cases: Case[] = [
  // identities with splat constants, exact on every value
  removes("x * 1", bin("mul", 1)),
  removes("1 * x", bin("mul", 1, true)),
  removes("x / 1", bin("div", 1)),
  removes("x ** 1", bin("pow", 1)),
  removes("float x + (-0)", bin("add", -0)),
  removes("float (-0) + x", bin("add", -0, true)),
  removes("float x - 0", bin("sub", 0)),
  removes("int x + 0", bin("add", 0), "int32"),
  removes("int 0 + x", bin("add", 0, true), "int8"),
  removes("int x - 0", bin("sub", 0), "uint8"),
  removes("int x * 1", bin("mul", 1), "int32"),
  removes("bool x + 0", bin("add", 0), "bool"),
  removes("max(x, -inf)", bin("max", -Infinity)),
  removes("min(+inf, x)", bin("min", Infinity, true)),
  removes("bool and(x, true)", bin("and", 1), "bool"),
  removes("bool or(false, x)", bin("or", 0, true), "bool"),
  removes("bool xor(x, false)", bin("xor", 0), "bool"),
  removes("max(x, x)", (x) => node("max", [x, x])),
  removes("bool and(x, x)", (x) => node("and", [x, x]), "bool"),
  removes("x * 1 with a full constant of ones", (x) => node("mul", [x, cst(x.dtype, x.shape, [1, 1, 1, 1, 1, 1])])),
  // not identities on floats: -0 + 0 is +0, NaN * 0 is NaN, -0 - (-0) is +0
  keeps("float x + 0", bin("add", 0), { input: 1, const: 1, expand: 1, add: 1 }),
  keeps("float x - (-0)", bin("sub", -0), { input: 1, const: 1, expand: 1, sub: 1 }),
  keeps("x * 0", bin("mul", 0), { input: 1, const: 1, expand: 1, mul: 1 }),
  keeps("int and(x, 1) (makes 0/1)", bin("and", 1), { input: 1, const: 1, expand: 1, and: 1 }, "int32"),
  keeps("x * 1 with a constant that is not all ones", (x) => node("mul", [x, cst(x.dtype, x.shape, [1, 1, 1, 1, 1, 2])]), { input: 1, const: 1, mul: 1 }),
  // where
  removes("where(c, x, x)", (x) => node("where", [node("lt", [x, x]), x, x])),
  removes("where(true, x, y)", (x) => node("where", [splat(1, "bool", x.shape), x, node("exp", [x])])),
  keeps("where(false, x, y)", (x) => node("where", [splat(0, "bool", x.shape), x, node("exp", [x])]), { input: 1, exp: 1 }),
  // unary
  removes("neg(neg x)", (x) => node("neg", [node("neg", [x])])),
  removes("neg(neg x) on int8 (wraps both ways)", (x) => node("neg", [node("neg", [x])]), "int8"),
  removes("neg^4 x", (x) => node("neg", [node("neg", [node("neg", [node("neg", [x])])])])),
  removes("bool not(not x)", (x) => node("not", [node("not", [x])]), "bool"),
  keeps("float not(not x) (is a bool, not x)", (x) => node("not", [node("not", [x])]), { input: 1, not: 2 }),
  keeps("abs(abs x)", (x) => node("abs", [node("abs", [x])]), { input: 1, abs: 1 }),
  keeps("round(round x)", (x) => node("round", [node("round", [x])]), { input: 1, round: 1 }),
  removes("floor of an int", (x) => node("floor", [x]), "int32"),
  removes("abs of uint8", (x) => node("abs", [x]), "uint8"),
  // casts
  keeps("int8→int32→float32 = int8→float32", (x) => node("cast", [node("cast", [x], { to: "int32" })], { to: "float32" }), { input: 1, cast: 1 }, "int8"),
  removes("float16→float32→float16", (x) => node("cast", [node("cast", [x], { to: "float32" })], { to: "float16" }), "float16"),
  keeps("float32→int32→float32", (x) => node("cast", [node("cast", [x], { to: "int32" })], { to: "float32" }), { input: 1, cast: 2 }),
  keeps("int32→float32→int32", (x) => node("cast", [node("cast", [x], { to: "float32" })], { to: "int32" }), { input: 1, cast: 2 }, "int32"),
  // reductions
  removes("max over size-1 axes", (x) => node("reduce", [x], { fn: "max", axes: [0] }), "float32", [1, 3]),
  removes("prod over size-1 axes", (x) => node("reduce", [x], { fn: "prod", axes: [0, 2] }), "float32", [1, 3, 1]),
  removes("int sum over size-1 axes", (x) => node("reduce", [x], { fn: "sum", axes: [1] }), "int32", [3, 1]),
  keeps("float sum over size-1 axes (-0 + 0)", (x) => node("reduce", [x], { fn: "sum", axes: [0] }), { input: 1, reduce: 1 }, "float32", [1, 3]),
  keeps("max(max(x, 0), 1) = max(x, [0, 1])", (x) => node("reduce", [node("reduce", [x], { fn: "max", axes: [0] })], { fn: "max", axes: [1] }), { input: 1, reduce: 1 }),
  keeps("sum(sum(x)) (reassociates floats)", (x) => node("reduce", [node("reduce", [x], { fn: "sum", axes: [0] })], { fn: "sum", axes: [1] }), { input: 1, reduce: 2 }),
  // movement
  removes("permute∘permute = identity", (x) => node("permute", [node("permute", [x], { perm: [1, 2, 0] })], { perm: [2, 0, 1] }), "float32", [2, 3, 4]),
  keeps("permute∘permute = one permute", (x) => node("permute", [node("permute", [x], { perm: [1, 2, 0] })], { perm: [1, 0, 2] }), { input: 1, permute: 1 }, "float32", [2, 3, 4]),
  keeps("permute moving size-1 axes = reshape", (x) => node("permute", [x], { perm: [1, 0, 2] }), { input: 1, reshape: 1 }, "float32", [1, 3, 4]),
  keeps("reshape∘reshape∘reshape = one reshape", (x) => node("reshape", [node("reshape", [node("reshape", [x], {}, [6])], {}, [3, 2])], {}, [1, 6]), { input: 1, reshape: 1 }),
  removes("reshape∘reshape back to x", (x) => node("reshape", [node("reshape", [x], {}, [6])], {}, [2, 3])),
  keeps("expand∘expand = one expand", (x) => node("expand", [node("expand", [x], {}, [2, 3, 1])], {}, [2, 3, 5]), { input: 1, expand: 1 }, "float32", [1, 3, 1]),
  keeps("slice∘slice = one slice", (x) => node("slice", [node("slice", [x], { starts: [5, 1], steps: [-1, 2] }, [6, 2])], { starts: [1, 1], steps: [2, 1] }, [3, 1]), { input: 1, slice: 1 }, "float32", [6, 4]),
  keeps("constant pad∘pad with one value = one pad", (x) => node("pad", [node("pad", [x], { pads: [1, 0, 0, 2], mode: "constant", padValue: 7 })], { pads: [0, 1, 1, 0], mode: "constant", padValue: 7 }), { input: 1, pad: 1 }),
  keeps("constant pad∘pad with two values", (x) => node("pad", [node("pad", [x], { pads: [1, 0, 0, 2], mode: "constant", padValue: 7 })], { pads: [0, 1, 1, 0], mode: "constant", padValue: -0 }), { input: 1, pad: 2 }),
  keeps("edge pad∘pad = one pad", (x) => node("pad", [node("pad", [x], { pads: [1, 0, 0, 2], mode: "edge" })], { pads: [2, 1, 1, 0], mode: "edge" }), { input: 1, pad: 1 }),
  keeps("reflect pad∘pad", (x) => node("pad", [node("pad", [x], { pads: [1, 0, 0, 2], mode: "reflect" })], { pads: [1, 0, 0, 0], mode: "reflect" }), { input: 1, pad: 2 }),
  // the no-ops DCE removes
  removes("cast to the same dtype", (x) => node("cast", [x], { to: "float32" })),
  removes("pad of zeros", (x) => node("pad", [x], { pads: [0, 0, 0, 0] })),
];

describe("simplify", () => {
  for (const c of cases)
    it(c.name, async () => {
      const x = inp(0, c.dtype ?? "float32", c.shape ?? S);
      const g = buildGraph([x], [c.make(x)]);
      const s = simplify(g);
      expect(opCounts(s)).toEqual(c.after);
      expect(await sameResults(g, s)).toBe("");
    });

  it("folds reshape and permute of constants without an evaluator", () => {
    const c = cst("int64", [2, 3], [1, 2, 3, 4, 5, 6]);
    const g = buildGraph([], [node("permute", [c], { perm: [1, 0] }), node("reshape", [c], {}, [3, 2])]);
    const s = simplify(g);
    expect(s.nodes.every((n) => n.op === "const")).toBe(true);
    expect(s.outputs[0]!.shape).toEqual([3, 2]);
    expect(Array.from(toF64(s.outputs[0]!.attrs.value!))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(Array.from(toF64(s.outputs[1]!.attrs.value!))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("permutes 3-d constants like the backend does", async () => {
    const v = Array.from({ length: 24 }, (_, i) => i);
    const g = buildGraph([], [node("permute", [cst("float32", [2, 3, 4], v)], { perm: [2, 0, 1] })]);
    const s = simplify(g);
    expect(s.outputs[0]!.op).toBe("const");
    expect(await sameResults(g, s, 1)).toBe("");
  });

  it("collapses mixed chains in one run", async () => {
    const x = inp(0, "float32", [1, 4]);
    // reshape(permute(neg(neg(x * 1)), moving a size-1 axis)) → reshape(x)
    const y = node("reshape", [node("permute", [node("neg", [node("neg", [node("mul", [x, splat(1, "float32", [1, 4])])])])], { perm: [1, 0] })], {}, [2, 2]);
    const g = buildGraph([x], [y]);
    const s = simplify(g);
    expect(g.nodes.length).toBe(9);
    expect(opCounts(s)).toEqual({ input: 1, reshape: 1 });
    expect(await sameResults(g, s)).toBe("");
  });

  it("keeps an inner node another user still needs", async () => {
    const x = inp(0, "int8", [3]);
    const mid = node("cast", [x], { to: "int32" });
    const g = buildGraph([x], [node("cast", [mid], { to: "float32" }), node("neg", [mid])]);
    const s = simplify(g);
    expect(opCounts(s)).toEqual({ input: 1, cast: 2, neg: 1 });
    expect(s.outputs[0]!.inputs[0]).toBe(x);
    expect(await sameResults(g, s)).toBe("");
  });

  it("knows which casts are lossless", () => {
    expect(losslessCast("int8", "float16")).toBe(true);
    expect(losslessCast("uint8", "int8")).toBe(false);
    expect(losslessCast("int32", "float32")).toBe(false);
    expect(losslessCast("bool", "float16")).toBe(true);
    expect(losslessCast("float32", "float16")).toBe(false);
  });
});
