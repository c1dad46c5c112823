/**
 * Element types and the promotion rules every op follows.
 *
 * Promotion (documented in README): bool < uint8, int8 < int32 < int64 < float16 < float32.
 * Two integer types promote to the smallest integer type that holds both (uint8 + int8 → int32,
 * there is no int16); anything with a float promotes to the widest float present. Plain JS
 * numbers are "weak" (as in PyTorch and JAX): `int32Tensor.add(2)` stays int32,
 * `int32Tensor.add(2.5)` becomes float32, `float16Tensor.mul(3)` stays float16.
 */
export type DType = "float32" | "float16" | "int32" | "int64" | "int8" | "uint8" | "bool";

export const DTYPES: readonly DType[] = ["float32", "float16", "int32", "int64", "int8", "uint8", "bool"];

/** The typed array that stores each dtype on the host (float16 is stored as its bit pattern). */
export type Storage = Float32Array | Uint16Array | Int32Array | BigInt64Array | Int8Array | Uint8Array;

const RANK: Record<DType, number> = { bool: 0, uint8: 1, int8: 1, int32: 2, int64: 3, float16: 4, float32: 5 };

export const isFloat = (d: DType): boolean => d === "float32" || d === "float16";
export const isInt = (d: DType): boolean => d === "int32" || d === "int64" || d === "int8" || d === "uint8";
export const isDType = (s: unknown): s is DType => typeof s === "string" && (DTYPES as readonly string[]).includes(s);

export function itemSize(d: DType): number {
  switch (d) {
    case "float32": case "int32": return 4;
    case "int64": return 8;
    case "float16": return 2;
    default: return 1;
  }
}

/** Promotes two tensor dtypes. Example: `promote("int8", "uint8") === "int32"`. */
export function promote(a: DType, b: DType): DType {
  if (a === b) return a;
  if ((a === "int8" && b === "uint8") || (a === "uint8" && b === "int8")) return "int32";
  return RANK[a] >= RANK[b] ? a : b;
}

/** Dtype of `tensor op scalar` under weak-scalar rules. Example: `promoteScalar("int32", 2.5) === "float32"`. */
export function promoteScalar(t: DType, v: number | boolean): DType {
  if (typeof v === "boolean") return t;
  if (isFloat(t)) return t;
  if (!Number.isInteger(v)) return "float32";
  return t === "bool" ? "int32" : t;
}

export function allocStorage(d: DType, n: number): Storage {
  switch (d) {
    case "float32": return new Float32Array(n);
    case "float16": return new Uint16Array(n);
    case "int32": return new Int32Array(n);
    case "int64": return new BigInt64Array(n);
    case "int8": return new Int8Array(n);
    case "uint8": case "bool": return new Uint8Array(n);
  }
}

// float16 conversions (Math.f16round is not in Node 20).
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds a number to the nearest float16 bit pattern (round-half-to-even, overflow to ±inf). */
export function toHalfBits(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** Rounds/wraps a JS number to what `dtype` can hold (the semantics of storing into it). */
export function castValue(v: number, d: DType): number {
  switch (d) {
    case "float32": return Math.fround(v);
    case "float16": return fromHalfBits(toHalfBits(v));
    case "bool": return v !== 0 ? 1 : 0; // NaN is true, as in numpy and ONNX Cast
    case "int32": return Number.isFinite(v) ? Math.trunc(v) | 0 : 0;
    case "int8": return Number.isFinite(v) ? (Math.trunc(v) << 24) >> 24 : 0;
    case "uint8": return Number.isFinite(v) ? Math.trunc(v) & 0xff : 0;
    case "int64": { // exact up to 2^53; wraps like int64 past 2^63
      if (!Number.isFinite(v)) return 0;
      const t = Math.trunc(v);
      return t >= -(2 ** 63) && t < 2 ** 63 ? t : Number(BigInt.asIntN(64, BigInt(t)));
    }
  }
}

/** Reads element i of a storage array as a JS number. */
export function readElement(s: Storage, d: DType, i: number): number {
  if (d === "int64") return Number((s as BigInt64Array)[i]!);
  if (d === "float16") return fromHalfBits((s as Uint16Array)[i]!);
  return (s as Float32Array)[i]!;
}

/** Converts a whole storage array to float64 numbers (the reference backend's working form). */
export function storageToF64(s: Storage, d: DType): Float64Array {
  const out = new Float64Array(s.length);
  if (d === "int64") { const b = s as BigInt64Array; for (let i = 0; i < b.length; i++) out[i] = Number(b[i]!); }
  else if (d === "float16") { const b = s as Uint16Array; for (let i = 0; i < b.length; i++) out[i] = fromHalfBits(b[i]!); }
  else out.set(s as Float32Array);
  return out;
}

/** Converts float64 numbers to `d`'s storage, applying `castValue` semantics. */
export function f64ToStorage(v: ArrayLike<number>, d: DType): Storage {
  const out = allocStorage(d, v.length);
  if (d === "int64") { const b = out as BigInt64Array; for (let i = 0; i < v.length; i++) b[i] = BigInt(castValue(v[i]!, d)); }
  else if (d === "float16") { const b = out as Uint16Array; for (let i = 0; i < v.length; i++) b[i] = toHalfBits(v[i]!); }
  else if (d === "bool") { for (let i = 0; i < v.length; i++) out[i] = castValue(v[i]!, d); }
  else if (d === "int32" || d === "int8" || d === "uint8") { for (let i = 0; i < v.length; i++) out[i] = castValue(v[i]!, d); }
  else (out as Float32Array).set(v);
  return out;
}
