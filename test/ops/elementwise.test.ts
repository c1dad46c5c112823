import { describe, it, expect } from "vitest";
import {
  tensor, full, zeros, jit, Tensor, ShapeError, ValueError, KilnError, type NestedArray, type DType,
  add, sub, mul, div, pow, mod, fmod, maximum, minimum,
  eq, ne, lt, le, gt, ge, logicalAnd, logicalOr, logicalXor, logicalNot, where,
  neg, abs, sign, exp, log, sqrt, rsqrt, reciprocal, sin, cos, tan, tanh, asin, acos, atan, sinh, cosh, erf,
  sigmoid, relu, silu, floor, ceil, round, isnan, isinf, gelu, softplus, leakyRelu, elu, clip, cast,
} from "../../lib/index.js";

// ---------------------------------------------------------------- helpers

const flat = (x: NestedArray): (number | boolean)[] => (Array.isArray(x) ? x.flatMap(flat) : [x]);

/** Shape of a nested array. */
function shapeOf(x: NestedArray): number[] {
  const s: number[] = [];
  for (let y: NestedArray = x; Array.isArray(y); y = y[0] as NestedArray) { s.push(y.length); if (y.length === 0) break; }
  return s;
}

/** Asserts equal shapes and values within rtol/atol; NaN matches NaN, infinities must match exactly. */
async function expectClose(t: Tensor, expected: NestedArray, rtol = 1e-6, atol = 1e-6): Promise<void> {
  const got = await t.toArray();
  expect(t.shape).toEqual(shapeOf(expected));
  const g = flat(got).map(Number), e = flat(expected).map(Number);
  expect(g.length).toBe(e.length);
  g.forEach((v, i) => {
    const w = e[i]!;
    if (Number.isNaN(w) || !Number.isFinite(w)) { expect(v, `element ${i}`).toBe(w); return; }
    expect(Math.abs(v - w), `element ${i}: got ${v}, expected ${w}`).toBeLessThanOrEqual(atol + rtol * Math.abs(w));
  });
}

const f32 = Math.fround;
/** The float16 value nearest to v (independent of the library's converter: rounds the significand to 11 bits). */
function f16(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const e = Math.max(Math.floor(Math.log2(Math.abs(v))), -14);
  const q = 2 ** (e - 10);
  const n = v / q, r = Math.round(n);
  const even = Math.abs(n - Math.trunc(n)) === 0.5 ? 2 * Math.round(n / 2) : r; // ties to even
  const out = even * q;
  return Math.abs(out) > 65504 ? Math.sign(v) * Infinity : out;
}

/** erf by composite Simpson integration of 2/√π·e^(-t²) (independent of the library's series). */
function erfRef(x: number): number {
  const n = 2000, h = x / n;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return (2 / Math.sqrt(Math.PI)) * (h / 3) * s;
}

const XS = [-3, -1.5, -0.5, -1e-3, 0, 1e-3, 0.25, 0.5, 1, 2.5, 4];

// ---------------------------------------------------------------- binary arithmetic

