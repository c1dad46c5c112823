import { describe, it, expect } from "vitest";
import {
  tensor, arange, zeros, jit, Tensor, ShapeError, ValueError,
  reshape, transpose, permute, expand, broadcastTo, squeeze, unsqueeze, flatten,
  slice, pad, concat, stack, split, tile, flip,
} from "../../lib/index.js";

const i32 = (data: Parameters<typeof tensor>[0]) => tensor(data, { dtype: "int32" });
/** [[0, 1, 2], [3, 4, 5]] */
const m23 = () => arange(6).reshape([2, 3]);
/** arange(24) as [2, 3, 4] */
const t234 = () => arange(24).reshape([2, 3, 4]);

function thrown(f: () => unknown): Error {
  try { f(); } catch (e) { return e as Error; }
  throw new Error("expected an error");
}

describe("reshape", () => {
  it("reshapes row-major and infers one -1", async () => {
    expect(await arange(6).reshape([2, 3]).toArray()).toEqual([[0, 1, 2], [3, 4, 5]]);
    expect(await reshape(arange(6), [3, -1]).toArray()).toEqual([[0, 1], [2, 3], [4, 5]]);
    expect(reshape(arange(6), [-1]).shape).toEqual([6]);
    expect(reshape(arange(6), [1, -1, 1]).shape).toEqual([1, 6, 1]);
  });
  it("handles 0-d, empty and bool tensors", async () => {
    const s = tensor(7);
    expect(s.shape).toEqual([]);
    expect(await s.reshape([1, 1]).toArray()).toEqual([[7]]);
    expect(await tensor([[5]]).reshape([]).toArray()).toBe(5);
    expect(zeros([0, 3]).reshape([3, 0]).shape).toEqual([3, 0]);
    expect(await zeros([0, 3]).reshape([-1, 3]).toArray()).toEqual([]);
    expect(await tensor([true, false, true, true]).reshape([2, 2]).toArray()).toEqual([[true, false], [true, true]]);
  });
  it("emits no node for the same shape and folds chains", () => {
    const x = tensor([[0, 1, 2], [3, 4, 5]]);
    expect(x.reshape([2, 3])).toBe(x);
    expect(x.reshape([2, -1])).toBe(x);
    const y = x.reshape([6]).reshape([3, 2]);
    expect(y.node.op).toBe("reshape");
    expect(y.node.inputs[0]).toBe(x.node);
    expect(x.reshape([6]).reshape([2, 3]).node).toBe(x.node);
  });
  it("reports bad shapes", () => {
    const e = thrown(() => arange(6).reshape([4, 2]));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/^reshape: cannot reshape \[6\] \(6 elements\) to \[4, 2\] \(8 elements\)/);
    expect(e.message).toMatch(/hint: .*-1/);
    expect(e.message).toMatch(/movement\.test\.ts:\d+/);
    expect(() => arange(6).reshape([-1, -1])).toThrow(ValueError);
    expect(() => arange(6).reshape([-1, -1])).toThrow(/more than one -1/);
    expect(() => arange(6).reshape([4, -1])).toThrow(/6 is not divisible by 4/);
    expect(() => zeros([0, 3]).reshape([0, -1])).toThrow(/other sizes multiply to 0/);
    expect(() => arange(6).reshape([-2, -3])).toThrow(ShapeError);
    expect(() => arange(6).reshape([2.5, 2])).toThrow(/shape must be an array of integers/);
  });
});

