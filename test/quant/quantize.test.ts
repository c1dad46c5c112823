/**
 * Post-training int8 through `jit(f, { quantize })`: the accuracy targets on a small CNN and a
 * transformer block (cosine ≥ 0.99 against float, top-1 agreement ≥ 99 % on 100 seeded inputs
 * not used for calibration), every calibration method, dynamic mode, the per-layer report, the
 * accuracy budget, `exclude`, and the errors for bad options.
 */
import { describe, it, expect } from "vitest";
import { onnx, jit, randn, Tensor } from "kiln";
import { resnetish, gptBlock } from "../onnx/zoo.js";

const cnn = onnx.load(resnetish(16));
const gpt = onnx.load(gptBlock(64, 4));
const images = (n: number, seed0: number) => Array.from({ length: n }, (_, i) => ({ input: randn([1, 3, 32, 32], { seed: seed0 + i }) }));
const tokens = (n: number, seed0: number) => Array.from({ length: n }, (_, i) => ({ x: randn([1, 16, 64], { seed: seed0 + i }) }));

describe("int8 accuracy targets (wasm)", () => {
  it("ResNet-style CNN, static minmax: cosine ≥ 0.99 and top-1 ≥ 99 % on 100 unseen inputs", async () => {
    const f = jit(cnn, { backend: "wasm", quantize: { mode: "int8", calibration: images(16, 1000) } });
    const r = await f.quantReport(images(100, 5000));
    expect(r.quantized.length).toBe(5); // 4 convs (not depthwise) + the classifier
    expect(r.outputs[0]!.cosine).toBeGreaterThanOrEqual(0.99);
    expect(r.outputs[0]!.top1).toBeGreaterThanOrEqual(0.99);
    expect(r.samples).toBe(100);
    const ex = f.explain(images(1, 7)[0]!).toString();
    expect(ex).toMatch(/conv\(.*zeroA=\d+ zeroB=\[0\] : int32/);
    expect(ex).toMatch(/== quantization\n5 layer\(s\) in int8/);
  });

  it("GPT block, static and dynamic: cosine ≥ 0.99 on 100 unseen inputs", async () => {
    const s = jit(gpt, { backend: "wasm", quantize: { mode: "int8", calibration: tokens(16, 100) } });
    const rs = await s.quantReport(tokens(100, 9000));
    expect(rs.quantized.length).toBe(4);
    expect(rs.outputs[0]!.cosine).toBeGreaterThanOrEqual(0.99);
    const d = jit(gpt, { backend: "wasm", quantize: { mode: "int8-dynamic" } });
    const rd = await d.quantReport(tokens(100, 9000));
    expect(rd.outputs[0]!.cosine).toBeGreaterThanOrEqual(0.99);
    expect(rd.layers.map((l) => l.name)).toEqual(rs.layers.map((l) => l.name));
  });

  for (const method of ["percentile", "entropy"] as const) {
    it(`calibration method ${method} meets the targets on the CNN`, async () => {
      const f = jit(cnn, { backend: "wasm", quantize: { mode: "int8", calibration: images(16, 1000), method } });
      const r = await f.quantReport(images(50, 5000));
      expect(r.outputs[0]!.cosine).toBeGreaterThanOrEqual(0.99);
      expect(r.outputs[0]!.top1).toBeGreaterThanOrEqual(0.98);
    });
  }
});

describe("quantize option", () => {
  const w1 = randn([32, 64], { seed: 1 }).mul(0.2), w2 = randn([64, 8], { seed: 2 }).mul(0.2);
  const mlp = (x: Tensor) => x.matmul(w1).relu().matmul(w2);
  const calib = Array.from({ length: 8 }, (_, i) => randn([4, 32], { seed: 50 + i }));

  it("the js reference and wasm agree on the quantized graph (int8 GEMMs are exact)", async () => {
    const x = randn([4, 32], { seed: 9 });
    const a = jit(mlp, { backend: "js", quantize: { mode: "int8", calibration: calib } });
    const b = jit(mlp, { backend: "wasm", quantize: { mode: "int8", calibration: calib } });
    const ya = await a(x).data(), yb = await b(x).data();
    // same int8 inputs and exact int32 sums; only the float epilogue's last bits may differ
    Array.from(ya, Number).forEach((v, i) => expect(Number(yb[i])).toBeCloseTo(v, 5));
    expect(b.explain(x).toString()).toMatch(/matmul\(.*zeroA=\d+ zeroB=\[0\] : int32/);
  });

  it("calibrates once, then compiles other shapes with the same ranges", async () => {
    const f = jit(mlp, { backend: "wasm", quantize: { mode: "int8", calibration: calib } });
    const y1 = await f(randn([4, 32], { seed: 3 })).data();
    const y2 = await f(randn([9, 32], { seed: 3 })).data();
    expect(y1.length).toBe(32); expect(y2.length).toBe(72);
    expect(f.cacheSize).toBe(2);
  });

  it("exclude keeps ops in float", async () => {
    const f = jit(mlp, { backend: "wasm", quantize: { mode: "int8", calibration: calib, exclude: ["matmul 1"] } });
    const r = await f.quantReport([randn([4, 32], { seed: 4 })]);
    expect(r.quantized).toEqual(["matmul 0"]);
    const g = jit(cnn, { backend: "wasm", quantize: { mode: "int8-dynamic", exclude: ["conv"] } });
    const rg = await g.quantReport(images(1, 3));
    expect(rg.layers.map((l) => l.op)).toEqual(["matmul"]); // the classifier (a Gemm) only
  });

  it("an accuracy budget reverts the worst layers to float until it holds, and says which", async () => {
    const f = jit(mlp, { backend: "wasm", quantize: { mode: "int8", calibration: calib, maxError: 1e-6 } });
    const r = await f.quantReport([randn([4, 32], { seed: 5 })]);
    // nothing int8 meets 1e-6: every layer goes back, worst first
    expect(r.reverted.length).toBe(2);
    expect(r.quantized).toEqual([]);
    expect(r.outputs[0]!.maxAbs).toBe(0);
    const loose = jit(mlp, { backend: "wasm", quantize: { mode: "int8", calibration: calib, maxError: 0.5 } });
    expect((await loose.quantReport([randn([4, 32], { seed: 5 })])).reverted).toEqual([]);
  });

  it("bad options are clear errors", async () => {
    expect(() => jit(mlp, { quantize: { mode: "int4" as "int8" } })).toThrow(/quantize.mode must be "int8" or "int8-dynamic"/);
    expect(() => jit(mlp, { quantize: { mode: "int8" } })).toThrow(/needs calibration samples/);
    expect(() => jit(mlp, { quantize: { mode: "int8", calibration: calib, method: "kl" as "entropy" } })).toThrow(/quantize.method/);
    expect(() => jit(mlp, { quantize: { mode: "int8-dynamic", calibration: calib, minTop1: 2 } })).toThrow(/minTop1 must be in \[0, 1\]/);
    expect(() => jit(mlp, { quantize: { mode: "int8-dynamic", maxError: 0.1 } })).toThrow(/budget .* needs calibration samples/);
    await expect(jit(mlp).quantReport([randn([4, 32])])).rejects.toThrow(/needs a function compiled with the quantize option/);
    const f = jit(mlp, { backend: "wasm", quantize: { mode: "int8", calibration: calib } });
    expect(() => f.explain(randn([4, 32]))).toThrow(/still calibrating/);
    const bad = jit(mlp, { backend: "wasm", quantize: { mode: "int8", calibration: [randn([4, 7])] } });
    await expect(bad.compile(randn([4, 32]))).rejects.toThrow(/matmul/);
  });
});
