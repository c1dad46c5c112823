/**
 * A tiny straight-line code generator for the math library: every algorithm is written once
 * against {@link Emitter} and emitted twice, as scalar code (f32/i32/f64/i64 locals) and as
 * SIMD code (v128 locals holding f32x4/i32x4/f64x2/i64x2). Because both variants run the same
 * IEEE operations in the same order on each lane, the f32x4 function returns, lane for lane,
 * the bits the f32 function returns.
 *
 * Every operation stores its result in a fresh local (V8 builds SSA from locals, so they cost
 * nothing at run time) and returns a {@link Val} naming it. Numbers passed as operands become
 * constants (splatted in vector code).
 *
 * Semantics that differ between the scalar and SIMD instruction sets are pinned down here:
 * - comparisons return a mask ("m32"/"m64"): 0/1 in an i32 for scalar code, all-ones lanes for
 *   SIMD; {@link Emitter.select} picks per lane (`v128.bitselect`; in scalar code an integer
 *   `select`, i.e. a conditional move), {@link Emitter.override} is the same for rare special
 *   cases (a plain, well-predicted `select` in scalar code);
 * - {@link Emitter.pmin}/{@link Emitter.pmax} have the wasm `pmin`/`pmax` semantics
 *   (`pmin(a, b) = b < a ? b : a`), so a NaN in `a` passes through; the scalar form is a
 *   compare and select (for clamps, so well predicted). (`min` would not pass the input
 *   NaN's bits through, and is slower on x86.)
 * - {@link Emitter.choose} evaluates both alternatives and selects in SIMD code, but branches
 *   in scalar code (the chosen side runs the same operations either way);
 * - f64 work on f32x4 data runs as two f64x2 halves: {@link Emitter.promote} returns one value
 *   for scalar code and two halves for SIMD code, and {@link Emitter.demote} /
 *   {@link Emitter.truncD} put them back together.
 */
import type { FunctionBuilder, ValType } from "../asm/index.js";

/** What a value holds: f32/i32 lanes, a 32-bit mask, f64/i64 lanes, a 64-bit mask. */
export type Kind = "f32" | "i32" | "m32" | "f64" | "i64" | "m64";

/** A value held in a local. */
export interface Val<K extends Kind = Kind> {
  readonly kind: K;
  readonly local: number;
}
export type F = Val<"f32">;
export type I = Val<"i32">;
export type M = Val<"m32">;
export type D = Val<"f64">;
export type L = Val<"i64">;
export type MD = Val<"m64">;
/** An f32 operand: a value, or a constant (rounded to f32). */
export type FA = F | number;
/** An i32 operand: a value, or a constant. */
export type IA = I | number;
/** An f64 operand. */
export type DA = D | number;
/** An i64 operand. */
export type LA = L | bigint;

type Emit = (f: FunctionBuilder) => void;

const SCALAR_TYPE: Readonly<Record<Kind, ValType>> = { f32: "f32", i32: "i32", m32: "i32", f64: "f64", i64: "i64", m64: "i32" };

/** Bytes of a v128 constant with every lane equal to `x` in the lane format of `kind`. */
function splatBytes(kind: Kind, x: number | bigint): Uint8Array {
  switch (kind) {
    case "f32": return new Uint8Array(Float32Array.of(x as number, x as number, x as number, x as number).buffer);
    case "i32": case "m32": { const v = Number(x) | 0; return new Uint8Array(Int32Array.of(v, v, v, v).buffer); }
    case "f64": return new Uint8Array(Float64Array.of(x as number, x as number).buffer);
    case "i64": case "m64": { const v = BigInt.asIntN(64, BigInt(x)); return new Uint8Array(BigInt64Array.of(v, v).buffer); }
  }
}

/** Emits one algorithm as scalar (`vec = false`) or SIMD (`vec = true`) code into `f`. */
export class Emitter {
  constructor(readonly f: FunctionBuilder, readonly vec: boolean) {}

  /** Wraps function parameter `index` (of the matching wasm type). */
  param<K extends Kind>(index: number, kind: K): Val<K> {
    return { kind, local: index };
  }

  /** A fresh local for a value of `kind`. */
  local<K extends Kind>(kind: K): Val<K> {
    return { kind, local: this.f.local(this.vec ? "v128" : SCALAR_TYPE[kind]) };
  }

