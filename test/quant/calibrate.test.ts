import { describe, it, expect } from "vitest";
import { makeObserver, type CalibrationMethod } from "../../jit/quant/calibrate.js";
import {
  activationParams, quantizeWeights, quantizeValue, dequantizeValue, roundHalfEven, type QParams,
} from "../../jit/quant/params.js";
import { ShapeError, ValueError } from "../../jit/errors.js";
import { prng } from "../passes/helpers.js";

/** A seeded PRNG, so every run sees the same data. */
const rng = prng;

function normals(n: number, seed: number, sigma = 1, mean = 0): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = mean + sigma * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return out;
}

/** numpy's default percentile: linear interpolation between order statistics. */
function exactPercentile(sorted: Float64Array, p: number): number {
  const r = (p / 100) * (sorted.length - 1);
  const k = Math.floor(r), frac = r - k;
  const a = sorted[k]!;
  return frac > 0 ? a + frac * (sorted[k + 1]! - a) : a;
}

const METHODS: CalibrationMethod[] = ["minmax", "percentile", "entropy"];

describe("observers", () => {
  it("minmax is exact over batches and widens to include 0", () => {
    const o = makeObserver("minmax");
    o.observe(new Float32Array([1.5, 3, 2]));
    o.observe(new Float32Array([]));
    o.observe(new Float32Array([7.25, 4]));
    expect(o.range()).toEqual({ min: 0, max: 7.25 });
    o.observe(new Float32Array([-0.125]));
    expect(o.range()).toEqual({ min: -0.125, max: 7.25 });
    const neg = makeObserver("minmax");
    neg.observe(new Float32Array([-3, -1]));
    expect(neg.range()).toEqual({ min: -3, max: 0 });
  });

  it("percentile is within one bin of the sorted-array percentile, over batches of growing range", () => {
    // Later batches reach further on both sides, so the histogram must re-bin several times.
    const batches: Float32Array[] = [];
    for (let b = 0; b < 5; b++) batches.push(normals(20_000, 10 + b, 2 ** b, b % 2 ? -b : b));
    const r = rng(99);
    const last = batches[4]!;
    for (let i = 0; i < 8; i++) last[i * 1000] = (i % 2 ? -1 : 1) * (200 + 300 * r()); // outliers
    for (const p of [99.99, 99.9, 99, 90]) {
      const o = makeObserver("percentile", { percentile: p });
      for (const x of batches) o.observe(x);
      const all = new Float64Array(batches.reduce((n, x) => n + x.length, 0));
      let at = 0;
      for (const x of batches) { all.set(x, at); at += x.length; }
      all.sort();
      const lo = exactPercentile(all, 100 - p), hi = exactPercentile(all, p);
      const got = o.range();
      expect(o.binWidth).toBeGreaterThan(0);
      expect(o.binWidth).toBeLessThan((all[all.length - 1]! - all[0]!) / 100); // memory did not buy precision: bins stay fixed
      expect(Math.abs(got.min - Math.min(lo, 0))).toBeLessThanOrEqual(o.binWidth);
      expect(Math.abs(got.max - Math.max(hi, 0))).toBeLessThanOrEqual(o.binWidth);
    }
  });

  it("percentile re-binning keeps every count when a batch reaches only downwards or upwards", () => {
    for (const bins of [2, 5, 2048]) {
      const r = rng(bins);
      const batches = [
        Float32Array.from({ length: 3000 }, () => 10 * r()), // [0, 10)
        Float32Array.from({ length: 1000 }, () => -15 + r()), // [-15, -14): below only, by more than the old span
        Float32Array.from({ length: 1000 }, () => 40 + r()), // [40, 41): above only
      ];
      const all = Float64Array.from(batches.flatMap((x) => Array.from(x))).sort();
      for (const p of [60, 75, 90]) {
        const o = makeObserver("percentile", { percentile: p, bins });
        for (const x of batches) o.observe(x);
        const got = o.range();
        expect(Math.abs(got.min - Math.min(0, exactPercentile(all, 100 - p)))).toBeLessThanOrEqual(o.binWidth);
        expect(Math.abs(got.max - exactPercentile(all, p))).toBeLessThanOrEqual(o.binWidth);
      }
    }
  });

  it("percentile 100 gives the extremes, and a constant input its value", () => {
    const o = makeObserver("percentile", { percentile: 100, bins: 64 });
    o.observe(normals(1000, 3));
    o.observe(new Float32Array([-9, 11]));
    expect(o.range()).toEqual({ min: -9, max: 11 });
    const c = makeObserver("percentile");
    c.observe(new Float32Array([3, 3, 3]));
    c.observe(new Float32Array([3]));
    expect(c.range()).toEqual({ min: 0, max: 3 });
    expect(c.binWidth).toBe(0);
    c.observe(new Float32Array([-1])); // the histogram starts only now, and must still count the 3s
    expect(c.range().max).toBeCloseTo(3, 2);
  });

  it("entropy clips rare outliers but keeps the body of a Gaussian", () => {
    const x = normals(100_000, 7);
    const r = rng(8);
    for (let i = 0; i < 20; i++) x[i * 4999] = (i % 2 ? -1 : 1) * (10 + 10 * r());
    let absMax = 0;
    for (const v of x) absMax = Math.max(absMax, Math.abs(v));
    const o = makeObserver("entropy");
    for (let b = 0; b < 4; b++) o.observe(x.subarray(b * 25_000, (b + 1) * 25_000));
    const { min, max } = o.range();
    expect(max).toBeGreaterThanOrEqual(3);
    expect(max).toBeLessThan(0.5 * absMax);
    expect(min).toBeLessThanOrEqual(-3);
    expect(min).toBeGreaterThan(-0.5 * absMax);
    expect(min).toBe(-max); // one threshold T, clipped to [-T, T]
  });

  it("entropy on ReLU-like data (all >= 0) gives min 0 and a threshold past 3 sigma", () => {
    const x = normals(100_000, 21).map((v) => Math.max(0, v));
    for (let i = 0; i < 10; i++) x[i * 9973] = 15 + i;
    const o = makeObserver("entropy");
    o.observe(x);
    const { min, max } = o.range();
    expect(min).toBe(0);
    expect(max).toBeGreaterThanOrEqual(3);
    expect(max).toBeLessThan(12);
  });

  it("entropy never reaches past the observed extremes", () => {
    const o = makeObserver("entropy");
    o.observe(new Float32Array([0, 0.5, 1, -0.25]));
    const { min, max } = o.range();
    expect(min).toBeGreaterThanOrEqual(-0.25);
    expect(max).toBeLessThanOrEqual(1);
    const zeros = makeObserver("entropy");
    zeros.observe(new Float32Array(10));
    expect(zeros.range()).toEqual({ min: 0, max: 0 });
  });

  it.each(METHODS)("%s ignores NaN and ±Infinity", (method) => {
    const clean = normals(5000, 31);
    const dirty = new Float32Array(clean.length * 2);
    for (let i = 0; i < clean.length; i++) {
      dirty[2 * i] = clean[i]!;
      dirty[2 * i + 1] = [NaN, Infinity, -Infinity][i % 3]!;
    }
    const a = makeObserver(method), b = makeObserver(method);
    a.observe(clean);
    b.observe(dirty);
    b.observe(new Float32Array([NaN, -Infinity]));
    expect(b.range()).toEqual(a.range());
    expect(Number.isFinite(b.range().min) && Number.isFinite(b.range().max)).toBe(true);
  });

  it.each(METHODS)("%s throws ValueError when nothing finite was observed", (method) => {
    const o = makeObserver(method);
    expect(() => o.range()).toThrow(ValueError);
    o.observe(new Float32Array(0));
    o.observe(new Float32Array([NaN, Infinity, -Infinity]));
    expect(() => o.range()).toThrow(/no finite values/);
  });

  it("rejects bad options with ValueError", () => {
    expect(() => makeObserver("percentile", { percentile: 120 })).toThrow(ValueError);
    expect(() => makeObserver("percentile", { percentile: 10 })).toThrow(ValueError);
    expect(() => makeObserver("percentile", { bins: 0 })).toThrow(ValueError);
    expect(() => makeObserver("entropy", { bins: 64 })).toThrow(/bins must be an integer in \[128/);
    expect(() => makeObserver("kl" as CalibrationMethod)).toThrow(ValueError);
  });
});

describe("activationParams", () => {
  const f = Math.fround;

  it("asymmetric uint8 for known ranges", () => {
    expect(activationParams({ min: -1, max: 3 }, "uint8")).toEqual({ scale: f(4 / 255), zeroPoint: 64, dtype: "uint8" });
    // Widened to contain 0: an all-positive range puts 0 at q = 0, an all-negative one at 255.
    expect(activationParams({ min: 2, max: 5 }, "uint8")).toEqual({ scale: f(5 / 255), zeroPoint: 0, dtype: "uint8" });
    expect(activationParams({ min: -4, max: -1 }, "uint8")).toEqual({ scale: f(4 / 255), zeroPoint: 255, dtype: "uint8" });
    expect(activationParams({ min: -1, max: 3 }, "int8")).toEqual({ scale: f(4 / 255), zeroPoint: -64, dtype: "int8" });
  });

  it("symmetric: zero point 0 (int8) or 128 (uint8), scale max|x| / 127", () => {
    expect(activationParams({ min: -2, max: 1 }, "int8", true)).toEqual({ scale: f(2 / 127), zeroPoint: 0, dtype: "int8" });
    expect(activationParams({ min: -0.5, max: 6 }, "int8", true)).toEqual({ scale: f(6 / 127), zeroPoint: 0, dtype: "int8" });
    expect(activationParams({ min: -2, max: 1 }, "uint8", true)).toEqual({ scale: f(2 / 127), zeroPoint: 128, dtype: "uint8" });
  });

  it("a zero-width range gives scale 1", () => {
    expect(activationParams({ min: 0, max: 0 }, "uint8")).toEqual({ scale: 1, zeroPoint: 0, dtype: "uint8" });
    expect(activationParams({ min: 0, max: 0 }, "int8", true)).toEqual({ scale: 1, zeroPoint: 0, dtype: "int8" });
  });

  it("0 is exactly representable and the scale is a float32, for many ranges", () => {
    const r = rng(5);
    for (let i = 0; i < 500; i++) {
      const a = (r() - 0.7) * 10 ** (4 * r() - 2), b = a + r() * 10 ** (4 * r() - 2);
      for (const [dtype, sym] of [["uint8", false], ["int8", false], ["int8", true], ["uint8", true]] as const) {
        const p = activationParams({ min: a, max: b }, dtype, sym);
        expect(f(p.scale)).toBe(p.scale);
        expect(p.scale).toBeGreaterThan(0);
        expect(dequantizeValue(quantizeValue(0, p), p)).toBe(0);
        // The range's ends quantize within half a step (plus the rounding of the zero point).
        for (const v of [Math.min(a, 0), Math.max(b, 0)]) {
          expect(Math.abs(dequantizeValue(quantizeValue(v, p), p) - v)).toBeLessThanOrEqual(p.scale * 1.0001);
        }
      }
    }
  });

  it("rejects a non-finite or inverted range", () => {
    expect(() => activationParams({ min: NaN, max: 1 }, "uint8")).toThrow(ValueError);
    expect(() => activationParams({ min: 0, max: Infinity }, "uint8")).toThrow(ValueError);
    expect(() => activationParams({ min: 2, max: 1 }, "uint8")).toThrow(ValueError);
  });
});

describe("quantizeWeights", () => {
  /** Checks q and scales against a plain per-element reference (channel from the multi-index). */
  function check(shape: number[], axis: number | undefined, seed: number): void {
    const size = shape.reduce((a, b) => a * b, 1);
    const w = normals(size, seed, 0.2);
    const rank = shape.length;
    const ax = axis === undefined ? undefined : axis < 0 ? axis + rank : axis;
    const chanOf = (e: number): number => {
      if (ax === undefined) return 0;
      let inner = 1;
      for (let i = ax + 1; i < rank; i++) inner *= shape[i]!;
      return Math.floor(e / inner) % shape[ax]!;
    };
    const channels = ax === undefined ? 1 : shape[ax]!;
    // Zero one channel entirely: it must get scale 1.
    for (let e = 0; e < size; e++) if (chanOf(e) === channels - 1 && channels > 1) w[e] = 0;
    const { q, scales } = quantizeWeights(w, shape, axis);
    expect(q.length).toBe(size);
    expect(scales.length).toBe(channels);
    const maxAbs = new Float64Array(channels);
    for (let e = 0; e < size; e++) maxAbs[chanOf(e)] = Math.max(maxAbs[chanOf(e)]!, Math.abs(w[e]!));
    for (let c = 0; c < channels; c++) {
      expect(scales[c]).toBe(maxAbs[c] === 0 ? 1 : Math.fround(maxAbs[c]! / 127));
    }
    const hit127 = new Array<boolean>(channels).fill(false);
    for (let e = 0; e < size; e++) {
      const c = chanOf(e), s = scales[c]!;
      expect(Math.abs(q[e]!)).toBeLessThanOrEqual(127);
      if (Math.abs(q[e]!) === 127) hit127[c] = true;
      expect(Math.abs(q[e]! * s - w[e]!)).toBeLessThanOrEqual((s / 2) * (1 + 1e-5));
    }
    for (let c = 0; c < channels; c++) expect(hit127[c]).toBe(maxAbs[c]! > 0); // the largest weight uses the full grid
  }

  it("per channel along axis 0", () => check([6, 10], 0, 1));
  it("per channel along a middle axis and a negative axis", () => {
    check([3, 5, 4], 1, 2);
    check([2, 3, 7], -1, 3);
    check([4, 3, 2, 2], 1, 4); // a conv weight's input-channel axis
  });
  it("per tensor", () => check([5, 7, 3], undefined, 5));

  it("matches hand-worked values", () => {
    const { q, scales } = quantizeWeights(new Float32Array([1.5, -2, 0.5, 0, 0, 0]), [2, 3], 0);
    expect(Array.from(scales)).toEqual([Math.fround(2 / 127), 1]);
    expect(Array.from(q)).toEqual([95, -127, 32, 0, 0, 0]);
  });

  it("rejects a wrong shape, a bad axis and non-finite weights", () => {
    expect(() => quantizeWeights(new Float32Array(6), [2, 4], 0)).toThrow(ShapeError);
    expect(() => quantizeWeights(new Float32Array(6), [2, 3], 2)).toThrow(ShapeError);
    expect(() => quantizeWeights(new Float32Array(6), [2, 3], -3)).toThrow(ShapeError);
    expect(() => quantizeWeights(new Float32Array([1, NaN]), [2], 0)).toThrow(ValueError);
  });
});

describe("roundHalfEven", () => {
  it("rounds ties to even", () => {
    expect(roundHalfEven(0.5)).toBe(0);
    expect(roundHalfEven(1.5)).toBe(2);
    expect(roundHalfEven(2.5)).toBe(2);
    expect(roundHalfEven(3.5)).toBe(4);
    expect(roundHalfEven(-0.5) === 0).toBe(true); // -0 or +0
    expect(roundHalfEven(-1.5)).toBe(-2);
    expect(roundHalfEven(-2.5)).toBe(-2);
  });
  it("rounds non-ties to nearest and leaves integers and infinities alone", () => {
    expect(roundHalfEven(2.4999999)).toBe(2);
    expect(roundHalfEven(2.5000001)).toBe(3);
    expect(roundHalfEven(-2.6)).toBe(-3);
    expect(roundHalfEven(-7)).toBe(-7);
    expect(roundHalfEven(2 ** 53)).toBe(2 ** 53);
    expect(roundHalfEven(Infinity)).toBe(Infinity);
    expect(roundHalfEven(-Infinity)).toBe(-Infinity);
  });
});

describe("quantizeValue / dequantizeValue", () => {
  const u8: QParams = { scale: 0.5, zeroPoint: 10, dtype: "uint8" };
  const i8: QParams = { scale: Math.fround(0.1), zeroPoint: -3, dtype: "int8" };

  it("rounds half to even after adding nothing but the zero point", () => {
    expect(quantizeValue(1.25, u8)).toBe(12); // 2.5 -> 2
    expect(quantizeValue(1.75, u8)).toBe(14); // 3.5 -> 4
    expect(quantizeValue(-1.25, u8)).toBe(8); // -2.5 -> -2
    expect(quantizeValue(1.3, u8)).toBe(13);
  });

  it("saturates to the dtype's range, infinities included", () => {
    expect(quantizeValue(1e9, u8)).toBe(255);
    expect(quantizeValue(-1e9, u8)).toBe(0);
    expect(quantizeValue(Infinity, u8)).toBe(255);
    expect(quantizeValue(-Infinity, u8)).toBe(0);
    expect(quantizeValue(12.9, i8)).toBe(126);
    expect(quantizeValue(13.1, i8)).toBe(127);
    expect(quantizeValue(100, i8)).toBe(127);
    expect(quantizeValue(-12.5, i8)).toBe(-128);
    expect(quantizeValue(-Infinity, i8)).toBe(-128);
  });

  it("maps NaN to the zero point", () => {
    expect(quantizeValue(NaN, u8)).toBe(10);
    expect(quantizeValue(NaN, i8)).toBe(-3);
  });

  it("divides in float32, as ONNX does with a float32 scale", () => {
    // In float64 x / scale is 41.49999964 (rounds to 41); in float32 it is exactly 41.5 (-> 42).
    const p: QParams = { scale: 0.5773389935493469, zeroPoint: 0, dtype: "int8" };
    expect(Math.fround(p.scale)).toBe(p.scale);
    expect(quantizeValue(23.95956802368164, p)).toBe(42);
  });

  it("dequantizes to float32 values", () => {
    expect(dequantizeValue(12, u8)).toBe(1);
    expect(dequantizeValue(-3, i8)).toBe(0);
    const v = dequantizeValue(7, i8);
    expect(v).toBe(Math.fround(10 * Math.fround(0.1)));
    expect(Math.fround(v)).toBe(v);
  });
});
