const nums = (d: ArrayLike<number | bigint>): number[] => Array.from(d, Number);
import { tensor, zeros, ones, full, arange, linspace, eye, rand, randn, randint, manualSeed, ShapeError, ValueError } from "../../lib/index.js";
import { describe, it, expect } from "vitest";

describe("creation", () => {
  it("tensor() infers shape and dtype", async () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe("float32");
    expect(await t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(tensor([true, false]).dtype).toBe("bool");
    expect(await tensor([true, false]).toArray()).toEqual([true, false]);
    expect(tensor(new Int32Array([1, 2])).dtype).toBe("int32");
    expect(tensor(new BigInt64Array([1n, 2n])).dtype).toBe("int64");
    expect(await tensor(new Float32Array([1, 2, 3, 4]), { shape: [2, 2] }).toArray()).toEqual([[1, 2], [3, 4]]);
    expect(await tensor(3.5).item()).toBe(3.5);
    expect(tensor(3.5).shape).toEqual([]);
    expect(tensor([]).shape).toEqual([0]);
  });
  it("tensor() converts with the dtype's store rules", async () => {
    expect(await tensor([1.7, -1.7, 300], { dtype: "int32" }).toArray()).toEqual([1, -1, 300]);
    expect(await tensor([300], { dtype: "uint8" }).toArray()).toEqual([44]);
    expect(nums(await tensor([0.1], { dtype: "float16" }).data())).toEqual([0.0999755859375]);
    const big = await tensor([1, 2], { dtype: "int64" }).data();
    expect(big).toBeInstanceOf(BigInt64Array);
  });
  it("rejects ragged and bad input with clear errors", () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(ShapeError);
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged/);
    expect(() => tensor(["a" as unknown as number])).toThrow(ValueError);
    expect(() => zeros([2, -1])).toThrow(/invalid size -1/);
    expect(() => tensor([1, 2], { dtype: "float64" as never })).toThrow(/unknown dtype/);
    expect(() => tensor(new Float32Array(3), { shape: [2, 2] })).toThrow(/do not fill/);
  });
  it("constants", async () => {
    expect(await zeros([2]).toArray()).toEqual([0, 0]);
    expect(await ones([2], { dtype: "int32" }).toArray()).toEqual([1, 1]);
    expect(await full([2, 1], 7).toArray()).toEqual([[7], [7]]);
    expect(full([1], true).dtype).toBe("bool");
    expect(await full([2], 5, { dtype: "int64" }).toArray()).toEqual([5, 5]);
    expect(await full([2], 0.1, { dtype: "float16" }).toArray()).toEqual([0.0999755859375, 0.0999755859375]);
    expect(zeros([0, 3]).size).toBe(0);
  });
  it("ranges", async () => {
    expect(await arange(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(arange(5).dtype).toBe("int32");
    expect(await arange(1, 2, 0.25).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(await arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
    expect(arange(3, 3).shape).toEqual([0]);
    expect(() => arange(0, 1, 0)).toThrow(/step/);
    expect(await linspace(0, 1, 5).toArray()).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(await linspace(2, 3, 1).toArray()).toEqual([2]);
    expect(await eye(2, 3).toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
    expect(await eye(3, 3, { k: 1 }).toArray()).toEqual([[0, 1, 0], [0, 0, 1], [0, 0, 0]]);
  });
  it("random numbers are seeded and reproducible", async () => {
    const a = nums(await randn([1000], { seed: 42 }).data()), b = nums(await randn([1000], { seed: 42 }).data());
    expect(a).toEqual(b);
    const c = nums(await randn([1000], { seed: 43 }).data());
    expect(a).not.toEqual(c);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const sd = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(Math.abs(sd - 1)).toBeLessThan(0.1);
    const u = nums(await rand([1000], { seed: 1, low: -2, high: 2 }).data());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...u)).toBeLessThan(2);
    const r = nums(await randint(3, 7, [1000], { seed: 9 }).data());
    expect(new Set(r)).toEqual(new Set([3, 4, 5, 6]));
    manualSeed(5); const p = nums(await rand([4]).data());
    manualSeed(5); const q = nums(await rand([4]).data());
    expect(p).toEqual(q);
    expect(() => randint(5, 5, [1])).toThrow(/low < high/);
  });
});
