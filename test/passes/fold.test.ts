import { describe, it, expect, afterEach } from "vitest";
import { node, constNode, type Node } from "../../jit/ir.js";
import { buildGraph } from "../../jit/graph.js";
import { fromF64, toF64, type HostBuffer } from "../../jit/buffer.js";
import { fold, makeFoldPass, foldWith, worthFolding, setConstEvaluator, getConstEvaluator, DEFAULT_FOLD_LIMITS, type ConstEvaluator } from "../../jit/passes/fold.js";
import { ensureEvaluator, inp, cst, splat, opCounts, sameResults, runGraph } from "./helpers.js";

const evaluate = ensureEvaluator();
afterEach(() => setConstEvaluator(evaluate));

const constValues = (n: Node): number[] => Array.from(toF64(n.attrs.value!));

describe("fold", () => {
  it("folds a chain of constants into one constant, bottom-up in one run", async () => {
    const c = cst("float32", [3], [0, 1, -2]);
    const y = node("add", [node("exp", [c]), cst("float32", [3], [1, 1, 1])]);
    const g = buildGraph([], [y]);
    expect(g.nodes.length).toBe(4);
    const f = fold(g);
    expect(f.nodes.length).toBe(1);
    expect(f.outputs[0]!.op).toBe("const");
    const [ref] = await runGraph(g, []);
    expect(constValues(f.outputs[0]!)).toEqual(Array.from(toF64(ref!)));
  });

  it("folds the constant part of a graph and keeps what depends on inputs", async () => {
    const x = inp(0, "float32", [2]);
    const w = node("neg", [cst("float32", [2], [3, -4])]);
    const g = buildGraph([x], [node("mul", [x, w])]);
    const f = fold(g);
    expect(opCounts(g)).toEqual({ input: 1, const: 1, neg: 1, mul: 1 });
    expect(opCounts(f)).toEqual({ input: 1, const: 1, mul: 1 });
    expect(await sameResults(g, f)).toBe("");
  });

  it("never folds placeholders and pending results", () => {
    const x = inp(0, "float32", [2]);
    const e = node("external", [], { thunk: async () => fromF64("float32", [2], [1, 2]), to: "float32" }, [2]);
    const g = buildGraph([x], [node("add", [x, e])]);
    const f = fold(g);
    expect(f.nodes.length).toBe(g.nodes.length);
    expect(f.nodes.every((n, i) => n === g.nodes[i])).toBe(true);
  });

  it("keeps broadcasts lazy: an expand is never folded, whatever its size", () => {
    const big = splat(2, "float32", [100, 100]);
    const small = splat(2, "float32", [4, 4]);
    const g = buildGraph([], [big, small]);
    const f = fold(g);
    for (const o of f.outputs) {
      expect(o.op).toBe("expand");
      expect(o.inputs[0]!.op).toBe("const"); // the reshape of the scalar did fold
    }
  });

  it("computes elementwise ops of broadcast constants on the small constants", async () => {
    const y = node("exp", [node("mul", [splat(2, "float32", [300, 300]), splat(3, "float32", [300, 300])])]);
    const g = buildGraph([], [y]);
    const f = fold(g);
    expect(opCounts(f)).toEqual({ const: 1, expand: 1 });
    expect(f.outputs[0]!.inputs[0]!.shape).toEqual([1, 1]);
    expect(constValues(f.outputs[0]!.inputs[0]!)).toEqual([Math.fround(Math.exp(6))]);
    expect(await sameResults(g, f, 1)).toBe("");
  });

  it("treats an expanded constant as a constant input, within the growth limit", async () => {
    const w = cst("float32", [16, 8], Array.from({ length: 128 }, (_, i) => i - 60));
    const g = buildGraph([], [node("mul", [w, splat(0.5, "float32", [16, 8])])]);
    const f = fold(g);
    expect(opCounts(f)).toEqual({ const: 1 });
    expect(await sameResults(g, f, 1)).toBe("");
    // an outer sum of two broadcast vectors would be 1000x their bytes: it stays
    const a = node("expand", [cst("float32", [1, 1000], new Float64Array(1000))], {}, [1000, 1000]);
    const b = node("expand", [cst("float32", [1000, 1], new Float64Array(1000))], {}, [1000, 1000]);
    const outer = buildGraph([], [node("add", [a, b])]);
    expect(fold(outer).outputs[0]!.op).toBe("add");
  });

  it("folds a large output when it is not much larger than its inputs", () => {
    const a = cst("float32", [5000], new Float64Array(5000).fill(1.5));
    const g = buildGraph([], [node("neg", [a])]);
    expect(fold(g).outputs[0]!.op).toBe("const");
    const pad = (after: number) => node("pad", [a], { pads: [0, after], mode: "constant", padValue: 0 });
    expect(worthFolding(pad(5000), 20000)).toBe(true); // 2x the bytes
    expect(worthFolding(pad(5001), 20000)).toBe(false);
    expect(fold(buildGraph([], [pad(5001)])).outputs[0]!.op).toBe("pad");
  });

  it("leaves heavy host work (big matmuls of constants) to the backend", () => {
    const a = cst("float32", [8, 8], new Float64Array(64).fill(1));
    const g = buildGraph([], [node("matmul", [a, a])]);
    expect(makeFoldPass(evaluate, { ...DEFAULT_FOLD_LIMITS, maxWork: 511 })(g).outputs[0]!.op).toBe("matmul"); // 8*8*8 = 512
    expect(makeFoldPass(evaluate, { ...DEFAULT_FOLD_LIMITS, maxWork: 512 })(g).outputs[0]!.op).toBe("const");
  });

  it("keeps a node whose evaluation fails, so the error surfaces at run time as at opt 0", async () => {
    const data = cst("float32", [3], [1, 2, 3]);
    const idx = cst("int32", [1], [7]); // out of range
    const g = buildGraph([], [node("gather", [data, idx], { axis: 0 })]);
    const f = fold(g);
    expect(f.outputs[0]!.op).toBe("gather");
    await expect(runGraph(f, [])).rejects.toThrow(/out of range/);
  });

  it("uses an explicit evaluator with makeFoldPass", () => {
    const seen: string[] = [];
    const spy: ConstEvaluator = (n, ins) => { seen.push(n.op); return evaluate(n, ins); };
    const g = buildGraph([], [node("sqrt", [node("abs", [cst("float32", [2], [-4, 9])])])]);
    const f = makeFoldPass(spy)(g);
    expect(seen).toEqual(["abs", "sqrt"]);
    expect(constValues(f.outputs[0]!)).toEqual([2, 3]);
  });

  it("rejects an evaluator that returns the wrong shape", () => {
    const bad: ConstEvaluator = () => fromF64("float32", [1], [0]);
    const g = buildGraph([], [node("neg", [cst("float32", [2], [1, 2])])]);
    expect(() => foldWith(g, bad)).toThrow(/internal/);
  });

  it("does nothing without a registered evaluator", () => {
    setConstEvaluator(undefined);
    expect(getConstEvaluator()).toBeUndefined();
    const g = buildGraph([], [node("neg", [cst("float32", [2], [1, 2])])]);
    expect(fold(g)).toBe(g);
  });

  it("folds int64 and bool results exactly", async () => {
    const a = cst("float32", [2, 3], [1, 5, 2, NaN, 0, -1]);
    const am = node("argreduce", [a], { fn: "argmax", axis: 1 });
    const b = node("isnan", [a]);
    const g = buildGraph([], [am, b]);
    const f = fold(g);
    expect(f.nodes.every((n) => n.op === "const")).toBe(true);
    expect(f.outputs[0]!.dtype).toBe("int64");
    expect(Array.from(f.outputs[0]!.attrs.value!.data as BigInt64Array)).toEqual([1n, 0n]);
    expect(constValues(f.outputs[1]!)).toEqual([0, 0, 0, 1, 0, 0]);
    expect(await sameResults(g, f, 1)).toBe("");
  });

  it("keeps the call site of the node it replaces", () => {
    const n = node("neg", [constNode(fromF64("float32", [1], [1]))]);
    const g = buildGraph([], [n]);
    const out: HostBuffer = fold(g).outputs[0]!.attrs.value!;
    expect(Array.from(toF64(out))).toEqual([-1]);
    expect(fold(g).outputs[0]!.site).toBe(n.site);
  });
});
