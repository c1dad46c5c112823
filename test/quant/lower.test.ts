/**
 * The int8 lowering on imported quantized ONNX models: QOperator ops (QLinearMatMul,
 * MatMulInteger, QLinearConv, ConvInteger) and QDQ patterns with constant quantization
 * parameters compile to int8 GEMM nodes, and give what the unlowered graph (opt 0, the plain
 * reference) gives: bit for bit where the ONNX op is integer, within float rounding for QDQ.
 */
import { describe, it, expect } from "vitest";
import { onnx, jit, tensor } from "kiln";
import { model, FLOAT } from "../onnx/build.js";
import { rand } from "../onnx/zoo.js";
import type { HostBuffer } from "../../jit/buffer.js";

const UINT8 = 2, INT8 = 3, INT32 = 6;
const ints = (n: number, lo: number, hi: number, seed: number) => rand(seed)(n).map((v) => Math.floor(lo + (v * 0.5 + 0.5) * (hi - lo + 1)) | 0).map((v) => Math.min(hi, Math.max(lo, v)));

async function run(bytes: Uint8Array, feeds: Record<string, HostBuffer>, backend: string, opt: 0 | 2) {
  const m = onnx.load(bytes);
  const f = jit(m, { backend, opt });
  const ts = Object.fromEntries(Object.entries(feeds).map(([k, b]) => [k, tensor(b.data as Float32Array, { shape: [...b.shape], dtype: b.dtype })]));
  const out = f(ts) as Record<string, { data(): Promise<ArrayLike<number>> }>;
  const ex = f.explain(ts).toString();
  return { ex, y: Array.from(await out[m.outputs[0]!.name]!.data()) };
}
const u8 = (shape: number[], seed: number): HostBuffer => ({ dtype: "uint8", shape, data: Uint8Array.from(ints(shape.reduce((a, b) => a * b, 1), 0, 255, seed)) });
const f32 = (shape: number[], seed: number): HostBuffer => ({ dtype: "float32", shape, data: Float32Array.from(rand(seed)(shape.reduce((a, b) => a * b, 1))) });

