import { describe, it, expect } from "vitest";
import {
  tensor, randn, rand, softmax, logSoftmax, layerNorm, batchNorm, groupNorm, attention,
  ShapeError, ValueError, Tensor,
} from "../../lib/index.js";

interface Arr { data: number[]; shape: number[] }
async function arr(t: Tensor): Promise<Arr> {
  return { data: Array.from(await t.data() as Float32Array, Number), shape: t.shape };
}
function expectClose(got: Arr, want: Arr, tol = 1e-4): void {
  expect(got.shape).toEqual(want.shape);
  got.data.forEach((v, i) => {
    const w = want.data[i]!;
    if (!(Math.abs(v - w) <= tol * (1 + Math.abs(w)))) expect.fail(`element ${i}: got ${v}, want ${w}`);
  });
}
const rn = (shape: number[], seed: number) => randn(shape, { seed });

/** Softmax over the last axis, in float64. */
function refSoftmax(x: Arr, log = false): Arr {
  const n = x.shape[x.shape.length - 1]!, out: number[] = [];
  for (let r = 0; r < x.data.length / n; r++) {
    const row = x.data.slice(r * n, (r + 1) * n), m = Math.max(...row);
    const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
    for (const v of row) out.push(log ? v - m - Math.log(z) : Math.exp(v - m) / z);
  }
  return { data: out, shape: x.shape };
}

/** Normalizes consecutive chunks of `size` values (biased variance). */
function refNormChunks(x: number[], size: number, eps: number): number[] {
  const out: number[] = [];
  for (let c = 0; c < x.length / size; c++) {
    const v = x.slice(c * size, (c + 1) * size);
    const mu = v.reduce((a, b) => a + b, 0) / size;
    const va = v.reduce((a, b) => a + (b - mu) ** 2, 0) / size;
    for (const e of v) out.push((e - mu) / Math.sqrt(va + eps));
  }
  return out;
}

/** softmax(q k^T * scale + mask) v with loops; q [B, L, D], k [B, S, D], v [B, S, Dv]. */
function refAttention(q: Arr, k: Arr, v: Arr, opts: { scale?: number; allow?: (b: number, i: number, j: number) => boolean; add?: (b: number, i: number, j: number) => number } = {}): Arr {
  const [B, L, D] = q.shape as [number, number, number];
  const S = k.shape[1]!, Dv = v.shape[2]!, scale = opts.scale ?? 1 / Math.sqrt(D);
  const out: number[] = [];
  for (let b = 0; b < B; b++)
    for (let i = 0; i < L; i++) {
      const s: number[] = [];
      for (let j = 0; j < S; j++) {
        let d = 0;
        for (let t = 0; t < D; t++) d += q.data[(b * L + i) * D + t]! * k.data[(b * S + j) * D + t]!;
        d = d * scale + (opts.add ? opts.add(b, i, j) : 0);
        s.push(opts.allow && !opts.allow(b, i, j) ? -Infinity : d);
      }
      const m = Math.max(...s), e = s.map((x) => Math.exp(x - m)), z = e.reduce((a, c) => a + c, 0);
      for (let t = 0; t < Dv; t++) {
        let acc = 0;
        for (let j = 0; j < S; j++) acc += (e[j]! / z) * v.data[(b * S + j) * Dv + t]!;
        out.push(acc);
      }
    }
  return { data: out, shape: [B, L, Dv] };
}

