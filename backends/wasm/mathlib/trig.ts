/**
 * sin, cos, tan: argument reduction x = q*pi/2 + r with r kept as an unevaluated f32 sum
 * rh + rl (|r| <= pi/4), then minimax polynomials in f32.
 *
 * Reduction, for |x| < TRIG_FAST_MAX (1.5e6): in f64 (two f64x2 halves in SIMD code),
 * q = nearest(x*2/pi), r = (x - q*C1) - q*C2 with C1 = pi/2 to 33 bits (exact product, exact
 * subtraction) and C2 the next 53 bits; rh = f32(r), rl = f32(r - rh). The smallest |r| of
 * any float in [pi/4, 1.5e6] is 4.2e-9 (2^-27.8, at x = 252.8982; below pi/4, r = x), so the
 * 2^-66 error of this step leaves r accurate to 2^-38 relative.
 *
 * For |x| >= 1.5e6 (and +-inf): Payne-Hanek in integer arithmetic ({@link emitTrigReduceBig},
 * a scalar function): x = M*2^(E-23) times a 96-bit window of the bits of 2/pi that matter
 * for x*2/pi mod 4, giving the quadrant and a 62-bit fraction. The f32 function calls it when
 * |x| is that big; the f32x4 function calls it lane by lane (only when some lane is that big)
 * and keeps the fast result in the other lanes, so both variants agree bit for bit.
 */
import type { FuncRef, ModuleBuilder } from "../asm/index.js";
import { type Emitter, type F, type I, horner } from "./dsl.js";
import { SIN_S, COS_C, TAN_T, TWO_OVER_PI, PIO2_C1, PIO2_C2, TRIG_FAST_MAX, TWO_OVER_PI_WORDS, PIO2_2M62 } from "./coeffs.js";

/** Quadrant and reduced argument: x = q*pi/2 + rh + rl. */
export interface Reduced {
  readonly q: I;
  readonly rh: F;
  readonly rl: F;
}

/**
 * Emits the scalar Payne-Hanek reduction `(x: f32) -> (q: i32, rh: f32, rl: f32)`, exact to
 * about 2^-61 in r for every finite x with |x| >= 1 (smaller x: garbage, never used); rh is NaN
 * for infinite or NaN x.
 *
 * With x = M*2^(E-23) (M the 24-bit significand) and 2/pi = sum b_i 2^-i, the terms with
 * i <= E-25 contribute multiples of 4 to x*2/pi and are dropped; W = b_{E-24} .. b_{E+71} (96
 * bits, zeros before the binary point) gives x*2/pi = M*W*2^-94 (mod 4) up to 2^-70. Bits
 * 32..95 of the 120-bit product M*W are then y*2^62 with y = x*2/pi mod 4: q = round(y),
 * r = (y - q)*pi/2.
 */
