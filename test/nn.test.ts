import { describe, it, expect } from "vitest";
import { nn, tensor, randn, manualSeed, conv2d, layerNorm, maxPool2d, jit, ShapeError, ValueError, Tensor } from "../lib/index.js";

const rn = (shape: number[], seed: number) => randn(shape, { seed });
const vals = async (t: Tensor) => Array.from(await t.data() as Float32Array, Number);
function expectClose(got: number[], want: number[], tol = 1e-4): void {
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => { if (!(Math.abs(v - want[i]!) <= tol * (1 + Math.abs(want[i]!)))) expect.fail(`element ${i}: got ${v}, want ${want[i]}`); });
}
/** Naive y = x W^T + b for x [R, I], W [O, I]. */
function refLinear(x: number[], R: number, I: number, w: number[], O: number, b?: number[]): number[] {
  const out: number[] = [];
  for (let r = 0; r < R; r++)
    for (let o = 0; o < O; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < I; i++) s += x[r * I + i]! * w[o * I + i]!;
      out.push(s);
    }
  return out;
}

describe("nn.Linear", () => {
  it("has PyTorch shapes, bounds and parameter counts", async () => {
    const fc = new nn.Linear(6, 4, { seed: 0 });
    expect(fc.weight.shape).toEqual([4, 6]);
    expect(fc.bias!.shape).toEqual([4]);
    expect(fc.parameters().length).toBe(2);
    expect(fc.parameterCount()).toBe(6 * 4 + 4);
    expect(fc.namedParameters().map(([n]) => n)).toEqual(["weight", "bias"]);
    const bound = 1 / Math.sqrt(6);
    for (const v of [...await vals(fc.weight), ...await vals(fc.bias!)]) expect(Math.abs(v)).toBeLessThanOrEqual(bound);
    const nb = new nn.Linear(6, 4, { bias: false, seed: 0 });
    expect(nb.parameters().length).toBe(1);
    expect(nb.bias).toBeUndefined();
  });

  it("computes x W^T + b over leading axes", async () => {
    const fc = new nn.Linear(5, 3, { seed: 1 });
    const x = rn([2, 4, 5], 2);
    const y = fc.forward(x);
    expect(y.shape).toEqual([2, 4, 3]);
    expectClose(await vals(y), refLinear(await vals(x), 8, 5, await vals(fc.weight), 3, await vals(fc.bias!)));
    expect(fc.forward(rn([5], 3)).shape).toEqual([3]);
    expect(() => fc.forward(rn([2, 4], 3))).toThrow(/4 features.*expects 5/);
  });

  it("is deterministic by seed", async () => {
    const a = new nn.Linear(4, 4, { seed: 7 }), b = new nn.Linear(4, 4, { seed: 7 }), c = new nn.Linear(4, 4, { seed: 8 });
    expect(await vals(a.weight)).toEqual(await vals(b.weight));
    expect(await vals(a.bias!)).toEqual(await vals(b.bias!));
    expect(await vals(a.weight)).not.toEqual(await vals(c.weight));
    // weight and bias draw from different streams
    expect((await vals(a.weight)).slice(0, 4)).not.toEqual(await vals(a.bias!));
    // without a seed, the global seed decides
    manualSeed(123); const d = new nn.Linear(3, 2);
    manualSeed(123); const e = new nn.Linear(3, 2);
    expect(await vals(d.weight)).toEqual(await vals(e.weight));
  });
});

