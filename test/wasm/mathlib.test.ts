/**
 * The wasm math library (backends/wasm/mathlib.ts): every function's f32 and f32x4 variants
 * run over dense sample sets through small array wrappers, compared with Math.* (or float64
 * references for erf and sigmoid) rounded to f32 in ulps; special values exactly; the f32x4
 * lanes bit-identical to the f32 results; pow's special cases against Math.pow; float16
 * conversions against jit/dtype.ts; selective emission; the reduction constants against a
 * BigInt computation of pi. An informal benchmark logs ns/element (nothing asserted on time).
 */
import { describe, it, expect } from "vitest";
import * as fc from "fast-check";
import { ModuleBuilder, type FuncRef } from "../../backends/wasm/asm/index.js";
import { emitMathLib, MATH_FNS, type MathFn } from "../../backends/wasm/mathlib.js";
import {
  TWO_OVER_PI_WORDS, PIO2_C1, PIO2_C2, TWO_OVER_PI, PIO2_2M62, PI_HI, PI_LO, PIO2_HI, PIO2_LO, PIO4_HI, PIO4_LO, TRIG_FAST_MAX,
} from "../../backends/wasm/mathlib/coeffs.js";
import { toHalfBits, fromHalfBits } from "../../jit/dtype.js";

// ---- harness: one module with every function behind array wrappers ----

/** Elements per call (the wrappers read `a` at 0, `b` at CAP*4 and write at CAP*8). */
const CAP = 1 << 18;
type Unary = Exclude<MathFn, "pow" | "f32_to_f16_bits" | "f16_bits_to_f32">;
const UNARY = MATH_FNS.filter((f): f is Unary => f !== "pow" && f !== "f32_to_f16_bits" && f !== "f16_bits_to_f32");

interface Harness {
  run(fn: MathFn, vec: boolean, a: Float32Array | Int32Array, b?: Float32Array): Float32Array | Int32Array;
  exports: Record<string, (...args: number[]) => unknown>;
  mem: WebAssembly.Memory;
}

function buildHarness(): Harness {
  const m = new ModuleBuilder();
  const jsExp = m.importFunc("js", "exp", { params: ["f32"], results: ["f32"] });
  m.memory({ min: (CAP * 12) / 65536 }, { export: "mem" });
  const lib = emitMathLib(m);
  const loop = (name: string, step: number, body: (f: ReturnType<ModuleBuilder["func"]>, i: number) => void) => {
    const f = m.func({ params: ["i32"] }, { export: name });
    const i = f.local("i32");
    const exit = f.block(), top = f.loop();
    f.local_get(i).local_get(0).i32_ge_u().br_if(exit);
    body(f, i);
    f.local_get(i).i32_const(step).i32_add().local_set(i).br(top);
    f.end().end();
  };
  for (const fn of MATH_FNS) {
    const refs = lib[fn];
    for (const vec of [false, true]) {
      loop(`${fn}_${vec ? "v" : "s"}`, vec ? 4 : 1, (f, i) => {
        f.local_get(i).i32_const(2).i32_shl();
        f.local_get(i).i32_const(2).i32_shl();
        if (vec) f.v128_load(0); else if (fn === "f16_bits_to_f32") f.i32_load(0); else f.f32_load(0);
        if (fn === "pow") {
          f.local_get(i).i32_const(2).i32_shl();
          if (vec) f.v128_load(CAP * 4); else f.f32_load(CAP * 4);
        }
        f.call(vec ? refs.f32x4 : refs.f32);
        if (vec) f.v128_store(CAP * 8); else if (fn === "f32_to_f16_bits") f.i32_store(CAP * 8); else f.f32_store(CAP * 8);
      });
    }
  }
  // for the benchmark: exp through a JS import
  loop("exp_js", 1, (f, i) => {
    f.local_get(i).i32_const(2).i32_shl();
    f.local_get(i).i32_const(2).i32_shl().f32_load(0).call(jsExp as FuncRef).f32_store(CAP * 8);
  });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(m.build()), { js: { exp: Math.exp } });
  const exports = inst.exports as unknown as Harness["exports"];
  const mem = inst.exports.mem as WebAssembly.Memory;
  const run: Harness["run"] = (fn, vec, a, b) => {
    const outInt = fn === "f32_to_f16_bits";
    const out = outInt ? new Int32Array(a.length) : new Float32Array(a.length);
    for (let off = 0; off < a.length; off += CAP) {
      const len = Math.min(CAP, a.length - off), len4 = (len + 3) & ~3;
      const u8 = new Uint8Array(mem.buffer);
      u8.fill(0, 0, len4 * 4);
      u8.set(new Uint8Array(a.buffer, a.byteOffset + off * 4, len * 4), 0);
      if (b) {
        u8.fill(0, CAP * 4, CAP * 4 + len4 * 4);
        u8.set(new Uint8Array(b.buffer, b.byteOffset + off * 4, len * 4), CAP * 4);
      }
      exports[`${fn}_${vec ? "v" : "s"}`]!(vec ? len4 : len);
      out.set(new (outInt ? Int32Array : Float32Array)(mem.buffer, CAP * 8, len), off);
    }
    return out;
  };
  return { run, exports, mem };
}