describe("int8 lowering of imported models", () => {
  const M = 5, K = 19, N = 7;
  const qlinearMatMul = model({
    inputs: [{ name: "a", type: UINT8, shape: [M, K] }], outputs: [{ name: "y", type: UINT8, shape: [M, N] }],
    nodes: [{ op: "QLinearMatMul", inputs: ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], outputs: ["y"] }],
    inits: [
      { name: "as", dims: [], values: [0.02] }, { name: "az", type: UINT8, dims: [], values: [113] },
      { name: "b", type: INT8, dims: [K, N], values: ints(K * N, -128, 127, 3) },
      { name: "bs", dims: [N], values: Array.from({ length: N }, (_, i) => 0.01 + i * 0.002) }, { name: "bz", type: INT8, dims: [N], values: ints(N, -5, 5, 4) },
      { name: "ys", dims: [], values: [0.05] }, { name: "yz", type: UINT8, dims: [], values: [128] },
    ],
  });
  const matMulInteger = model({
    inputs: [{ name: "a", type: UINT8, shape: [2, M, K] }], outputs: [{ name: "y", type: INT32, shape: [2, M, N] }],
    nodes: [{ op: "MatMulInteger", inputs: ["a", "b", "az", "bz"], outputs: ["y"] }],
    inits: [{ name: "b", type: UINT8, dims: [K, N], values: ints(K * N, 0, 255, 5) }, { name: "az", type: UINT8, dims: [], values: [7] }, { name: "bz", type: UINT8, dims: [N], values: ints(N, 100, 150, 6) }],
  });
  const convInteger = model({
    inputs: [{ name: "x", type: UINT8, shape: [1, 3, 9, 8] }], outputs: [{ name: "y", type: INT32 }],
    nodes: [{ op: "ConvInteger", inputs: ["x", "w", "xz", "wz"], outputs: ["y"], attrs: { pads: [1, 2, 1, 0], strides: [2, 1] } }],
    inits: [{ name: "w", type: UINT8, dims: [4, 3, 3, 3], values: ints(108, 0, 255, 8) }, { name: "xz", type: UINT8, dims: [], values: [60] }, { name: "wz", type: UINT8, dims: [], values: [128] }],
  });
  const qlinearConv = model({
    inputs: [{ name: "x", type: UINT8, shape: [2, 4, 6, 6] }], outputs: [{ name: "y", type: UINT8 }],
    nodes: [{ op: "QLinearConv", inputs: ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "bias"], outputs: ["y"], attrs: { pads: [1, 1, 1, 1] } }],
    inits: [
      { name: "xs", dims: [], values: [0.03] }, { name: "xz", type: UINT8, dims: [], values: [90] },
      { name: "w", type: INT8, dims: [5, 4, 3, 3], values: ints(180, -127, 127, 9) }, { name: "ws", dims: [5], values: [0.01, 0.02, 0.015, 0.03, 0.005] }, { name: "wz", type: INT8, dims: [5], values: [0, 0, 0, 0, 0] },
      { name: "ys", dims: [], values: [0.2] }, { name: "yz", type: UINT8, dims: [], values: [100] }, { name: "bias", type: INT32, dims: [5], values: [100, -200, 0, 50, 1000] },
    ],
  });
  const cases: [string, Uint8Array, Record<string, HostBuffer>, RegExp][] = [
    ["QLinearMatMul", qlinearMatMul, { a: u8([M, K], 1) }, /matmul\(.*zeroA=113 zeroB=\[/],
    ["MatMulInteger (batched A, per-column zero points)", matMulInteger, { a: u8([2, M, K], 2) }, /matmul\(.*zeroA=7 zeroB=\[/],
    ["ConvInteger (pads, strides)", convInteger, { x: u8([1, 3, 9, 8], 3) }, /conv\(.*zeroA=60 zeroB=\[128\]/],
    ["QLinearConv (per-channel scales, int32 bias)", qlinearConv, { x: u8([2, 4, 6, 6], 4) }, /conv\(.*zeroA=90 zeroB=\[0\]/],
  ];
  for (const backend of ["js", "wasm"]) {
    for (const [name, bytes, feeds, pattern] of cases) {
      it(`${name} becomes an int8 GEMM on ${backend}, bit-exact`, async () => {
        const ref = await run(bytes, feeds, "js", 0);
        const got = await run(bytes, feeds, backend, 2);
        expect(got.ex).toMatch(pattern);
        expect(got.y).toEqual(ref.y);
      });
    }
  }

  it("a QDQ matmul (DequantizeLinear on both operands) becomes an int8 GEMM with a float rescale", async () => {
    const bytes = model({
      opset: 13,
      inputs: [{ name: "x", shape: [M, K] }], outputs: [{ name: "y", shape: [M, N] }],
      nodes: [
        { op: "QuantizeLinear", inputs: ["x", "xs", "xz"], outputs: ["xq"] },
        { op: "DequantizeLinear", inputs: ["xq", "xs", "xz"], outputs: ["xd"] },
        { op: "DequantizeLinear", inputs: ["w", "ws", "wz"], outputs: ["wd"], attrs: { axis: 1 } },
        { op: "MatMul", inputs: ["xd", "wd"], outputs: ["m"] },
        { op: "Add", inputs: ["m", "bias"], outputs: ["y"] },
      ],
      inits: [
        { name: "xs", dims: [], values: [0.01] }, { name: "xz", type: UINT8, dims: [], values: [128] },
        { name: "w", type: INT8, dims: [K, N], values: ints(K * N, -127, 127, 11) }, { name: "ws", dims: [N], values: Array.from({ length: N }, (_, i) => 0.004 * (i + 1)) },
        { name: "wz", type: INT8, dims: [N], values: new Array(N).fill(0) }, { name: "bias", type: FLOAT, dims: [N], values: Array.from({ length: N }, (_, i) => i / 10) },
      ],
    });
    const feeds = { x: f32([M, K], 12) };
    const ref = await run(bytes, feeds, "js", 0);
    for (const backend of ["js", "wasm"]) {
      const got = await run(bytes, feeds, backend, 2);
      expect(got.ex).toMatch(/matmul\(.*zeroA=128 zeroB=\[0\] : int32/);
      got.y.forEach((v, i) => expect(v).toBeCloseTo(ref.y[i]!, 5));
    }
  });

  it("a runtime activation zero point (DynamicQuantizeLinear → MatMulInteger) still runs as an int8 GEMM, bit-exact", async () => {
    const bytes = model({
      inputs: [{ name: "a", type: UINT8, shape: [M, K] }, { name: "az", type: UINT8, shape: [] }], outputs: [{ name: "y", type: INT32 }],
      nodes: [{ op: "MatMulInteger", inputs: ["a", "b", "az", "bz"], outputs: ["y"] }],
      inits: [{ name: "b", type: UINT8, dims: [K, N], values: ints(K * N, 0, 255, 13) }, { name: "bz", type: UINT8, dims: [N], values: ints(N, 90, 140, 15) }],
    });
    const feeds = { a: u8([M, K], 14), az: { dtype: "uint8", shape: [], data: Uint8Array.of(17) } as HostBuffer };
    const ref = await run(bytes, feeds, "js", 0), got = await run(bytes, feeds, "wasm", 2);
    expect(got.ex).toMatch(/matmul\(.*zeroA=0 zeroB=\[/);
    expect(got.y).toEqual(ref.y);
  });

  it("leaves a runtime weight zero point alone (still correct)", async () => {
    const bytes = model({
      inputs: [{ name: "a", type: UINT8, shape: [M, K] }, { name: "bz", type: UINT8, shape: [] }], outputs: [{ name: "y", type: INT32 }],
      nodes: [{ op: "MatMulInteger", inputs: ["a", "b", "", "bz"], outputs: ["y"] }],
      inits: [{ name: "b", type: UINT8, dims: [K, N], values: ints(K * N, 0, 255, 13) }],
    });
    const feeds = { a: u8([M, K], 14), bz: { dtype: "uint8", shape: [], data: Uint8Array.of(17) } as HostBuffer };
    const ref = await run(bytes, feeds, "js", 0), got = await run(bytes, feeds, "wasm", 2);
    expect(got.ex).not.toMatch(/zeroB=/);
    expect(got.y).toEqual(ref.y);
  });
});