describe("binary arithmetic", () => {
  it("matches JS arithmetic on floats (rounded to float32)", async () => {
    const a = [1.5, -2.25, 3, 0.1, 7], b = [2, 0.5, -4, 0.3, 3];
    const ta = tensor(a), tb = tensor(b);
    const cases: [(x: Tensor, y: Tensor) => Tensor, (x: number, y: number) => number][] = [
      [add, (x, y) => x + y], [sub, (x, y) => x - y], [mul, (x, y) => x * y], [div, (x, y) => x / y],
      [pow, (x, y) => x ** y], [maximum, Math.max], [minimum, Math.min],
    ];
    for (const [op, ref] of cases) await expectClose(op(ta, tb), a.map((x, i) => ref(f32(x), f32(b[i]!))), 1e-6);
  });

  it("methods equal the free functions", async () => {
    const a = tensor([[1, -2], [3, 4]]), b = tensor([2, -3]);
    expect(await a.add(b).toArray()).toEqual(await add(a, b).toArray());
    expect(await a.sub(b).toArray()).toEqual([[-1, 1], [1, 7]]);
    expect(await a.mul(b).toArray()).toEqual([[2, 6], [6, -12]]);
    expect(await a.div(b).toArray()).toEqual([[0.5, f32(-2 / -3)], [1.5, f32(4 / -3)]]);
    expect(await a.pow(2).toArray()).toEqual([[1, 4], [9, 16]]);
    expect(await a.mod(3).toArray()).toEqual([[1, 1], [0, 1]]);
    expect(await a.fmod(3).toArray()).toEqual([[1, -2], [0, 1]]);
    expect(await a.maximum(b).toArray()).toEqual([[2, -2], [3, 4]]);
    expect(await a.minimum(0).toArray()).toEqual([[0, -2], [0, 0]]);
  });

  it("broadcasts [3,1] with [4] and scalars on either side", async () => {
    const col = tensor([[1], [2], [3]]), row = tensor([10, 20, 30, 40]);
    const r = add(col, row);
    expect(r.shape).toEqual([3, 4]);
    expect(await r.toArray()).toEqual([[11, 21, 31, 41], [12, 22, 32, 42], [13, 23, 33, 43]]);
    expect(await sub(row, col).toArray()).toEqual([[9, 19, 29, 39], [8, 18, 28, 38], [7, 17, 27, 37]]);
    expect(await sub(1, row).toArray()).toEqual([-9, -19, -29, -39]);
    expect(await div(60, tensor([2, 3])).toArray()).toEqual([30, 20]);
    const s = add(2, 3);
    expect(s.shape).toEqual([]);
    expect(s.dtype).toBe("float32");
    expect(await s.item()).toBe(5);
  });

  it("works on 0-d and empty tensors", async () => {
    const z = add(tensor(2), tensor(3));
    expect(z.shape).toEqual([]);
    expect(await z.item()).toBe(5);
    const e = mul(zeros([0, 3]), tensor([1, 2, 3]));
    expect(e.shape).toEqual([0, 3]);
    expect(await e.toArray()).toEqual([]);
    expect(add(zeros([0, 3]), tensor(1)).shape).toEqual([0, 3]);
    expect(add(zeros([2, 0]), zeros([1, 1])).shape).toEqual([2, 0]);
  });

  it("integer arithmetic wraps", async () => {
    expect(await add(tensor([2147483647], { dtype: "int32" }), 1).toArray()).toEqual([-2147483648]);
    expect(await mul(tensor([65536], { dtype: "int32" }), 65536).toArray()).toEqual([0]);
    expect(await add(tensor([127], { dtype: "int8" }), 1).toArray()).toEqual([-128]);
    expect(await sub(tensor([0], { dtype: "uint8" }), 1).toArray()).toEqual([255]);
    expect(await mul(tensor([16], { dtype: "uint8" }), 17).toArray()).toEqual([16]); // 272 mod 256
  });

  it("integer division truncates toward zero; x/0 is 0 for integers and inf/NaN for floats", async () => {
    const a = tensor([7, -7, 7, -7, 6, 5], { dtype: "int32" }), b = tensor([2, 2, -2, -2, 3, 0], { dtype: "int32" });
    const q = div(a, b);
    expect(q.dtype).toBe("int32");
    expect(await q.toArray()).toEqual([3, -3, -3, 3, 2, 0]);
    expect(await div(tensor([1, -1, 0]), 0).toArray()).toEqual([Infinity, -Infinity, NaN]);
    expect(await div(tensor([7], { dtype: "int64" }), 2).toArray()).toEqual([3]);
  });

  it("mod takes the divisor's sign, fmod the dividend's (ints and floats)", async () => {
    const a = [7, -7, 7, -7, 6], b = [3, 3, -3, -3, 3];
    const ai = tensor(a, { dtype: "int32" }), bi = tensor(b, { dtype: "int32" });
    expect(await mod(ai, bi).toArray()).toEqual([1, 2, -2, -1, 0]);
    expect(await fmod(ai, bi).toArray()).toEqual([1, -1, 1, -1, 0]);
    expect(mod(ai, bi).dtype).toBe("int32");
    const af = tensor([5.5, -5.5, 5.5, -5.5]), bf = tensor([2, 2, -2, -2]);
    expect(await mod(af, bf).toArray()).toEqual([1.5, 0.5, -0.5, -1.5]);
    expect(await fmod(af, bf).toArray()).toEqual([1.5, -1.5, 1.5, -1.5]);
    // integer x % 0 → 0, float x % 0 → NaN
    expect(await mod(tensor([5], { dtype: "int32" }), 0).toArray()).toEqual([0]);
    expect(await fmod(tensor([5], { dtype: "int32" }), 0).toArray()).toEqual([0]);
    expect(await mod(tensor([5]), 0).toArray()).toEqual([NaN]);
  });

  it("pow on integers and floats", async () => {
    expect(await pow(tensor([2, 3, -2], { dtype: "int32" }), 3).toArray()).toEqual([8, 27, -8]);
    expect(await pow(tensor([4, 9]), 0.5).toArray()).toEqual([2, 3]);
    expect(await pow(2, tensor([0, 1, 10])).toArray()).toEqual([1, 2, 1024]);
    expect(await pow(tensor([-8]), 1 / 3).toArray()).toEqual([NaN]);
  });

  it("maximum/minimum propagate NaN", async () => {
    const a = tensor([NaN, 1, 2]), b = tensor([0, NaN, 3]);
    expect(await maximum(a, b).toArray()).toEqual([NaN, NaN, 3]);
    expect(await minimum(a, b).toArray()).toEqual([NaN, NaN, 2]);
    expect(await maximum(tensor([-Infinity, 1]), 0).toArray()).toEqual([0, 1]);
  });

  it("handles inf and NaN like IEEE arithmetic", async () => {
    expect(await add(tensor([Infinity, Infinity, NaN]), tensor([-Infinity, 1, 1])).toArray()).toEqual([NaN, Infinity, NaN]);
    expect(await mul(tensor([Infinity, 0]), tensor([0, -1])).toArray()).toEqual([NaN, -0]);
  });
});

