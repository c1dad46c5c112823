import { describe, it, expect } from "vitest";
import {
  tensor, randn, arange, conv1d, conv2d, convTranspose2d, maxPool1d, maxPool2d, avgPool1d, avgPool2d,
  globalAvgPool, globalMaxPool, ShapeError, ValueError, Tensor,
} from "../../lib/index.js";

// ---------------------------------------------------------------- independent references

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

interface RefConv { stride?: [number, number]; pads?: [number, number, number, number]; dilation?: [number, number]; groups?: number; bias?: number[] }

/** Naive 2-d cross-correlation; pads = [top, left, bottom, right]. */
function refConv2d(x: Arr, w: Arr, o: RefConv = {}): Arr {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [O, Cg, KH, KW] = w.shape as [number, number, number, number];
  const [sh, sw] = o.stride ?? [1, 1], [pt, pl, pb, pr] = o.pads ?? [0, 0, 0, 0], [dh, dw] = o.dilation ?? [1, 1];
  const G = o.groups ?? 1, Og = O / G;
  const OH = Math.floor((H + pt + pb - dh * (KH - 1) - 1) / sh) + 1, OW = Math.floor((W + pl + pr - dw * (KW - 1) - 1) / sw) + 1;
  const out: number[] = [];
  for (let n = 0; n < N; n++)
    for (let oc = 0; oc < O; oc++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = o.bias ? o.bias[oc]! : 0;
          const g = Math.floor(oc / Og);
          for (let ic = 0; ic < Cg; ic++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const ih = oh * sh + kh * dh - pt, iw = ow * sw + kw * dw - pl;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += x.data[((n * C + g * Cg + ic) * H + ih) * W + iw]! * w.data[((oc * Cg + ic) * KH + kh) * KW + kw]!;
              }
          out.push(s);
        }
  return { data: out, shape: [N, O, OH, OW] };
}

/** Naive transposed convolution (scatter), PyTorch weight layout [C_in, C_out/g, kH, kW]. */
function refConvTranspose2d(x: Arr, w: Arr, stride: number[], pad: number[], outPad: number[], dil: number[], G: number): Arr {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [, Og, KH, KW] = w.shape as [number, number, number, number];
  const Cg = C / G, O = Og * G;
  const OH = (H - 1) * stride[0]! - 2 * pad[0]! + dil[0]! * (KH - 1) + outPad[0]! + 1;
  const OW = (W - 1) * stride[1]! - 2 * pad[1]! + dil[1]! * (KW - 1) + outPad[1]! + 1;
  const out = new Array<number>(N * O * OH * OW).fill(0);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let ww = 0; ww < W; ww++) {
          const g = Math.floor(c / Cg), v = x.data[((n * C + c) * H + h) * W + ww]!;
          for (let oc = 0; oc < Og; oc++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const oh = h * stride[0]! + kh * dil[0]! - pad[0]!, ow = ww * stride[1]! + kw * dil[1]! - pad[1]!;
                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                out[((n * O + g * Og + oc) * OH + oh) * OW + ow]! += v * w.data[((c * Og + oc) * KH + kh) * KW + kw]!;
              }
        }
  return { data: out, shape: [N, O, OH, OW] };
}