  /** Pushes an operand. */
  push(v: Val | number | bigint, kind: Kind): void {
    const f = this.f;
    if (typeof v === "object") { f.local_get(v.local); return; }
    if (this.vec) { f.v128_const(splatBytes(kind, v)); return; }
    switch (kind) {
      case "f32": f.f32_const(v as number); break;
      case "f64": f.f64_const(v as number); break;
      case "i64": f.i64_const(BigInt.asIntN(64, BigInt(v))); break;
      default: f.i32_const(Number(v) | 0);
    }
  }

  /** Pops the top of the stack into a fresh local. */
  private pop<K extends Kind>(kind: K): Val<K> {
    const v = this.local(kind);
    this.f.local_set(v.local);
    return v;
  }

  /** Overwrites local `dst` with `src` (for values set inside a branch). */
  assign<K extends Kind>(dst: Val<K>, src: Val<K> | number): void {
    this.push(src, dst.kind);
    this.f.local_set(dst.local);
  }

  /** A fresh copy of `v` (a local that may later be overwritten with {@link assign}). */
  copy<K extends Kind>(v: Val<K>): Val<K> {
    this.push(v, v.kind);
    return this.pop(v.kind);
  }

  private op<K extends Kind>(out: K, args: readonly [Val | number | bigint, Kind][], s: Emit, v: Emit): Val<K> {
    for (const [a, k] of args) this.push(a, k);
    (this.vec ? v : s)(this.f);
    return this.pop(out);
  }

  // ---- f32 ----
  add(a: FA, b: FA): F { return this.op("f32", [[a, "f32"], [b, "f32"]], (f) => f.f32_add(), (f) => f.f32x4_add()); }
  sub(a: FA, b: FA): F { return this.op("f32", [[a, "f32"], [b, "f32"]], (f) => f.f32_sub(), (f) => f.f32x4_sub()); }
  mul(a: FA, b: FA): F { return this.op("f32", [[a, "f32"], [b, "f32"]], (f) => f.f32_mul(), (f) => f.f32x4_mul()); }
  div(a: FA, b: FA): F { return this.op("f32", [[a, "f32"], [b, "f32"]], (f) => f.f32_div(), (f) => f.f32x4_div()); }
  sqrt(a: FA): F { return this.op("f32", [[a, "f32"]], (f) => f.f32_sqrt(), (f) => f.f32x4_sqrt()); }
  abs(a: FA): F { return this.op("f32", [[a, "f32"]], (f) => f.f32_abs(), (f) => f.f32x4_abs()); }
  neg(a: FA): F { return this.op("f32", [[a, "f32"]], (f) => f.f32_neg(), (f) => f.f32x4_neg()); }
  nearest(a: FA): F { return this.op("f32", [[a, "f32"]], (f) => f.f32_nearest(), (f) => f.f32x4_nearest()); }
  trunc(a: FA): F { return this.op("f32", [[a, "f32"]], (f) => f.f32_trunc(), (f) => f.f32x4_trunc()); }
  /**
   * `b < a ? b : a` (a NaN `a` is returned). `mixed`: the outcome varies with the data, so
   * scalar code selects through the integer registers (see {@link select}).
   */
  pmin(a: FA, b: FA, mixed = false): F { return mixed && !this.vec ? (this.sel(this.lt(b, a), b, a, "f32", true) as F) : this.pm("f32", a, b, true); }
  /** `a < b ? b : a` (a NaN `a` is returned). */
  pmax(a: FA, b: FA): F { return this.pm("f32", a, b, false); }
  lt(a: FA, b: FA): M { return this.op("m32", [[a, "f32"], [b, "f32"]], (f) => f.f32_lt(), (f) => f.f32x4_lt()); }
  le(a: FA, b: FA): M { return this.op("m32", [[a, "f32"], [b, "f32"]], (f) => f.f32_le(), (f) => f.f32x4_le()); }
  gt(a: FA, b: FA): M { return this.op("m32", [[a, "f32"], [b, "f32"]], (f) => f.f32_gt(), (f) => f.f32x4_gt()); }
  ge(a: FA, b: FA): M { return this.op("m32", [[a, "f32"], [b, "f32"]], (f) => f.f32_ge(), (f) => f.f32x4_ge()); }
  eq(a: FA, b: FA): M { return this.op("m32", [[a, "f32"], [b, "f32"]], (f) => f.f32_eq(), (f) => f.f32x4_eq()); }
  ne(a: FA, b: FA): M { return this.op("m32", [[a, "f32"], [b, "f32"]], (f) => f.f32_ne(), (f) => f.f32x4_ne()); }
  /** The bits of an f32 as an i32 (free in SIMD code). */
  bits(a: F): I {
    if (this.vec) return { kind: "i32", local: a.local };
    return this.op("i32", [[a, "f32"]], (f) => f.i32_reinterpret_f32(), () => {});
  }
  /** An i32 bit pattern as an f32. */
  float(a: IA): F {
    if (typeof a === "number") { const b = new Int32Array([a]); return this.constF(new Float32Array(b.buffer)[0]!); }
    if (this.vec) return { kind: "f32", local: a.local };
    return this.op("f32", [[a, "i32"]], (f) => f.f32_reinterpret_i32(), () => {});
  }
  /** Signed i32 → f32 (rounded). */
  cvt(a: IA): F { return this.op("f32", [[a, "i32"]], (f) => f.f32_convert_i32_s(), (f) => f.f32x4_convert_i32x4_s()); }
  /** f32 → i32, truncating and saturating (NaN → 0). */
  toInt(a: FA): I { return this.op("i32", [[a, "f32"]], (f) => f.i32_trunc_sat_f32_s(), (f) => f.i32x4_trunc_sat_f32x4_s()); }
  /** `|a|` with the sign bit of `b`. */
  copysign(a: F, b: F): F {
    const s = this.iand(this.bits(b), 0x80000000 | 0);
    return this.float(this.ior(this.iand(this.bits(a), 0x7fffffff), s));
  }
  /** Flips the sign of `a` where `signBits` (an i32 that is 0 or 0x80000000 per lane) is set. */
  xorSign(a: F, signBits: I): F { return this.float(this.ixor(this.bits(a), signBits)); }
  /** An f32 constant held in a local (for bit patterns such as NaN payloads). */
  constF(x: number): F { return this.op("f32", [[x, "f32"]], () => {}, () => {}); }

