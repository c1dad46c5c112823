import { describe, it, expect } from "vitest";
import { jit, randn, tensor, Tensor, softmax, layerNorm, where, maximum, type TensorData } from "../../lib/index.js";

/** Seeded normal values, optionally with NaN, ±inf and ±0 sprinkled in (about 3%). */
async function data(shape: number[], seed: number, specials: boolean): Promise<Tensor> {
  const v = Float32Array.from(await randn(shape, { seed }).data() as Float32Array);
  if (specials) for (let i = 0; i < v.length; i += 29) v[i] = [NaN, Infinity, -Infinity, -0][(i / 29) % 4]!;
  return tensor(v, { shape });
}

/** Equal, or (for finite values) within 1e-6 relative: the wasm math library is within 1 ulp of Math.*. */
function same(a: TensorData, b: TensorData): string {
  for (let i = 0; i < a.length; i++) {
    const x = Number(a[i]), y = Number(b[i]);
    if (Object.is(x, y) || (x === 0 && y === 0)) continue;
    if (Number.isFinite(x) && Number.isFinite(y) && Math.abs(x - y) <= 1e-6 * Math.abs(y)) continue;
    return `element ${i}: ${x} vs ${y}`;
  }
  return a.length === b.length ? "" : "length";
}

const cases: [string, number[][], (...x: Tensor[]) => Tensor][] = [
  ["elementwise chain", [[7, 37]], (x) => x.mul(2).add(1).maximum(x.neg()).sqrt().floor()],
  ["broadcast row and column", [[9, 33], [33], [9, 1]], (x, r, c) => x.add(r).mul(c).sub(r.abs()).div(c.add(3))],
  ["compare and where", [[5, 41], [41]], (x, y) => where(x.lt(y), x, y.mul(2)).add(where(x.ge(0).logicalAnd(y.lt(1)), 1, 0))],
  ["sum and mean over rows", [[6, 45]], (x) => x.sum(1).add(x.mean(1))],
  ["max and min over rows", [[6, 45]], (x) => x.max(1, true).sub(x.min(1, true)).add(x)],
  ["softmax", [[8, 50]], (x) => softmax(x.div(10), -1)],
  ["layer norm", [[5, 64]], (x) => layerNorm(x, [64])],
  ["column reduce", [[40, 12]], (x) => x.sum(0).add(x.max(0))],
  ["full reduce", [[203]], (x) => x.sum().add(x.max())],
  ["maximum with scalar", [[3, 4, 19]], (x) => maximum(x, 0.5).reciprocal()],
];

describe("wasm SIMD paths agree with the reference", () => {
  for (const [name, shapes, fn] of cases) {
    it(name, async () => {
      for (const specials of [false, true]) {
        const xs = await Promise.all(shapes.map((s, i) => data(s, 10 * i + 3, specials)));
        const [a, b] = await Promise.all([jit(fn, { backend: "js", opt: 0 })(...xs).data(), jit(fn, { backend: "wasm" })(...xs).data()]);
        expect(same(b, a), `${name} (specials: ${specials})`).toBe("");
      }
    });
  }
  it("emits SIMD for contiguous float kernels, transcendentals included", () => {
    const f = jit((x: Tensor, r: Tensor) => softmax(x.add(r), -1), { backend: "wasm" });
    const text = f.explain(randn([8, 64], { seed: 1 }), randn([64], { seed: 2 })).toString();
    expect(text).toMatch(/f32x4\.add/);
    expect(text).toMatch(/v128\.load/);
    expect(text).toMatch(/call \$kiln\.math\.exp\.f32x4/);
    const g = jit((x: Tensor) => x.sum(-1), { backend: "wasm" });
    expect(g.explain(randn([8, 64], { seed: 1 })).toString()).toMatch(/f64x2\.add/); // sums accumulate in f64 lanes
  });
});