/** PyTorch's pooling output size. */
function poolOut(n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  let o = Math.floor((n + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (o - 1) * s >= n + p) o--;
  return o;
}

/** PyTorch's max_pool2d / avg_pool2d, loop by loop (avg: hend clipped to H + pad for the divisor). */
function refPool2d(x: Arr, kind: "max" | "avg", k: number[], s: number[], p: number[], d: number[], ceil: boolean, countIncludePad = true): Arr {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const OH = poolOut(H, k[0]!, s[0]!, p[0]!, d[0]!, ceil), OW = poolOut(W, k[1]!, s[1]!, p[1]!, d[1]!, ceil);
  const out: number[] = [];
  for (let nc = 0; nc < N * C; nc++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        if (kind === "max") {
          let m = -Infinity;
          for (let i = 0; i < k[0]!; i++)
            for (let j = 0; j < k[1]!; j++) {
              const h = oh * s[0]! - p[0]! + i * d[0]!, w = ow * s[1]! - p[1]! + j * d[1]!;
              if (h >= 0 && h < H && w >= 0 && w < W) m = Math.max(m, x.data[(nc * H + h) * W + w]!);
            }
          out.push(m);
        } else {
          let hs = oh * s[0]! - p[0]!, ws = ow * s[1]! - p[1]!;
          let he = Math.min(hs + k[0]!, H + p[0]!), we = Math.min(ws + k[1]!, W + p[1]!);
          const size = (he - hs) * (we - ws);
          hs = Math.max(hs, 0); ws = Math.max(ws, 0); he = Math.min(he, H); we = Math.min(we, W);
          let sum = 0;
          for (let h = hs; h < he; h++) for (let w = ws; w < we; w++) sum += x.data[(nc * H + h) * W + w]!;
          out.push(sum / (countIncludePad ? size : (he - hs) * (we - ws)));
        }
      }
  return { data: out, shape: [N, C, OH, OW] };
}

// ---------------------------------------------------------------- conv

describe("conv2d", () => {
  it("computes a small case by hand", async () => {
    const x = arange(16).cast("float32").reshape([1, 1, 4, 4]);
    const w = tensor([[[[1, 0], [0, 1]]]]);
    expect(await conv2d(x, w).toArray()).toEqual([[[[5, 7, 9], [13, 15, 17], [21, 23, 25]]]]);
    expect(await conv2d(x, w, { bias: tensor([10]), stride: 2 }).toArray()).toEqual([[[[15, 19], [31, 35]]]]);
    // 3x3 box filter with "same" padding: corners see 4 values
    const box = conv2d(x, tensor([[[[1, 1, 1], [1, 1, 1], [1, 1, 1]]]]), { padding: "same" });
    expect(box.shape).toEqual([1, 1, 4, 4]);
    expect((await box.toArray() as number[][][][])[0]![0]![0]).toEqual([10, 18, 24, 18]);
  });

  it("matches a naive loop for stride, padding, dilation and groups", async () => {
    const cases: { x: number[]; w: number[]; opts: Parameters<typeof conv2d>[2]; ref: RefConv }[] = [
      { x: [2, 3, 7, 6], w: [4, 3, 3, 3], opts: {}, ref: {} },
      { x: [1, 3, 7, 6], w: [4, 3, 3, 2], opts: { stride: 2, padding: 1 }, ref: { stride: [2, 2], pads: [1, 1, 1, 1] } },
      { x: [1, 2, 8, 8], w: [3, 2, 3, 3], opts: { stride: [1, 2], padding: [2, 1] }, ref: { stride: [1, 2], pads: [2, 1, 2, 1] } },
      { x: [1, 2, 9, 9], w: [2, 2, 3, 3], opts: { dilation: 2, padding: 2 }, ref: { dilation: [2, 2], pads: [2, 2, 2, 2] } },
      { x: [2, 4, 5, 5], w: [6, 2, 3, 3], opts: { groups: 2, padding: 1 }, ref: { groups: 2, pads: [1, 1, 1, 1] } },
      { x: [1, 3, 6, 6], w: [6, 1, 3, 3], opts: { groups: 3, stride: 2 }, ref: { groups: 3, stride: [2, 2] } }, // depthwise x2
      { x: [1, 2, 5, 5], w: [2, 2, 2, 2], opts: { padding: [0, 1, 2, 0] }, ref: { pads: [0, 1, 2, 0] } },   // [begin..., end...]
      { x: [1, 2, 5, 4], w: [3, 2, 3, 3], opts: { padding: "valid" }, ref: {} },
    ];
    let seed = 1;
    for (const c of cases) {
      const x = rn(c.x, seed++), w = rn(c.w, seed++), b = rn([c.w[0]!], seed++);
      const want = refConv2d(await arr(x), await arr(w), { ...c.ref, bias: (await arr(b)).data });
      expectClose(await arr(conv2d(x, w, { ...c.opts, bias: b })), want);
    }
  });

  it('splits "same" padding like ONNX SAME_UPPER (extra at the end), also with stride', async () => {
    // even kernel, stride 1: total pad 1 -> [0 before, 1 after]
    const x = rn([1, 2, 5, 6], 1), w = rn([3, 2, 2, 2], 2);
    const y = conv2d(x, w, { padding: "same" });
    expect(y.shape).toEqual([1, 3, 5, 6]);
    expectClose(await arr(y), refConv2d(await arr(x), await arr(w), { pads: [0, 0, 1, 1] }));
    // stride 2: out = ceil(in / 2); in 7, k 3 -> total (4-1)*2+3-7 = 2 -> [1, 1]; in 6 -> total 1 -> [0, 1]
    const x2 = rn([1, 1, 7, 6], 3), w2 = rn([2, 1, 3, 3], 4);
    const y2 = conv2d(x2, w2, { padding: "same", stride: 2 });
    expect(y2.shape).toEqual([1, 2, 4, 3]);
    expectClose(await arr(y2), refConv2d(await arr(x2), await arr(w2), { stride: [2, 2], pads: [1, 0, 1, 1] }));
    // dilation widens the kernel: k 3, d 2 -> effective 5 -> pads [2, 2]
    const y3 = conv2d(x2, w2, { padding: "same", dilation: 2 });
    expect(y3.shape).toEqual([1, 2, 7, 6]);
    expectClose(await arr(y3), refConv2d(await arr(x2), await arr(w2), { dilation: [2, 2], pads: [2, 2, 2, 2] }));
  });

  it("accepts unbatched input and method form", async () => {
    const x = rn([2, 5, 5], 1), w = rn([3, 2, 3, 3], 2);
    const y = x.conv2d(w, { padding: 1 });
    expect(y.shape).toEqual([3, 5, 5]);
    const want = refConv2d({ ...(await arr(x)), shape: [1, 2, 5, 5] }, await arr(w), { pads: [1, 1, 1, 1] });
    expectClose(await arr(y), { data: want.data, shape: [3, 5, 5] });
  });

  it("reports wrong channel counts and bad arguments", () => {
    const x = rn([1, 3, 5, 5], 1);
    let err: unknown;
    try { conv2d(x, rn([4, 2, 3, 3], 2)); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as Error).message).toMatch(/3 channels.*\[4, 2, 3, 3\]/);
    expect(() => conv2d(x, rn([4, 1, 3, 3], 2), { groups: 2 })).toThrow(ShapeError);
    expect(() => conv2d(x, rn([4, 3, 3], 2))).toThrow(/weight/);
    expect(() => conv2d(rn([3, 5], 1), rn([4, 3, 3, 3], 2))).toThrow(ShapeError);
    expect(() => conv2d(x, rn([4, 3, 7, 7], 2))).toThrow(/larger than the padded input/);
    expect(() => conv2d(x, rn([4, 3, 3, 3], 2), { stride: 0 })).toThrow(ValueError);
    expect(() => conv2d(x, rn([4, 3, 3, 3], 2), { bias: rn([3], 3) })).toThrow(/bias/);
    expect(() => conv2d(x, rn([4, 3, 3, 3], 2), { padding: [1, 2, 3] })).toThrow(ValueError);
  });
});