// ---------------------------------------------------------------- dtype promotion

describe("dtype promotion", () => {
  const cases: [DType, number | DType, DType][] = [
    ["int32", 2.5, "float32"], ["int32", 2, "int32"], ["int8", "uint8", "int32"], ["int8", "int32", "int32"],
    ["uint8", 3, "uint8"], ["bool", 1, "int32"], ["bool", 0.5, "float32"], ["float16", 3, "float16"],
    ["float16", 0.1, "float16"], ["float16", "float32", "float32"], ["int64", "int32", "int64"],
    ["int32", "float16", "float16"], ["bool", "bool", "bool"], ["int64", "float16", "float16"],
  ];
  for (const [a, b, want] of cases)
    it(`${a} + ${b} → ${want}`, () => {
      const x = full([2], 1, { dtype: a });
      const y = typeof b === "number" ? b : full([2], 1, { dtype: b });
      expect(add(x, y).dtype).toBe(want);
      expect(add(y, x).dtype).toBe(want);
    });

  it("promoted values are computed in the wider type", async () => {
    expect(await add(tensor([1, 2], { dtype: "int32" }), 2.5).toArray()).toEqual([3.5, 4.5]);
    const s = add(tensor([100], { dtype: "int8" }), tensor([200], { dtype: "uint8" }));
    expect(s.dtype).toBe("int32");
    expect(await s.toArray()).toEqual([300]);
    expect(await div(tensor([7], { dtype: "int32" }), 2.0).toArray()).toEqual([3]); // 2.0 is an integer number: weak int
    expect(await div(tensor([7], { dtype: "int32" }), 0.5).toArray()).toEqual([14]);
  });

  it("bool arithmetic stays bool (add acts as or)", async () => {
    const r = add(tensor([true, false, false]), tensor([true, true, false]));
    expect(r.dtype).toBe("bool");
    expect(await r.toArray()).toEqual([true, true, false]);
  });
});

// ---------------------------------------------------------------- float16

describe("float16 storage rounding", () => {
  it("rounds every result to float16", async () => {
    const h = tensor([2048], { dtype: "float16" });
    expect(await add(h, 1).toArray()).toEqual([2048]); // 2049 ties to even
    expect(await add(h, 3).toArray()).toEqual([2052]); // 2051 ties to even 2052
    const e = exp(tensor([1], { dtype: "float16" }));
    expect(e.dtype).toBe("float16");
    expect(await e.toArray()).toEqual([f16(Math.E)]);
    expect(f16(Math.E)).toBe(2.71875);
    expect(await mul(tensor([300], { dtype: "float16" }), 300).toArray()).toEqual([Infinity]);
    const xs = [0.1, 1 / 3, 1000.3, -7.77];
    expect(await mul(tensor(xs, { dtype: "float16" }), 3).toArray()).toEqual(xs.map((x) => f16(3 * f16(x))));
  });

  it("float16 math stays float16", async () => {
    const x = tensor([0.5, 1, 2], { dtype: "float16" });
    for (const op of [sqrt, sigmoid, gelu, softplus, tanh]) expect(op(x).dtype).toBe("float16");
    expect(await sqrt(x).toArray()).toEqual([0.5, 1, 2].map((v) => f16(Math.sqrt(v))));
  });
});