describe("transpose / permute", () => {
  it("transposes and permutes", async () => {
    expect(await m23().transpose().toArray()).toEqual([[0, 3], [1, 4], [2, 5]]);
    const p = permute(t234(), [2, 0, 1]);
    expect(p.shape).toEqual([4, 2, 3]);
    // p[k][i][j] = x[i][j][k] = 12i + 4j + k
    expect(await p.toArray()).toEqual([
      [[0, 4, 8], [12, 16, 20]],
      [[1, 5, 9], [13, 17, 21]],
      [[2, 6, 10], [14, 18, 22]],
      [[3, 7, 11], [15, 19, 23]],
    ]);
    expect(await transpose(t234()).slice([0, 0, 0], [1, 1, 2]).toArray()).toEqual([[[0, 12]]]);
    expect(await t234().permute([-1, 0, -2]).toArray()).toEqual(await p.toArray());
  });
  it("works on 0-d, 1-d, empty and int tensors", async () => {
    const s = tensor(3);
    expect(s.transpose()).toBe(s);
    const v = arange(3);
    expect(v.transpose()).toBe(v);
    expect(zeros([0, 3]).transpose().shape).toEqual([3, 0]);
    expect(await i32([[1, 2], [3, 4]]).transpose().toArray()).toEqual([[1, 3], [2, 4]]);
    expect(i32([[1, 2], [3, 4]]).transpose().dtype).toBe("int32");
  });
  it("identity is a no-op and permute of permute folds", async () => {
    const x = t234();
    expect(x.permute([0, 1, 2])).toBe(x);
    const y = x.permute([2, 0, 1]).permute([1, 2, 0]);
    expect(y).not.toBe(x);
    expect(y.node).toBe(x.node);
    const z = x.permute([1, 0, 2]).permute([2, 1, 0]);
    expect(z.node.inputs[0]).toBe(x.node);
    expect(z.node.attrs.perm).toEqual([2, 0, 1]);
    // z[a][b][c] = x.permute([1,0,2])[c][b][a] = x[b][c][a]
    expect(await z.toArray()).toEqual(await x.permute([2, 0, 1]).toArray());
  });
  it("reports bad perms", () => {
    const e = thrown(() => t234().permute([0, 0, 1]));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/^permute: perm \[0, 0, 1\] is not a permutation of the 3 axes of \[2, 3, 4\]/);
    expect(e.message).toMatch(/hint: list each axis of 0\.\.2 exactly once/);
    expect(() => t234().permute([0, 1])).toThrow(ShapeError);
    expect(() => m23().transpose([0, 2])).toThrow(/^transpose: perm \[0, 2\]/);
  });
});

describe("expand / broadcastTo", () => {
  it("repeats size-1 axes and adds leading ones", async () => {
    expect(await expand(tensor([[1], [2]]), [-1, 3]).toArray()).toEqual([[1, 1, 1], [2, 2, 2]]);
    expect(await tensor([1, 2]).expand([2, 2]).toArray()).toEqual([[1, 2], [1, 2]]);
    expect(await broadcastTo(tensor([1, 2]), [2, 1, 2]).toArray()).toEqual([[[1, 2]], [[1, 2]]]);
    expect(await broadcastTo(tensor(5), [2]).toArray()).toEqual([5, 5]);
    expect(await broadcastTo(tensor([true]), [3]).toArray()).toEqual([true, true, true]);
    expect(await broadcastTo(i32([[7]]), [2, 0]).toArray()).toEqual([[], []]);
    expect(broadcastTo(zeros([1, 3]), [0, 3]).shape).toEqual([0, 3]);
  });
  it("emits minimal IR", () => {
    const x = m23();
    expect(x.expand([2, 3])).toBe(x);
    expect(x.expand([-1, -1])).toBe(x);
    const y = arange(3).broadcastTo([1, 3]);
    expect(y.node.op).toBe("reshape"); // no expand to the same shape
    const z = tensor([[1], [2]]).expand([2, 3]).expand([4, 2, 3]);
    expect(z.node.op).toBe("expand");
    expect(z.node.inputs[0]!.op).toBe("reshape");
    expect(z.node.inputs[0]!.shape).toEqual([1, 2, 1]);
    const w = tensor([[1], [2]]).expand([2, 3]).expand([2, 3]);
    expect(w.node.op).toBe("expand");
  });
  it("folds expand of expand", async () => {
    const x = tensor([[1, 2]]);
    const y = x.expand([1, 2]).expand([3, 2]);
    expect(y.node.inputs[0]).toBe(x.node);
    const z = tensor([[[1], [2]]]).expand([1, 2, 2]).expand([2, 2, 2]);
    expect(z.node.inputs[0]!.op).toBe("const");
    expect(await z.toArray()).toEqual([[[1, 1], [2, 2]], [[1, 1], [2, 2]]]);
  });
  it("reports impossible targets", () => {
    const e = thrown(() => tensor([1, 2, 3]).expand([2, 2]));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/^expand: cannot expand \[3\] to \[2, 2\]: axis 0 has size 3, which is neither 2 nor 1/);
    expect(e.message).toMatch(/use tile/);
    expect(() => broadcastTo(m23(), [3])).toThrow(/^broadcastTo: cannot broadcast \[2, 3\] to \[3\]: the target has fewer axes/);
    expect(() => expand(arange(3), [-1, 3])).toThrow(/-1 at position 0 of \[-1, 3\] has no axis/);
    expect(() => broadcastTo(arange(3), [-1])).toThrow(ShapeError);
  });
});