  // ---- i32 ----
  iadd(a: IA, b: IA): I { return this.op("i32", [[a, "i32"], [b, "i32"]], (f) => f.i32_add(), (f) => f.i32x4_add()); }
  isub(a: IA, b: IA): I { return this.op("i32", [[a, "i32"], [b, "i32"]], (f) => f.i32_sub(), (f) => f.i32x4_sub()); }
  iand(a: IA, b: IA): I { return this.op("i32", [[a, "i32"], [b, "i32"]], (f) => f.i32_and(), (f) => f.v128_and()); }
  ior(a: IA, b: IA): I { return this.op("i32", [[a, "i32"], [b, "i32"]], (f) => f.i32_or(), (f) => f.v128_or()); }
  ixor(a: IA, b: IA): I { return this.op("i32", [[a, "i32"], [b, "i32"]], (f) => f.i32_xor(), (f) => f.v128_xor()); }
  shl(a: IA, n: number): I { return this.shift(a, n, (f) => f.i32_shl(), (f) => f.i32x4_shl()); }
  shr(a: IA, n: number): I { return this.shift(a, n, (f) => f.i32_shr_s(), (f) => f.i32x4_shr_s()); }
  shru(a: IA, n: number): I { return this.shift(a, n, (f) => f.i32_shr_u(), (f) => f.i32x4_shr_u()); }
  ieq(a: IA, b: IA): M { return this.op("m32", [[a, "i32"], [b, "i32"]], (f) => f.i32_eq(), (f) => f.i32x4_eq()); }
  ine(a: IA, b: IA): M { return this.op("m32", [[a, "i32"], [b, "i32"]], (f) => f.i32_ne(), (f) => f.i32x4_ne()); }
  ilt(a: IA, b: IA): M { return this.op("m32", [[a, "i32"], [b, "i32"]], (f) => f.i32_lt_s(), (f) => f.i32x4_lt_s()); }
  igt(a: IA, b: IA): M { return this.op("m32", [[a, "i32"], [b, "i32"]], (f) => f.i32_gt_s(), (f) => f.i32x4_gt_s()); }
  ige(a: IA, b: IA): M { return this.op("m32", [[a, "i32"], [b, "i32"]], (f) => f.i32_ge_s(), (f) => f.i32x4_ge_s()); }

  private shift(a: IA, n: number, s: Emit, v: Emit): I {
    this.push(a, "i32");
    this.f.i32_const(n);
    (this.vec ? v : s)(this.f);
    return this.pop("i32");
  }