const H = buildHarness();

// ---- references and ulp distance ----

/** erf in float64: erf(x) = 2/sqrt(pi) e^{-x^2} sum 2^n x^{2n+1}/(2n+1)!! (all terms positive). */
function erfRef(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  const x2 = a * a;
  let t = a, s = a;
  for (let n = 1; n < 1000; n++) {
    t *= (2 * x2) / (2 * n + 1);
    s += t;
    if (t < 1e-17 * s) break;
  }
  const r = (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * s;
  return x < 0 ? -r : x === 0 ? x : r;
}

const REF: Readonly<Record<Unary, (x: number) => number>> = {
  exp: Math.exp, log: Math.log, tanh: Math.tanh, erf: erfRef, sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  sin: Math.sin, cos: Math.cos, tan: Math.tan, asin: Math.asin, acos: Math.acos, atan: Math.atan,
  sinh: Math.sinh, cosh: Math.cosh,
};

const f32 = new Float32Array(1), i32 = new Int32Array(f32.buffer);
const bitsOf = (x: number): number => { f32[0] = x; return i32[0]!; };
const fromBits = (b: number): number => { i32[0] = b; return f32[0]!; };
/** Position of a float on the number line (+0 and -0 both 0). */
const ordinal = (x: number): number => { const b = bitsOf(x); return b >= 0 ? b : -(b & 0x7fffffff); };

/** Distance in f32 ulps; 0 for two NaNs, Infinity for NaN vs number or a zero of the wrong sign. */
function ulpDistance(got: number, want: number): number {
  if (Number.isNaN(got) || Number.isNaN(want)) return Number.isNaN(got) && Number.isNaN(want) ? 0 : Infinity;
  if (got === 0 && want === 0) return Object.is(got, want) ? 0 : Infinity;
  return Math.abs(ordinal(got) - ordinal(want));
}

// ---- samples ----

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECIALS = [
  0, -0, Infinity, -Infinity, NaN, 1, -1, 0.5, -0.5, 2, -2, 1e-45, -1e-45, 1.1754942e-38, -1.1754942e-38,
  1.17549435e-38, 3.4028235e38, -3.4028235e38, Math.PI, -Math.PI, Math.PI / 2, Math.PI / 4, 1e-10, -1e-10,
];

/** Per function: a dense range and thresholds where algorithms switch or results saturate. */
const PLAN: Readonly<Record<Unary, { range: [number, number]; at: number[] }>> = {
  exp: { range: [-105, 90], at: [88.72283935546875, 88.7228, -87.33654, -103.972, -103.2789, 0, 0.34657359, -0.34657359, 1e-7] },
  log: { range: [0, 4], at: [1, 1.17549435e-38, Math.SQRT2, Math.SQRT1_2, 3.4028235e38, 2, 0.5] },
  tanh: { range: [-10, 10], at: [0.625, -0.625, 9.01, 0, 1e-5, 44] },
  erf: { range: [-5, 5], at: [0.921875, -0.921875, 3.9192, 4, 0, 1e-5] },
  sigmoid: { range: [-110, 30], at: [0, -87.33654, -103.972, -103.2789, 16.6355, -16.6355, 88.7] },
  sin: { range: [-20, 20], at: [Math.PI / 4, Math.PI / 2, Math.PI, 3 * Math.PI / 2, 1e4 * Math.PI, TRIG_FAST_MAX, 16777216, 1e-4] },
  cos: { range: [-20, 20], at: [Math.PI / 4, Math.PI / 2, Math.PI, 3 * Math.PI / 2, 1e4 * Math.PI, TRIG_FAST_MAX, 16777216, 1e-4] },
  tan: { range: [-20, 20], at: [Math.PI / 4, Math.PI / 2, Math.PI, 3 * Math.PI / 2, 1e4 * Math.PI / 2, TRIG_FAST_MAX, 16777216, 1e-4] },
  asin: { range: [-1.1, 1.1], at: [0.5, -0.5, 1, -1, 0, 1e-4] },
  acos: { range: [-1.1, 1.1], at: [0.5, -0.5, 1, -1, 0, 1e-4] },
  atan: { range: [-10, 10], at: [0.41421356, -0.41421356, 2.41421356, 1, 0, 1e-4, 1e8] },
  sinh: { range: [-95, 95], at: [1, -1, 89.41599, 88.72283935546875, 0, 1e-4] },
  cosh: { range: [-95, 95], at: [1, 89.41599, 88.72283935546875, 0, 1e-4] },
};

/** About 220k inputs: random bit patterns, a dense range, log-uniform magnitudes, subnormals,
 * runs of consecutive floats around thresholds, special values. */
function samples(fn: Unary): Float32Array {
  const r = rng(0x5eed + fn.length * 7919 + fn.charCodeAt(0));
  const out: number[] = [...SPECIALS];
  for (let i = 0; i < 80_000; i++) out.push(fromBits((r() * 4294967296) | 0));
  const [lo, hi] = PLAN[fn].range;
  for (let i = 0; i < 80_000; i++) out.push(lo + (hi - lo) * r());
  for (let i = 0; i < 40_000; i++) out.push((r() < 0.5 ? -1 : 1) * 2 ** (-40 + 70 * r()));
  for (let i = 0; i < 5_000; i++) out.push(fromBits(((r() * 0x7fffff) | 0) | (r() < 0.5 ? 0x80000000 : 0)));
  for (const t of PLAN[fn].at) {
    for (const s of [1, -1]) {
      const k = ordinal(Math.fround(s * t));
      for (let d = -500; d <= 500; d++) {
        const o = k + d;
        out.push(fromBits(o >= 0 ? o : (-o | 0x80000000)));
      }
    }
  }
  return Float32Array.from(out);
}

function bitsEqual(a: Float32Array | Int32Array, b: Float32Array | Int32Array): number {
  const x = new Int32Array(a.buffer, a.byteOffset, a.length), y = new Int32Array(b.buffer, b.byteOffset, b.length);
  let bad = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) bad++;
  return bad;
}