describe("squeeze / unsqueeze / flatten", () => {
  it("squeezes all or given size-1 axes", async () => {
    const x = tensor([[[1], [2], [3]]]); // [1, 3, 1]
    expect(squeeze(x).shape).toEqual([3]);
    expect(await squeeze(x).toArray()).toEqual([1, 2, 3]);
    expect(x.squeeze(0).shape).toEqual([3, 1]);
    expect(x.squeeze(-1).shape).toEqual([1, 3]);
    expect(x.squeeze([0, 2]).shape).toEqual([3]);
    expect(await tensor([[4]]).squeeze().toArray()).toBe(4);
    expect(zeros([0, 1]).squeeze().shape).toEqual([0]);
    const s = tensor(2);
    expect(s.squeeze()).toBe(s);
    expect(s.squeeze(0)).toBe(s);
    const v = arange(3);
    expect(v.squeeze()).toBe(v);
  });
  it("squeeze errors", () => {
    const e = thrown(() => zeros([1, 3]).squeeze(1));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/^squeeze: cannot squeeze axis 1 of \[1, 3\]: its size is 3, not 1/);
    expect(() => zeros([1, 3]).squeeze(2)).toThrow(/axis 2 is out of range for a tensor of rank 2/);
    expect(() => zeros([1, 1]).squeeze([0, -2])).toThrow(/axis 0 is given more than once/);
  });
  it("unsqueeze counts axes in the output rank", async () => {
    const v = i32([1, 2, 3]);
    expect(v.unsqueeze(0).shape).toEqual([1, 3]);
    expect(v.unsqueeze(1).shape).toEqual([3, 1]);
    expect(v.unsqueeze(-1).shape).toEqual([3, 1]);
    expect(unsqueeze(v, [0, -1]).shape).toEqual([1, 3, 1]);
    expect(unsqueeze(v, [-1, -2]).shape).toEqual([3, 1, 1]);
    expect(unsqueeze(m23(), [1, 3]).shape).toEqual([2, 1, 3, 1]);
    expect(await v.unsqueeze(0).toArray()).toEqual([[1, 2, 3]]);
    expect(await tensor(5).unsqueeze(0).toArray()).toEqual([5]);
    expect(tensor(5).unsqueeze([0, 1]).shape).toEqual([1, 1]);
    expect(zeros([0, 3]).unsqueeze(1).shape).toEqual([0, 1, 3]);
    expect(() => v.unsqueeze(2)).toThrow(/^unsqueeze: axis 2 is out of range for a tensor of rank 2/);
    expect(() => v.unsqueeze([0, 0])).toThrow(ValueError);
  });
  it("flatten merges a range of axes", async () => {
    const x = t234();
    expect(flatten(x).shape).toEqual([24]);
    expect(x.flatten(1).shape).toEqual([2, 12]);
    expect(x.flatten(0, 1).shape).toEqual([6, 4]);
    expect(x.flatten(-2, -1).shape).toEqual([2, 12]);
    expect(x.flatten(1, 1)).toBe(x);
    expect(await tensor(3).flatten().toArray()).toEqual([3]);
    expect(zeros([0, 3]).flatten().shape).toEqual([0]);
    expect(await m23().flatten().toArray()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(() => x.flatten(2, 1)).toThrow(/^flatten: startDim 2 comes after endDim 1 for \[2, 3, 4\]/);
    expect(() => x.flatten(3)).toThrow(ShapeError);
  });
});