export function emitTrigReduceBig(m: ModuleBuilder, name: string): FuncRef {
  const f = m.func({ params: ["f32"], results: ["i32", "f32", "f32"] }, { name });
  const bits = f.local("i32"), ex = f.local("i32"), w = f.local("i32"), sh = f.local("i64");
  const mant = f.local("i64"), mid = f.local("i64"), hi = f.local("i64"), q = f.local("i64");
  const r = f.local("f64"), rh = f.local("f32"), rl = f.local("f32"), qi = f.local("i32"), neg = f.local("i32");
  const words = [f.local("i64"), f.local("i64"), f.local("i64"), f.local("i64")];
  const prod = [f.local("i64"), f.local("i64"), f.local("i64")];
  const T = TWO_OVER_PI_WORDS;

  f.local_get(0).i32_reinterpret_f32().local_set(bits);
  // E = unbiased exponent clamped to [0, 127] (keeps the table index in range for any input)
  f.local_get(bits).i32_const(23).i32_shr_u().i32_const(255).i32_and().i32_const(127).i32_sub().local_set(ex);
  f.local_get(ex).i32_const(0).local_get(ex).i32_const(0).i32_gt_s().select().local_set(ex);
  f.local_get(ex).i32_const(127).local_get(ex).i32_const(127).i32_lt_s().select().local_set(ex);
  f.local_get(bits).i32_const(0x7fffff).i32_and().i32_const(0x800000).i32_or().i64_extend_i32_u().local_set(mant);
  // the window starts at table bit E+7 (= b_{E-24}, after the word of zeros): word w, shift sh
  f.local_get(ex).i32_const(7).i32_add().local_tee(w).i32_const(31).i32_and().i64_extend_i32_u().local_set(sh);
  f.local_get(w).i32_const(5).i32_shr_u().local_set(w);
  // words[i] = T[w + i] for w in [0, 4]: a select chain (no memory needed)
  for (let i = 0; i < 4; i++) {
    f.i64_const(T[i]!);
    for (let c = 1; c <= 4; c++) f.i64_const(T[c + i]!).local_get(w).i32_const(c).i32_ne().select();
    f.local_set(words[i]!);
  }
  // window word i = bits [32i, 32i+32) of the window; prod[i] = M * window word i (< 2^56)
  for (let i = 0; i < 3; i++) {
    f.local_get(words[i]!).i64_const(32).i64_shl().local_get(words[i + 1]!).i64_or();
    f.i64_const(32).local_get(sh).i64_sub().i64_shr_u().i64_const(0xffffffff).i64_and();
    f.local_get(mant).i64_mul().local_set(prod[i]!);
  }
  // M*W = p0*2^64 + p1*2^32 + p2; hi = bits 32..95 of it
  f.local_get(prod[1]!).local_get(prod[2]!).i64_const(32).i64_shr_u().i64_add().local_set(mid);
  f.local_get(prod[0]!).local_get(mid).i64_const(32).i64_shr_u().i64_add().i64_const(32).i64_shl();
  f.local_get(mid).i64_const(0xffffffff).i64_and().i64_or().local_set(hi);
  // q = round(y) mod 4, r = (y - q) * pi/2 from the signed 62-bit fraction
  f.local_get(hi).i64_const(1n << 61n).i64_add().i64_const(62).i64_shr_u().local_set(q);
  f.local_get(hi).local_get(q).i64_const(62).i64_shl().i64_sub().f64_convert_i64_s().f64_const(PIO2_2M62).f64_mul().local_set(r);
  f.local_get(r).f32_demote_f64().local_set(rh);
  f.local_get(r).local_get(rh).f64_promote_f32().f64_sub().f32_demote_f64().local_set(rl);
  f.local_get(q).i32_wrap_i64().local_set(qi);
  // x < 0: negate everything
  f.local_get(bits).i32_const(0).i32_lt_s().local_set(neg);
  f.i32_const(0).local_get(qi).i32_sub().local_get(qi).local_get(neg).select().local_set(qi);
  f.local_get(rh).f32_neg().local_get(rh).local_get(neg).select().local_set(rh);
  f.local_get(rl).f32_neg().local_get(rl).local_get(neg).select().local_set(rl);
  // inf or NaN: r = NaN
  f.f32_const(NaN).local_get(rh).local_get(bits).i32_const(0x7f800000).i32_and().i32_const(0x7f800000).i32_eq().select().local_set(rh);
  f.local_get(qi).local_get(rh).local_get(rl);
  return f;
}

/**
 * Reduces x. `big` is the function from {@link emitTrigReduceBig}; it replaces the fast result
 * where |x| >= TRIG_FAST_MAX (and for infinities).
 */