// ---------------------------------------------------------------- comparisons and logic

describe("comparisons", () => {
  it("compare with broadcasting, result bool", async () => {
    const a = tensor([[1], [2], [3]]), b = tensor([1, 2, 3, 4]);
    const ref = (f: (x: number, y: number) => boolean) => [1, 2, 3].map((x) => [1, 2, 3, 4].map((y) => f(x, y)));
    const cases: [(x: Tensor, y: Tensor) => Tensor, (x: number, y: number) => boolean][] = [
      [eq, (x, y) => x === y], [ne, (x, y) => x !== y], [lt, (x, y) => x < y],
      [le, (x, y) => x <= y], [gt, (x, y) => x > y], [ge, (x, y) => x >= y],
    ];
    for (const [op, f] of cases) {
      const r = op(a, b);
      expect(r.dtype).toBe("bool");
      expect(r.shape).toEqual([3, 4]);
      expect(await r.toArray()).toEqual(ref(f));
    }
  });

  it("methods and scalar operands", async () => {
    const x = tensor([1, 2, 3]);
    expect(await x.eq(2).toArray()).toEqual([false, true, false]);
    expect(await x.ne(2).toArray()).toEqual([true, false, true]);
    expect(await x.lt(2).toArray()).toEqual([true, false, false]);
    expect(await x.le(2).toArray()).toEqual([true, true, false]);
    expect(await x.gt(2).toArray()).toEqual([false, false, true]);
    expect(await x.ge(2).toArray()).toEqual([false, true, true]);
    expect(await gt(2, x).toArray()).toEqual([true, false, false]);
  });

  it("unify dtypes before comparing", async () => {
    const i = tensor([2, 3], { dtype: "int32" });
    expect(await eq(i, 2.5).toArray()).toEqual([false, false]); // not truncated to 2
    expect(await lt(i, 2.5).toArray()).toEqual([true, false]);
    expect(await gt(tensor([200], { dtype: "uint8" }), tensor([-1], { dtype: "int8" })).toArray()).toEqual([true]);
    expect(await eq(tensor([true, false]), 1).toArray()).toEqual([true, false]);
    expect(await eq(tensor([0.1]), tensor([0.1], { dtype: "float16" })).toArray()).toEqual([false]); // compared as float32
  });

  it("NaN compares unequal to everything, including itself", async () => {
    const n = tensor([NaN, NaN, 1]), m = tensor([NaN, 1, 1]);
    expect(await eq(n, m).toArray()).toEqual([false, false, true]);
    expect(await ne(n, m).toArray()).toEqual([true, true, false]);
    for (const op of [lt, le, gt, ge]) expect((await op(n, m).toArray() as boolean[]).slice(0, 2)).toEqual([false, false]);
    expect(await lt(tensor([-Infinity]), tensor([Infinity])).toArray()).toEqual([true]);
  });
});

describe("logical ops", () => {
  const a = [true, true, false, false], b = [true, false, true, false];
  it("on bools", async () => {
    const ta = tensor(a), tb = tensor(b);
    expect(await logicalAnd(ta, tb).toArray()).toEqual(a.map((x, i) => x && b[i]!));
    expect(await logicalOr(ta, tb).toArray()).toEqual(a.map((x, i) => x || b[i]!));
    expect(await logicalXor(ta, tb).toArray()).toEqual(a.map((x, i) => x !== b[i]!));
    expect(await logicalNot(ta).toArray()).toEqual(a.map((x) => !x));
    expect(await ta.logicalAnd(tb).toArray()).toEqual([true, false, false, false]);
    expect(await ta.logicalOr(false).toArray()).toEqual(a);
    expect(await ta.logicalXor(true).toArray()).toEqual([false, false, true, true]);
    expect(await ta.logicalNot().toArray()).toEqual([false, false, true, true]);
  });

  it("read non-bool inputs as x != 0 (NaN is true)", async () => {
    const x = tensor([0, 2, -0.5, NaN]), y = tensor([3, 0, 1, 0], { dtype: "int32" });
    const r = logicalAnd(x, y);
    expect(r.dtype).toBe("bool");
    expect(await r.toArray()).toEqual([false, false, true, false]);
    expect(await logicalOr(x, y).toArray()).toEqual([true, true, true, true]);
    expect(await logicalXor(x, y).toArray()).toEqual([true, true, false, true]);
    expect(await logicalNot(x).toArray()).toEqual([true, false, false, false]);
    expect(await logicalNot(tensor([0, 5], { dtype: "uint8" })).toArray()).toEqual([true, false]);
    expect(await logicalAnd(tensor([[1], [0]]), tensor([1, 0, 1])).toArray()).toEqual([[true, false, true], [false, false, false]]);
  });
});

