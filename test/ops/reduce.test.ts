import { describe, it, expect } from "vitest";
import {
  tensor, full, zeros, arange, jit, Tensor, ShapeError, ValueError, type NestedArray, type DType,
  sum, mean, max, min, prod, argmax, argmin, variance, std, logsumexp, cumsum,
} from "../../lib/index.js";

// ---------------------------------------------------------------- helpers

const flat = (x: NestedArray): (number | boolean)[] => (Array.isArray(x) ? x.flatMap(flat) : [x]);

async function expectClose(t: Tensor, shape: number[], expected: readonly number[], rtol = 1e-6, atol = 1e-6): Promise<void> {
  expect(t.shape).toEqual(shape);
  const g = flat(await t.toArray()).map(Number);
  expect(g.length).toBe(expected.length);
  g.forEach((v, i) => {
    const w = expected[i]!;
    if (Number.isNaN(w) || !Number.isFinite(w)) { expect(v, `element ${i}`).toBe(w); return; }
    expect(Math.abs(v - w), `element ${i}: got ${v}, expected ${w}`).toBeLessThanOrEqual(atol + rtol * Math.abs(w));
  });
}

/**
 * Reference reduction over float64: groups the elements of a row-major array of `shape` by
 * their coordinates off `axes` and folds each group with `fold` (given the group's values).
 * Returns the values in row-major order of the kept axes.
 */
function reduceRef(data: readonly number[], shape: readonly number[], axes: readonly number[], fold: (vs: number[]) => number): number[] {
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const outSize = kept.reduce((s, i) => s * shape[i]!, 1);
  const groups: number[][] = Array.from({ length: outSize }, () => []);
  const coord = new Array<number>(shape.length).fill(0);
  for (let f = 0; f < data.length; f++) {
    let o = 0;
    for (const i of kept) o = o * shape[i]! + coord[i]!;
    groups[o]!.push(data[f]!);
    for (let d = shape.length - 1; d >= 0; d--) { if (++coord[d]! < shape[d]!) break; coord[d] = 0; }
  }
  return groups.map(fold);
}

const S = (vs: number[]) => vs.reduce((a, b) => a + b, 0);
const P = (vs: number[]) => vs.reduce((a, b) => a * b, 1);
const M = (vs: number[]) => S(vs) / vs.length;
const VAR = (c: number) => (vs: number[]) => { const m = M(vs); return S(vs.map((v) => (v - m) ** 2)) / Math.max(vs.length - c, 0); };
const LSE = (vs: number[]) => Math.log(S(vs.map(Math.exp)));

// a [2, 3, 4] tensor of distinct, unevenly spread values (exact in float32)
const SHAPE = [2, 3, 4];
const DATA = Array.from({ length: 24 }, (_, i) => ((i * 7) % 24) / 4 - 2.5);
const X = () => tensor(DATA, { shape: SHAPE });

const AXES: [number | number[] | undefined, number[]][] = [
  [undefined, [0, 1, 2]], [0, [0]], [1, [1]], [2, [2]], [-1, [2]], [-3, [0]], [[0, 2], [0, 2]], [[-1, 0], [0, 2]], [[1, 2], [1, 2]], [[], []],
];
const outShape = (axes: number[], keep: boolean) => (keep ? SHAPE.map((d, i) => (axes.includes(i) ? 1 : d)) : SHAPE.filter((_, i) => !axes.includes(i)));

// ---------------------------------------------------------------- sum / mean / max / min / prod

