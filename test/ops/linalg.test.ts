import { describe, it, expect } from "vitest";
import { tensor, randn, randint, matmul, einsum, ShapeError, ValueError, Tensor } from "../../lib/index.js";

// ---------------------------------------------------------------- independent references

interface Arr { data: number[]; shape: number[] }

async function arr(t: Tensor): Promise<Arr> {
  return { data: Array.from(await t.data() as Float32Array, Number), shape: t.shape };
}
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
function strides(s: readonly number[]): number[] {
  const st = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) { st[i] = acc; acc *= s[i]!; }
  return st;
}
/** Calls fn with every multi-index of shape. */
function each(shape: readonly number[], fn: (idx: number[]) => void): void {
  const n = numel(shape), idx = new Array<number>(shape.length).fill(0);
  for (let f = 0; f < n; f++) {
    fn(idx);
    for (let d = shape.length - 1; d >= 0; d--) { if (++idx[d]! < shape[d]!) break; idx[d] = 0; }
  }
}

/** numpy.matmul, written with plain loops. */
function refMatmul(a: Arr, b: Arr): Arr {
  const as = a.shape, bs = b.shape;
  const A = as.length === 1 ? [1, as[0]!] : as, B = bs.length === 1 ? [bs[0]!, 1] : bs;
  const M = A[A.length - 2]!, K = A[A.length - 1]!, N = B[B.length - 1]!;
  const ab = A.slice(0, -2), bb = B.slice(0, -2), r = Math.max(ab.length, bb.length);
  const pa = [...new Array(r - ab.length).fill(1), ...ab], pb = [...new Array(r - bb.length).fill(1), ...bb];
  const batch = pa.map((d, i) => Math.max(d, pb[i]!));
  const sa = strides([...pa, M, K]), sb = strides([...pb, K, N]);
  const out: number[] = [];
  each(batch, (bi) => {
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          let oa = i * sa[r]! + k * sa[r + 1]!, ob = k * sb[r]! + j * sb[r + 1]!;
          bi.forEach((v, d) => { if (pa[d] !== 1) oa += v * sa[d]!; if (pb[d] !== 1) ob += v * sb[d]!; });
          s += a.data[oa]! * b.data[ob]!;
        }
        out.push(s);
      }
  });
  const shape = [...batch, ...(as.length === 1 ? [] : [M]), ...(bs.length === 1 ? [] : [N])];
  return { data: out, shape };
}

/** A naive einsum over letters only: loops over every assignment of every label. */
function refEinsum(eq: string, ...ops: Arr[]): Arr {
  const [lhs, rhs] = eq.split("->") as [string, string];
  const terms = lhs.split(",");
  const size = new Map<string, number>();
  terms.forEach((t, k) => [...t].forEach((l, i) => size.set(l, ops[k]!.shape[i]!)));
  const labels = [...size.keys()], outL = [...rhs];
  const outShape = outL.map((l) => size.get(l)!), os = strides(outShape);
  const out = new Array<number>(numel(outShape)).fill(0);
  each(labels.map((l) => size.get(l)!), (idx) => {
    const val = (l: string) => idx[labels.indexOf(l)]!;
    let p = 1;
    terms.forEach((t, k) => {
      const st = strides(ops[k]!.shape);
      let o = 0;
      [...t].forEach((l, i) => { o += val(l) * st[i]!; });
      p *= ops[k]!.data[o]!;
    });
    let o = 0;
    outL.forEach((l, i) => { o += val(l) * os[i]!; });
    out[o]! += p;
  });
  return { data: out, shape: outShape };
}

function expectClose(got: Arr, want: Arr, tol = 1e-4): void {
  expect(got.shape).toEqual(want.shape);
  expect(got.data.length).toBe(want.data.length);
  got.data.forEach((v, i) => {
    const w = want.data[i]!;
    if (Math.abs(v - w) > tol * (1 + Math.abs(w))) expect.fail(`element ${i}: got ${v}, want ${w}`);
  });
}

const rn = (shape: number[], seed: number) => randn(shape, { seed });

/** Whether the graph behind t contains a node with this op. */
function hasOp(t: Tensor, op: string): boolean {
  const seen = new Set<unknown>(), stack = [t.node];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    if (n.op === op) return true;
    stack.push(...n.inputs);
  }
  return false;
}