describe("where", () => {
  it("selects with broadcasting", async () => {
    const c = tensor([[true], [false]]), a = tensor([1, 2, 3]), b = tensor(-1);
    const r = where(c, a, b);
    expect(r.shape).toEqual([2, 3]);
    expect(await r.toArray()).toEqual([[1, 2, 3], [-1, -1, -1]]);
    expect(await where(tensor([true, false]), 1, tensor([5, 6])).toArray()).toEqual([1, 6]);
    expect(await where(true, tensor([1, 2]), 0).toArray()).toEqual([1, 2]);
  });

  it("method form x.where(cond, other)", async () => {
    const x = tensor([-1, 2, -3, 4]);
    expect(await x.where(x.gt(0), 0).toArray()).toEqual([0, 2, 0, 4]);
    expect(await x.where(tensor([false, true, true, false]), tensor([9, 9, 9, 9])).toArray()).toEqual([9, 2, -3, 9]);
  });

  it("promotes branches and reads non-bool conditions as != 0", async () => {
    const r = where(tensor([1, 0, NaN]), tensor([1, 2, 3], { dtype: "int32" }), 0.5);
    expect(r.dtype).toBe("float32");
    expect(await r.toArray()).toEqual([1, 0.5, 3]);
    const i = where(tensor([true, false]), tensor([1, 2], { dtype: "int8" }), tensor([300, 400], { dtype: "int32" }));
    expect(i.dtype).toBe("int32");
    expect(await i.toArray()).toEqual([1, 400]);
    expect(await where(tensor([true, false]), NaN, Infinity).toArray()).toEqual([NaN, Infinity]);
  });

  it("reports shapes that cannot broadcast", () => {
    expect(() => where(tensor([true, false, true]), tensor([1, 2]), 0)).toThrow(ShapeError);
    expect(() => where(tensor([true, false, true]), tensor([1, 2]), 0)).toThrow(/where/);
  });
});

// ---------------------------------------------------------------- unary

describe("unary float math", () => {
  const cases: [string, (t: Tensor) => Tensor, (x: number) => number, number[]][] = [
    ["exp", exp, Math.exp, XS],
    ["log", log, Math.log, [0, 1e-3, 0.5, 1, 2, 100, -1]],
    ["sqrt", sqrt, Math.sqrt, [0, 0.25, 2, 9, 1e4, -1]],
    ["rsqrt", rsqrt, (x) => 1 / Math.sqrt(x), [0, 0.25, 2, 9, 1e4, -1]],
    ["reciprocal", reciprocal, (x) => 1 / x, [-2, -0.5, 0, 0.5, 3]],
    ["sin", sin, Math.sin, XS], ["cos", cos, Math.cos, XS], ["tan", tan, Math.tan, XS],
    ["tanh", tanh, Math.tanh, [...XS, 30, -30]],
    ["asin", asin, Math.asin, [-1, -0.5, 0, 0.3, 1, 1.5]],
    ["acos", acos, Math.acos, [-1, -0.5, 0, 0.3, 1, 1.5]],
    ["atan", atan, Math.atan, [...XS, 1e6]],
    ["sinh", sinh, Math.sinh, XS], ["cosh", cosh, Math.cosh, XS],
    ["erf", erf, erfRef, [...XS, 6, -7]],
  ];
  for (const [name, op, ref, xs] of cases)
    it(`${name} matches the float64 reference`, async () => {
      const t = op(tensor(xs));
      expect(t.dtype).toBe("float32");
      await expectClose(t, xs.map((x) => ref(f32(x))), 2e-6, 1e-7);
      const m = (tensor(xs) as unknown as Record<string, () => Tensor>)[name]!.call(tensor(xs));
      expect(await m.toArray()).toEqual(await t.toArray());
    });

  it("integer and bool inputs are cast to float32", async () => {
    for (const d of ["int32", "int8", "uint8", "int64", "bool"] as DType[]) {
      const t = full([2], 1, { dtype: d });
      for (const op of [exp, log, sqrt, rsqrt, reciprocal, sin, erf, sigmoid, silu, gelu, softplus, elu, leakyRelu]) expect(op(t).dtype).toBe("float32");
    }
    expect(await sqrt(tensor([4, 9], { dtype: "int32" })).toArray()).toEqual([2, 3]);
    expect(await exp(tensor([true, false])).toArray()).toEqual([f32(Math.E), 1]);
  });

  it("accept plain numbers", async () => {
    const e = exp(0);
    expect(e.shape).toEqual([]);
    expect(await e.item()).toBe(1);
    expect(await sqrt(16).item()).toBe(4);
  });

  it("special values", async () => {
    expect(await exp(tensor([Infinity, -Infinity, NaN, 100])).toArray()).toEqual([Infinity, 0, NaN, Infinity]);
    expect(await log(tensor([0, -0, Infinity])).toArray()).toEqual([-Infinity, -Infinity, Infinity]);
    expect(await rsqrt(tensor([0, Infinity])).toArray()).toEqual([Infinity, 0]);
  });
});

