import { describe, it, expect } from "vitest";
import {
  tensor, zeros, ones, arange, jit, Tensor, ShapeError, ValueError, DTypeError, RuntimeError,
  gather, gatherElements, scatterElements, take, oneHot,
} from "../../lib/index.js";

const i32 = (data: Parameters<typeof tensor>[0]) => tensor(data, { dtype: "int32" });
/** [[1, 2, 3], [4, 5, 6]] */
const x23 = () => tensor([[1, 2, 3], [4, 5, 6]]);

function thrown(f: () => unknown): Error {
  try { f(); } catch (e) { return e as Error; }
  throw new Error("expected an error");
}

describe("gather", () => {
  it("selects slices along an axis, with negative indices", async () => {
    const x = tensor([[1, 2], [3, 4], [5, 6]]);
    expect(await gather(x, i32([2, -3])).toArray()).toEqual([[5, 6], [1, 2]]);
    expect(await x.gather(i32([1, 1, 0])).toArray()).toEqual([[3, 4], [3, 4], [1, 2]]);
    expect(await x.gather(i32([-1]), 1).toArray()).toEqual([[2], [4], [6]]);
    expect(await x.gather(i32([0]), -1).toArray()).toEqual([[1], [3], [5]]);
  });
  it("output shape is data[:axis] + indices + data[axis+1:]", async () => {
    const y = x23().gather(i32([[0, 2], [-1, 1]]), 1);
    expect(y.shape).toEqual([2, 2, 2]);
    expect(await y.toArray()).toEqual([[[1, 3], [3, 2]], [[4, 6], [6, 5]]]);
    const s = x23().gather(i32(1));
    expect(s.shape).toEqual([3]);
    expect(await s.toArray()).toEqual([4, 5, 6]);
    expect(await arange(5).gather(i32(-2)).toArray()).toBe(3);
  });
  it("accepts plain integer arrays and every integer index dtype", async () => {
    const x = x23();
    expect(await x.gather([1, 0]).toArray()).toEqual([[4, 5, 6], [1, 2, 3]]);
    expect(await x.gather(2, 1).toArray()).toEqual([3, 6]);
    expect(await x.gather(tensor([1], { dtype: "int64" })).toArray()).toEqual([[4, 5, 6]]);
    expect(await x.gather(tensor([-1], { dtype: "int8" }), 1).toArray()).toEqual([[3], [6]]);
    expect(await x.gather(tensor([2], { dtype: "uint8" }), 1).toArray()).toEqual([[3], [6]]);
  });
  it("keeps int and bool data dtypes", async () => {
    const a = i32([10, 20, 30]).gather([2, 0]);
    expect(a.dtype).toBe("int32");
    expect(await a.toArray()).toEqual([30, 10]);
    const b = tensor([true, false]).gather([1, 0, 0]);
    expect(b.dtype).toBe("bool");
    expect(await b.toArray()).toEqual([false, true, true]);
    const c = tensor([5, 6], { dtype: "int64" }).gather([1]);
    expect(c.dtype).toBe("int64");
    expect(await c.toArray()).toEqual([6]);
  });
  it("handles empty tensors", async () => {
    expect(x23().gather(zeros([0], { dtype: "int32" })).shape).toEqual([0, 3]);
    expect(await x23().gather(zeros([0], { dtype: "int32" })).toArray()).toEqual([]);
    expect(zeros([0, 3]).gather([2, 0], 1).shape).toEqual([0, 2]);
    expect(await zeros([0, 3]).gather([2, 0], 1).toArray()).toEqual([]);
  });
  it("out-of-range indices fail when the value is read", async () => {
    const y = x23().gather([5]); // building is fine
    await expect(y.toArray()).rejects.toThrow(RuntimeError);
    await expect(x23().gather([5]).toArray()).rejects.toThrow(/index 5 is out of range for a dimension of size 2/);
    await expect(x23().gather(i32([-4]), 1).toArray()).rejects.toThrow(/index -4 is out of range for a dimension of size 3/);
  });
  it("reports bad arguments", () => {
    const e = thrown(() => x23().gather(tensor([0.5])));
    expect(e).toBeInstanceOf(DTypeError);
    expect(e.message).toMatch(/^gather, input 1: indices must be an integer tensor, got float32/);
    expect(e.message).toMatch(/hint: cast them first/);
    expect(() => x23().gather(tensor([true]))).toThrow(DTypeError);
    expect(() => x23().gather([0.5])).toThrow(ValueError);
    expect(() => x23().gather([0.5])).toThrow(/indices must be integers, got 0\.5/);
    expect(() => x23().gather([0], 2)).toThrow(ShapeError);
    expect(() => x23().gather([0], 2)).toThrow(/^gather: axis 2 is out of range for a tensor of rank 2/);
    expect(() => tensor(3).gather([0])).toThrow(/^gather: cannot index into a 0-d tensor/);
  });
  it("works under jit with index placeholders", async () => {
    const f = jit((x: Tensor, i: Tensor) => x.gather(i, 1));
    expect(await f(x23(), i32([[2], [0]])).toArray()).toEqual([[[3], [1]], [[6], [4]]]);
    expect(await f(x23(), i32([[-1], [1]])).toArray()).toEqual([[[3], [2]], [[6], [5]]]);
  });
});

