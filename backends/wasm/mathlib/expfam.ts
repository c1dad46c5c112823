/**
 * exp, log and the functions built on exp (sigmoid, tanh, sinh, cosh, erf), written once for
 * {@link Emitter} (scalar f32 and f32x4 alike; branch-free: special cases are selects).
 */
import { type Emitter, type F, type I, horner } from "./dsl.js";
import {
  LOG2E, LN2_HI, LN2_LO, EXP_P, LOG_P, TANH_SMALL, TANH_P, SINH_P, ERF_SMALL, ERF_P, ERF_G,
} from "./coeffs.js";

/**
 * e^x = (s + tail) * 2^n with s + tail = e^r in [0.70, 1.42]: n = nearest(x*log2 e),
 * r = x - n*ln2 by Cody-Waite (n*LN2_HI and the first subtraction are exact), and
 * e^r = 1 + r + r^2*P(r) with 1 + r split exactly into s + (1 - s + r) (Fast2Sum, |r| < 1).
 * x must be finite or NaN and small enough that n fits (callers clamp).
 */
function expCore(e: Emitter, x: F): { s: F; tail: F; n: I } {
  // n = nearest(x*log2 e) by adding 1.5*2^23: the f32 addition rounds to an integer (ties to
  // even, as f32.nearest would), left in the low bits (cheaper than nearest + trunc_sat)
  const tm = e.add(e.mul(x, LOG2E), 12582912);
  const t = e.sub(tm, 12582912);
  const n = e.isub(e.bits(tm), 0x4b400000);
  const r = e.sub(e.sub(x, e.mul(t, LN2_HI)), e.mul(t, LN2_LO));
  const p = horner(e, r, EXP_P);
  const s = e.add(r, 1);
  const tail = e.add(e.add(e.sub(1, s), r), e.mul(e.mul(r, r), p));
  return { s, tail, n };
}

/** e^x = y * 2^n, y rounded once (about 0.5 ulp); see {@link expCore}. */
export function expReduce(e: Emitter, x: F): { y: F; n: I } {
  const { s, tail, n } = expCore(e, x);
  return { y: e.add(s, tail), n };
}

/** e^x = (y + yl) * 2^n with y = round(e^r) and yl the next 24 bits (for composites). */
export function expReduce2(e: Emitter, x: F): { y: F; yl: F; n: I } {
  const { s, tail, n } = expCore(e, x);
  const y = e.add(s, tail);
  return { y, yl: e.add(e.sub(s, y), tail), n };
}

/** The two power-of-two factors of {@link ldexp}. */
function scales(e: Emitter, n: I): [F, F] {
  const n1 = e.shr(n, 1);
  const n2 = e.isub(n, n1);
  return [e.float(e.shl(e.iadd(n1, 127), 23)), e.float(e.shl(e.iadd(n2, 127), 23))];
}

/**
 * y * 2^n for n in [-252, 254], in two exact power-of-two steps so that the result overflows
 * to infinity or rounds into the subnormals exactly once, in the last multiplication.
 */
export function ldexp(e: Emitter, y: F, n: I): F {
  const [s1, s2] = scales(e, n);
  return e.mul(e.mul(y, s1), s2);
}

/** {@link ldexp} of an unevaluated pair y + yl. */
function ldexp2(e: Emitter, y: F, yl: F, n: I): [F, F] {
  const [s1, s2] = scales(e, n);
  return [e.mul(e.mul(y, s1), s2), e.mul(e.mul(yl, s1), s2)];
}

/**
 * exp(x). Clamping x to [-104, 89] makes the scaling produce 0 and +inf itself (e^-104 is
 * below half the smallest subnormal, e^89 above the largest float); NaN passes the clamp.
 */
export function exp(e: Emitter, x: F): F {
  const xc = e.pmin(e.pmax(x, -104), 89);
  const { y, n } = expReduce(e, xc);
  return ldexp(e, y, n);
}

/**
 * log(x): x = 2^k * m with m in [sqrt(1/2), sqrt(2)) (subnormals scaled by 2^23 first),
 * f = m - 1 (exact), log = k*LN2_HI + (f + (f^3*P(f) + k*LN2_LO - f^2/2)).
 * Special values by select: 0 → -inf, negative or NaN → NaN, +inf → +inf.
 */