describe("unary ops that keep the dtype", () => {
  it("neg, abs, sign", async () => {
    const x = tensor([-2.5, -0, 0, 3, NaN, -Infinity]);
    await expectClose(neg(x), [2.5, 0, 0, -3, NaN, Infinity]);
    await expectClose(abs(x), [2.5, 0, 0, 3, NaN, Infinity]);
    expect(await sign(x).toArray()).toEqual([-1, 0, 0, 1, NaN, -1]);
    const i = tensor([-3, 0, 5], { dtype: "int32" });
    expect(neg(i).dtype).toBe("int32");
    expect(await i.neg().toArray()).toEqual([3, 0, -5]);
    expect(await i.abs().toArray()).toEqual([3, 0, 5]);
    expect(await i.sign().toArray()).toEqual([-1, 0, 1]);
    expect(await abs(tensor([-128, -127], { dtype: "int8" })).toArray()).toEqual([-128, 127]); // wraps like numpy
    expect(await neg(tensor([1, 0], { dtype: "uint8" })).toArray()).toEqual([255, 0]);
    const nb = neg(tensor([true, false]));
    expect(nb.dtype).toBe("int32");
    expect(await nb.toArray()).toEqual([-1, 0]);
  });

  it("floor, ceil, round (half to even)", async () => {
    const v = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4, -2.6, 3.7];
    expect(await floor(tensor(v)).toArray()).toEqual(v.map(Math.floor));
    expect(await ceil(tensor(v)).toArray()).toEqual(v.map(Math.ceil));
    expect(await round(tensor(v)).toArray()).toEqual([-2, -2, -0, 0, 2, 2, 2, -3, 4]);
    expect(await tensor(v).round().toArray()).toEqual(await round(tensor(v)).toArray());
    const i = tensor([-3, 4], { dtype: "int32" });
    for (const op of [floor, ceil, round]) {
      expect(op(i).dtype).toBe("int32");
      expect(await op(i).toArray()).toEqual([-3, 4]);
    }
    expect(await floor(tensor([Infinity, NaN])).toArray()).toEqual([Infinity, NaN]);
  });

  it("isnan, isinf", async () => {
    const x = tensor([NaN, Infinity, -Infinity, 0, 1e38]);
    expect(isnan(x).dtype).toBe("bool");
    expect(await isnan(x).toArray()).toEqual([true, false, false, false, false]);
    expect(await x.isinf().toArray()).toEqual([false, true, true, false, false]);
    expect(await isnan(tensor([1, 2], { dtype: "int32" })).toArray()).toEqual([false, false]);
    expect(await isinf(tensor([1], { dtype: "int64" })).toArray()).toEqual([false]);
    expect(await isinf(tensor([70000], { dtype: "float16" })).toArray()).toEqual([true]);
  });

  it("relu keeps the dtype and NaN", async () => {
    expect(await relu(tensor([-1, 0, 2, NaN, -Infinity])).toArray()).toEqual([0, 0, 2, NaN, 0]);
    const i = relu(tensor([-5, 5], { dtype: "int8" }));
    expect(i.dtype).toBe("int8");
    expect(await i.toArray()).toEqual([0, 5]);
    const b = relu(tensor([true, false]));
    expect(b.dtype).toBe("bool");
    expect(await b.toArray()).toEqual([true, false]);
  });
});