// ---------------------------------------------------------------- matmul

describe("matmul", () => {
  it("multiplies small matrices (hand-computed)", async () => {
    const y = matmul(tensor([[1, 2, 3], [4, 5, 6]]), tensor([[1, 0], [0, 1], [1, 1]]));
    expect(y.shape).toEqual([2, 2]);
    expect(await y.toArray()).toEqual([[4, 5], [10, 11]]);
    expect(await tensor([[1, 2]]).matmul(tensor([[3], [4]])).toArray()).toEqual([[11]]);
  });

  it("matches a naive loop on random 2-d inputs", async () => {
    const a = rn([5, 7], 1), b = rn([7, 3], 2);
    expectClose(await arr(matmul(a, b)), refMatmul(await arr(a), await arr(b)));
  });

  it("promotes and squeezes 1-d operands like numpy", async () => {
    const m = rn([3, 4], 3), v4 = rn([4], 4), v3 = rn([3], 5);
    const M = await arr(m), V4 = await arr(v4), V3 = await arr(v3);
    const mv = matmul(m, v4), vm = matmul(v3, m), vv = matmul(v4, v4);
    expect(mv.shape).toEqual([3]);
    expect(vm.shape).toEqual([4]);
    expect(vv.shape).toEqual([]);
    expectClose(await arr(mv), refMatmul(M, V4));
    expectClose(await arr(vm), refMatmul(V3, M));
    expectClose(await arr(vv), refMatmul(V4, V4));
    expect(await matmul(tensor([1, 2, 3]), tensor([4, 5, 6])).item()).toBe(32);
    // 1-d against batched operands
    const bt = rn([2, 4, 3], 6);
    const vb = matmul(v4, bt), bv = matmul(bt.transpose([0, 2, 1]), v4);
    expect(vb.shape).toEqual([2, 3]);
    expect(bv.shape).toEqual([2, 3]);
    expectClose(await arr(vb), refMatmul(V4, await arr(bt)));
    expectClose(await arr(bv), refMatmul(await arr(bt.transpose([0, 2, 1])), V4));
  });

  it("broadcasts batch dimensions", async () => {
    const cases: [number[], number[], number[]][] = [
      [[2, 1, 3, 4], [3, 4, 5], [2, 3, 3, 5]],
      [[5, 3, 4], [4, 2], [5, 3, 2]],          // shared right operand: folded into rows
      [[4, 5], [2, 5, 3], [2, 4, 3]],          // shared left operand: expanded
      [[1, 2, 3], [3, 2, 3, 2], [3, 2, 2, 2]],
      [[2, 1, 2, 3], [1, 4, 3, 2], [2, 4, 2, 2]],
    ];
    let seed = 10;
    for (const [sa, sb, so] of cases) {
      const a = rn(sa, seed++), b = rn(sb, seed++);
      const y = matmul(a, b);
      expect(y.shape).toEqual(so);
      expectClose(await arr(y), refMatmul(await arr(a), await arr(b)));
    }
  });

  it("unifies dtypes", async () => {
    const i = tensor([[1, 2], [3, 4]], { dtype: "int32" });
    const f = tensor([[0.5], [0.25]]);
    const y = matmul(i, f);
    expect(y.dtype).toBe("float32");
    expect(await y.toArray()).toEqual([[1], [2.5]]);
    const ii = matmul(i, i);
    expect(ii.dtype).toBe("int32");
    expect(await ii.toArray()).toEqual([[7, 10], [15, 22]]);
    const r = randint(-5, 5, [3, 4], { seed: 1 }), s = randint(-5, 5, [4, 2], { seed: 2 });
    expect(matmul(r, s).dtype).toBe("int32");
    expectClose(await arr(matmul(r, s)), refMatmul(await arr(r), await arr(s)), 0);
  });

  it("handles zero-size dimensions", async () => {
    const y = matmul(rn([2, 0], 1), rn([0, 3], 2));
    expect(y.shape).toEqual([2, 3]);
    expect(Array.from(await y.data() as Float32Array)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("reports mismatched inner dimensions naming both shapes", () => {
    let err: unknown;
    try { matmul(rn([2, 3], 1), rn([4, 5], 2)); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as ShapeError).op).toBe("matmul");
    expect((err as Error).message).toMatch(/\[2, 3\].*\[4, 5\]/);
    expect(() => matmul(rn([3], 1), rn([4], 2))).toThrow(/\[3\] @ \[4\]/);
    expect(() => matmul(rn([2, 2, 3], 1), rn([3, 3, 2], 2))).toThrow(ShapeError);
    expect(() => matmul(rn([2, 2, 3], 1), rn([3, 3, 2], 2))).toThrow(/batch/);
    expect(() => matmul(tensor(1), rn([2], 1))).toThrow(ShapeError);
  });
});

// ---------------------------------------------------------------- einsum

describe("einsum", () => {
  it("computes the standard forms (hand-computed)", async () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]]), b = tensor([[1, 0], [0, 1], [1, 1]]);
    const m = tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]]);
    expect(await einsum("ij,jk->ik", a, b).toArray()).toEqual([[4, 5], [10, 11]]);
    expect(await einsum("ij->ji", a).toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(await einsum("ii->i", m).toArray()).toEqual([1, 5, 9]);
    expect(await einsum("ii->", m).item()).toBe(15);
    expect(await einsum("ii", m).item()).toBe(15); // implicit: trace
    expect(await einsum("i,i->", tensor([1, 2, 3]), tensor([4, 5, 6])).item()).toBe(32);
    expect(await einsum("i,j->ij", tensor([1, 2]), tensor([3, 4, 5])).toArray()).toEqual([[3, 4, 5], [6, 8, 10]]);
    expect(await einsum("ij->", a).item()).toBe(21);
    expect(await einsum("ij->j", a).toArray()).toEqual([5, 7, 9]);
    expect(await einsum("ij,ij->ij", a, a).toArray()).toEqual([[1, 4, 9], [16, 25, 36]]);
    expect(await einsum(" ij , jk ", a, b).toArray()).toEqual([[4, 5], [10, 11]]); // implicit output ik
    expect(await einsum("ji", a).toArray()).toEqual([[1, 4], [2, 5], [3, 6]]); // implicit sorts labels: ij
  });

  it("matches a naive einsum on random inputs", async () => {
    const cases: [string, number[][]][] = [
      ["ij,jk->ik", [[3, 4], [4, 5]]],
      ["bij,bjk->bik", [[2, 3, 4], [2, 4, 5]]],
      ["ii->i", [[4, 4]]],
      ["ii->", [[4, 4]]],
      ["i,i->", [[6], [6]]],
      ["ij->ji", [[3, 5]]],
      ["bhld,bhsd->bhls", [[2, 2, 3, 4], [2, 2, 5, 4]]],
      ["ij,jk,kl->il", [[2, 3], [3, 4], [4, 2]]],
      ["ijk,ikl->jl", [[2, 3, 4], [2, 4, 3]]],
      ["iij->ij", [[3, 3, 2]]],
      ["iji->j", [[3, 2, 3]]],
      ["iii->i", [[3, 3, 3]]],
      ["ij,kj->ikj", [[2, 3], [4, 3]]],
      ["abc,cd,ab->db", [[2, 3, 4], [4, 2], [2, 3]]],
      ["ij,j->i", [[3, 4], [4]]],
      ["i,jk->ijk", [[2], [3, 2]]],
      ["ik,kj->", [[3, 2], [2, 3]]],
      ["ab,ba->a", [[3, 3], [3, 3]]],
    ];
    let seed = 100;
    for (const [eq, shapes] of cases) {
      const ts = shapes.map((s) => rn(s, seed++));
      const want = refEinsum(eq, ...(await Promise.all(ts.map(arr))));
      const got = einsum(eq, ...ts);
      try { expectClose(await arr(got), want); } catch (e) { throw new Error(`${eq}: ${(e as Error).message}`); }
    }
  });

  it("supports ellipsis with broadcasting", async () => {
    const a = rn([2, 3, 4], 1), b = rn([2, 4, 5], 2);
    const y = einsum("...ij,...jk", a, b);
    expect(y.shape).toEqual([2, 3, 5]);
    expectClose(await arr(y), refMatmul(await arr(a), await arr(b)));
    // broadcasting batch axes: [2, 1, 3, 4] x [5, 4, 2] -> [2, 5, 3, 2]
    const c = rn([2, 1, 3, 4], 3), d = rn([5, 4, 2], 4);
    const z = einsum("...ij,...jk->...ik", c, d);
    expect(z.shape).toEqual([2, 5, 3, 2]);
    expectClose(await arr(z), refMatmul(await arr(c), await arr(d)));
    // ellipsis in the middle, and an operand without ellipsis axes
    const e = rn([3, 2, 2, 4], 5), f = rn([4], 6);
    const w = einsum("i...j,j->...i", e, f);
    expect(w.shape).toEqual([2, 2, 3]);
    const ref = refEinsum("iabj,j->abi", await arr(e), await arr(f));
    expectClose(await arr(w), ref);
    // ellipsis axes missing from an explicit output are summed; size-1 broadcast contracted
    const g = rn([3, 4], 7), h = rn([1, 4], 8);
    const s = einsum("...i,...i->i", g, h);
    const G = await arr(g), H = await arr(h);
    const want = [0, 1, 2, 3].map((i) => [0, 1, 2].reduce((acc, r) => acc + G.data[r * 4 + i]! * H.data[i]!, 0));
    expectClose(await arr(s), { data: want, shape: [4] });
    // 0-d operand via "..."
    expect(await einsum("...,...->...", tensor(3), tensor([1, 2])).toArray()).toEqual([3, 6]);
  });

  it("broadcasts size-1 subscripts like torch.einsum", async () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]]), r = tensor([[10, 20, 30]]);
    expect(await einsum("ij,ij->ij", a, r).toArray()).toEqual([[10, 40, 90], [40, 100, 180]]);
    // a contracted subscript of size 1 on one side: the other side is summed over it
    const c = tensor([[2], [3]]), b = tensor([[1, 2], [3, 4], [5, 6]]);
    expect(await einsum("ij,jk->ik", c, b).toArray()).toEqual([[18, 24], [27, 36]]);
    expect(() => einsum("ii->i", rn([1, 3], 1))).toThrow(/repeated in operand 0/);
  });

  it("lowers contractions to the matmul anchor", async () => {
    const y = einsum("bij,bjk->bik", rn([2, 8, 16], 1), rn([2, 16, 4], 2));
    expect(hasOp(y, "matmul")).toBe(true);
    expect(hasOp(y, "reduce")).toBe(false);
    const t = einsum("bhld,bhsd->bhls", rn([1, 2, 3, 4], 3), rn([1, 2, 5, 4], 4));
    expect(hasOp(t, "matmul")).toBe(true);
    expect(t.shape).toEqual([1, 2, 3, 5]);
  });

  it("keeps integer dtypes and promotes mixed ones", async () => {
    const i = tensor([[1, 2], [3, 4]], { dtype: "int32" });
    const y = einsum("ij,jk->ik", i, i);
    expect(y.dtype).toBe("int32");
    expect(await y.toArray()).toEqual([[7, 10], [15, 22]]);
    expect(einsum("ij,jk->ik", i, tensor([[1], [1]])).dtype).toBe("float32");
  });

  it("reports bad equations and shapes", () => {
    const a = rn([2, 3], 1), b = rn([4, 5], 2);
    expect(() => einsum("ij,jk->ik", a)).toThrow(ValueError);
    expect(() => einsum("ij,jk->ik", a, b)).toThrow(ShapeError);
    expect(() => einsum("ij,jk->ik", a, b)).toThrow(/'j'.*\[2, 3\], \[4, 5\]/);
    expect(() => einsum("ijk->i", a)).toThrow(ShapeError);
    expect(() => einsum("ij->iz", a)).toThrow(/'z'/);
    expect(() => einsum("ij->ii", a)).toThrow(/more than once/);
    expect(() => einsum("i1->i", a)).toThrow(ValueError);
    expect(() => einsum("ii->i", a)).toThrow(ShapeError);
    expect(() => einsum("..i->i", a)).toThrow(/ellipsis/);
    expect(() => einsum("...ij,...jk", rn([2, 3, 4], 1), rn([3, 4, 5], 2))).toThrow(/broadcast/);
  });
});