describe("sum, mean, max, min, prod against a float64 reference", () => {
  const ops: [string, (a: Tensor, axis?: number | number[], keep?: boolean) => Tensor, (vs: number[]) => number][] = [
    ["sum", sum, S], ["mean", mean, M], ["max", max, (vs) => Math.max(...vs)], ["min", min, (vs) => Math.min(...vs)], ["prod", prod, P],
  ];
  for (const [name, op, fold] of ops)
    it(name, async () => {
      for (const [axis, axes] of AXES)
        for (const keep of [false, true]) {
          const want = reduceRef(DATA, SHAPE, axes, fold);
          await expectClose(op(X(), axis, keep), outShape(axes, keep), want, 1e-6, 1e-6);
          const m = (X() as unknown as Record<string, (a?: number | number[], k?: boolean) => Tensor>)[name]!.call(X(), axis, keep);
          await expectClose(m, outShape(axes, keep), want, 1e-6, 1e-6);
        }
    });

  it("defaults: all axes, keepdims false → 0-d", async () => {
    const s = X().sum();
    expect(s.shape).toEqual([]);
    expect(await s.item()).toBeCloseTo(S(DATA), 5);
    expect(X().sum(undefined, true).shape).toEqual([1, 1, 1]);
  });

  it("0-d tensors reduce to themselves (axis 0 allowed)", async () => {
    const z = tensor(3.5);
    for (const op of [sum, mean, max, min, prod]) {
      expect(op(z).shape).toEqual([]);
      expect(await op(z).item()).toBe(3.5);
      expect(await op(z, 0).item()).toBe(3.5);
      expect(await op(z, -1).item()).toBe(3.5);
      expect(op(z, undefined, true).shape).toEqual([]);
    }
    expect(() => sum(z, 1)).toThrow(ShapeError);
  });

  it("empty tensors: sum 0, prod 1, mean NaN; max/min need a non-empty axis", async () => {
    const e = zeros([0, 3]);
    await expectClose(sum(e, 0), [3], [0, 0, 0]);
    await expectClose(prod(e, 0), [3], [1, 1, 1]);
    await expectClose(mean(e, 0), [3], [NaN, NaN, NaN]);
    await expectClose(sum(e, 1), [0], []);
    await expectClose(sum(e), [], [0]);
    await expectClose(sum(e, 1, true), [0, 1], []);
    await expectClose(max(e, 1), [0], []); // nothing to compute
    expect(() => max(e, 0)).toThrow(ValueError);
    expect(() => min(e)).toThrow(/min: cannot take the min over an empty axis/);
  });

  it("NaN and inf", async () => {
    const x = tensor([[1, NaN, 3], [Infinity, 2, -Infinity]]);
    await expectClose(max(x, 1), [2], [NaN, Infinity]);
    await expectClose(min(x, 1), [2], [NaN, -Infinity]);
    await expectClose(sum(x, 1), [2], [NaN, NaN]);
    await expectClose(sum(x, 0), [3], [Infinity, NaN, -Infinity]);
    await expectClose(mean(tensor([1, Infinity])), [], [Infinity]);
  });
});

// ---------------------------------------------------------------- dtypes

describe("reduction dtypes", () => {
  it("sum/prod of bool, int8, uint8 accumulate into int32", async () => {
    const b = sum(tensor([true, true, false, true]));
    expect(b.dtype).toBe("int32");
    expect(await b.item()).toBe(3);
    const u = sum(tensor([200, 200, 200], { dtype: "uint8" }));
    expect(u.dtype).toBe("int32");
    expect(await u.item()).toBe(600);
    const i8 = tensor([100, 100, -128], { dtype: "int8" });
    expect(await sum(i8).item()).toBe(72);
    expect(await prod(i8).item()).toBe(-1280000);
    expect(prod(i8).dtype).toBe("int32");
    expect(await sum(tensor([[true, false], [true, true]]), 0).toArray()).toEqual([2, 1]);
    expect(sum(tensor([true]), []).dtype).toBe("int32");
  });

  it("int32/int64 keep their dtype; int32 wraps", async () => {
    const w = sum(tensor([2147483647, 1], { dtype: "int32" }));
    expect(w.dtype).toBe("int32");
    expect(await w.item()).toBe(-2147483648);
    expect(await prod(tensor([65536, 65536], { dtype: "int32" })).item()).toBe(0);
    const l = sum(tensor([2147483647, 1], { dtype: "int64" }));
    expect(l.dtype).toBe("int64");
    expect(await l.item()).toBe(2147483648);
  });

  it("max/min keep the dtype, bool included", async () => {
    const b = tensor([[false, true], [false, false]]);
    expect(max(b).dtype).toBe("bool");
    expect(await max(b, 1).toArray()).toEqual([true, false]);
    expect(await min(b, 0).toArray()).toEqual([false, false]);
    const u = tensor([3, 250, 7], { dtype: "uint8" });
    expect(max(u).dtype).toBe("uint8");
    expect(await max(u).item()).toBe(250);
    expect(await min(tensor([-3, 4], { dtype: "int8" })).item()).toBe(-3);
  });

  it("mean/var/std/logsumexp of integers and bool → float32", async () => {
    for (const d of ["int32", "int64", "int8", "uint8", "bool"] as DType[]) {
      const t = full([2, 2], 1, { dtype: d });
      for (const op of [mean, variance, std, logsumexp]) expect(op(t).dtype).toBe("float32");
    }
    expect(await mean(tensor([1, 2], { dtype: "int32" })).item()).toBe(1.5); // no integer truncation
    expect(await mean(tensor([true, false, false, false])).item()).toBe(0.25);
    expect(await variance(tensor([1, 2, 3, 4], { dtype: "int8" })).item()).toBe(1.25);
  });

  it("float16 keeps its dtype but accumulates without intermediate overflow", async () => {
    const h = tensor([60000, 10000, -60000], { dtype: "float16" });
    const s = sum(h);
    expect(s.dtype).toBe("float16");
    expect(await s.item()).toBe(10000);
    const m = mean(tensor([60000, 60000], { dtype: "float16" }));
    expect(m.dtype).toBe("float16");
    expect(await m.item()).toBe(60000);
    expect(await variance(tensor([60000, 50000], { dtype: "float16" })).item()).toBe(Infinity); // 2.5e7 > float16 max
    expect(await sum(tensor([0.1, 0.1, 0.1], { dtype: "float16" })).item()).toBe(0.2998046875); // one rounding of the float32 sum
    const c = cumsum(tensor([60000, 10000, -60000], { dtype: "float16" }), 0);
    expect(c.dtype).toBe("float16");
    expect(await c.toArray()).toEqual([60000, Infinity, 10000]);
    expect(max(h).dtype).toBe("float16");
  });
});