describe("conv1d", () => {
  it("computes small cases by hand", async () => {
    const x = tensor([[[1, 2, 3, 4]]]);
    expect(await conv1d(x, tensor([[[1, 1]]])).toArray()).toEqual([[[3, 5, 7]]]);
    // "same" with an even kernel pads at the end only
    expect(await conv1d(x, tensor([[[1, 1]]]), { padding: "same" }).toArray()).toEqual([[[3, 5, 7, 4]]]);
    expect(await conv1d(x, tensor([[[1, 0, -1]]]), { padding: 1 }).toArray()).toEqual([[[-2, -2, -2, 3]]]);
    expect(await conv1d(x, tensor([[[1, 1]]]), { dilation: 2 }).toArray()).toEqual([[[4, 6]]]);
    expect(await conv1d(x, tensor([[[1, 1]]]), { stride: 2, bias: tensor([1]) }).toArray()).toEqual([[[4, 8]]]);
  });

  it("matches the 2-d reference with a height of 1", async () => {
    const x = rn([2, 4, 9], 1), w = rn([6, 2, 3], 2);
    const y = conv1d(x, w, { stride: 2, padding: 2, dilation: 2, groups: 2 });
    const want = refConv2d({ ...(await arr(x)), shape: [2, 4, 1, 9] }, { ...(await arr(w)), shape: [6, 2, 1, 3] },
      { stride: [1, 2], pads: [0, 2, 0, 2], dilation: [1, 2], groups: 2 });
    expectClose(await arr(y), { data: want.data, shape: [2, 6, want.shape[3]!] });
  });
});