describe("slice", () => {
  it("follows ONNX Slice", async () => {
    const v = arange(10);
    expect(await slice(v, [2], [8], [0], [3]).toArray()).toEqual([2, 5]);
    expect(await slice(v, [-3], [100]).toArray()).toEqual([7, 8, 9]);
    expect(await slice(v, [-100], [2]).toArray()).toEqual([0, 1]);
    expect(await slice(v, [8], [2]).toArray()).toEqual([]);
    expect(await slice(v, [8], [2], [0], [-2]).toArray()).toEqual([8, 6, 4]);
    expect(await slice(v, [-1], [-Infinity], [0], [-1]).toArray()).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(await slice(v, [100], [-100], [0], [-3]).toArray()).toEqual([9, 6, 3, 0]);
    expect(await slice(v, [0], [Number.MAX_SAFE_INTEGER], [0], [4]).toArray()).toEqual([0, 4, 8]);
    expect(await slice(v, [0], [2 ** 63]).toArray()).toEqual(await v.toArray());
    expect(await slice(v, [5], [5]).toArray()).toEqual([]);
    expect(await slice(v, [-1], [-1], [0], [-1]).toArray()).toEqual([]);
  });
  it("slices listed axes, negative axes, ints and bools", async () => {
    const x = m23();
    expect(await x.slice([1], [3], [1]).toArray()).toEqual([[1, 2], [4, 5]]);
    expect(await x.slice([1], [3], [-1]).toArray()).toEqual([[1, 2], [4, 5]]);
    expect(await x.slice([1, 0], [2, 3], [0, 1], [1, 2]).toArray()).toEqual([[3, 5]]);
    expect(await x.slice([0, -1], [1, -4], undefined, [1, -1]).toArray()).toEqual([[2, 1, 0]]);
    expect(await i32([[1, 2], [3, 4]]).slice([1], [2]).toArray()).toEqual([[3, 4]]);
    expect(await tensor([true, false, true]).slice([0], [3], [0], [2]).toArray()).toEqual([true, true]);
    expect(zeros([0, 3]).slice([0], [2], [1]).shape).toEqual([0, 2]);
    expect(zeros([0, 3]).slice([0], [5], [0], [-1]).shape).toEqual([0, 3]);
    expect(await zeros([0, 3]).slice([0], [2], [1]).toArray()).toEqual([]);
  });
  it("emits nothing for the full range and folds slice of slice", async () => {
    const x = m23();
    expect(x.slice([0], [3], [1])).toBe(x);
    expect(x.slice([0, 0], [Infinity, Infinity])).toBe(x);
    const v = arange(10);
    const y = v.slice([1], [9]).slice([6], [-100], [0], [-2]); // [1..8] then [7, 5, 3, 1]
    expect(y.node.inputs[0]).toBe(v.node);
    expect(y.node.attrs.starts).toEqual([7]);
    expect(y.node.attrs.steps).toEqual([-2]);
    expect(await y.toArray()).toEqual([7, 5, 3, 1]);
    // flip twice is the identity
    expect(v.flip().flip().node).toBe(v.node);
  });
  it("reports bad arguments", () => {
    const x = m23();
    expect(() => x.slice([0], [1, 2])).toThrow(/^slice: starts has 1 entries but ends has 2/);
    expect(() => x.slice([0], [1], [0], [0])).toThrow(ValueError);
    expect(() => x.slice([0], [1], [0], [0])).toThrow(/steps must be non-zero/);
    expect(() => x.slice([0], [1], [2])).toThrow(/axis 2 is out of range for a tensor of rank 2/);
    expect(() => x.slice([0, 0], [1, 1], [1, -1])).toThrow(/axis 1 is given more than once/);
    expect(() => x.slice([0, 0, 0], [1, 1, 1])).toThrow(/3 starts for a tensor of rank 2/);
    expect(() => x.slice([0.5], [1])).toThrow(/starts must be an array of integers/);
  });
});