describe("nn.Conv2d", () => {
  it("has PyTorch shapes and calls conv2d with its options", async () => {
    const c = new nn.Conv2d(4, 6, 3, { stride: 2, padding: 1, groups: 2, seed: 3 });
    expect(c.weight.shape).toEqual([6, 2, 3, 3]);
    expect(c.bias!.shape).toEqual([6]);
    expect(c.parameterCount()).toBe(6 * 2 * 9 + 6);
    const bound = 1 / Math.sqrt(2 * 9);
    for (const v of await vals(c.weight)) expect(Math.abs(v)).toBeLessThanOrEqual(bound);
    const x = rn([2, 4, 7, 7], 1);
    const y = c.forward(x);
    expect(y.shape).toEqual([2, 6, 4, 4]);
    expectClose(await vals(y), await vals(conv2d(x, c.weight, { bias: c.bias, stride: 2, padding: 1, groups: 2 })));
    const same = new nn.Conv2d(3, 5, [3, 2], { padding: "same", bias: false, seed: 1 });
    expect(same.forward(rn([1, 3, 6, 5], 1)).shape).toEqual([1, 5, 6, 5]);
    expect(same.parameters().length).toBe(1);
    const a = new nn.Conv2d(3, 5, 3, { seed: 9 }), b = new nn.Conv2d(3, 5, 3, { seed: 9 });
    expect(await vals(a.weight)).toEqual(await vals(b.weight));
  });

  it("reports wrong channel counts", () => {
    const c = new nn.Conv2d(3, 8, 3, { seed: 0 });
    expect(() => c.forward(rn([1, 4, 8, 8], 1))).toThrow(ShapeError);
    expect(() => new nn.Conv2d(3, 8, 3, { groups: 2 })).toThrow(ValueError);
  });
});

describe("nn.LayerNorm and nn.Embedding", () => {
  it("LayerNorm starts as weight 1, bias 0", async () => {
    const ln = new nn.LayerNorm(4);
    expect(await vals(ln.weight!)).toEqual([1, 1, 1, 1]);
    expect(await vals(ln.bias!)).toEqual([0, 0, 0, 0]);
    expect(ln.parameterCount()).toBe(8);
    const x = rn([3, 4], 1);
    expectClose(await vals(ln.forward(x)), await vals(layerNorm(x, [4])));
    expect(new nn.LayerNorm([2, 3], { elementwiseAffine: false }).parameters().length).toBe(0);
    expect(() => ln.forward(rn([3, 5], 1))).toThrow(ShapeError);
  });

  it("Embedding looks up rows", async () => {
    const emb = new nn.Embedding(10, 3, { seed: 2 });
    expect(emb.weight.shape).toEqual([10, 3]);
    const idx = tensor([[1, 9], [0, 1]], { dtype: "int32" });
    const y = emb.forward(idx);
    expect(y.shape).toEqual([2, 2, 3]);
    const W = await vals(emb.weight), Y = await vals(y);
    [1, 9, 0, 1].forEach((r, i) => expect(Y.slice(i * 3, i * 3 + 3)).toEqual(W.slice(r * 3, r * 3 + 3)));
    expect(await vals(new nn.Embedding(10, 3, { seed: 2 }).weight)).toEqual(W);
  });
});