const measured: Record<string, number> = {};

// ---- tests ----

describe("wasm math library: accuracy (max ulp vs Math.* rounded to f32)", () => {
  for (const fn of UNARY) {
    it(`${fn}: <= 2 ulp on ~220k samples, and f32x4 lanes bit-identical to f32`, () => {
      const xs = samples(fn);
      const s = H.run(fn, false, xs) as Float32Array;
      const v = H.run(fn, true, xs) as Float32Array;
      expect(bitsEqual(s, v)).toBe(0);
      let max = 0, worst = 0;
      const ref = REF[fn];
      for (let i = 0; i < xs.length; i++) {
        const d = ulpDistance(s[i]!, Math.fround(ref(xs[i]!)));
        if (d > max) { max = d; worst = xs[i]!; }
      }
      measured[fn] = max;
      expect(max, `${fn}: max ${max} ulp at x = ${worst}`).toBeLessThanOrEqual(2);
    });
  }

  it("reports the measured max ulp per function", () => {
    const fns = UNARY.filter((f) => f in measured);
    // informational: the worst error seen on the sample sets above
    console.log(`mathlib max ulp: ${fns.map((f) => `${f} ${measured[f]}`).join(", ")}`);
    expect(fns.length).toBeGreaterThan(0);
  });

  it("mixed lanes: big and small trig arguments in one vector agree with the scalar results", () => {
    const r = rng(42);
    const xs = new Float32Array(40_000);
    for (let i = 0; i < xs.length; i++) {
      xs[i] = i % 3 === 0 ? (r() - 0.5) * 1e9 : i % 3 === 1 ? (r() - 0.5) * 10 : [Infinity, -Infinity, NaN, 2e6][i % 4]!;
    }
    for (const fn of ["sin", "cos", "tan"] as const) {
      const s = H.run(fn, false, xs) as Float32Array, v = H.run(fn, true, xs) as Float32Array;
      expect(bitsEqual(s, v)).toBe(0);
      let max = 0;
      for (let i = 0; i < xs.length; i++) max = Math.max(max, ulpDistance(s[i]!, Math.fround(REF[fn](xs[i]!))));
      expect(max, fn).toBeLessThanOrEqual(2);
    }
  });

  it("property: f32x4 == f32 bit for bit on arbitrary floats (all functions)", () => {
    fc.assert(fc.property(fc.array(fc.float({ noDefaultInfinity: false }), { minLength: 1, maxLength: 64 }), fc.array(fc.float(), { minLength: 64, maxLength: 64 }), (xs, ys) => {
      const a = Float32Array.from(xs), b = Float32Array.from(ys.slice(0, xs.length));
      for (const fn of MATH_FNS) {
        if (fn === "f16_bits_to_f32") continue;
        const s = H.run(fn, false, a, fn === "pow" ? b : undefined), v = H.run(fn, true, a, fn === "pow" ? b : undefined);
        if (bitsEqual(s, v) !== 0) return false;
      }
      return true;
    }), { numRuns: 200 });
  });
});

