/**
 * Activation range observers for post-training quantization. Calibration runs the f32 model
 * on sample inputs and feeds every activation tensor to an observer; its range() is the
 * clipping range that activationParams (./params.ts) turns into a scale and zero point.
 *
 * - "minmax": the observed extremes. Exact, but one outlier stretches the grid for everyone.
 * - "percentile": the (100-p)th and pth percentiles, from a histogram.
 * - "entropy": TensorRT's KL-divergence threshold over a histogram of |x|.
 *
 * The histograms hold a fixed number of bins and grow by merging bins when later batches
 * reach further, so memory stays O(bins) however much data is observed.
 *
 * @example
 * const obs = makeObserver("percentile", { percentile: 99.9 });
 * for (const batch of activations) obs.observe(batch);
 * const { min, max } = obs.range();
 */
import { ValueError } from "../errors.js";

export type CalibrationMethod = "minmax" | "percentile" | "entropy";

export interface ObserverOptions {
  /** For "percentile": keep the central p% two-sided, p in [50, 100]. Default 99.99. */
  percentile?: number;
  /** Histogram bins for "percentile" and "entropy" (entropy needs >= 128). Default 2048. */
  bins?: number;
}

export interface Observer {
  /** Feeds one tensor's values (any length, may contain NaN/±Inf: non-finite values are ignored). */
  observe(data: Float32Array): void;
  /** The chosen clipping range; always min <= 0 <= max (widened to include 0). Throws ValueError if nothing finite was observed. */
  range(): { min: number; max: number };
}

/** An observer built on a histogram ("percentile", "entropy"). */
export interface HistogramObserver extends Observer {
  /**
   * The histogram's current bin width (of x for "percentile", of |x| for "entropy"); 0 while
   * every value seen was the same. Percentile bounds are within one bin width of the exact ones.
   */
  readonly binWidth: number;
}

/** Levels an int8 grid has on one side of zero, as TensorRT's entropy calibration counts them. */
const LEVELS = 128;
/** Probability given to empty bins before KL, so log(p/q) stays finite. */
const KL_EPS = 1e-4;
/** Above this many candidate thresholds the entropy search steps over some, to stay fast. */
const MAX_CANDIDATES = 2048;
const MAX_BINS = 1 << 24;

function noData(method: CalibrationMethod): ValueError {
  return new ValueError(`${method} observer saw no finite values, so it has no range`, {
    hint: "call observe() with calibration data (not all NaN/Infinity, not empty) before range()",
  });
}

function withZero(min: number, max: number): { min: number; max: number } {
  return { min: Math.min(min, 0), max: Math.max(max, 0) };
}

/** Extremes and count of the finite values of a batch. */
function scan(data: Float32Array): { n: number; min: number; max: number } {
  let n = 0, min = Infinity, max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!(v > -Infinity && v < Infinity)) continue; // also false for NaN
    n++;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { n, min, max };
}

/**
 * A histogram of `bins` equal bins over [lo, lo + bins * width] that widens as data arrives.
 * Widening multiplies the width by a power of two and shifts lo by whole new bins, so every
 * new bin is a union of old ones and re-binning only merges counts (no data is kept).
 * Until two different values have been seen there is no width to choose, so it just counts
 * the one value seen (`only`).
 */
class GrowingHistogram {
  readonly counts: Float64Array;
  lo = 0;
  /** 0 until the histogram has a range. */
  width = 0;
  total = 0;
  private only = 0;

  /**
   * fromZero: the range starts at 0 (a histogram of |x|). skipZeros: exact zeros are left
   * out (the caller passes n, bmin, bmax of the nonzero values).
   */
  constructor(readonly bins: number, private readonly fromZero: boolean, private readonly skipZeros = false) {
    this.counts = new Float64Array(bins);
  }

  get started(): boolean { return this.width > 0; }
  /** The one value seen so far (meaningful while !started and total > 0). */
  get single(): number { return this.only; }