describe("pad", () => {
  it("pads constant, reflect and edge", async () => {
    const v = tensor([1, 2, 3]);
    expect(await pad(v, [[2, 1]]).toArray()).toEqual([0, 0, 1, 2, 3, 0]);
    expect(await pad(v, [[1, 1]], "constant", 9).toArray()).toEqual([9, 1, 2, 3, 9]);
    expect(await pad(v, [[2, 1]], "reflect").toArray()).toEqual([3, 2, 1, 2, 3, 2]);
    expect(await pad(v, [[2, 2]], "edge").toArray()).toEqual([1, 1, 1, 2, 3, 3, 3]);
    const m = tensor([[1, 2], [3, 4]]);
    expect(await m.pad([[1, 0], [0, 1]]).toArray()).toEqual([[0, 0, 0], [1, 2, 0], [3, 4, 0]]);
    expect(await m.pad([[1, 1], [1, 1]], "reflect").toArray()).toEqual([[4, 3, 4, 3], [2, 1, 2, 1], [4, 3, 4, 3], [2, 1, 2, 1]]);
    expect(await m.pad([[0, 0], [1, 2]], "edge").toArray()).toEqual([[1, 1, 2, 2, 2], [3, 3, 4, 4, 4]]);
  });
  it("fewer pairs pad the leading axes only", async () => {
    const m = tensor([[1, 2], [3, 4]]);
    expect(await m.pad([[1, 0]]).toArray()).toEqual([[0, 0], [1, 2], [3, 4]]);
    expect(m.pad([])).toBe(m);
    expect(m.pad([[0, 0], [0, 0]])).toBe(m);
  });
  it("negative amounts crop (before padding)", async () => {
    expect(await tensor([[1, 2]]).pad([[0, 0], [1, -1]]).toArray()).toEqual([[0, 1]]);
    expect(await arange(5).pad([[-2, -1]]).toArray()).toEqual([2, 3]);
    expect(await arange(5).pad([[-1, 2]], "reflect").toArray()).toEqual([1, 2, 3, 4, 3, 2]);
    expect(await arange(5).pad([[-5, 0]]).toArray()).toEqual([]);
    const c = arange(5).pad([[-1, -1]]);
    expect(c.node.op).toBe("slice");
  });
  it("handles int, bool, empty and 0-d inputs", async () => {
    expect(await i32([1, 2]).pad([[1, 1]], "constant", 7).toArray()).toEqual([7, 1, 2, 7]);
    expect(i32([1, 2]).pad([[1, 1]]).dtype).toBe("int32");
    expect(await tensor([true]).pad([[1, 1]], "constant", false).toArray()).toEqual([false, true, false]);
    expect(await tensor([false]).pad([[0, 1]], "constant", true).toArray()).toEqual([false, true]);
    expect(await zeros([0, 2]).pad([[1, 0], [0, 0]], "constant", 5).toArray()).toEqual([[5, 5]]);
    const s = tensor(3);
    expect(s.pad([])).toBe(s);
  });
  it("reports bad pads", () => {
    const v = tensor([1, 2, 3]);
    const e = thrown(() => v.pad([[3, 0]], "reflect"));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/^pad: reflect padding of 3 on axis 0 needs more than 3 elements there, but \[3\] has 3/);
    expect(e.message).toMatch(/use mode "edge"/);
    expect(() => zeros([0]).pad([[1, 0]], "edge")).toThrow(/cannot edge-pad axis 0 of \[0\]/);
    expect(() => v.pad([[1, 1], [1, 1]])).toThrow(/^pad: 2 \[before, after\] pairs for a tensor of rank 1 \[3\]/);
    expect(() => v.pad([[-2, -2]])).toThrow(/cannot crop 2 \+ 2 elements from axis 0 of \[3\]/);
    expect(() => v.pad([[1, 1]], "wrap" as "edge")).toThrow(ValueError);
    expect(() => v.pad([[1]] as unknown as [number, number][])).toThrow(/pairs/);
  });
});