// ---------------------------------------------------------------- argmax / argmin

describe("argmax / argmin", () => {
  const x = () => tensor([[1, 5, 5, 0], [7, 2, -1, 7], [3, 3, 3, 3]]);

  it("along an axis, negative axes, keepdims; int64 result", async () => {
    const a = argmax(x(), 1);
    expect(a.dtype).toBe("int64");
    expect(await a.toArray()).toEqual([1, 0, 0]); // ties: first occurrence
    expect(await argmin(x(), 1).toArray()).toEqual([3, 2, 0]);
    expect(await argmax(x(), 0).toArray()).toEqual([1, 0, 0, 1]);
    expect(await argmin(x(), -2).toArray()).toEqual([0, 1, 1, 0]);
    const k = argmax(x(), -1, true);
    expect(k.shape).toEqual([3, 1]);
    expect(await k.toArray()).toEqual([[1], [0], [0]]);
    expect(await x().argmax(1).toArray()).toEqual([1, 0, 0]);
    expect(await x().argmin(0, true).toArray()).toEqual([[0, 1, 1, 0]]);
  });

  it("without an axis: index into the flattened tensor", async () => {
    const a = argmax(x());
    expect(a.shape).toEqual([]);
    expect(await a.item()).toBe(4);
    expect(await argmin(x()).item()).toBe(6);
    const k = x().argmax(undefined, true);
    expect(k.shape).toEqual([1, 1]);
    expect(await k.toArray()).toEqual([[4]]);
  });

  it("against a reference on a 3-d tensor", async () => {
    const arg = (better: (a: number, b: number) => boolean) => (vs: number[]) => vs.reduce((bi, v, i) => (better(v, vs[bi]!) ? i : bi), 0);
    for (const axis of [0, 1, 2, -1]) {
      const ax = axis < 0 ? axis + 3 : axis;
      expect(flat(await argmax(X(), axis).toArray())).toEqual(reduceRef(DATA, SHAPE, [ax], arg((a, b) => a > b)));
      expect(flat(await argmin(X(), axis).toArray())).toEqual(reduceRef(DATA, SHAPE, [ax], arg((a, b) => a < b)));
    }
  });

  it("NaN wins (the first one), bool and int inputs work", async () => {
    expect(await argmax(tensor([1, NaN, 5, NaN])).item()).toBe(1);
    expect(await argmin(tensor([1, NaN, -5])).item()).toBe(1);
    expect(await argmax(tensor([false, true, true])).item()).toBe(1);
    expect(await argmin(tensor([5, -3, -3], { dtype: "int32" })).item()).toBe(1);
  });

  it("0-d and empty tensors", async () => {
    expect(await argmax(tensor(4)).item()).toBe(0);
    expect(await argmax(tensor(4), 0).item()).toBe(0);
    expect(argmax(zeros([0, 3]), 1).shape).toEqual([0]);
    expect(() => argmax(zeros([0, 3]), 0)).toThrow(ValueError);
    expect(() => argmin(zeros([0, 3]))).toThrow(/argmin: cannot take the argmin of an empty tensor/);
  });

  it("reject several axes", () => {
    expect(() => argmax(x(), [0, 1] as unknown as number)).toThrow(ValueError);
    expect(() => argmax(x(), 2)).toThrow(ShapeError);
    expect(() => argmax(x(), 2)).toThrow(/argmax: axis 2 is out of range for a tensor of rank 2/);
  });
});

// ---------------------------------------------------------------- variance / std / logsumexp