describe("nn.MultiheadAttention", () => {
  const E = 4, H = 2, N = 2, L = 3, S = 5;

  /** The same computation written with plain loops from the module's parameters. */
  async function refMha(m: nn.MultiheadAttention, q: Tensor, k: Tensor, v: Tensor, allow?: (i: number, j: number) => boolean): Promise<number[]> {
    const W = await vals(m.inProjWeight), Bi = await vals(m.inProjBias!), Wo = await vals(m.outProj.weight), Bo = await vals(m.outProj.bias!);
    const proj = (x: number[], rows: number, part: number) =>
      refLinear(x, rows, E, W.slice(part * E * E, (part + 1) * E * E), E, Bi.slice(part * E, (part + 1) * E));
    const Q = proj(await vals(q), N * L, 0), K = proj(await vals(k), N * S, 1), V = proj(await vals(v), N * S, 2);
    const Dh = E / H, merged: number[] = new Array(N * L * E).fill(0);
    for (let n = 0; n < N; n++)
      for (let h = 0; h < H; h++)
        for (let i = 0; i < L; i++) {
          const s: number[] = [];
          for (let j = 0; j < S; j++) {
            let d = 0;
            for (let t = 0; t < Dh; t++) d += Q[(n * L + i) * E + h * Dh + t]! * K[(n * S + j) * E + h * Dh + t]!;
            s.push(allow && !allow(i, j) ? -Infinity : d / Math.sqrt(Dh));
          }
          const mx = Math.max(...s), e = s.map((x) => Math.exp(x - mx)), z = e.reduce((a, b) => a + b, 0);
          for (let t = 0; t < Dh; t++)
            merged[(n * L + i) * E + h * Dh + t] = e.reduce((acc, p, j) => acc + (p / z) * V[(n * S + j) * E + h * Dh + t]!, 0);
        }
    return refLinear(merged, N * L, E, Wo, E, Bo);
  }

  it("has PyTorch's parameters", async () => {
    const m = new nn.MultiheadAttention(E, H, { seed: 0 });
    expect(m.namedParameters().map(([n, t]) => [n, t.shape])).toEqual([
      ["inProjWeight", [3 * E, E]], ["inProjBias", [3 * E]], ["outProj.weight", [E, E]], ["outProj.bias", [E]],
    ]);
    expect(m.parameterCount()).toBe(4 * E * E + 4 * E);
    expect(await vals(m.inProjBias!)).toEqual(new Array(3 * E).fill(0));
    const bound = Math.sqrt(6 / (E + 3 * E));
    for (const v of await vals(m.inProjWeight)) expect(Math.abs(v)).toBeLessThanOrEqual(bound);
    expect(() => new nn.MultiheadAttention(6, 4)).toThrow(/divisible/);
  });

  it("matches a naive computation, with masks", async () => {
    const m = new nn.MultiheadAttention(E, H, { seed: 1 });
    // non-zero biases so the bias path is exercised
    m.loadStateDict({ "inProjBias": rn([3 * E], 5), "outProj.bias": rn([E], 6) }, false);
    const q = rn([N, L, E], 2), k = rn([N, S, E], 3), v = rn([N, S, E], 4);
    const y = m.forward(q, k, v);
    expect(y.shape).toEqual([N, L, E]);
    expectClose(await vals(y), await refMha(m, q, k, v));
    expectClose(await vals(m.forward(q, k, v, { causal: true })), await refMha(m, q, k, v, (i, j) => j <= i));
    const mb = [[true, true, false, false, true], [false, true, true, true, true], [true, false, false, false, false]];
    expectClose(await vals(m.forward(q, k, v, { mask: tensor(mb) })), await refMha(m, q, k, v, (i, j) => mb[i]![j]!));
  });

  it("self-attention defaults, unbatched input, causal independence of the future", async () => {
    const m = new nn.MultiheadAttention(E, H, { seed: 2 });
    const x = rn([1, 4, E], 1);
    expectClose(await vals(m.forward(x)), await vals(m.forward(x, x, x)));
    expect(m.forward(rn([4, E], 1)).shape).toEqual([4, E]);
    expectClose(await vals(m.forward(rn([4, E], 1))), await vals(m.forward(x)));
    // changing the last token does not change causal outputs before it
    const x2 = x.slice([3], [4], [1]).mul(5);
    const changed = x.slice([0], [3], [1]).concat([x2], 1);
    const a = await vals(m.forward(x, x, x, { causal: true })), b = await vals(m.forward(changed, changed, changed, { causal: true }));
    expectClose(b.slice(0, 3 * E), a.slice(0, 3 * E));
    expect(b.slice(3 * E)).not.toEqual(a.slice(3 * E));
    expect(() => m.forward(rn([1, 4, E + 1], 1))).toThrow(ShapeError);
  });
});