  // ---- masks ----
  and<K extends "m32" | "m64">(a: Val<K>, b: Val<K>): Val<K> { return this.op(a.kind, [[a, a.kind], [b, b.kind]], (f) => f.i32_and(), (f) => f.v128_and()); }
  or<K extends "m32" | "m64">(a: Val<K>, b: Val<K>): Val<K> { return this.op(a.kind, [[a, a.kind], [b, b.kind]], (f) => f.i32_or(), (f) => f.v128_or()); }
  not<K extends "m32" | "m64">(a: Val<K>): Val<K> { return this.op(a.kind, [[a, a.kind]], (f) => f.i32_eqz(), (f) => f.v128_not()); }
  /** Per lane: `a` where `m` is set, else `b` (two constants: f32 unless `kind` says otherwise). */
  select<K extends Kind>(m: M | MD, a: Val<K>, b: Val<K> | number): Val<K>;
  select<K extends Kind>(m: M | MD, a: number, b: Val<K>): Val<K>;
  select(m: M | MD, a: number, b: number): F;
  select<K extends Kind>(m: M | MD, a: number, b: number, kind: K): Val<K>;
  select(m: M | MD, a: Val | number, b: Val | number, kind?: Kind): Val {
    return this.sel(m, a, b, kind, true);
  }

  /**
   * `select` for rare special cases (NaN, infinities, zeros, subnormal inputs): scalar code uses
   * a plain `select`, which V8 turns into a branch that is cheap when well predicted.
   */
  override<K extends Kind>(m: M | MD, a: Val<K> | number, b: Val<K> | number, kind?: K): Val<K> {
    return this.sel(m, a, b, kind, false) as Val<K>;
  }

  private sel(m: M | MD, a: Val | number, b: Val | number, kind: Kind | undefined, viaInt: boolean): Val {
    const k = kind ?? (typeof a === "object" ? a.kind : typeof b === "object" ? b.kind : "f32");
    if (this.vec || !viaInt) return this.op(k, [[a, k], [b, k], [m, m.kind]], (f) => f.select(), (f) => f.v128_bitselect());
    this.push(a, k);
    this.toIntBits(k);
    this.push(b, k);
    this.toIntBits(k);
    this.push(m, m.kind);
    this.f.select();
    this.fromIntBits(k);
    return this.pop(k);
  }

  /**
   * Scalar float selects go through the integer registers: on V8 (Node 20, x64) an i32/i64
   * `select` measures as a conditional move, an f32/f64 `select` as a branch that mispredicts
   * on mixed data (acos, sin: about twice as slow on random inputs).
   */
  private toIntBits(k: Kind): void {
    if (k === "f32") this.f.i32_reinterpret_f32();
    else if (k === "f64") this.f.i64_reinterpret_f64();
  }

  private fromIntBits(k: Kind): void {
    if (k === "f32") this.f.f32_reinterpret_i32();
    else if (k === "f64") this.f.f64_reinterpret_i64();
  }

  /**
   * `select(m, a(), b())`, except that scalar code branches and evaluates only the side it
   * needs (the same operations as the SIMD lane, so the same bits). For the expensive
   * alternatives of a function; SIMD code stays branch-free.
   */
  choose(m: M, a: () => F, b: () => F): F {
    if (this.vec) return this.select(m, a(), b());
    const out = this.local("f32");
    this.push(m, "m32");
    this.f.if();
    this.assign(out, a());
    this.f.else();
    this.assign(out, b());
    this.f.end();
    return out;
  }

  /** Pushes an i32 that is non-zero when any lane of `m` is set (for a uniform `if`). */
  pushAny(m: M | MD): void {
    this.push(m, m.kind);
    if (this.vec) this.f.v128_any_true();
  }