describe("gatherElements", () => {
  it("picks single elements along an axis", async () => {
    const x = tensor([[1, 2], [3, 4]]);
    expect(await gatherElements(x, i32([[0, 0], [1, 0]]), 1).toArray()).toEqual([[1, 1], [4, 3]]);
    expect(await x.gatherElements(i32([[1, 0]])).toArray()).toEqual([[3, 2]]);
    expect(await x.gatherElements(i32([[-1, 0]]), -1).toArray()).toEqual([[2, 1]]);
    // indices may be smaller than the data off the axis, and larger along it
    expect(await x23().gatherElements([[2, 0, 1, 1]], 1).toArray()).toEqual([[3, 1, 2, 2]]);
    expect(await x23().gatherElements([[1], [0], [1]], 0).toArray()).toEqual([[4], [1], [4]]);
  });
  it("keeps dtypes and handles empty indices", async () => {
    const b = tensor([[true, false]]).gatherElements([[1, 1, 0]], 1);
    expect(b.dtype).toBe("bool");
    expect(await b.toArray()).toEqual([[false, false, true]]);
    expect(await i32([[7, 8]]).gatherElements(zeros([1, 0], { dtype: "int32" }), 1).toArray()).toEqual([[]]);
  });
  it("reports bad arguments", async () => {
    const e = thrown(() => x23().gatherElements([0, 1]));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/^gatherElements, input 1: indices \[2\] must have the same rank as the data \[2, 3\]/);
    expect(() => x23().gatherElements([[0], [0], [0]], 1)).toThrow(/indices \[3, 1\] are larger than the data \[2, 3\] on axis 0 \(3 > 2\)/);
    expect(() => x23().gatherElements([[0]], 2)).toThrow(/axis 2 is out of range/);
    expect(() => x23().gatherElements(tensor([[1]]))).toThrow(DTypeError);
    await expect(x23().gatherElements([[2]]).toArray()).rejects.toThrow(RuntimeError);
  });
});