describe("wasm math library: special values", () => {
  const TINY = 2 ** -149; // the smallest subnormal
  const cases: [Unary, number, number][] = [
    ["exp", NaN, NaN], ["exp", Infinity, Infinity], ["exp", -Infinity, 0], ["exp", 0, 1], ["exp", -0, 1],
    ["exp", 89, Infinity], ["exp", -104, 0], ["exp", TINY, 1],
    ["log", NaN, NaN], ["log", 0, -Infinity], ["log", -0, -Infinity], ["log", -1, NaN], ["log", -Infinity, NaN],
    ["log", Infinity, Infinity], ["log", 1, 0],
    ["tanh", NaN, NaN], ["tanh", Infinity, 1], ["tanh", -Infinity, -1], ["tanh", 0, 0], ["tanh", -0, -0], ["tanh", TINY, TINY], ["tanh", -TINY, -TINY],
    ["erf", NaN, NaN], ["erf", Infinity, 1], ["erf", -Infinity, -1], ["erf", 0, 0], ["erf", -0, -0], ["erf", 10, 1], ["erf", -10, -1],
    ["sigmoid", NaN, NaN], ["sigmoid", Infinity, 1], ["sigmoid", -Infinity, 0], ["sigmoid", 0, 0.5], ["sigmoid", -0, 0.5], ["sigmoid", -200, 0], ["sigmoid", 200, 1],
    ["sin", NaN, NaN], ["sin", Infinity, NaN], ["sin", -Infinity, NaN], ["sin", 0, 0], ["sin", -0, -0], ["sin", TINY, TINY], ["sin", -TINY, -TINY],
    ["cos", NaN, NaN], ["cos", Infinity, NaN], ["cos", -Infinity, NaN], ["cos", 0, 1], ["cos", -0, 1],
    ["tan", NaN, NaN], ["tan", Infinity, NaN], ["tan", -Infinity, NaN], ["tan", 0, 0], ["tan", -0, -0],
    ["asin", NaN, NaN], ["asin", 1.0000001, NaN], ["asin", -2, NaN], ["asin", Infinity, NaN], ["asin", 0, 0], ["asin", -0, -0],
    ["asin", 1, Math.fround(Math.PI / 2)], ["asin", -1, -Math.fround(Math.PI / 2)],
    ["acos", NaN, NaN], ["acos", 1.0000001, NaN], ["acos", -Infinity, NaN], ["acos", 1, 0], ["acos", -1, Math.fround(Math.PI)], ["acos", 0, Math.fround(Math.PI / 2)],
    ["atan", NaN, NaN], ["atan", Infinity, Math.fround(Math.PI / 2)], ["atan", -Infinity, -Math.fround(Math.PI / 2)], ["atan", 0, 0], ["atan", -0, -0],
    ["sinh", NaN, NaN], ["sinh", Infinity, Infinity], ["sinh", -Infinity, -Infinity], ["sinh", 0, 0], ["sinh", -0, -0], ["sinh", 90, Infinity], ["sinh", -90, -Infinity],
    ["cosh", NaN, NaN], ["cosh", Infinity, Infinity], ["cosh", -Infinity, Infinity], ["cosh", 0, 1], ["cosh", -0, 1], ["cosh", 90, Infinity],
  ];
  it("are exact (NaN, infinities, signed zeros, saturation) in both variants", () => {
    for (const [fn, x, want] of cases) {
      for (const vec of [false, true]) {
        const got = H.run(fn, vec, Float32Array.of(x, x, x, x))[0]!;
        const ok = Number.isNaN(want) ? Number.isNaN(got) : Object.is(got, want);
        expect(ok, `${fn}(${Object.is(x, -0) ? "-0" : x}) = ${got}, want ${want} (${vec ? "f32x4" : "f32"})`).toBe(true);
      }
    }
  });
});