describe("variance / std", () => {
  it("against a two-pass reference, with correction and keepdims", async () => {
    for (const [axis, axes] of AXES)
      for (const keep of [false, true])
        for (const c of [0, 1]) {
          if (axes.length === 0 && c === 1) continue; // N - 1 = 0 → divide by zero (tested below)
          const v = reduceRef(DATA, SHAPE, axes, VAR(c));
          await expectClose(variance(X(), axis, keep, c), outShape(axes, keep), v, 2e-6, 1e-6);
          await expectClose(X().var(axis, keep, c), outShape(axes, keep), v, 2e-6, 1e-6);
          await expectClose(std(X(), axis, keep, c), outShape(axes, keep), v.map(Math.sqrt), 2e-6, 1e-6);
          await expectClose(X().std(axis, keep, c), outShape(axes, keep), v.map(Math.sqrt), 2e-6, 1e-6);
        }
  });

  it("known values", async () => {
    expect(await variance(tensor([1, 2, 3, 4])).item()).toBe(1.25);
    expect(await std(tensor([1, 2, 3, 4]), 0, false, 1).item()).toBeCloseTo(Math.sqrt(5 / 3), 6);
    expect(await tensor([[1, 2], [3, 4]]).var(0, false, 1).toArray()).toEqual([2, 2]);
    // numerically stable: a large offset does not swamp the spread
    expect(await variance(tensor([1e4 + 1, 1e4 + 2, 1e4 + 3])).item()).toBeCloseTo(2 / 3, 5);
  });

  it("correction ≥ N divides by zero (inf, or NaN for zero spread); empty gives NaN", async () => {
    expect(await variance(tensor([1, 2]), 0, false, 2).item()).toBe(Infinity);
    expect(await variance(tensor([3]), 0, false, 1).item()).toBeNaN();
    await expectClose(variance(zeros([0, 2]), 0), [2], [NaN, NaN]);
    expect(await std(tensor(2)).item()).toBe(0);
  });

  it("bad correction is a ValueError", () => {
    expect(() => variance(X(), 0, false, NaN)).toThrow(ValueError);
    expect(() => std(X(), 0, false, "1" as unknown as number)).toThrow(/std: correction must be a finite number/);
  });
});

describe("logsumexp", () => {
  it("matches log(sum(exp)) over any axes", async () => {
    for (const [axis, axes] of AXES)
      for (const keep of [false, true])
        await expectClose(logsumexp(X(), axis, keep), outShape(axes, keep), reduceRef(DATA, SHAPE, axes, LSE), 2e-6, 1e-6);
    await expectClose(X().logsumexp(-1), [2, 3], reduceRef(DATA, SHAPE, [2], LSE), 2e-6);
  });

  it("is stabilized by the max and handles infinite rows", async () => {
    const x = tensor([[1000, 1000], [-1000, -1000], [-Infinity, -Infinity], [Infinity, 1], [-Infinity, 0], [NaN, 1]]);
    await expectClose(logsumexp(x, 1), [6], [1000 + Math.LN2, -1000 + Math.LN2, -Infinity, Infinity, 0, NaN], 1e-6);
    expect(await logsumexp(tensor([0, 0])).item()).toBeCloseTo(Math.LN2, 6);
  });

  it("empty sums give -inf; integers give float32", async () => {
    await expectClose(logsumexp(zeros([0, 2]), 0), [2], [-Infinity, -Infinity]);
    const i = logsumexp(tensor([1, 2, 3], { dtype: "int32" }));
    expect(i.dtype).toBe("float32");
    expect(await i.item()).toBeCloseTo(LSE([1, 2, 3]), 5);
  });
});

// ---------------------------------------------------------------- cumsum