// ---------------------------------------------------------------- activations

describe("activations", () => {
  const sig = (x: number) => 1 / (1 + Math.exp(-x));

  it("sigmoid", async () => {
    const xs = [...XS, -100, 100, -Infinity, Infinity];
    await expectClose(sigmoid(tensor(xs)), xs.map(sig), 1e-6, 1e-7);
    await expectClose(tensor([0]).sigmoid(), [0.5]);
    expect(await sigmoid(tensor([NaN])).toArray()).toEqual([NaN]);
  });

  it("silu", async () => {
    const xs = [...XS, -50, 50];
    await expectClose(silu(tensor(xs)), xs.map((x) => x * sig(x)), 1e-6, 1e-7);
    await expectClose(tensor([1]).silu(), [sig(1)]);
  });

  it("gelu exact (erf) and tanh approximation", async () => {
    const xs = [...XS, -8, 8];
    await expectClose(gelu(tensor(xs)), xs.map((x) => 0.5 * x * (1 + erfRef(x / Math.SQRT2))), 1e-6, 1e-7);
    const approx = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    await expectClose(gelu(tensor(xs), "tanh"), xs.map(approx), 1e-6, 1e-7);
    await expectClose(tensor([1]).gelu(), [0.8413447460685429], 1e-6);
    await expectClose(tensor([1]).gelu("tanh"), [approx(1)], 1e-6);
    expect(await gelu(tensor([-1000, 1000]), "tanh").toArray()).toEqual([-0, 1000]);
  });

  it("softplus is stable at both ends and accurate for large negative x", async () => {
    const xs = [-100, -30, -20, -1e-4, 0, 1e-4, 1, 15, 20, 30, 100, 1e30];
    const ref = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
    await expectClose(softplus(tensor(xs)), xs.map((x) => f32(ref(f32(x)))), 2e-6, 2e-45); // -100 lands in float32 subnormals
    expect(await softplus(tensor([Infinity, -Infinity, NaN])).toArray()).toEqual([Infinity, 0, NaN]);
    await expectClose(tensor([0]).softplus(), [Math.LN2]);
  });

  it("leakyRelu", async () => {
    const xs = [-3, -0.5, 0, 0.5, 2];
    await expectClose(leakyRelu(tensor(xs)), xs.map((x) => (x > 0 ? x : 0.01 * x)));
    await expectClose(tensor(xs).leakyRelu(0.2), xs.map((x) => (x > 0 ? x : 0.2 * x)));
    expect(await leakyRelu(tensor([NaN, -Infinity])).toArray()).toEqual([NaN, -Infinity]);
    expect(() => leakyRelu(tensor([1]), NaN)).toThrow(ValueError);
  });

  it("elu (accurate e^x - 1 near zero)", async () => {
    const xs = [-100, -20, -3, -1, -1e-5, -1e-7, 0, 1e-5, 2];
    await expectClose(elu(tensor(xs)), xs.map((x) => (x > 0 ? x : Math.expm1(f32(x)))), 2e-6, 0);
    await expectClose(tensor(xs).elu(0.5), xs.map((x) => (x > 0 ? x : 0.5 * Math.expm1(f32(x)))), 2e-6, 0);
    expect(await elu(tensor([NaN, -Infinity, Infinity])).toArray()).toEqual([NaN, -1, Infinity]);
  });

  it("clip", async () => {
    const x = tensor([-2, -0.5, 0.5, 3, NaN]);
    expect(await clip(x, 0, 1).toArray()).toEqual([0, 0, 0.5, 1, NaN]);
    expect(await x.clip(0).toArray()).toEqual([0, 0, 0.5, 3, NaN]);
    expect(await x.clip(undefined, 1).toArray()).toEqual([-2, -0.5, 0.5, 1, NaN]);
    // tensor bounds broadcast
    const r = clip(tensor([[1, 5, 9]]), tensor([[2], [6]]), tensor([4, 8, 7]));
    expect(await r.toArray()).toEqual([[2, 5, 7], [4, 6, 7]]);
    // min > max gives max
    expect(await clip(tensor([0, 10]), 5, 3).toArray()).toEqual([3, 3]);
    // ints stay ints with integer bounds, promote with fractional ones
    const i = tensor([-5, 0, 5], { dtype: "int32" });
    expect(clip(i, -1, 1).dtype).toBe("int32");
    expect(await clip(i, -1, 1).toArray()).toEqual([-1, 0, 1]);
    expect(clip(i, -1.5, 1.5).dtype).toBe("float32");
    expect(await clip(i, -1.5, 1.5).toArray()).toEqual([-1.5, 0, 1.5]);
    expect(() => clip(x)).toThrow(ValueError);
    expect(() => clip(x)).toThrow(/clip/);
  });

  it("composites are built from primitives so jit sees inside them", async () => {
    const x = tensor([-2, -0.5, 0, 0.7, 3]);
    const f = jit((t: Tensor) => t.gelu().add(t.softplus()).add(t.elu()).add(t.sigmoid()).add(t.silu()));
    const eager = x.gelu().add(x.softplus()).add(x.elu()).add(x.sigmoid()).add(x.silu());
    expect(await f(x).toArray()).toEqual(await eager.toArray());
  });
});