  /** Adds a batch's finite values (|x| when `abs`); n, bmin, bmax: their count and extremes. */
  add(data: Float32Array, abs: boolean, n: number, bmin: number, bmax: number): void {
    if (n === 0) return;
    if (!this.started) {
      if (bmin === bmax && (this.total === 0 || bmin === this.only)) {
        this.only = bmin;
        this.total += n;
        return;
      }
      let lo = bmin, hi = bmax;
      if (this.total > 0) { lo = Math.min(lo, this.only); hi = Math.max(hi, this.only); }
      if (this.fromZero) lo = 0;
      this.lo = lo;
      this.width = (hi - lo) / this.bins;
      if (this.total > 0) this.counts[this.index(this.only)]! += this.total;
    } else {
      this.grow(bmin, bmax);
    }
    const c = this.counts;
    for (let i = 0; i < data.length; i++) {
      let v = data[i]!;
      if (!(v > -Infinity && v < Infinity)) continue;
      if (abs && v < 0) v = -v;
      if (v === 0 && this.skipZeros) continue;
      c[this.index(v)]!++;
    }
    this.total += n;
  }

  private index(v: number): number {
    const i = Math.floor((v - this.lo) / this.width);
    return i < 0 ? 0 : i >= this.bins ? this.bins - 1 : i;
  }

  /** Widens (by the least power of two) until [nmin, nmax] fits, merging bins. */
  private grow(nmin: number, nmax: number): void {
    const { bins, lo, width } = this;
    const hi = lo + bins * width;
    if (nmin >= lo && nmax <= hi) return;
    // The new range must hold the old one too, so every old bin lands inside it.
    nmax = Math.max(nmax, hi);
    let f = 2, shift = 0;
    for (;; f *= 2) {
      const w = width * f;
      shift = nmin < lo ? Math.ceil((lo - nmin) / w) : 0;
      if (lo + (bins - shift) * w >= nmax) break;
    }
    const old = this.counts.slice();
    this.counts.fill(0);
    for (let b = 0; b < bins; b++) {
      const c = old[b]!;
      if (c !== 0) this.counts[shift + Math.floor(b / f)]! += c;
    }
    this.width = width * f;
    this.lo = lo - shift * this.width;
  }

  /**
   * An estimate of the k-th smallest value (0-based): its bin, with the bin's values taken
   * as evenly spread inside it, so the error is under one bin width.
   */
  kth(k: number): number {
    if (!this.started) return this.only;
    let cum = 0;
    const c = this.counts;
    for (let b = 0; b < this.bins; b++) {
      const n = c[b]!;
      if (k < cum + n) return this.lo + this.width * (b + (k - cum + 0.5) / n);
      cum += n;
    }
    return this.lo + this.width * this.bins;
  }

  /**
   * The q-quantile (q in [0, 1]), interpolating between order statistics like numpy's
   * default. The caller knows the exact extremes, so the first and last order statistics are
   * exact (percentile 100 is then minmax).
   */
  quantile(q: number, min: number, max: number): number {
    const last = this.total - 1;
    const r = q * last;
    const k = Math.floor(r), frac = r - k;
    const at = (i: number): number => (i <= 0 ? min : i >= last ? max : this.kth(i));
    const a = at(k);
    return frac > 0 && k < last ? a + frac * (at(k + 1) - a) : a;
  }
}

class MinMaxObserver implements Observer {
  private min = Infinity;
  private max = -Infinity;
  observe(data: Float32Array): void {
    const s = scan(data);
    if (s.n === 0) return;
    if (s.min < this.min) this.min = s.min;
    if (s.max > this.max) this.max = s.max;
  }
  range(): { min: number; max: number } {
    if (this.min > this.max) throw noData("minmax");
    return withZero(this.min, this.max);
  }
}