describe("scatterElements", () => {
  it("writes updates at indices (ONNX examples)", async () => {
    const out = scatterElements(zeros([3, 3]), i32([[1, 0, 2], [0, 2, 1]]), tensor([[1, 2, 3], [4, 5, 6]]));
    expect(await out.toArray()).toEqual([[4, 2, 0], [1, 0, 6], [0, 5, 3]]);
    const o2 = tensor([[1, 2, 3, 4, 5]]).scatterElements(i32([[1, 3]]), tensor([[10, 20]]), 1);
    expect(await o2.toArray()).toEqual([[1, 10, 3, 20, 5]]);
    const o3 = tensor([[1, 2, 3, 4, 5]]).scatterElements([[-1, -5]], tensor([[10, 20]]), -1);
    expect(await o3.toArray()).toEqual([[20, 2, 3, 4, 10]]);
  });
  it("combines with reductions; without one the last write wins", async () => {
    const d = i32([1, 2, 3, 4]), idx = i32([0, 0, 3, -1]), u = i32([0, 6, 7, -2]);
    expect(await d.scatterElements(idx, u).toArray()).toEqual([6, 2, 3, -2]);
    expect(await d.scatterElements(idx, u, 0, "add").toArray()).toEqual([7, 2, 3, 9]);
    expect(await d.scatterElements(idx, u, 0, "mul").toArray()).toEqual([0, 2, 3, -56]);
    expect(await d.scatterElements(idx, u, 0, "max").toArray()).toEqual([6, 2, 3, 7]);
    expect(await d.scatterElements(idx, u, 0, "min").toArray()).toEqual([0, 2, 3, -2]);
    expect(d.scatterElements(idx, u, 0, "add").dtype).toBe("int32");
    expect(await ones([2]).scatterElements([1, 1], 2, 0, "add").toArray()).toEqual([1, 5]);
  });
  it("scalar, broadcast and cast updates; bool data", async () => {
    expect(await zeros([3]).scatterElements([0, 2], 1).toArray()).toEqual([1, 0, 1]);
    expect(await zeros([2, 3]).scatterElements(i32([[0], [2]]), tensor([9]), 1).toArray()).toEqual([[9, 0, 0], [0, 0, 9]]);
    const c = i32([0, 0]).scatterElements([1], tensor([2.7]));
    expect(c.dtype).toBe("int32");
    expect(await c.toArray()).toEqual([0, 2]);
    expect(await tensor([false, false, false]).scatterElements([1], true).toArray()).toEqual([false, true, false]);
    expect(await i32([[1, 2]]).scatterElements(zeros([1, 0], { dtype: "int32" }), 5, 1).toArray()).toEqual([[1, 2]]);
  });
  it("reports bad arguments", async () => {
    expect(() => zeros([3]).scatterElements([0], 1, 0, "sum" as "add")).toThrow(ValueError);
    expect(() => zeros([3]).scatterElements([0], 1, 0, "sum" as "add")).toThrow(/^scatterElements: unknown reduction "sum"/);
    const e = thrown(() => zeros([3]).scatterElements([0, 1], tensor([1, 2, 3])));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/^scatterElements, input 2: updates \[3\] do not match indices \[2\]/);
    expect(() => zeros([2, 2]).scatterElements([0], 1)).toThrow(/must have the same rank as the data/);
    expect(() => zeros([2, 2]).scatterElements([[0, 0, 0]], 1)).toThrow(/larger than the data/);
    await expect(zeros([3]).scatterElements([3], 1).toArray()).rejects.toThrow(/index 3 is out of range for a dimension of size 3/);
  });
});

describe("take", () => {
  it("gathers from the flattened tensor", async () => {
    const x = tensor([[1, 2], [3, 4]]);
    expect(await take(x, i32([[3, 0]])).toArray()).toEqual([[4, 1]]);
    expect(await x.take([-1, 1]).toArray()).toEqual([4, 2]);
    expect(await x.take(-1).toArray()).toBe(4);
    expect(await tensor(5).take([0, 0]).toArray()).toEqual([5, 5]);
    expect(await i32([[1, 2], [3, 4]]).transpose().take([1, 2]).toArray()).toEqual([3, 2]);
    expect(x.take(zeros([0, 2], { dtype: "int32" })).shape).toEqual([0, 2]);
  });
  it("errors", async () => {
    await expect(tensor([[1, 2], [3, 4]]).take([4]).toArray()).rejects.toThrow(/index 4 is out of range for a dimension of size 4/);
    expect(() => tensor([1]).take(tensor([0]))).toThrow(/^take, input 1: indices must be an integer tensor/);
  });
});