describe("concat / stack / split", () => {
  it("concatenates along any axis", async () => {
    const a = tensor([[1, 2]]), b = tensor([[3, 4], [5, 6]]);
    expect(await concat([a, b]).toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(await concat([b, b], 1).toArray()).toEqual([[3, 4, 3, 4], [5, 6, 5, 6]]);
    expect(await concat([b, b], -1).toArray()).toEqual([[3, 4, 3, 4], [5, 6, 5, 6]]);
    expect(await a.concat([b]).toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(await concat([tensor([true]), tensor([false, true])]).toArray()).toEqual([true, false, true]);
  });
  it("promotes dtypes, drops empty parts and flattens nested concats", async () => {
    const c = concat([i32([1]), tensor([2.5])]);
    expect(c.dtype).toBe("float32");
    expect(await c.toArray()).toEqual([1, 2.5]);
    const a = i32([1, 2]);
    expect(concat([a])).toBe(a);
    expect(concat([zeros([0], { dtype: "int32" }), a])).toBe(a);
    expect(concat([zeros([0, 3]), zeros([0, 3])]).shape).toEqual([0, 3]);
    const x = arange(2), y = arange(3), z = arange(1);
    const n = concat([concat([x, y]), z]);
    expect(n.node.inputs.length).toBe(3);
    expect(await n.toArray()).toEqual([0, 1, 0, 1, 2, 0]);
    expect(concat([zeros([2, 0]), zeros([2, 3])], 1).shape).toEqual([2, 3]);
  });
  it("concat errors", () => {
    const e = thrown(() => concat([zeros([2, 3]), zeros([2, 4])]));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/^concat, input 1: tensor 1 has shape \[2, 4\], which does not match tensor 0's \[2, 3\] off axis 0/);
    expect(e.message).toMatch(/hint: every size except axis 0 must be equal/);
    expect(() => concat([zeros([2]), zeros([2, 1])])).toThrow(ShapeError);
    expect(() => concat([])).toThrow(/needs a non-empty array of tensors/);
    expect(() => concat([tensor(1), tensor(2)])).toThrow(/cannot concatenate 0-d tensors/);
    expect(() => concat([zeros([2])], 1)).toThrow(/axis 1 is out of range/);
    expect(() => concat([zeros([2]), [1] as unknown as Tensor])).toThrow(/tensor 1 is not a Tensor/);
  });
  it("stacks along a new axis", async () => {
    const a = tensor([1, 2]), b = tensor([3, 4]);
    expect(await stack([a, b]).toArray()).toEqual([[1, 2], [3, 4]]);
    expect(await stack([a, b], 1).toArray()).toEqual([[1, 3], [2, 4]]);
    expect(await stack([a, b], -1).toArray()).toEqual([[1, 3], [2, 4]]);
    expect(await a.stack([b]).toArray()).toEqual([[1, 2], [3, 4]]);
    expect(await stack([tensor(1), tensor(2), tensor(3)]).toArray()).toEqual([1, 2, 3]);
    expect(await stack([i32([1])]).toArray()).toEqual([[1]]);
    expect(stack([zeros([0, 3]), zeros([0, 3])], 1).shape).toEqual([0, 2, 3]);
    expect(() => stack([zeros([2]), zeros([3])])).toThrow(/^stack, input 1: tensor 1 has shape \[3\] but tensor 0 has \[2\]/);
    expect(() => stack([a, b], 2)).toThrow(/axis 2 is out of range for a tensor of rank 2/);
  });
  it("splits into equal parts or given sizes", async () => {
    const parts = split(arange(6), 3);
    expect(await Promise.all(parts.map((p) => p.toArray()))).toEqual([[0, 1], [2, 3], [4, 5]]);
    const [p, q] = m23().split([1, 2], -1);
    expect(await p!.toArray()).toEqual([[0], [3]]);
    expect(await q!.toArray()).toEqual([[1, 2], [4, 5]]);
    const v = i32([1, 2, 3]);
    const r = v.split([0, 3]);
    expect(r[0]!.shape).toEqual([0]);
    expect(r[1]).toBe(v);
    expect(await r[1]!.toArray()).toEqual([1, 2, 3]);
    const x = m23();
    expect(x.split(1)[0]).toBe(x);
    expect(zeros([0, 3]).split(3, 0).map((t) => t.shape)).toEqual([[0, 3], [0, 3], [0, 3]]);
  });
  it("split errors", () => {
    const e = thrown(() => arange(7).split(3));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/^split: cannot split axis 0 of \[7\] \(size 7\) into 3 equal parts/);
    expect(e.message).toMatch(/hint: pass a list of sizes instead, e\.g\. \[2, 2, 3\]/);
    expect(() => arange(7).split([3, 3])).toThrow(/section sizes \[3, 3\] sum to 6, but axis 0 of \[7\] has size 7/);
    expect(() => arange(7).split(0)).toThrow(ValueError);
    expect(() => tensor(1).split(1)).toThrow(/cannot split a 0-d tensor/);
  });
});

describe("tile / flip", () => {
  it("tiles like numpy", async () => {
    const v = tensor([1, 2]);
    expect(await tile(v, [2]).toArray()).toEqual([1, 2, 1, 2]);
    expect(await tile(v, [2, 2]).toArray()).toEqual([[1, 2, 1, 2], [1, 2, 1, 2]]);
    const m = tensor([[1, 2], [3, 4]]);
    expect(await m.tile([2, 1]).toArray()).toEqual([[1, 2], [3, 4], [1, 2], [3, 4]]);
    expect(await m.tile([1, 2]).toArray()).toEqual([[1, 2, 1, 2], [3, 4, 3, 4]]);
    expect(await m.tile([2]).toArray()).toEqual([[1, 2, 1, 2], [3, 4, 3, 4]]);
    expect(await i32([[5], [6]]).tile([1, 3]).toArray()).toEqual([[5, 5, 5], [6, 6, 6]]);
    expect(await tensor(7).tile([3]).toArray()).toEqual([7, 7, 7]);
    expect(await tensor([true, false]).tile([2]).toArray()).toEqual([true, false, true, false]);
    expect(m.tile([0, 2]).shape).toEqual([0, 4]);
    expect(zeros([0, 3]).tile([2, 2]).shape).toEqual([0, 6]);
  });
  it("tile emits reshape → expand → reshape, or less", () => {
    const m = tensor([[1, 2], [3, 4]]);
    expect(m.tile([1, 1])).toBe(m);
    const t = m.tile([2, 3]);
    expect(t.node.op).toBe("reshape");
    expect(t.node.inputs[0]!.op).toBe("expand");
    expect(t.node.inputs[0]!.shape).toEqual([2, 2, 3, 2]);
    expect(t.node.inputs[0]!.inputs[0]!.op).toBe("reshape");
    expect(t.node.inputs[0]!.inputs[0]!.inputs[0]).toBe(m.node);
    const c = tensor([[1], [2]]).tile([1, 4]); // a size-1 axis only expands
    expect(c.node.op).toBe("expand");
    expect(c.node.inputs[0]!.op).toBe("const");
    expect(() => m.tile([-1])).toThrow(/^tile: reps \[-1\] must be non-negative/);
  });
  it("flips axes", async () => {
    const m = tensor([[1, 2], [3, 4]]);
    expect(await flip(m).toArray()).toEqual([[4, 3], [2, 1]]);
    expect(await m.flip(0).toArray()).toEqual([[3, 4], [1, 2]]);
    expect(await m.flip(-1).toArray()).toEqual([[2, 1], [4, 3]]);
    expect(await m.flip([0, 1]).toArray()).toEqual([[4, 3], [2, 1]]);
    expect(await i32([1, 2, 3]).flip().toArray()).toEqual([3, 2, 1]);
    expect(await tensor([true, false, false]).flip().toArray()).toEqual([false, false, true]);
    expect(zeros([0, 3]).flip().shape).toEqual([0, 3]);
    expect(await zeros([0, 3]).flip(1).toArray()).toEqual([]);
    const s = tensor(1);
    expect(s.flip()).toBe(s);
    const one = tensor([[1, 2]]);
    expect(one.flip(0)).toBe(one);
    expect(m.flip(0).node.op).toBe("slice");
    expect(() => m.flip(2)).toThrow(/^flip: axis 2 is out of range for a tensor of rank 2/);
  });
});

describe("chains of views", () => {
  it("permute → slice → reshape", async () => {
    const x = t234();
    // p[k][i][j] = 12i + 4j + k, shape [4, 2, 3]
    const p = x.permute([2, 0, 1]);
    const s = p.slice([1, 2], [3, -4], [0, 2], [1, -2]); // k in {1, 2}; j in {2, 0}
    expect(s.shape).toEqual([2, 2, 2]);
    expect(await s.toArray()).toEqual([[[9, 1], [21, 13]], [[10, 2], [22, 14]]]);
    const r = s.reshape([4, 2]);
    expect(await r.toArray()).toEqual([[9, 1], [21, 13], [10, 2], [22, 14]]);
    const back = r.reshape([2, -1]).transpose();
    expect(await back.toArray()).toEqual([[9, 10], [1, 2], [21, 22], [13, 14]]);
  });
  it("expand → slice → pad → flip", async () => {
    const x = tensor([[1], [2]]).expand([2, 3]).slice([1], [3], [1]).pad([[0, 0], [1, 0]], "constant", -1).flip(0);
    expect(await x.toArray()).toEqual([[-1, 2, 2], [-1, 1, 1]]);
  });
  it("compiles under jit with placeholder inputs", async () => {
    const f = jit((a: Tensor) => concat([a.transpose().flip(0), a.slice([1], [2], [1]).transpose()]).tile([1, 2]));
    const out = f(m23());
    // a.T.flip(0) = [[2, 5], [1, 4], [0, 3]]; a[:, 1:2].T = [[1, 4]]
    expect(out.shape).toEqual([4, 4]);
    expect(await out.toArray()).toEqual([[2, 5, 2, 5], [1, 4, 1, 4], [0, 3, 0, 3], [1, 4, 1, 4]]);
    expect(await f(i32([[1, 2], [3, 4]])).toArray()).toEqual([[2, 4, 2, 4], [1, 3, 1, 3], [2, 4, 2, 4]]);
  });
  it("gives the same values without optimization passes", async () => {
    const chain = (a: Tensor) => a.permute([2, 0, 1]).slice([1, 2], [3, -4], [0, 2], [1, -2]).reshape([4, 2])
      .pad([[1, -1], [0, 1]], "edge").split([2, 2])[1]!.stack([a.slice([0, 0, 1], [1, 2, 4]).reshape([2, 3]).flip()], 1);
    // reshape: [[9, 1], [21, 13], [10, 2], [22, 14]]; crop the last row, edge-pad a row before and a
    // column after: [[9, 1, 1], [9, 1, 1], [21, 13, 13], [10, 2, 2]]; the second split part is
    // stacked with x[0, 0:2, 1:4] = [[1, 2, 3], [5, 6, 7]] flipped on both axes
    const want = [[[21, 13, 13], [7, 6, 5]], [[10, 2, 2], [3, 2, 1]]];
    expect(await chain(t234()).toArray()).toEqual(want);
    expect(await jit(chain, { opt: 0 })(t234()).toArray()).toEqual(want);
    expect(await jit(chain, { opt: 3 })(t234()).toArray()).toEqual(want);
  });
});