  // ---- f64 (f64x2 halves in SIMD code) ----
  dadd(a: DA, b: DA): D { return this.op("f64", [[a, "f64"], [b, "f64"]], (f) => f.f64_add(), (f) => f.f64x2_add()); }
  dsub(a: DA, b: DA): D { return this.op("f64", [[a, "f64"], [b, "f64"]], (f) => f.f64_sub(), (f) => f.f64x2_sub()); }
  dmul(a: DA, b: DA): D { return this.op("f64", [[a, "f64"], [b, "f64"]], (f) => f.f64_mul(), (f) => f.f64x2_mul()); }
  ddiv(a: DA, b: DA): D { return this.op("f64", [[a, "f64"], [b, "f64"]], (f) => f.f64_div(), (f) => f.f64x2_div()); }
  dnearest(a: DA): D { return this.op("f64", [[a, "f64"]], (f) => f.f64_nearest(), (f) => f.f64x2_nearest()); }
  dpmin(a: DA, b: DA): D { return this.pm("f64", a, b, true); }
  dpmax(a: DA, b: DA): D { return this.pm("f64", a, b, false); }
  dbits(a: D): L {
    if (this.vec) return { kind: "i64", local: a.local };
    return this.op("i64", [[a, "f64"]], (f) => f.i64_reinterpret_f64(), () => {});
  }
  dfloat(a: L): D {
    if (this.vec) return { kind: "f64", local: a.local };
    return this.op("f64", [[a, "i64"]], (f) => f.f64_reinterpret_i64(), () => {});
  }
  lshl(a: LA, n: number): L {
    this.push(a, "i64");
    if (this.vec) this.f.i32_const(n).i64x2_shl(); else this.f.i64_const(n).i64_shl();
    return this.pop("i64");
  }

  private pm<K extends "f32" | "f64">(k: K, a: Val<K> | number, b: Val<K> | number, min: boolean): Val<K> {
    if (this.vec) {
      const v: Emit = k === "f32" ? (min ? (f) => f.f32x4_pmin() : (f) => f.f32x4_pmax()) : (min ? (f) => f.f64x2_pmin() : (f) => f.f64x2_pmax());
      return this.op(k, [[a, k], [b, k]], () => {}, v);
    }
    // pmin: b < a ? b : a; pmax: a < b ? b : a
    this.push(b, k);
    this.push(a, k);
    if (min) this.push(b, k); else this.push(a, k);
    if (min) this.push(a, k); else this.push(b, k);
    if (k === "f32") this.f.f32_lt(); else this.f.f64_lt();
    this.f.select();
    return this.pop(k);
  }

  // ---- f32 <-> f64 ----
  /** f32 → f64: one value (scalar) or the low and high f64x2 halves (SIMD). */
  promote(a: F): D[] {
    const f = this.f;
    if (!this.vec) return [this.op("f64", [[a, "f32"]], (g) => g.f64_promote_f32(), () => {})];
    f.local_get(a.local).f64x2_promote_low_f32x4();
    const lo = this.pop("f64");
    f.local_get(a.local).local_get(a.local).i8x16_shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]).f64x2_promote_low_f32x4();
    const hi = this.pop("f64");
    return [lo, hi];
  }

  /** The inverse of {@link promote}: rounds to f32 and joins the halves. */
  demote(parts: readonly D[]): F {
    if (!this.vec) return this.op("f32", [[parts[0]!, "f64"]], (g) => g.f32_demote_f64(), () => {});
    return this.join("f32", parts, (g) => g.f32x4_demote_f64x2_zero());
  }

  /** f64 → i32 per lane, truncating and saturating; joins SIMD halves. */
  truncD(parts: readonly D[]): I {
    if (!this.vec) return this.op("i32", [[parts[0]!, "f64"]], (g) => g.i32_trunc_sat_f64_s(), () => {});
    return this.join("i32", parts, (g) => g.i32x4_trunc_sat_f64x2_s_zero());
  }

  private join<K extends Kind>(kind: K, parts: readonly D[], conv: Emit): Val<K> {
    const f = this.f;
    f.local_get(parts[0]!.local);
    conv(f);
    f.local_get(parts[1]!.local);
    conv(f);
    f.i8x16_shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);
    return this.pop(kind);
  }
}

/** Horner: `c[0] + x*(c[1] + x*(c[2] + ...))` in f32. */
export function horner(e: Emitter, x: F, c: readonly number[]): F {
  let p: FA = c[c.length - 1]!;
  for (let i = c.length - 2; i >= 0; i--) p = e.add(e.mul(p, x), c[i]!);
  return typeof p === "number" ? e.constF(p) : p;
}

/** Horner in f64. */
export function hornerD(e: Emitter, x: D, c: readonly number[]): D {
  let p: DA = c[c.length - 1]!;
  for (let i = c.length - 2; i >= 0; i--) p = e.dadd(e.dmul(p, x), c[i]!);
  return typeof p === "number" ? e.dadd(p, 0) : p;
}