describe("oneHot", () => {
  it("encodes with ONNX negative indices; out of range is all off", async () => {
    const h = oneHot(i32([0, 2, -1, 3, -4]), 3);
    expect(h.dtype).toBe("float32");
    expect(h.shape).toEqual([5, 3]);
    expect(await h.toArray()).toEqual([[1, 0, 0], [0, 0, 1], [0, 0, 1], [0, 0, 0], [0, 0, 0]]);
    expect(await oneHot(i32([-3, -2]), 3).toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
  });
  it("places the new axis and handles 0-d, 2-d and empty indices", async () => {
    expect(await oneHot([0, 2], 3, { axis: 0 }).toArray()).toEqual([[1, 0], [0, 0], [0, 1]]);
    expect(await oneHot(i32([[0, 1], [2, 0]]), 2).toArray()).toEqual([[[1, 0], [0, 1]], [[0, 0], [1, 0]]]);
    expect(await oneHot(i32([[0, 1], [2, 0]]), 2, { axis: 1 }).toArray()).toEqual([[[1, 0], [0, 1]], [[0, 1], [0, 0]]]);
    expect(await oneHot(i32(1), 3).toArray()).toEqual([0, 1, 0]);
    expect(oneHot(zeros([0], { dtype: "int32" }), 4).shape).toEqual([0, 4]);
    expect(oneHot(i32([1, 2]), 0).shape).toEqual([2, 0]);
  });
  it("dtype, on/off values and index dtypes", async () => {
    expect(await oneHot([1, 0], 2, { dtype: "bool" }).toArray()).toEqual([[false, true], [true, false]]);
    const v = oneHot([1, -2], 3, { dtype: "int32", on: 5, off: -1 });
    expect(v.dtype).toBe("int32");
    expect(await v.toArray()).toEqual([[-1, 5, -1], [-1, 5, -1]]);
    expect(await tensor([255, 1], { dtype: "uint8" }).oneHot(3).toArray()).toEqual([[0, 0, 0], [0, 1, 0]]);
    expect(await tensor([-1], { dtype: "int8" }).oneHot(3).toArray()).toEqual([[0, 0, 1]]);
    expect(await tensor([2], { dtype: "int64" }).oneHot(3, { dtype: "int64" }).toArray()).toEqual([[0, 0, 1]]);
  });
  it("is built from eq/or then cast or where", () => {
    const m = oneHot([1], 3, { dtype: "bool" });
    expect(m.node.op).toBe("or");
    expect(m.node.inputs.map((n) => n.op)).toEqual(["eq", "eq"]);
    expect(oneHot([1], 3).node.op).toBe("cast");
    expect(oneHot([1], 3, { on: 2 }).node.op).toBe("where");
    expect(oneHot(tensor([1], { dtype: "uint8" }), 3, { dtype: "bool" }).node.op).toBe("eq");
  });
  it("works under jit", async () => {
    const f = jit((i: Tensor) => i.oneHot(4, { dtype: "int32" }));
    expect(await f(i32([3, -4])).toArray()).toEqual([[0, 0, 0, 1], [1, 0, 0, 0]]);
    const g = jit((i: Tensor) => i.oneHot(3, { axis: 0, on: 2, off: -1 }), { opt: 0 });
    expect(await g(i32([4, -1])).toArray()).toEqual([[-1, -1], [-1, -1], [-1, 2]]);
  });
  it("reports bad arguments", () => {
    expect(() => oneHot([1], -1)).toThrow(/^oneHot: depth must be a non-negative integer, got -1/);
    expect(() => oneHot([1], 2.5)).toThrow(ValueError);
    const e = thrown(() => oneHot(tensor([1.5]), 3));
    expect(e).toBeInstanceOf(DTypeError);
    expect(e.message).toMatch(/^oneHot, input 0: indices must be an integer tensor, got float32/);
    expect(() => oneHot([1], 3, { axis: 2 })).toThrow(/^oneHot: axis 2 is out of range for a tensor of rank 2/);
    expect(() => oneHot([1], 3, { dtype: "float64" as "float32" })).toThrow(/unknown dtype "float64"/);
  });
});
