/**
 * asin, acos, atan: one odd polynomial on a small interval after a reduction, and the final
 * `H - w - V` step (H a multiple of pi/2 split hi + lo) done with an exact two-sum so that
 * the only rounding left is the last addition.
 */
import { type Emitter, type F, horner } from "./dsl.js";
import { ASIN_P, ATAN_P, PI_HI, PI_LO, PIO2_HI, PIO2_LO, PIO4_HI, PIO4_LO } from "./coeffs.js";

/**
 * (hHi + hLo) - sigma*(b + v), for |sigma*b| <= |hHi| or hHi = 0 (sigma in {1, -1, 2, -2},
 * so sigma*b is exact): d = hHi - w is corrected by its rounding error (Fast2Sum).
 */
function combine(e: Emitter, hHi: F, hLo: F, sigma: F, b: F, v: F): F {
  const w = e.mul(sigma, b);
  const d = e.sub(hHi, w);
  const err = e.sub(e.sub(hHi, d), w);
  return e.add(d, e.sub(e.add(err, hLo), e.mul(sigma, v)));
}

/**
 * asin(x) with b + b*z*P(z) = asin(b): for |x| <= 1/2, b = |x|, z = x^2; above, with
 * z = (1 - |x|)/2 (exact) and b = sqrt(z), asin|x| = pi/2 - 2*asin(b). |x| > 1 gives
 * sqrt(negative) = NaN.
 */
function asinParts(e: Emitter, x: F): { big: ReturnType<Emitter["gt"]>; b: F; s: F; v: F } {
  const a = e.abs(x);
  const big = e.gt(a, 0.5);
  const zb = e.mul(e.sub(1, a), 0.5);
  const s = e.sqrt(zb);
  const z = e.select(big, zb, e.mul(x, x));
  const b = e.select(big, s, x);
  const v = e.mul(e.mul(b, z), horner(e, z, ASIN_P));
  return { big, b, s, v };
}

/** asin(x): |x| <= 1/2: |x| + v; else pi/2 - 2(s + v); sign copied from x. */
export function asin(e: Emitter, x: F): F {
  const { big, b, v } = asinParts(e, x);
  const ab = e.abs(b), av = e.abs(v);
  const r = combine(e, e.select(big, PIO2_HI, 0), e.select(big, PIO2_LO, 0), e.select(big, 2, -1), ab, av);
  return e.copysign(r, x);
}

/** acos(x): |x| <= 1/2: pi/2 - (x + v); x > 1/2: 2(s + v); x < -1/2: pi - 2(s + v). */
export function acos(e: Emitter, x: F): F {
  const { big, b, v } = asinParts(e, x);
  const negBig = e.and(big, e.lt(x, 0));
  const hHi = e.select(big, e.select(negBig, PI_HI, 0), PIO2_HI);
  const hLo = e.select(big, e.select(negBig, PI_LO, 0), PIO2_LO);
  const sigma = e.select(big, e.select(negBig, 2, -2), 1);
  return combine(e, hHi, hLo, sigma, b, v);
}

/**
 * atan(x): with a = |x|, t = a (a <= tan(pi/8)), (a-1)/(a+1) (a <= tan(3pi/8)) or -1/a (one
 * division for all three), atan|x| = H + atan(t) with H = 0, pi/4, pi/2; sign copied.
 * The roundings of a-1 and a+1 (nl, dl) are carried as tl = (nl - t*dl)/(a+1), with
 * 1/(a+1) = (1-t)/2, and H + t is summed exactly (Fast2Sum), leaving the division and the
 * last addition as the roundings that matter.
 */
export function atan(e: Emitter, x: F): F {
  const a = e.abs(x);
  const big = e.gt(a, 2.414213562373095);
  const mid = e.and(e.gt(a, 0.41421356237309503), e.not(big));
  const ap1 = e.add(a, 1);
  const am1 = e.sub(a, 1);
  const num = e.select(big, -1, e.select(mid, am1, a));
  const den = e.select(big, a, e.select(mid, ap1, 1));
  const t = e.div(num, den);
  // a - 1 = am1 + nl (Fast2Sum; a - 1 is exact for a >= 1/2) and a + 1 = ap1 + dl (2Sum)
  const nl = e.select(mid, e.add(e.sub(-1, am1), a), 0);
  const bb = e.sub(ap1, a);
  const dl = e.select(mid, e.add(e.sub(a, e.sub(ap1, bb)), e.sub(1, bb)), 0);
  const tl = e.mul(e.mul(e.sub(nl, e.mul(t, dl)), e.sub(1, t)), 0.5);
  const z = e.mul(t, t);
  const v = e.mul(e.mul(t, z), horner(e, z, ATAN_P));
  const hHi = e.select(big, PIO2_HI, e.select(mid, PIO4_HI, 0));
  const hLo = e.select(big, PIO2_LO, e.select(mid, PIO4_LO, 0));
  const s = e.add(hHi, t);
  const sl = e.add(e.sub(hHi, s), t);
  const r = e.add(s, e.add(e.add(e.add(v, hLo), tl), sl));
  return e.copysign(r, x);
}
