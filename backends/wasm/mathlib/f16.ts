/**
 * float16 conversions (the storage format of kiln's float16 tensors), bit-exact with
 * `toHalfBits` / `fromHalfBits` in jit/dtype.ts. Branch-free integer code, with one f32
 * addition doing the round-half-even shift of f16 subnormals.
 */
import type { Emitter, F, I } from "./dsl.js";

/**
 * f32 → f16 bits (in the low 16 bits of an i32): round half to even, overflow to +-inf,
 * NaN → quiet NaN 0x7e00 with the sign kept, f16 subnormals rounded correctly.
 */
export function f32ToF16Bits(e: Emitter, x: F): I {
  const xb = e.bits(x);
  const sign = e.iand(xb, 0x80000000 | 0);
  const a = e.ixor(xb, sign);
  // normal f16: rebias the exponent (-112 << 23), add 0xfff plus the lowest kept bit (ties to
  // even), shift out 13 bits; a carry out of the significand bumps the exponent (up to inf)
  const odd = e.iand(e.shru(a, 13), 1);
  const normal = e.shru(e.iadd(e.iadd(a, 0xc8000fff | 0), odd), 13);
  // |x| < 2^-14: adding 0.5 aligns the f16 subnormal grid (2^-24) with the f32 ulp at 0.5,
  // so the f32 addition rounds to the f16 subnormal (possibly up to the smallest normal)
  const subnormal = e.isub(e.bits(e.add(e.float(a), 0.5)), 0x3f000000);
  const infNan = e.select(e.igt(a, 0x7f800000), 0x7e00, 0x7c00, "i32");
  const mag = e.select(e.ige(a, 0x47800000), infNan, e.select(e.ilt(a, 0x38800000), subnormal, normal));
  return e.ior(mag, e.shru(sign, 16));
}

/** f16 bits (low 16 bits of an i32; the rest ignored) → f32, exact. */
export function f16BitsToF32(e: Emitter, h: I): F {
  const o = e.shl(e.iand(h, 0x7fff), 13);
  const ex = e.iand(o, 0x0f800000);
  const normal = e.iadd(o, 0x38000000);
  const infNan = e.iadd(normal, 0x38000000);
  // subnormal: 2^-14 * (1 + mant/1024) - 2^-14, exact
  const subnormal = e.bits(e.sub(e.float(e.iadd(normal, 0x00800000)), 6.103515625e-05));
  const mag = e.select(e.ieq(ex, 0x0f800000), infNan, e.select(e.ieq(ex, 0), subnormal, normal));
  return e.float(e.ior(mag, e.shl(e.iand(h, 0x8000), 16)));
}