class PercentileObserver implements HistogramObserver {
  private readonly hist: GrowingHistogram;
  private min = Infinity;
  private max = -Infinity;
  constructor(private readonly p: number, bins: number) {
    this.hist = new GrowingHistogram(bins, false);
  }
  get binWidth(): number { return this.hist.width; }
  observe(data: Float32Array): void {
    const s = scan(data);
    if (s.n === 0) return;
    if (s.min < this.min) this.min = s.min;
    if (s.max > this.max) this.max = s.max;
    this.hist.add(data, false, s.n, s.min, s.max);
  }
  range(): { min: number; max: number } {
    if (this.hist.total === 0) throw noData("percentile");
    // Clamping to the exact extremes can only bring an estimate closer to the truth.
    const clamp = (v: number): number => Math.min(this.max, Math.max(this.min, v));
    const lo = clamp(this.hist.quantile((100 - this.p) / 100, this.min, this.max));
    const hi = clamp(this.hist.quantile(this.p / 100, this.min, this.max));
    return withZero(lo, hi);
  }
}

class EntropyObserver implements HistogramObserver {
  private readonly hist: GrowingHistogram;
  private min = Infinity;
  private max = -Infinity;
  private seen = false;
  constructor(bins: number) {
    // Exact zeros are left out of the histogram: every grid represents 0 exactly, so they
    // cost nothing at any threshold, yet their spike in bin 0 (half of a ReLU's output) would
    // make KL favour thresholds that clip far too much.
    this.hist = new GrowingHistogram(bins, true, true);
  }
  get binWidth(): number { return this.hist.width; }
  observe(data: Float32Array): void {
    let min = Infinity, max = -Infinity, n = 0, amin = Infinity, amax = 0;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (!(v > -Infinity && v < Infinity)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
      const a = Math.abs(v);
      if (a === 0) continue;
      n++;
      if (a < amin) amin = a;
      if (a > amax) amax = a;
    }
    if (min > max) return;
    this.seen = true;
    if (min < this.min) this.min = min;
    if (max > this.max) this.max = max;
    this.hist.add(data, true, n, amin, amax);
  }
  range(): { min: number; max: number } {
    if (!this.seen) throw noData("entropy");
    const h = this.hist;
    const t = h.total === 0 ? 0 : h.started ? klThreshold(h.counts, h.width) : h.single;
    // Clip symmetrically at T, but never past what was seen: a ReLU output stays [0, T].
    return withZero(Math.max(this.min, -t), Math.min(this.max, t));
  }
}

/**
 * TensorRT's entropy calibration over a histogram of |x|: for each candidate cut of i bins
 * (i >= 128), P is hist[0:i] with everything beyond folded into its last bin, Q is hist[0:i]
 * quantized to 128 levels and spread back evenly over each level's nonempty bins, and the cut
 * with the least KL(P || Q) wins. Returns the threshold i * width.
 *
 * Q leaves the clipped mass out (as TensorRT does), so a cut that clips much mass pays in KL.
 * P and Q are zero on the same empty bins, so those terms are summed in closed form; on the
 * others p log(p/q) splits into log(hist[k]) (computed once) minus a per-level log, so a
 * candidate costs O(nonempty bins below it) multiply-adds and 128 logs.
 */
