import { describe, it, expect } from "vitest";
import { jit, tensor, add, mul, sub, div, exp, relu, cast, TraceError, type Tensor, type OptLevel } from "../lib/index.js";
import { printGraph } from "../jit/graph.js";
import { toF64 } from "../jit/buffer.js";
import { ensureEvaluator } from "./passes/helpers.js";

// folding needs the js backend's host evaluator (registered by the backend, or by the helper)
ensureEvaluator();

const opts = { backend: "js" } as const;
const values = async (t: Tensor): Promise<number[]> => Array.from(toF64(await t.buffer()));

describe("jit cache", () => {
  it("traces once per signature: same shapes and dtypes hit", async () => {
    let traces = 0;
    const f = jit((x: Tensor) => { traces++; return x.mul(2).add(1); }, opts);
    expect(await values(f(tensor([1, 2, 3])))).toEqual([3, 5, 7]);
    expect(await values(f(tensor([4, 5, 6])))).toEqual([9, 11, 13]);
    expect(f.cacheSize).toBe(1);
    expect(traces).toBe(1);
  });

  it("misses on a new shape or dtype", async () => {
    const f = jit((x: Tensor) => x.add(1), opts);
    f(tensor([1, 2]));
    f(tensor([1, 2, 3]));
    expect(f.cacheSize).toBe(2);
    const y = f(tensor([1, 2], { dtype: "int32" }));
    expect(f.cacheSize).toBe(3);
    expect(y.dtype).toBe("int32");
    expect(await values(y)).toEqual([2, 3]);
    f(tensor([[1, 2]]));
    expect(f.cacheSize).toBe(4);
    f(tensor([7, 8]));
    expect(f.cacheSize).toBe(4);
    f.clear();
    expect(f.cacheSize).toBe(0);
  });

  it("makes the values of static arguments part of the key", async () => {
    const f = jit((x: Tensor, k: number, o: { neg: boolean }) => (o.neg ? x.mul(-k) : x.mul(k)), opts);
    const x = tensor([1, 2]);
    expect(await values(f(x, 2, { neg: false }))).toEqual([2, 4]);
    expect(await values(f(x, 3, { neg: false }))).toEqual([3, 6]);
    expect(await values(f(x, 3, { neg: true }))).toEqual([-3, -6]);
    expect(f.cacheSize).toBe(3);
    expect(await values(f(tensor([5, 6]), 2, { neg: false }))).toEqual([10, 12]);
    expect(f.cacheSize).toBe(3);
  });

  it("takes and returns nested arrays and objects of tensors", async () => {
    const f = jit((args: { a: Tensor; bs: [Tensor, Tensor] }) => ({
      sum: add(args.a, args.bs[0]),
      rest: [mul(args.bs[1], 2), args.a],
      n: 7,
    }), opts);
    const out = f({ a: tensor([1, 2]), bs: [tensor([10, 20]), tensor([3, 4])] });
    expect(await values(out.sum)).toEqual([11, 22]);
    expect(await values(out.rest[0]!)).toEqual([6, 8]);
    expect(await values(out.rest[1]!)).toEqual([1, 2]);
    expect(out.n).toBe(7);
    f({ a: tensor([0, 0]), bs: [tensor([0, 0]), tensor([0, 0])] });
    expect(f.cacheSize).toBe(1);
  });

  it("turns captured tensors into constants", async () => {
    const w = tensor([0.5, -2, 3]);
    const f = jit((x: Tensor) => x.mul(w), opts);
    const x = tensor([2, 2, 2]);
    expect(await values(f(x))).toEqual([1, -4, 6]);
    const e = f.explain(x);
    const consts = e.graph.nodes.filter((n) => n.op === "const");
    expect(consts.length).toBe(1);
    expect(Array.from(toF64(consts[0]!.attrs.value!))).toEqual([0.5, -2, 3]);
    expect(e.traced.nodes.some((n) => n.op === "const")).toBe(true);
  });

  it("folds expressions of captured tensors into one constant", async () => {
    const w = tensor([1, 2, 3]);
    const f = jit((x: Tensor) => x.add(w.mul(2).exp()), { ...opts, opt: 1 });
    const e = f.explain(tensor([0, 0, 0]));
    expect(e.traced.nodes.some((n) => n.op === "exp")).toBe(true);
    expect(e.graph.nodes.map((n) => n.op).sort()).toEqual(["add", "const", "input"]);
    const ref = jit((x: Tensor) => x.add(w.mul(2).exp()), { ...opts, opt: 0 });
    expect(await values(f(tensor([1, 1, 1])))).toEqual(await values(ref(tensor([1, 1, 1]))));
  });

  it("gives exactly the same results at opt 0, 1, 2 and 3", async () => {
    const w = tensor([[1, -1, 0.5], [2, 0, -3]]);
    const fn = (x: Tensor, y: Tensor) => {
      const a = sub(mul(add(x, 0), 1), y).div(2);
      const b = relu(exp(cast(cast(x, "int32"), "float32")).mul(w));
      const c = div(a, 1).add(b).add(w.mul(0));
      return [c, cast(c, "int8"), a.mul(a)];
    };
    const x = tensor([[0.5, -0, 3], [NaN, -1.5, 100]]), y = tensor([[-0, 0, Infinity], [1, -0, -2]]);
    const results: number[][][] = [];
    for (const opt of [0, 1, 2, 3] as OptLevel[]) {
      const f = jit(fn, { ...opts, opt });
      results.push(await Promise.all(f(x, y).map(values)));
    }
    for (const r of results.slice(1)) {
      expect(r.length).toBe(results[0]!.length);
      r.forEach((out, i) => out.forEach((v, j) => expect(Object.is(v, results[0]![i]![j])).toBe(true)));
    }
  });

  it("throws TraceError synchronously when values are read inside", () => {
    const reads: ((t: Tensor) => unknown)[] = [(t) => t.data(), (t) => t.item(), (t) => t.toArray(), (t) => t.buffer()];
    for (const read of reads) {
      const f = jit((x: Tensor) => { read(x.add(1)); return x; }, opts);
      expect(() => f(tensor([1]))).toThrow(TraceError);
    }
  });

  it("rejects async functions with a TraceError", () => {
    const f = jit(async (x: Tensor) => x.add(1), opts);
    expect(() => f(tensor([1]))).toThrow(TraceError);
    expect(() => f(tensor([1]))).toThrow(/Promise/);
  });

  it("explains with the cache key and the graph", () => {
    const f = jit((x: Tensor) => x.mul(1).add(2), opts);
    const x = tensor([1, 2]);
    const e = f.explain(x);
    const s = e.toString();
    expect(s).toContain(e.key);
    expect(s).toContain(printGraph(e.graph));
    expect(s).toContain("float32[2]");
    expect(e.passes.length).toBeGreaterThan(0);
    expect(e.graph.nodes.some((n) => n.op === "mul")).toBe(false); // x * 1 is gone at opt 2
    expect(f.cacheSize).toBe(1);
  });
});