describe("wasm math library: pow", () => {
  const SPECIAL = [0, -0, 1, -1, 0.5, -0.5, 2, -2, 3, -3, 0.25, 1.5, -1.5, Infinity, -Infinity, NaN, 1e-45, -1e-45,
    3.4028235e38, -3.4028235e38, 16777216, 16777215, -16777215, 1e-10, 1e10, 127, 128, -149, -150];

  function checkPow(xs: Float32Array, ys: Float32Array, exact: boolean): number {
    const s = H.run("pow", false, xs, ys) as Float32Array, v = H.run("pow", true, xs, ys) as Float32Array;
    expect(bitsEqual(s, v)).toBe(0);
    let max = 0;
    const bad: string[] = [];
    for (let i = 0; i < xs.length; i++) {
      const want = Math.fround(Math.pow(xs[i]!, ys[i]!));
      const d = ulpDistance(s[i]!, want);
      if (d > (exact ? 0 : 2) && bad.length < 5) bad.push(`pow(${xs[i]}, ${ys[i]}) = ${s[i]}, Math.pow gives ${want}`);
      max = Math.max(max, d);
    }
    expect(bad).toEqual([]);
    return max;
  }

  it("special cases match Math.pow exactly (all pairs of special operands)", () => {
    const xs: number[] = [], ys: number[] = [];
    for (const x of SPECIAL) for (const y of SPECIAL) { xs.push(x); ys.push(y); }
    checkPow(Float32Array.from(xs), Float32Array.from(ys), true);
    // spot checks of the rules, including where Math.pow differs from C's pow
    const p = (x: number, y: number) => H.run("pow", false, Float32Array.of(x), Float32Array.of(y))[0]!;
    expect(p(NaN, 0)).toBe(1);
    expect(p(2, -0)).toBe(1);
    expect(p(1, NaN)).toBeNaN(); // Math.pow(1, NaN) is NaN (C's pow gives 1)
    expect(p(-1, Infinity)).toBeNaN(); // as Math.pow
    expect(p(-2, 3)).toBe(-8);
    expect(p(-2, 2)).toBe(4);
    expect(p(-2, 0.5)).toBeNaN();
    expect(Object.is(p(-0, 3), -0)).toBe(true);
    expect(p(-0, -3)).toBe(-Infinity);
    expect(p(-Infinity, 3)).toBe(-Infinity);
    expect(p(-Infinity, 0.5)).toBe(Infinity);
    expect(p(0.5, Infinity)).toBe(0);
    expect(p(2, 128)).toBe(Infinity);
    expect(p(2, -149)).toBe(2 ** -149);
  });

  it("<= 2 ulp on random operands (wide, near 1 with huge exponents, negative bases, subnormals)", () => {
    const r = rng(7);
    const n = 200_000;
    const xs = new Float32Array(n), ys = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      switch (i % 6) {
        case 0: xs[i] = fromBits((r() * 4294967296) | 0); ys[i] = fromBits((r() * 4294967296) | 0); break;
        case 1: xs[i] = r() * 10; ys[i] = (r() - 0.5) * 100; break;
        case 2: xs[i] = 1 + (r() - 0.5) * 1e-3; ys[i] = (r() - 0.5) * 2e5; break;
        case 3: xs[i] = -r() * 10; ys[i] = Math.round((r() - 0.5) * 60); break;
        case 4: xs[i] = r() * 1e-38; ys[i] = r() * 3; break;
        default: xs[i] = Math.exp((r() - 0.5) * 200); ys[i] = (r() - 0.5) * 4;
      }
    }
    measured.pow = checkPow(xs, ys, false);
    console.log(`mathlib max ulp: pow ${measured.pow}`);
  });
});