function klThreshold(hist: Float64Array, width: number): number {
  const bins = hist.length;
  const prefix = new Float64Array(bins + 1);
  const logH = new Float64Array(bins);
  const nonzero: number[] = [];
  for (let k = 0; k < bins; k++) {
    const h = hist[k]!;
    prefix[k + 1] = prefix[k]! + h;
    if (h > 0) { nonzero.push(k); logH[k] = Math.log(h); }
  }
  const total = prefix[bins]!;
  const levelSum = new Float64Array(LEVELS);
  const levelCount = new Int32Array(LEVELS);
  const logM = new Float64Array(LEVELS);
  const stride = Math.max(1, Math.ceil((bins - LEVELS + 1) / MAX_CANDIDATES));
  let best = Infinity, bestI = bins;
  let nzEnd = 0; // nonzero[0:nzEnd] are the nonempty bins below i
  for (let i = LEVELS; i <= bins; i += stride) {
    while (nzEnd < nonzero.length && nonzero[nzEnd]! < i) nzEnd++;
    const inside = prefix[i]!;
    if (inside === 0) continue; // all mass clipped: Q is empty
    const outliers = total - inside;
    levelSum.fill(0);
    levelCount.fill(0);
    for (let j = 0; j < nzEnd; j++) {
      const k = nonzero[j]!;
      const l = Math.floor((k * LEVELS) / i);
      levelSum[l]! += hist[k]!;
      levelCount[l]!++;
    }
    for (let l = 0; l < LEVELS; l++) if (levelCount[l]! > 0) logM[l] = Math.log(levelSum[l]! / levelCount[l]!);
    // Smoothing: each empty bin gets KL_EPS, then each distribution is renormalized (by zp, zq).
    const lastEmptyWithOutliers = hist[i - 1] === 0 && outliers > 0;
    const zerosQ = i - nzEnd;
    const zerosP = zerosQ - (lastEmptyWithOutliers ? 1 : 0);
    const zp = 1 + KL_EPS * zerosP, zq = 1 + KL_EPS * zerosQ;
    const pNorm = total * zp, qNorm = inside * zq;
    let kl = zerosP > 0 ? zerosP * (KL_EPS / zp) * Math.log(zq / zp) : 0;
    // Nonempty bins: p = h / pNorm, q = m_l / qNorm, so p log(p/q) = h (log h - log m_l + log(qNorm/pNorm)) / pNorm.
    let acc = 0, mass = 0;
    for (let j = 0; j < nzEnd; j++) {
      const k = nonzero[j]!;
      const l = Math.floor((k * LEVELS) / i);
      const h = hist[k]!;
      if (k === i - 1 && outliers > 0) {
        const p = (h + outliers) / pNorm, q = levelSum[l]! / levelCount[l]! / qNorm;
        kl += p * Math.log(p / q);
      } else {
        acc += h * (logH[k]! - logM[l]!);
        mass += h;
      }
    }
    kl += (acc + mass * Math.log(qNorm / pNorm)) / pNorm;
    if (lastEmptyWithOutliers) {
      const p = outliers / pNorm;
      kl += p * Math.log(p / (KL_EPS / zq));
    }
    if (kl < best) { best = kl; bestI = i; }
  }
  return bestI * width;
}

function checkOptions(method: CalibrationMethod, opts: ObserverOptions): { p: number; bins: number } {
  const p = opts.percentile ?? 99.99;
  const bins = opts.bins ?? 2048;
  if (typeof p !== "number" || !(p >= 50 && p <= 100)) {
    throw new ValueError(`percentile must be a number in [50, 100], got ${p}`, {
      hint: "pass e.g. { percentile: 99.99 } to keep the central 99.98% of values",
    });
  }
  // Two bins at least: a one-bin histogram could not widen downwards by merging.
  const minBins = method === "entropy" ? LEVELS : 2;
  if (!Number.isInteger(bins) || bins < minBins || bins > MAX_BINS) {
    throw new ValueError(`bins must be an integer in [${minBins}, ${MAX_BINS}] for ${method}, got ${bins}`, {
      hint: "pass e.g. { bins: 2048 } (the default)",
    });
  }
  return { p, bins };
}

/**
 * A range observer for one activation tensor.
 *
 * @example
 * const obs = makeObserver("entropy");
 * obs.observe(new Float32Array([0.1, -0.4, 2.5, NaN]));   // NaN is ignored
 * obs.range();   // { min, max } with min <= 0 <= max
 */
export function makeObserver(method: "percentile" | "entropy", opts?: ObserverOptions): HistogramObserver;
export function makeObserver(method: CalibrationMethod, opts?: ObserverOptions): Observer;
export function makeObserver(method: CalibrationMethod, opts: ObserverOptions = {}): Observer {
  if (method !== "minmax" && method !== "percentile" && method !== "entropy") {
    throw new ValueError(`unknown calibration method ${JSON.stringify(method)}`, {
      hint: 'use "minmax", "percentile" or "entropy"',
    });
  }
  const { p, bins } = checkOptions(method, opts);
  switch (method) {
    case "minmax": return new MinMaxObserver();
    case "percentile": return new PercentileObserver(p, bins);
    case "entropy": return new EntropyObserver(bins);
  }
}