describe("cumsum", () => {
  const ref = (vs: number[], exclusive: boolean, reverse: boolean) => {
    const src = reverse ? [...vs].reverse() : vs;
    let acc = 0;
    const out = src.map((v) => { const before = acc; acc += v; return exclusive ? before : acc; });
    return reverse ? out.reverse() : out;
  };

  it("1-d with every option", async () => {
    const vs = [1, 2, 3, 4];
    for (const exclusive of [false, true])
      for (const reverse of [false, true])
        expect(await cumsum(tensor(vs), 0, { exclusive, reverse }).toArray()).toEqual(ref(vs, exclusive, reverse));
    expect(await cumsum(tensor(vs), 0).toArray()).toEqual([1, 3, 6, 10]);
    expect(await cumsum(tensor(vs), -1, { exclusive: true }).toArray()).toEqual([0, 1, 3, 6]);
    expect(await tensor(vs).cumsum(0, { reverse: true }).toArray()).toEqual([10, 9, 7, 4]);
  });

  it("along each axis of a 2-d tensor", async () => {
    const m = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(await cumsum(m, 0).toArray()).toEqual([[1, 2, 3], [5, 7, 9]]);
    expect(await cumsum(m, 1).toArray()).toEqual([[1, 3, 6], [4, 9, 15]]);
    expect(await m.cumsum(-1, { exclusive: true, reverse: true }).toArray()).toEqual([[5, 3, 0], [11, 6, 0]]);
    expect(cumsum(m, 0).shape).toEqual([2, 3]);
  });

  it("dtypes: bool/int8/uint8 → int32, int32 wraps, floats keep", async () => {
    const b = cumsum(tensor([true, true, false, true]), 0);
    expect(b.dtype).toBe("int32");
    expect(await b.toArray()).toEqual([1, 2, 2, 3]);
    expect(await cumsum(tensor([200, 100], { dtype: "uint8" }), 0).toArray()).toEqual([200, 300]);
    expect(await cumsum(tensor([2147483647, 1], { dtype: "int32" }), 0).toArray()).toEqual([2147483647, -2147483648]);
    expect(cumsum(tensor([1.5]), 0).dtype).toBe("float32");
    expect(await cumsum(tensor([1, NaN, 2]), 0).toArray()).toEqual([1, NaN, NaN]);
  });

  it("0-d and empty tensors", async () => {
    expect(await cumsum(tensor(5), 0).item()).toBe(5);
    expect(cumsum(tensor(5), 0).shape).toEqual([]);
    expect(await cumsum(tensor(5), 0, { exclusive: true }).item()).toBe(0);
    expect(await cumsum(tensor(5), -1).item()).toBe(5);
    expect(await argmin(tensor(5), -1).item()).toBe(0);
    expect(cumsum(zeros([0, 3]), 0).shape).toEqual([0, 3]);
    expect(cumsum(zeros([0, 3]), 1).shape).toEqual([0, 3]);
  });

  it("argument errors", () => {
    expect(() => cumsum(tensor([1, 2]), 1)).toThrow(ShapeError);
    expect(() => cumsum(tensor([1, 2]), 1)).toThrow(/cumsum: axis 1 is out of range/);
    expect(() => cumsum(tensor([1, 2]), undefined as unknown as number)).toThrow(ValueError);
    expect(() => cumsum(tensor([1, 2]), 0, { exclusive: 1 as unknown as boolean })).toThrow(ValueError);
  });
});

// ---------------------------------------------------------------- errors and jit

describe("axis errors", () => {
  it("out-of-range axes name the op, the axis and the user's line", () => {
    let err: unknown;
    try { sum(X(), 3); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ShapeError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^sum: axis 3 is out of range for a tensor of rank 3/);
    expect(msg).toContain("reduce.test.ts");
    expect(() => mean(X(), -4)).toThrow(/mean: axis -4/);
    expect(() => max(X(), [0, 5])).toThrow(/max: axis 5/);
    expect(() => variance(X(), 1.5)).toThrow(ShapeError);
    expect(() => logsumexp(X(), 7)).toThrow(/logsumexp/);
  });

  it("repeated axes and malformed arguments", () => {
    expect(() => sum(X(), [1, -2])).toThrow(ShapeError);
    expect(() => sum(X(), [1, -2])).toThrow(/sum: axis -2 is repeated/);
    expect(() => prod(X(), "0" as unknown as number)).toThrow(ValueError);
    expect(() => min(X(), [0, "1"] as unknown as number[])).toThrow(ValueError);
    expect(() => sum(X(), 0, 1 as unknown as boolean)).toThrow(/sum: keepdims must be a boolean/);
  });
});

describe("under jit", () => {
  it("gives the eager results", async () => {
    const f = jit((t: Tensor) => [t.sum(1), t.mean([0, 2], true), t.var(-1, false, 1), t.logsumexp(), t.argmax(2), t.cumsum(1, { reverse: true }), t.max()]);
    const x = X();
    const eager = [x.sum(1), x.mean([0, 2], true), x.var(-1, false, 1), x.logsumexp(), x.argmax(2), x.cumsum(1, { reverse: true }), x.max()];
    const got = f(x) as unknown as Tensor[];
    for (let i = 0; i < eager.length; i++) expect(await got[i]!.toArray()).toEqual(await eager[i]!.toArray());
  });

  it("reductions compose with arange data", async () => {
    expect(await arange(10).sum().item()).toBe(45);
    expect(await arange(1, 6).prod().item()).toBe(120);
  });
});
