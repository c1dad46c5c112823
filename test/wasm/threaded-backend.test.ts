import { describe, it, expect } from "vitest";
import { jit, randn, nn, softmax, layerNorm, conv2d, type Tensor } from "../../lib/index.js";

/** Models compiled with threads: 2 agree with the single-threaded wasm build and the reference. */
describe("wasm backend with worker threads", () => {
  const w = randn([64, 96], { seed: 1 }), cw = randn([8, 3, 3, 3], { seed: 2 });
  const lin = new nn.Linear(96, 32, { seed: 3 });
  const models: [string, (x: Tensor) => Tensor, number[]][] = [
    ["mlp + softmax", (x) => softmax(lin.forward(x.matmul(w).relu()), -1), [37, 64]],
    ["layer norm + gelu", (x) => layerNorm(x, [64]).gelu().add(x), [29, 64]],
    ["conv + relu", (x) => conv2d(x, cw, { padding: 1 }).relu().mean([2, 3]), [2, 3, 17, 17]],
  ];
  for (const [name, fn, shape] of models) {
    it(name, async () => {
      const x = randn(shape, { seed: 4 });
      const [ref, one, two] = await Promise.all([
        jit(fn, { backend: "js", opt: 0 })(x).data(),
        jit(fn, { backend: "wasm", threads: 1 })(x).data(),
        jit(fn, { backend: "wasm", threads: 2 })(x).data(),
      ]);
      expect(Array.from(two as Float32Array)).toEqual(Array.from(one as Float32Array));
      for (let i = 0; i < ref.length; i++) expect(Math.abs(Number(two[i]) - Number(ref[i]))).toBeLessThan(1e-4 * (1 + Math.abs(Number(ref[i]))));
    }, 30000);
  }
});