// ---------------------------------------------------------------- cast

describe("cast / astype", () => {
  it("float → int truncates toward zero, ints wrap", async () => {
    const x = tensor([1.7, -1.7, 300.5, -0.5]);
    expect(await cast(x, "int32").toArray()).toEqual([1, -1, 300, 0]);
    expect(await x.astype("uint8").toArray()).toEqual([1, 255, 44, 0]);
    expect(await x.cast("int8").toArray()).toEqual([1, -1, 44, 0]);
    expect(cast(x, "int64").dtype).toBe("int64");
  });

  it("to and from bool", async () => {
    expect(await cast(tensor([0, 2, -0.1, -0, NaN, Infinity]), "bool").toArray()).toEqual([false, true, true, false, true, true]);
    expect(await tensor([0, 0.5], { dtype: "float16" }).astype("bool").toArray()).toEqual([false, true]);
    expect(await cast(tensor([0, 3, -1], { dtype: "int32" }), "bool").toArray()).toEqual([false, true, true]);
    expect(await cast(tensor([0, 255], { dtype: "uint8" }), "bool").toArray()).toEqual([false, true]);
    expect(cast(tensor([1.5]), "bool").dtype).toBe("bool");
    expect(await cast(tensor([true, false]), "float32").toArray()).toEqual([1, 0]);
  });

  it("float16 rounds to nearest even", async () => {
    const xs = [0.1, 1 / 3, 2049, 2051, 65519, 65520, 1e-8];
    const h = tensor(xs).astype("float16");
    expect(h.dtype).toBe("float16");
    expect(await h.toArray()).toEqual(xs.map((v) => f16(f32(v))));
    expect(await h.toArray()).toEqual([f16(0.1), f16(1 / 3), 2048, 2052, 65504, Infinity, 0]);
  });

  it("same dtype is a no-op; unknown dtypes are rejected", () => {
    const x = tensor([1]);
    expect(x.cast("float32")).toBe(x);
    expect(() => x.cast("float64" as DType)).toThrow(ValueError);
    expect(() => x.astype("double" as DType)).toThrow(/unknown dtype "double"/);
  });
});

// ---------------------------------------------------------------- errors

describe("errors", () => {
  it("broadcasting failures name the op, both shapes and the user's line", () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]]), b = tensor([1, 2, 3, 4]);
    let err: unknown;
    try { add(a, b); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ShapeError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^add:/);
    expect(msg).toContain("[2, 3]");
    expect(msg).toContain("[4]");
    expect(msg).toContain("elementwise.test.ts");
    expect((err as KilnError).op).toBe("add");
    expect(() => a.mul(b)).toThrow(/mul: shapes \[2, 3\] and \[4\] cannot broadcast/);
    expect(() => maximum(a, b)).toThrow(/maximum/);
    expect(() => gt(a, b)).toThrow(/gt/);
    expect(() => ne(a, b)).toThrow(/ne/);
    expect(() => logicalAnd(a, b)).toThrow(/logicalAnd/);
    expect(() => clip(a, b)).toThrow(/clip/);
  });

  it("bad arguments are ValueErrors", () => {
    expect(() => gelu(tensor([1]), "fast" as "tanh")).toThrow(ValueError);
    expect(() => gelu(tensor([1]), "fast" as "tanh")).toThrow(/gelu: approximate must be/);
    expect(() => elu(tensor([1]), "1" as unknown as number)).toThrow(/elu: alpha must be a number/);
  });
});