describe("wasm math library: float16 conversions", () => {
  it("f16_bits_to_f32 is exact for all 65536 patterns (both variants)", () => {
    const h = Int32Array.from({ length: 65536 }, (_, i) => i);
    const s = H.run("f16_bits_to_f32", false, h) as Float32Array, v = H.run("f16_bits_to_f32", true, h) as Float32Array;
    expect(bitsEqual(s, v)).toBe(0);
    const bad: string[] = [];
    for (let i = 0; i < 65536; i++) {
      const want = fromHalfBits(i);
      if (!(Number.isNaN(want) ? Number.isNaN(s[i]!) : Object.is(s[i], want))) bad.push(`0x${i.toString(16)}: ${s[i]} (want ${want})`);
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });

  it("f32_to_f16_bits matches toHalfBits (rounding ties to even, overflow, subnormals, NaN)", () => {
    const r = rng(99);
    const pats: number[] = [];
    for (let i = 0; i < 100_000; i++) pats.push((r() * 4294967296) | 0);
    // the f16 range densely (exponents 2^-26 .. 2^17), both signs
    for (let i = 0; i < 100_000; i++) pats.push((0x32800000 + ((r() * 0x16000000) | 0)) | (r() < 0.5 ? 0x80000000 : 0));
    // every rounding boundary pattern of the low 13 bits around a few significands and exponents
    for (const e of [0x33000000, 0x33800000, 0x38000000, 0x38800000, 0x3f800000, 0x477fe000, 0x47800000, 0x7f800000]) {
      for (const low of [0, 1, 0xfff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x2fff, 0x3000, 0x3001]) pats.push(e | low, (e | low) ^ 0x80000000);
    }
    pats.push(0x7fc00000, 0xffc00001 | 0, 0x7f800001, 0x477fefff, 0x477ff000, 0x33000000, 0x33000001);
    const xs = new Float32Array(Int32Array.from(pats).buffer);
    const s = H.run("f32_to_f16_bits", false, xs) as Int32Array, v = H.run("f32_to_f16_bits", true, xs) as Int32Array;
    expect(bitsEqual(s, v)).toBe(0);
    const bad: string[] = [];
    for (let i = 0; i < xs.length; i++) {
      const want = toHalfBits(xs[i]!);
      if (s[i] !== want) bad.push(`x = ${xs[i]} (0x${(pats[i]! >>> 0).toString(16)}): 0x${s[i]!.toString(16)}, want 0x${want.toString(16)}`);
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });
});

describe("wasm math library: emission", () => {
  it("emits only the requested functions plus their dependencies", () => {
    const count = (which?: MathFn[]) => {
      const m = new ModuleBuilder();
      const lib = emitMathLib(m, which);
      return { n: m.funcCount, bytes: m.build().length, lib };
    };
    const all = count();
    expect(all.n).toBe(MATH_FNS.length * 2 + 1); // + the Payne-Hanek helper
    const one = count(["exp"]);
    expect(one.n).toBe(2);
    expect(Object.keys(one.lib)).toEqual(["exp"]);
    expect(one.bytes).toBeLessThan(all.bytes / 10);
    expect(count(["sin", "cos", "tan"]).n).toBe(7); // one shared helper
    expect(count(["pow", "sigmoid"]).n).toBe(4);
    expect(() => count(["expo" as MathFn])).toThrow(/unknown function "expo"/);
  });

  it("names the functions for stack traces, and a typed result keyed by the set", () => {
    const m = new ModuleBuilder();
    const lib = emitMathLib(m, new Set(["tanh", "log"] as const));
    expect(lib.tanh.f32.name).toBe("kiln.math.tanh.f32");
    expect(lib.log.f32x4.name).toBe("kiln.math.log.f32x4");
    expect(new WebAssembly.Module(m.build())).toBeInstanceOf(WebAssembly.Module);
  });
});

describe("wasm math library: constants", () => {
  // pi * 2^400 by Machin's formula
  const P = 400n;
  const atanInv = (n: number) => {
    let sum = 0n, term = (1n << P) / BigInt(n), k = 1n, sign = 1n;
    const n2 = BigInt(n * n);
    while (term !== 0n) { sum += (sign * term) / k; term /= n2; k += 2n; sign = -sign; }
    return sum;
  };
  const PI = 16n * atanInv(5) - 4n * atanInv(239);
  const toNumber = (v: bigint) => Number((v * (1n << 120n)) >> P) / 2 ** 120; // v * 2^-400 (|v| < 2^400)
  const fromNumber = (x: number) => (BigInt(Math.round(x * 2 ** 60)) << (P - 60n)); // x with <= 60 fraction bits

  it("the 2/pi words are the bits of 2/pi", () => {
    const twoOverPi = ((2n << P) << P) / PI; // 2/pi * 2^400
    for (let i = 1; i < TWO_OVER_PI_WORDS.length; i++) {
      expect(TWO_OVER_PI_WORDS[i]).toBe(Number((twoOverPi >> (P - 32n * BigInt(i))) & 0xffffffffn));
    }
    expect(TWO_OVER_PI_WORDS[0]).toBe(0);
    expect(TWO_OVER_PI).toBe(toNumber(twoOverPi));
  });

  it("pi/2 splits: C1 has 33 bits and C1 + C2 is pi/2 to ~2^-86; f32 hi/lo pairs", () => {
    const c1 = PIO2_C1 * 2 ** 32;
    expect(Number.isInteger(c1) && c1 < 2 ** 33).toBe(true);
    const rest = PI / 2n - fromNumber(PIO2_C1);
    expect(Math.abs(toNumber(rest) - PIO2_C2)).toBeLessThan(2 ** -86);
    expect(PIO2_2M62).toBe(toNumber(PI / 2n) * 2 ** -62);
    for (const [hi, lo, c] of [[PI_HI, PI_LO, PI], [PIO2_HI, PIO2_LO, PI / 2n], [PIO4_HI, PIO4_LO, PI / 4n]] as const) {
      expect(hi).toBe(Math.fround(toNumber(c)));
      expect(lo).toBe(Math.fround(toNumber(c - fromNumber(hi))));
    }
  });
});

describe("wasm math library: speed (informal, nothing asserted on time)", () => {
  it("logs ns/element for exp: f32 call, f32x4 call, JS Math.exp import", () => {
    const n = CAP;
    const xs = new Float32Array(H.mem.buffer, 0, n);
    const r = rng(3);
    // activation-like inputs
    for (let i = 0; i < n; i++) xs[i] = (r() - 0.5) * 16;
    const time = (name: string) => {
      const fn = H.exports[name]!;
      let best = Infinity;
      for (let rep = 0; rep < 7; rep++) {
        const t0 = performance.now();
        fn(n);
        best = Math.min(best, performance.now() - t0);
      }
      return (best * 1e6) / n;
    };
    const rows = [["exp f32", time("exp_s")], ["exp f32x4", time("exp_v")], ["exp via JS Math.exp import", time("exp_js")]] as const;
    const more = (["sigmoid", "tanh", "erf", "sin", "atan"] as const).map((f) => [`${f} f32 / f32x4`, time(`${f}_s`), time(`${f}_v`)] as const);
    console.log(`mathlib ns/element: ${rows.map(([k, v]) => `${k} ${v.toFixed(2)}`).join("; ")}; ${more.map(([k, a, b]) => `${k} ${a.toFixed(2)} / ${b.toFixed(2)}`).join("; ")}`);
    for (const [, v] of rows) expect(v).toBeGreaterThan(0);
  });
});