export function trigReduce(e: Emitter, x: F, big: FuncRef): Reduced {
  const xs = e.promote(x);
  const qs = xs.map((xd) => e.dnearest(e.dmul(xd, TWO_OVER_PI)));
  const rs = xs.map((xd, i) => e.dsub(e.dsub(xd, e.dmul(qs[i]!, PIO2_C1)), e.dmul(qs[i]!, PIO2_C2)));
  const rh = e.demote(rs);
  const rhd = e.promote(rh);
  const rl = e.demote(rs.map((r, i) => e.dsub(r, rhd[i]!)));
  const q = e.truncD(qs);
  const isBig = e.ge(e.abs(x), TRIG_FAST_MAX);
  const f = e.f;
  e.pushAny(isBig);
  f.if();
  if (!e.vec) {
    f.local_get(x.local).call(big).local_set(rl.local).local_set(rh.local).local_set(q.local);
  } else {
    const bq = e.copy(q), brh = e.copy(rh), brl = e.copy(rl);
    const tq = f.local("i32"), trh = f.local("f32"), trl = f.local("f32");
    for (let lane = 0; lane < 4; lane++) {
      f.local_get(x.local).f32x4_extract_lane(lane).call(big).local_set(trl).local_set(trh).local_set(tq);
      f.local_get(bq.local).local_get(tq).i32x4_replace_lane(lane).local_set(bq.local);
      f.local_get(brh.local).local_get(trh).f32x4_replace_lane(lane).local_set(brh.local);
      f.local_get(brl.local).local_get(trl).f32x4_replace_lane(lane).local_set(brl.local);
    }
    e.assign(q, e.select(isBig, bq, q));
    e.assign(rh, e.select(isBig, brh, rh));
    e.assign(rl, e.select(isBig, brl, rl));
  }
  f.end();
  return { q, rh, rl };
}

/** sin(r) and cos(r) for r = rh + rl, |r| <= pi/4 (errors about 0.5 ulp + the final rounding). */
function sinCos(e: Emitter, { rh, rl }: Reduced): { s: F; c: F } {
  const z = e.mul(rh, rh);
  // sin(rh + rl) = rh + (rh*z*S(z) + rl)   (cos(rh) ~ 1 multiplies rl)
  const s = e.add(rh, e.add(e.mul(e.mul(rh, z), horner(e, z, SIN_S)), rl));
  // cos(rh + rl) = 1 - z/2 + z^2*C(z) - rh*rl, with 1 - z/2 split exactly into w + (1 - w - z/2)
  const hz = e.mul(z, 0.5);
  const w = e.sub(1, hz);
  const tail = e.sub(e.mul(e.mul(z, z), horner(e, z, COS_C)), e.mul(rh, rl));
  const c = e.add(w, e.add(e.sub(e.sub(1, w), hz), tail));
  return { s, c };
}

/** sin(x) (`shift` 0) or cos(x) = sin(x + pi/2) (`shift` 1). */
export function sinOrCos(e: Emitter, x: F, big: FuncRef, shift: 0 | 1): F {
  const red = trigReduce(e, x, big);
  const q = shift ? e.iadd(red.q, 1) : red.q;
  const { s, c } = sinCos(e, red);
  // r = 0 only for x = +-0 (the reduction loses the sign of zero): sin(x) = x there
  const sn = shift ? s : e.override(e.eq(red.rh, 0), x, s);
  const v = e.select(e.ine(e.iand(q, 1), 0), c, sn);
  return e.xorSign(v, e.shl(e.iand(q, 2), 30));
}

/**
 * tan(x): t = tan(r) = th + tl by polynomial (th + tl exact from a Fast2Sum); odd quadrants
 * give -1/t = q + q^2*tl with q = -1/th.
 */
export function tan(e: Emitter, x: F, big: FuncRef): F {
  const { q, rh, rl } = trigReduce(e, x, big);
  const z = e.mul(rh, rh);
  // tan(rh + rl) = rh + (rh*z*T(z) + rl*(1 + z))   (tan'(r) = 1 + tan^2 r ~ 1 + r^2)
  const tail = e.add(e.mul(e.mul(rh, z), horner(e, z, TAN_T)), e.mul(rl, e.add(z, 1)));
  const th = e.add(rh, tail);
  const tl = e.add(e.sub(rh, th), tail);
  const c = e.div(-1, th);
  const cot = e.add(c, e.mul(e.mul(c, c), tl));
  // r = 0 only for x = +-0 (the reduction loses the sign of zero): tan(x) = x there
  return e.select(e.ine(e.iand(q, 1), 0), cot, e.override(e.eq(rh, 0), x, th));
}