export function log(e: Emitter, x: F): F {
  const sub = e.lt(x, 1.1754943508222875e-38);
  const xs = e.override(sub, e.mul(x, 8388608), x);
  const ix = e.iadd(e.bits(xs), 0x3f800000 - 0x3f3504f3);
  const k = e.isub(e.shr(ix, 23), e.select(sub, 127 + 23, 127, "i32"));
  const m = e.float(e.iadd(e.iand(ix, 0x007fffff), 0x3f3504f3));
  const f = e.sub(m, 1);
  const kf = e.cvt(k);
  const z = e.mul(f, f);
  let y = e.mul(e.mul(f, z), horner(e, f, LOG_P));
  y = e.add(y, e.mul(kf, LN2_LO));
  y = e.sub(y, e.mul(z, 0.5));
  const r = e.add(e.add(f, y), e.mul(kf, LN2_HI));
  const ok = e.and(e.gt(x, 0), e.lt(x, Infinity));
  const special = e.override(e.eq(x, 0), -Infinity, e.override(e.gt(x, 0), x, NaN));
  return e.override(ok, r, special);
}

/**
 * sigmoid(x) = N/(1 + e) with e = exp(-|x|) in (0, 1] as a pair eh + el, and N = 1 for x >= 0,
 * N = e for x < 0: no cancellation, no overflow. One division q = Nh/Dh (Dh = round(1 + eh),
 * Dl its exact error plus el), then the first-order correction (Nl - q*Dl)/Dh, where
 * 1/Dh = q (x >= 0) or 1 - q (x < 0). sigmoid(-inf) = 0, sigmoid(inf) = 1, and the subnormal
 * results of x < -87.3 come out of the scaling of e.
 */
export function sigmoid(e: Emitter, x: F): F {
  const { y, yl, n } = expReduce2(e, e.pmax(e.neg(e.abs(x)), -104));
  const [eh, el] = ldexp2(e, y, yl, n);
  const dh = e.add(eh, 1);
  const dl = e.add(e.add(e.sub(1, dh), eh), el);
  const neg = e.lt(x, 0);
  const q = e.div(e.select(neg, eh, 1), dh);
  const inv = e.select(neg, e.sub(1, q), q);
  const corr = e.mul(e.sub(e.select(neg, el, 0), e.mul(q, dl)), inv);
  return e.add(q, corr);
}

/**
 * tanh: odd polynomial for |x| < 0.625, else 1 - 2/(e^2|x| + 1), with 2|x| clamped to 40
 * (tanh rounds to 1 from 9.01; the clamp keeps 2/(e^2|x| + 1) out of the slow subnormals).
 * Sign copied from x.
 */
export function tanh(e: Emitter, x: F): F {
  const a = e.abs(x);
  const r = e.choose(e.lt(a, TANH_SMALL), () => {
    const z = e.mul(a, a);
    return e.add(a, e.mul(e.mul(a, z), horner(e, z, TANH_P)));
  }, () => {
    const { y, n } = expReduce(e, e.pmin(e.add(a, a), 40));
    return e.sub(1, e.div(2, e.add(ldexp(e, y, n), 1)));
  });
  return e.copysign(r, x);
}

/**
 * e^a / 2 for a >= 0 (NaN passes) as a pair h + hl, scaled by 2^(n-1) so that it stays finite
 * up to the true overflow threshold of sinh and cosh (a = 89.415...).
 */
function halfExp(e: Emitter, a: F): [F, F] {
  const { y, yl, n } = expReduce2(e, e.pmin(a, 90));
  return ldexp2(e, y, yl, e.isub(n, 1));
}

/** sinh: odd polynomial for |x| < 1, else (e^|x|/2 - 1/(2 e^|x|)); sign copied from x. */
export function sinh(e: Emitter, x: F): F {
  const a = e.abs(x);
  const r = e.choose(e.lt(a, 1), () => {
    const z = e.mul(a, a);
    return e.add(a, e.mul(e.mul(a, z), horner(e, z, SINH_P)));
  }, () => {
    const [h, hl] = halfExp(e, a);
    return e.add(e.sub(h, e.div(0.25, h)), hl);
  });
  return e.copysign(r, x);
}

/** cosh = e^|x|/2 + 1/(2 e^|x|). */
export function cosh(e: Emitter, x: F): F {
  const [h, hl] = halfExp(e, e.abs(x));
  return e.add(e.add(h, e.div(0.25, h)), hl);
}

/**
 * erf: x + x*P(x^2) for |x| < 0.921875, else 1 - exp(-G(|x|)) with G fitted to -log(erfc)
 * on [0.921875, 4]; erf rounds to 1 beyond 3.92, so |x| is clamped to 4 (which also keeps
 * exp(-G) = e^-18 away from the slow subnormals). Sign copied from x.
 */
export function erf(e: Emitter, x: F): F {
  const a = e.abs(x);
  const r = e.choose(e.lt(a, ERF_SMALL), () => e.add(a, e.mul(a, horner(e, e.mul(a, a), ERF_P))), () => {
    const g = horner(e, e.pmin(a, 4, true), ERF_G);
    const { y, n } = expReduce(e, e.neg(g));
    return e.sub(1, ldexp(e, y, n));
  });
  return e.copysign(r, x);
}