describe("convTranspose2d", () => {
  it("computes a small case by hand", async () => {
    // stride 2 scatters each input pixel into its own 2x2 block
    const x = tensor([[[[1, 2], [3, 4]]]]), w = tensor([[[[1, 1], [1, 1]]]]);
    expect(await convTranspose2d(x, w, { stride: 2 }).toArray()).toEqual([[[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]]);
    // stride 1 overlaps: sums of neighbours
    expect(await convTranspose2d(x, w).toArray()).toEqual([[[[1, 3, 2], [4, 10, 6], [3, 7, 4]]]]);
  });

  it("matches a naive scatter loop", async () => {
    const cases: [number[], number[], { stride?: number; padding?: number; outputPadding?: number; dilation?: number; groups?: number }][] = [
      [[2, 3, 4, 4], [3, 2, 3, 3], {}],
      [[1, 2, 3, 4], [2, 3, 3, 3], { stride: 2, padding: 1, outputPadding: 1 }],
      [[1, 4, 3, 3], [4, 2, 2, 2], { stride: 2, groups: 2 }],
      [[1, 2, 4, 3], [2, 2, 3, 3], { dilation: 2, padding: 1 }],
    ];
    let seed = 40;
    for (const [xs, ws, o] of cases) {
      const x = rn(xs, seed++), w = rn(ws, seed++), b = rn([ws[1]! * (o.groups ?? 1)], seed++);
      const s = o.stride ?? 1, p = o.padding ?? 0, op = o.outputPadding ?? 0, d = o.dilation ?? 1;
      const want = refConvTranspose2d(await arr(x), await arr(w), [s, s], [p, p], [op, op], [d, d], o.groups ?? 1);
      const bias = (await arr(b)).data, per = want.shape[2]! * want.shape[3]!;
      want.data = want.data.map((v, i) => v + bias[Math.floor(i / per) % want.shape[1]!]!);
      const y = convTranspose2d(x, w, { ...o, bias: b });
      expectClose(await arr(y), want);
    }
  });

  it("reports channel mismatches and bad outputPadding", () => {
    expect(() => convTranspose2d(rn([1, 3, 4, 4], 1), rn([2, 3, 3, 3], 2))).toThrow(/3 channels/);
    expect(() => convTranspose2d(rn([1, 2, 4, 4], 1), rn([2, 3, 3, 3], 2), { stride: 2, outputPadding: 2 })).toThrow(ValueError);
  });
});

// ---------------------------------------------------------------- pooling

describe("pooling", () => {
  it("computes small 1-d cases by hand (ceilMode, countIncludePad)", async () => {
    const x = tensor([[[1, 2, 3, 4, 5]]]);
    expect(await maxPool1d(x, { kernelSize: 2 }).toArray()).toEqual([[[2, 4]]]);
    expect(await maxPool1d(x, { kernelSize: 2, ceilMode: true }).toArray()).toEqual([[[2, 4, 5]]]);
    expect(await avgPool1d(x, { kernelSize: 2, ceilMode: true }).toArray()).toEqual([[[1.5, 3.5, 5]]]);
    expect(await avgPool1d(x, { kernelSize: 2, padding: 1 }).toArray()).toEqual([[[0.5, 2.5, 4.5]]]);
    expect(await avgPool1d(x, { kernelSize: 2, padding: 1, countIncludePad: false }).toArray()).toEqual([[[1, 2.5, 4.5]]]);
    // a ceil-mode window past the end padding: its divisor is clipped to the padded input
    const y = tensor([[[1, 2, 3, 4, 5, 6]]]);
    expect(await avgPool1d(y, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }).toArray()).toEqual([[[1, 3, 5, 3]]]);
    expect(await avgPool1d(y, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }).toArray()).toEqual([[[1.5, 3, 5, 6]]]);
    // padded positions never win a max
    expect(await maxPool1d(tensor([[[-3, -1, -2]]]), { kernelSize: 3, stride: 1, padding: 1 }).toArray()).toEqual([[[-1, -1, -1]]]);
    expect(await maxPool1d(tensor([[[1, 5, 2, 4, 3]]]), { kernelSize: 2, dilation: 2, stride: 1 }).toArray()).toEqual([[[2, 5, 3]]]);
  });

  it("matches PyTorch-style loops in 2-d", async () => {
    const cases: { k: number[]; s?: number[]; p?: number[]; d?: number[]; ceil?: boolean; cip?: boolean }[] = [
      { k: [2, 2] },
      { k: [3, 3], s: [2, 2], p: [1, 1] },
      { k: [3, 3], s: [2, 2], p: [1, 1], ceil: true },
      { k: [3, 2], s: [2, 1], p: [1, 0], ceil: true, cip: false },
      { k: [2, 3], s: [3, 2], p: [1, 1], cip: false },
      { k: [3, 3], s: [1, 2], d: [2, 1] },
    ];
    const x = rn([2, 3, 7, 8], 5), X = await arr(x);
    for (const c of cases) {
      const s = c.s ?? c.k, p = c.p ?? [0, 0], d = c.d ?? [1, 1], ceil = c.ceil ?? false;
      const mx = maxPool2d(x, { kernelSize: c.k, stride: c.s, padding: c.p, dilation: c.d, ceilMode: c.ceil });
      expectClose(await arr(mx), refPool2d(X, "max", c.k, s, p, d, ceil));
      if (!c.d) {
        const av = x.avgPool2d({ kernelSize: c.k, stride: c.s, padding: c.p, ceilMode: c.ceil, countIncludePad: c.cip });
        expectClose(await arr(av), refPool2d(X, "avg", c.k, s, p, d, ceil, c.cip ?? true));
      }
    }
    // number arguments and unbatched inputs
    const u = maxPool2d(rn([3, 6, 6], 2), { kernelSize: 2 });
    expect(u.shape).toEqual([3, 3, 3]);
  });

  it("global pools reduce all spatial axes", async () => {
    const x = arange(24).cast("float32").reshape([2, 3, 2, 2]);
    const a = globalAvgPool(x), m = x.globalMaxPool();
    expect(a.shape).toEqual([2, 3, 1, 1]);
    expect(m.shape).toEqual([2, 3, 1, 1]);
    expect(Array.from(await a.data() as Float32Array)).toEqual([1.5, 5.5, 9.5, 13.5, 17.5, 21.5]);
    expect(Array.from(await m.data() as Float32Array)).toEqual([3, 7, 11, 15, 19, 23]);
    expect(globalAvgPool(rn([1, 2, 5], 1)).shape).toEqual([1, 2, 1]);
    expect(globalAvgPool(tensor([[[1, 2]]], { dtype: "int32" })).dtype).toBe("float32");
    expect(() => globalAvgPool(rn([2, 3], 1))).toThrow(ShapeError);
  });

  it("avgPool gives float results for integer inputs", async () => {
    const y = avgPool1d(tensor([[[1, 2, 4, 7]]], { dtype: "int32" }), { kernelSize: 2 });
    expect(y.dtype).toBe("float32");
    expect(await y.toArray()).toEqual([[[1.5, 5.5]]]);
  });

  it("reports bad pooling arguments", () => {
    const x = rn([1, 1, 4, 4], 1);
    expect(() => maxPool2d(x, { kernelSize: 2, padding: 2 })).toThrow(/half the kernel/);
    expect(() => maxPool2d(x, { kernelSize: 5 })).toThrow(/too small/);
    expect(() => avgPool2d(rn([4], 1), { kernelSize: 2 })).toThrow(ShapeError);
    expect(() => maxPool2d(x, { kernelSize: [2, 2, 2] })).toThrow(ValueError);
  });
});