describe("nn.Module and nn.Sequential", () => {
  it("Sequential composes modules and functions with PyTorch names", async () => {
    const model = new nn.Sequential(new nn.Linear(4, 8, { seed: 0 }), (x: Tensor) => x.relu(), new nn.Linear(8, 2, { seed: 1 }));
    expect(model.namedParameters().map(([n]) => n)).toEqual(["0.weight", "0.bias", "2.weight", "2.bias"]);
    expect(model.parameters().length).toBe(4);
    expect(model.parameterCount()).toBe(4 * 8 + 8 + 8 * 2 + 2);
    const x = rn([3, 4], 5);
    const y = model.forward(x);
    expect(y.shape).toEqual([3, 2]);
    const [l0, , l2] = model.layers as [nn.Linear, unknown, nn.Linear];
    const h = refLinear(await vals(x), 3, 4, await vals(l0.weight), 8, await vals(l0.bias!)).map((v) => Math.max(v, 0));
    expectClose(await vals(y), refLinear(h, 3, 8, await vals(l2.weight), 2, await vals(l2.bias!)));
    expect(() => new nn.Sequential(3 as unknown as nn.Layer)).toThrow(ValueError);
  });

  it("custom modules nest, share parameters once and load state", async () => {
    class Block extends nn.Module {
      fc = new nn.Linear(3, 3, { seed: 1 });
      norm = new nn.LayerNorm(3);
      forward(x: Tensor): Tensor { return this.norm.forward(this.fc.forward(x)).relu(); }
    }
    class Net extends nn.Module {
      blocks = [new Block(), new Block()];
      head: nn.Linear;
      scale = 2; // not a parameter
      constructor() {
        super();
        this.head = new nn.Linear(3, 1, { seed: 2 });
      }
      forward(x: Tensor): Tensor { return this.head.forward(this.blocks.reduce((h, b) => b.forward(h), x)).mul(this.scale); }
    }
    const net = new Net();
    expect(net.namedParameters().map(([n]) => n)).toEqual([
      "blocks.0.fc.weight", "blocks.0.fc.bias", "blocks.0.norm.weight", "blocks.0.norm.bias",
      "blocks.1.fc.weight", "blocks.1.fc.bias", "blocks.1.norm.weight", "blocks.1.norm.bias",
      "head.weight", "head.bias",
    ]);
    expect(net.forward(rn([2, 3], 1)).shape).toEqual([2, 1]);
    // a shared layer is counted once
    const shared = new nn.Linear(2, 2, { seed: 0 });
    const tied = new nn.Sequential(shared, shared);
    expect(tied.parameters().length).toBe(2);
    // state round trip
    const sd = net.stateDict();
    const other = new Net();
    other.loadStateDict({ ...sd, "head.weight": tensor([[1, 2, 3]]) });
    expect(await vals(other.head.weight)).toEqual([1, 2, 3]);
    expect(() => other.loadStateDict({ "head.weight": tensor([[1, 2]]) }, false)).toThrow(/\[1, 2\].*\[1, 3\]/);
    expect(() => other.loadStateDict({ "head.weight": tensor([[1, 2, 3]]) })).toThrow(/missing/);
    expect(() => other.loadStateDict({ ...sd, nope: tensor([1]) })).toThrow(/unexpected nope/);
  });
});

describe("nn under jit", () => {
  it("traced modules give the eager results at every opt level", async () => {
    const conv = new nn.Conv2d(3, 4, 3, { padding: 1, seed: 0 });
    const mha = new nn.MultiheadAttention(8, 2, { seed: 1 });
    const f = (x: Tensor, s: Tensor): Tensor[] => [
      maxPool2d(conv.forward(x), { kernelSize: 2 }).relu(),
      mha.forward(s, s, s, { causal: true }),
    ];
    const x = rn([2, 3, 6, 6], 5), s = rn([2, 3, 8], 6);
    const eager = await Promise.all(f(x, s).map(vals));
    for (const opt of [0, 1, 2] as const) {
      const got = jit(f, { opt })(x, s) as Tensor[];
      for (let i = 0; i < 2; i++) expectClose(await vals(got[i]!), eager[i]!, 1e-5);
    }
  });
});
