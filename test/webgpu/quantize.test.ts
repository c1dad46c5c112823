/**
 * `jit(model, { quantize })` on the webgpu backend: a quantized CNN and GPT block compile to int8
 * GEMMs there too and give what the js reference gives for the same quantized graph (the int8
 * sums are exact; float epilogues may differ in their last bits, which can move a requantized
 * value by one step).
 * Needs a WebGPU adapter (see helpers.ts): skipped with the reason where none exists, a failure
 * under KILN_REQUIRE_WEBGPU=1.
 */
import { describe, expect } from "vitest";
import { onnx, jit, randn } from "kiln";
import { resnetish, gptBlock } from "../onnx/zoo.js";
import { itNeeds, nodeAdapterMissing } from "./helpers.js";

const why = await nodeAdapterMissing();

describe("int8 quantization on webgpu", () => {
  const cases: { name: string; bytes: Uint8Array; feed: (s: number) => Record<string, ReturnType<typeof randn>>; pattern: RegExp }[] = [
    { name: "ResNet-style CNN", bytes: resnetish(8), feed: (s: number) => ({ input: randn([1, 3, 16, 16], { seed: s }) }), pattern: /conv\(.*zeroB=\[0\] : int32/ },
    { name: "GPT block", bytes: gptBlock(32, 4), feed: (s: number) => ({ x: randn([1, 8, 32], { seed: s }) }), pattern: /matmul\(.*zeroB=\[0\] : int32/ },
  ];
  for (const c of cases) {
    itNeeds(`${c.name}: static int8 matches the js reference`, why, async () => {
      const m = onnx.load(c.bytes);
      const calibration = [1, 2, 3, 4].map(c.feed);
      const x = c.feed(9);
      const gpu = jit(m, { backend: "webgpu", quantize: { mode: "int8", calibration } });
      const ref = jit(m, { backend: "js", quantize: { mode: "int8", calibration } });
      const out = m.outputs[0]!.name;
      const a = Array.from(await (gpu(x) as Record<string, { data(): Promise<Float32Array> }>)[out]!.data());
      const b = Array.from(await (ref(x) as Record<string, { data(): Promise<Float32Array> }>)[out]!.data());
      // a float epilogue's last bit can move a requantized value by one step: compare as vectors
      const dot = a.reduce((s, v, i) => s + v * b[i]!, 0), na = Math.hypot(...a), nb = Math.hypot(...b);
      expect(dot / (na * nb)).toBeGreaterThan(0.9999);
      const scale = Math.max(...b.map(Math.abs), 1e-6);
      a.forEach((v, i) => expect(Math.abs(v - b[i]!) / scale).toBeLessThan(0.05));
      expect(gpu.explain(x).toString()).toMatch(c.pattern);
    }, 120_000);
  }
});
