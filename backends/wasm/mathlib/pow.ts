/**
 * pow(x, y) with Math.pow's semantics, in f64 (two f64x2 halves in SIMD code, so both
 * variants still agree bit for bit).
 *
 * Why f64: x^y = 2^(y*log2|x|), and an error d in y*log2|x| becomes a relative error of
 * d*ln2 in the result; with |y*log2|x|| up to ~150 before the result overflows, f32 would
 * need log2 to about 2^-33 relative, i.e. double-f32 arithmetic, which costs more than f64.
 * In f64: |x| = 2^k * m (m in [sqrt(1/2), sqrt(2)), from the f32 bits), s = (m-1)/(m+1),
 * log2 m = s*Q(s^2) (rel. err 2^-45), t = y*(k + log2 m); 2^t = 2^n * (1 + f*E(f)) with
 * n = nearest(t), f = t - n (rel. err 2^-36), 2^n built from bits; one rounding to f32 at the
 * end (which also produces the overflow to inf and the subnormal results). Max error ~0.5 ulp.
 *
 * Special cases (ECMAScript Number::exponentiate, i.e. Math.pow) are selects in f32:
 * y = +-0 → 1 (even for NaN x); NaN → NaN; x = +-0 or +-inf → 0 or inf by the sign of y;
 * x < 0 finite and y not an integer → NaN; a negative x (or -0, -inf) with an odd integer y
 * negates; |x| = 1 with y = +-inf gives NaN (as 0*inf does), as Math.pow does.
 */
import { type Emitter, type F, hornerD } from "./dsl.js";

/** log2(m) = s*Q(s^2), s = (m-1)/(m+1), |s| <= 0.1716; rel. err 2^-45 (f64 fit). */
export const LOG2_Q = [
  2.8853900817778495, 0.9617966941139251, 0.5770779422476754, 0.41220926215856724, 0.319905329874797,
  0.28290521518286815,
];

/** 2^f = 1 + f*E(f) for |f| <= 1/2; rel. err 2^-36 (f64 fit). */
export const EXP2_E = [
  0.6931471805412015, 0.24022650694740638, 0.0555041094386635, 0.00961812936585057, 0.0013333453484848095,
  0.00015403380076421262, 0.000015308891505627655, 0.0000013259622003121672,
];

const TWO52 = 4503599627370496;

export function pow(e: Emitter, x: F, y: F): F {
  const ax = e.abs(x);
  // |x| = 2^k * m, m in [sqrt(1/2), sqrt(2)); subnormals scaled by 2^23 first
  const sub = e.lt(ax, 1.1754943508222875e-38);
  const axs = e.override(sub, e.mul(ax, 8388608), ax);
  const ix = e.iadd(e.bits(axs), 0x3f800000 - 0x3f3504f3);
  const k = e.isub(e.shr(ix, 23), e.select(sub, 127 + 23, 127, "i32"));
  const m = e.float(e.iadd(e.iand(ix, 0x007fffff), 0x3f3504f3));
  const md = e.promote(m), kd = e.promote(e.cvt(k)), yd = e.promote(y);
  const parts = md.map((mh, i) => {
    const s = e.ddiv(e.dsub(mh, 1), e.dadd(mh, 1));
    const l2 = e.dadd(kd[i]!, e.dmul(s, hornerD(e, e.dmul(s, s), LOG2_Q)));
    // 2^t, t clamped so that 2^n stays a normal f64 (the f32 rounding makes inf / 0); NaN passes
    const t = e.dpmin(e.dpmax(e.dmul(yd[i]!, l2), -1000), 1000);
    const n = e.dnearest(t);
    const fr = e.dsub(t, n);
    const p = e.dadd(e.dmul(fr, hornerD(e, fr, EXP2_E)), 1);
    const scale = e.dfloat(e.lshl(e.dbits(e.dadd(n, TWO52 + 1023)), 52));
    return e.dmul(p, scale);
  });
  let r = e.demote(parts);
  // x = +-0 or +-inf
  const yPos = e.gt(y, 0);
  r = e.override(e.eq(ax, 0), e.override(yPos, 0, Infinity, "f32"), r);
  r = e.override(e.eq(ax, Infinity), e.override(yPos, Infinity, 0, "f32"), r);
  // sign: negative x (sign bit, so -0 and -inf too) and an odd integer y
  const yInt = e.eq(e.trunc(y), y);
  const yOdd = e.and(yInt, e.and(e.lt(e.abs(y), 16777216), e.ine(e.iand(e.toInt(y), 1), 0)));
  const flip = e.and(e.ilt(e.bits(x), 0), yOdd);
  r = e.xorSign(r, e.select(flip, 0x80000000 | 0, 0, "i32"));
  // NaN: either operand NaN, or finite negative x with non-integer y
  const negFinite = e.and(e.lt(x, 0), e.gt(x, -Infinity));
  const nan = e.or(e.or(e.ne(x, x), e.ne(y, y)), e.and(negFinite, e.not(yInt)));
  r = e.override(nan, NaN, r);
  return e.override(e.eq(y, 0), 1, r);
}