describe("softmax / logSoftmax", () => {
  it("computes hand-checked values and rows summing to 1", async () => {
    const y = await softmax(tensor([1, 2, 3])).toArray() as number[];
    const e = [Math.exp(1), Math.exp(2), Math.exp(3)], z = e[0]! + e[1]! + e[2]!;
    y.forEach((v, i) => expect(v).toBeCloseTo(e[i]! / z, 6));
    const x = rn([4, 7], 1);
    const s = await arr(softmax(x));
    for (let r = 0; r < 4; r++) expect(s.data.slice(r * 7, r * 7 + 7).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expectClose(s, refSoftmax(await arr(x)));
  });

  it("is stable for large values", async () => {
    const x = tensor([[1000, 1001, 1002], [-1000, -1001, -1002], [3.4e38, 3.4e38, 0]]);
    const s = await arr(softmax(x));
    expect(s.data.every(Number.isFinite)).toBe(true);
    expectClose({ data: s.data.slice(0, 6), shape: [6] }, { data: [...refSoftmax(tensorArr([1000, 1001, 1002])).data, ...refSoftmax(tensorArr([-1000, -1001, -1002])).data], shape: [6] });
    expectClose({ data: s.data.slice(6), shape: [3] }, { data: [0.5, 0.5, 0], shape: [3] });
    const l = await arr(logSoftmax(x));
    expect(l.data.slice(0, 6).every(Number.isFinite)).toBe(true);
    expectClose({ data: l.data.slice(0, 3), shape: [3] }, refSoftmax(tensorArr([1000, 1001, 1002]), true));
  });

  it("works along any axis and matches log(softmax)", async () => {
    const x = rn([3, 4, 5], 2);
    const s0 = softmax(x, 0), s1 = x.softmax(1);
    const X = await arr(x);
    // move the axis last, compare, via transposes
    expectClose(await arr(s0.transpose([1, 2, 0])), refSoftmax(await arr(x.transpose([1, 2, 0]))));
    expectClose(await arr(s1.transpose([0, 2, 1])), refSoftmax(await arr(x.transpose([0, 2, 1]))));
    expectClose(await arr(logSoftmax(x)), refSoftmax(X, true));
    expectClose(await arr(x.logSoftmax(-1)), await arr(softmax(x).log()));
  });

  it("gives float32 for integers and keeps float16", async () => {
    const i = softmax(tensor([[1, 1]], { dtype: "int32" }));
    expect(i.dtype).toBe("float32");
    expect(await i.toArray()).toEqual([[0.5, 0.5]]);
    const h = softmax(tensor([1, 2, 3], { dtype: "float16" }));
    expect(h.dtype).toBe("float16");
    expectClose(await arr(h), refSoftmax(tensorArr([1, 2, 3])), 2e-3);
  });

  it("rejects bad axes", () => {
    expect(() => softmax(rn([2, 3], 1), 2)).toThrow(ShapeError);
  });
});

function tensorArr(v: number[]): Arr { return { data: v, shape: [v.length] }; }

describe("layerNorm / batchNorm / groupNorm", () => {
  it("layerNorm matches a naive loop, with and without affine", async () => {
    const x = rn([2, 3, 4], 1), w = rn([4], 2), b = rn([4], 3);
    const X = await arr(x), W = (await arr(w)).data, B = (await arr(b)).data;
    const n = refNormChunks(X.data, 4, 1e-5);
    expectClose(await arr(layerNorm(x, [4])), { data: n, shape: [2, 3, 4] });
    expectClose(await arr(x.layerNorm([4], w, b)), { data: n.map((v, i) => v * W[i % 4]! + B[i % 4]!), shape: [2, 3, 4] });
    // two normalized axes and a custom eps
    const n2 = refNormChunks(X.data, 12, 0.1);
    expectClose(await arr(layerNorm(x, [3, 4], undefined, undefined, 0.1)), { data: n2, shape: [2, 3, 4] });
    expect(await layerNorm(tensor([[1, 2, 3]]), 3).toArray()).toEqual([[expect.closeTo(-1.2247, 3), 0, expect.closeTo(1.2247, 3)]]);
  });

  it("layerNorm reports shape mismatches", () => {
    const x = rn([2, 3, 4], 1);
    expect(() => layerNorm(x, [3])).toThrow(/\[2, 3, 4\].*\[3\]/);
    expect(() => layerNorm(x, [4], rn([3], 2))).toThrow(/weight/);
  });

  it("batchNorm uses running statistics per channel (axis 1)", async () => {
    const x = rn([2, 3, 2, 2], 1), mean = rn([3], 2), vr = rand([3], { seed: 3, low: 0.5, high: 2 }), w = rn([3], 4), b = rn([3], 5);
    const X = await arr(x), M = (await arr(mean)).data, V = (await arr(vr)).data, W = (await arr(w)).data, Bb = (await arr(b)).data;
    const ch = (i: number) => Math.floor(i / 4) % 3;
    const want = X.data.map((v, i) => ((v - M[ch(i)]!) / Math.sqrt(V[ch(i)]! + 1e-5)) * W[ch(i)]! + Bb[ch(i)]!);
    expectClose(await arr(batchNorm(x, mean, vr, w, b)), { data: want, shape: X.shape });
    const plain = X.data.map((v, i) => (v - M[ch(i)]!) / Math.sqrt(V[ch(i)]! + 1e-3));
    expectClose(await arr(x.batchNorm(mean, vr, undefined, undefined, 1e-3)), { data: plain, shape: X.shape });
    // [N, C] input
    const x2 = rn([4, 3], 6), X2 = await arr(x2);
    expectClose(await arr(batchNorm(x2, mean, vr)), { data: X2.data.map((v, i) => (v - M[i % 3]!) / Math.sqrt(V[i % 3]! + 1e-5)), shape: [4, 3] });
    expect(() => batchNorm(x, rn([4], 1), vr)).toThrow(/mean.*\[4\].*\[3\]/);
  });

  it("groupNorm normalizes channel groups over space", async () => {
    const x = rn([2, 6, 3, 2], 1), w = rn([6], 2), b = rn([6], 3);
    const X = await arr(x), W = (await arr(w)).data, B = (await arr(b)).data;
    // each group = 2 channels x 6 positions = 12 consecutive values
    const n = refNormChunks(X.data, 12, 1e-5);
    const ch = (i: number) => Math.floor(i / 6) % 6;
    expectClose(await arr(groupNorm(x, 3, w, b)), { data: n.map((v, i) => v * W[ch(i)]! + B[ch(i)]!), shape: X.shape });
    expectClose(await arr(x.groupNorm(1)), { data: refNormChunks(X.data, 36, 1e-5), shape: X.shape });
    expect(() => groupNorm(x, 4)).toThrow(/6 channels/);
  });
});

describe("attention", () => {
  const B = 2, L = 3, S = 4, D = 5;
  const q = rn([B, L, D], 1), k = rn([B, S, D], 2), v = rn([B, S, 3], 3);

  it("matches a naive loop", async () => {
    const Q = await arr(q), K = await arr(k), V = await arr(v);
    expectClose(await arr(attention(q, k, v)), refAttention(Q, K, V));
    expectClose(await arr(q.attention(k, v, { scale: 0.7 })), refAttention(Q, K, V, { scale: 0.7 }));
  });

  it("applies causal, bool and float masks", async () => {
    const Q = await arr(q), K = await arr(k), V = await arr(v);
    expectClose(await arr(attention(q, k, v, { causal: true })), refAttention(Q, K, V, { allow: (_, i, j) => j <= i }));
    // bool mask [L, S] broadcast over the batch; true = attend
    const mb = [[true, false, true, true], [false, true, false, false], [true, true, true, false]];
    const mask = tensor(mb);
    expectClose(await arr(attention(q, k, v, { mask })), refAttention(Q, K, V, { allow: (_, i, j) => mb[i]![j]! }));
    // float mask per batch [B, L, S], added to the scores
    const fm = rn([B, L, S], 9), FM = await arr(fm);
    expectClose(await arr(attention(q, k, v, { mask: fm })), refAttention(Q, K, V, { add: (b, i, j) => FM.data[(b * L + i) * S + j]! }));
    // causal and a mask together
    expectClose(await arr(attention(q, k, v, { mask, causal: true })), refAttention(Q, K, V, { allow: (_, i, j) => mb[i]![j]! && j <= i }));
  });

  it("a single query position attending to one key returns that value", async () => {
    const out = await arr(attention(q, k, v, { causal: true }));
    const V = await arr(v);
    // row 0 of each batch attends only to key 0
    for (let b = 0; b < B; b++) for (let t = 0; t < 3; t++) expect(out.data[(b * L) * 3 + t]).toBeCloseTo(V.data[(b * S) * 3 + t]!, 5);
  });

  it("broadcasts batch axes and handles 4-d heads", async () => {
    const q4 = rn([2, 2, 3, 4], 4), k4 = rn([1, 2, 5, 4], 5), v4 = rn([1, 2, 5, 4], 6);
    const y = attention(q4, k4, v4);
    expect(y.shape).toEqual([2, 2, 3, 4]);
    const Q = await arr(q4.reshape([4, 3, 4])), K = await arr(k4.expand([2, 2, 5, 4]).reshape([4, 5, 4])), V = await arr(v4.expand([2, 2, 5, 4]).reshape([4, 5, 4]));
    expectClose(await arr(y.reshape([4, 3, 4])), refAttention(Q, K, V));
  });

  it("reports shape and mask errors", () => {
    expect(() => attention(q, rn([B, S, 4], 1), v)).toThrow(/feature sizes/);
    expect(() => attention(q, k, rn([B, 2, 3], 1))).toThrow(/lengths/);
    expect(() => attention(q, k, v, { mask: tensor([[1, 0]], { dtype: "int32" }) })).toThrow(ShapeError);
    expect(() => attention(q, k, v, { mask: tensor([[1, 0, 1, 1]], { dtype: "int32" }) })).toThrow(ValueError);
  });
});
