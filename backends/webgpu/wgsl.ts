/**
 * WGSL building blocks shared by the webgpu backend's kernel generator and its anchors:
 * how each dtype is held in a shader value, literals, loads and stores in the arena, the
 * elementwise op rules (matching the js reference backend's semantics), and the helper
 * functions a kernel may call (emitted only when used).
 *
 * Representation (see index.ts for the memory layout):
 * - every element occupies one 32-bit word of the arena `A: array<u32>` (bitcast on load and
 *   store), whatever its dtype: WGSL has no byte stores without races;
 * - float32 and float16 compute as `f32`; float16 values are rounded to half precision after
 *   every op and cast (`k_f16`, round-half-to-even, like the reference), so stored words hold
 *   f32 bit patterns of half values;
 * - int32, int64, int8, uint8 and bool compute as `i32`; narrow types wrap after every op,
 *   bool is 0/1. int64 is computed at 32 bits (WGSL has no 64-bit integers): values must fit
 *   int32 (uploads check it) and arithmetic that overflows int32 wraps at 32 bits.
 *
 * No user or model text ever reaches WGSL: every identifier here is generated.
 */
import type { DType } from "../../jit/dtype.js";
import { castValue, isFloat } from "../../jit/dtype.js";
import { CompileError } from "../../jit/errors.js";
import { LOG2E, LN2_HI, LN2_LO, EXP_P, LOG_P, SIN_S, COS_C, ASIN_P, ATAN_P, TANH_SMALL, TANH_P } from "../wasm/mathlib/coeffs.js";

/** An f32 WGSL literal of a (float32-rounded) number. */
const f = (v: number) => { const t = String(Math.fround(v)); return /[.e]/.test(t) ? `${t}f` : `${t}.0f`; };
/** Horner evaluation of c[0] + x·(c[1] + x·(…)) as WGSL text. */
const horner = (x: string, c: readonly number[]): string => c.reduceRight((acc, k, i) => (i === c.length - 1 ? f(k) : `(${f(k)} + ${x} * ${acc})`), "");

export type WType = "f32" | "i32";
export const wtype = (d: DType): WType => (isFloat(d) ? "f32" : "i32");

const f32buf = new Float32Array(1), u32buf = new Uint32Array(f32buf.buffer);

/** A WGSL literal of dtype `d` holding `castValue(v, d)`. Non-finite floats and -0 go through k_fbits (not const-expressions). */
export function literal(v: number, d: DType, use: (h: string) => void): string {
  if (isFloat(d)) {
    const x = castValue(v, d);
    f32buf[0] = x;
    if (!Number.isFinite(x) || Object.is(x, -0) || (x !== 0 && Math.abs(x) < 1.2e-38)) {
      use("k_fbits");
      return `k_fbits(0x${u32buf[0]!.toString(16)}u)`;
    }
    const s = String(f32buf[0]);
    return /[.e]/.test(s) ? `${s}f` : `${s}.0f`;
  }
  if (d === "int64" && Number.isFinite(v) && (Math.trunc(v) < -(2 ** 31) || Math.trunc(v) >= 2 ** 31))
    throw new CompileError(`the int64 constant ${v} does not fit in 32 bits, and the webgpu backend computes int64 as int32`, { hint: "use the wasm backend for int64 values beyond ±2^31" });
  const x = castValue(v, d === "int64" ? "int32" : d);
  return x === -(2 ** 31) ? "bitcast<i32>(0x80000000u)" : `${x}i`;
}

export const zero = (d: DType): string => (isFloat(d) ? "0.0f" : "0i");

/** Reads element word `idx` (an i32 expression) as dtype `d`. */
export const loadWord = (d: DType, idx: string): string => `bitcast<${wtype(d)}>(A[u32(${idx})])`;
/** Stores value `v` (of dtype d's WGSL type) at word `idx`. */
export const storeWord = (idx: string, v: string): string => `A[u32(${idx})] = bitcast<u32>(${v});`;

const b2i = (c: string) => `select(0i, 1i, ${c})`;
/** x != 0 for a float, NaN included (a bit test: float comparisons may not honor NaN). */
const truthy = (x: string) => `((bitcast<u32>(${x}) & 0x7fffffffu) != 0u)`;

/** Brings a computed value back into dtype `d` (wrap narrow ints, bool to 0/1, round float16). */
export function narrow(v: string, d: DType, use: (h: string) => void): string {
  switch (d) {
    case "int8": return `((${v} << 24u) >> 24u)`;
    case "uint8": return `(${v} & 255i)`;
    case "bool": return b2i(`${v} != 0i`);
    case "float16": use("k_f16"); return `k_f16(${v})`;
    default: return v;
  }
}

/** WGSL for unary `op` on `x` of input dtype `d` (result dtype per the IR). */
export function unary(op: string, x: string, d: DType, use: (h: string) => void): string {
  if (isFloat(d)) {
    let r: string;
    switch (op) {
      case "neg": r = `(-${x})`; break;
      case "abs": r = `abs(${x})`; break;
      case "floor": r = `floor(${x})`; break;
      case "ceil": r = `ceil(${x})`; break;
      case "round": r = `round(${x})`; break; // WGSL round: half to even, as the reference
      case "recip": r = `(1.0f / ${x})`; break;
      case "not": return b2i(`!${truthy(x)}`);
      case "isnan": use("k_isnan"); return b2i(`k_isnan(${x})`);
      case "isinf": use("k_isinf"); return b2i(`k_isinf(${x})`);
      case "sign": case "exp": case "log": case "sqrt": case "sin": case "cos": case "tan": case "tanh": case "asin":
      case "acos": case "atan": case "sinh": case "cosh": case "erf":
        use(`k_${op}`); r = `k_${op}(${x})`; break;
      default: throw new CompileError(`webgpu: no rule for ${op} on ${d}`, { op });
    }
    return d === "float16" ? narrow(r, d, use) : r;
  }
  switch (op) {
    case "neg": return narrow(`(0i - ${x})`, d, use);
    case "abs": return narrow(`abs(${x})`, d, use);
    case "sign": return narrow(`sign(${x})`, d, use);
    case "floor": case "ceil": case "round": return x;
    case "not": return b2i(`${x} == 0i`);
    case "isnan": case "isinf": return "0i";
  }
  throw new CompileError(`webgpu: no rule for ${op} on ${d}`, { op });
}

/** WGSL for binary `op` on `a`, `b` of dtype `d`. */
export function binary(op: string, a: string, b: string, d: DType, use: (h: string) => void): string {
  if (isFloat(d)) {
    let r: string;
    switch (op) {
      case "add": r = `(${a} + ${b})`; break;
      case "sub": r = `(${a} - ${b})`; break;
      case "mul": r = `(${a} * ${b})`; break;
      case "div": r = `(${a} / ${b})`; break;
      case "pow": case "mod": case "fmod": case "fmax": case "fmin": use(`k_${op}`); r = `k_${op}(${a}, ${b})`; break;
      case "max": case "min": use(`k_f${op}`); r = `k_f${op}(${a}, ${b})`; break;
      case "lt": return b2i(`${a} < ${b}`);
      case "le": return b2i(`${a} <= ${b}`);
      case "eq": return b2i(`${a} == ${b}`);
      // logic on floats yields 1.0 / 0.0 of the same dtype (NaN counts as true)
      case "and": return `select(0.0f, 1.0f, ${truthy(a)} && ${truthy(b)})`;
      case "or": return `select(0.0f, 1.0f, ${truthy(a)} || ${truthy(b)})`;
      case "xor": return `select(0.0f, 1.0f, ${truthy(a)} != ${truthy(b)})`;
      default: throw new CompileError(`webgpu: no rule for ${op} on ${d}`, { op });
    }
    return d === "float16" ? narrow(r, d, use) : r;
  }
  if (d === "bool") {
    // bool arithmetic is float arithmetic cast back to bool (0/0 and 1/0 are true)
    if (op === "div" || op === "pow") return b2i(`(${a} != 0i) || (${b} == 0i)`);
    if (op === "mod" || op === "fmod") return b2i(`${b} == 0i`);
  }
  switch (op) {
    case "add": return narrow(`(${a} + ${b})`, d, use);
    case "sub": return narrow(`(${a} - ${b})`, d, use);
    case "mul": return narrow(`(${a} * ${b})`, d, use);
    case "div": use("k_idiv"); return narrow(`k_idiv(${a}, ${b})`, d, use);
    case "mod": use("k_imod"); return narrow(`k_imod(${a}, ${b})`, d, use);
    case "fmod": use("k_ifmod"); return narrow(`k_ifmod(${a}, ${b})`, d, use);
    case "pow": use("k_ipow"); return narrow(`k_ipow(${a}, ${b})`, d, use);
    case "max": return `max(${a}, ${b})`;
    case "min": return `min(${a}, ${b})`;
    case "lt": return b2i(`${a} < ${b}`);
    case "le": return b2i(`${a} <= ${b}`);
    case "eq": return b2i(`${a} == ${b}`);
    case "and": return b2i(`(${a} != 0i) && (${b} != 0i)`);
    case "or": return b2i(`(${a} != 0i) || (${b} != 0i)`);
    case "xor": return b2i(`(${a} != 0i) != (${b} != 0i)`);
  }
  throw new CompileError(`webgpu: no rule for ${op} on ${d}`, { op });
}

/** Cast of `x` from dtype `from` to `to` with the reference's semantics (NaN → true, float → int truncates and wraps). */
export function cast(x: string, from: DType, to: DType, use: (h: string) => void): string {
  if (from === to) return x;
  if (to === "bool") return isFloat(from) ? b2i(truthy(x)) : b2i(`${x} != 0i`);
  if (isFloat(from)) {
    if (isFloat(to)) return narrow(x, to, use);
    use("k_f2i");
    return narrow(`k_f2i(${x})`, to, use);
  }
  if (isFloat(to)) return narrow(`f32(${x})`, to, use);
  return narrow(x, to, use);
}

// ---------------------------------------------------------------- helper functions

/**
 * π/2 as 8 f32 parts of 12 significant bits each (96 bits), so that k·part is exact for a
 * 12-bit k half: x − k·π/2 is then computed without cancellation error (Cody–Waite, extended)
 * for |k| < 2^48. GPU sin/cos are only accurate on [−π, π]; the reference is Math.sin in f64.
 */
function halfPiParts(): number[] {
  // π to 60 decimal digits (≈ 199 bits)
  const PI = 3141592653589793238462643383279502884197169399375105820974944n, SCALE = 10n ** 60n;
  let rest = (PI << 127n) / (2n * SCALE); // π/2 · 2^127, floor
  const parts: number[] = [];
  let shift = 127n;
  for (let i = 0; i < 8; i++) {
    // the top 12 bits of what is left
    const bits = BigInt(rest.toString(2).length);
    const drop = bits > 12n ? bits - 12n : 0n;
    const top = (rest >> drop) << drop;
    parts.push(Number(top) / 2 ** Number(shift));
    rest -= top;
  }
  return parts;
}
const HALF_PI_PARTS = halfPiParts();
const f32lit = (p: number) => { const t = String(p); return /[.e]/.test(t) ? `${t}f` : `${t}.0f`; };
const RANGE_REDUCTION = `// x = k·π/2 + r: returns (r, k mod 4)
fn k_rr(x: f32) -> vec2<f32> {
  let k = round(x * 0.63661977236758134f);
  let kh = bitcast<f32>(bitcast<u32>(k) & 0xfffff000u);
  let kl = k - kh;
  var r = x;
${HALF_PI_PARTS.map((p) => `  r = r - kh * ${f32lit(p)};\n  r = r - kl * ${f32lit(p)};`).join("\n")}
  let q = k - 4.0f * floor(k * 0.25f);
  return vec2<f32>(r, q);
}`;

/** Helper functions: WGSL text and the helpers each one calls. */
const HELPERS: Record<string, { deps: string[]; code: string }> = {
  k_fbits: { deps: [], code: `fn k_fbits(b: u32) -> f32 { return bitcast<f32>(b); }` },
  k_nan: { deps: ["k_fbits"], code: `fn k_nan() -> f32 { return k_fbits(0x7fc00000u); }` },
  k_inf: { deps: ["k_fbits"], code: `fn k_inf() -> f32 { return k_fbits(0x7f800000u); }` },
  k_isnan: { deps: [], code: `fn k_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }` },
  k_isinf: { deps: [], code: `fn k_isinf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }` },
  k_finite: { deps: [], code: `fn k_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }` },
  // round to the nearest float16 value (ties to even, overflow to ±inf), kept as an f32
  k_f16: { deps: [], code: `fn k_f16(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  let s = b & 0x80000000u;
  let a = b & 0x7fffffffu;
  if (a >= 0x7f800000u) { return x; }
  if (a >= 0x477ff000u) { return bitcast<f32>(s | 0x7f800000u); }
  if (a < 0x38800000u) {
    let q = round(bitcast<f32>(a) * 16777216.0f) * 5.9604644775390625e-8f;
    return bitcast<f32>(s | bitcast<u32>(q));
  }
  let r = (a + 0xfffu + ((a >> 13u) & 1u)) & 0xffffe000u;
  return bitcast<f32>(s | r);
}` },
  k_sign: { deps: ["k_isnan"], code: `fn k_sign(x: f32) -> f32 { if (k_isnan(x)) { return x; } if (x > 0.0f) { return 1.0f; } if (x < 0.0f) { return -1.0f; } return 0.0f; }` },
  // exp: Cody-Waite reduction and the wasm math library's minimax polynomial (≈1 ulp; GPU exp is coarser)
  k_exp: { deps: ["k_isnan"], code: `fn k_exp(x0: f32) -> f32 {
  if (k_isnan(x0)) { return x0; }
  let x = clamp(x0, -104.0f, 89.0f);
  let t = round(x * ${f(LOG2E)});
  let r = (x - t * ${f(LN2_HI)}) - t * ${f(LN2_LO)};
  let p = ${horner("r", EXP_P)};
  let s = r + 1.0f;
  let y = s + (((1.0f - s) + r) + (r * r) * p);
  let n = i32(t);
  let n1 = n >> 1u;
  let n2 = n - n1;
  return (y * bitcast<f32>(u32((n1 + 127i) << 23u))) * bitcast<f32>(u32((n2 + 127i) << 23u));
}` },
  k_log: { deps: ["k_isnan", "k_nan", "k_inf"], code: `fn k_log(x: f32) -> f32 {
  if (k_isnan(x) || x < 0.0f) { return k_nan(); }
  if (x == 0.0f) { return -k_inf(); }
  if (x == k_inf()) { return x; }
  let sub = x < 1.1754943508222875e-38f;
  let xs = select(x, x * 8388608.0f, sub);
  let ix = bitcast<i32>(xs) + (0x3f800000i - 0x3f3504f3i);
  let k = (ix >> 23u) - select(127i, 150i, sub);
  let m = bitcast<f32>((ix & 0x007fffffi) + 0x3f3504f3i);
  let f = m - 1.0f;
  let kf = f32(k);
  let z = f * f;
  var y = (f * z) * ${horner("f", LOG_P)};
  y = y + kf * ${f(LN2_LO)};
  y = y - z * 0.5f;
  return (f + y) + kf * ${f(LN2_HI)};
}` },
  k_sqrt: { deps: ["k_isnan", "k_nan"], code: `fn k_sqrt(x: f32) -> f32 {
  if (k_isnan(x) || x < 0.0f) { return k_nan(); }
  if (x == 0.0f) { return x; }
  return sqrt(x);
}` },
  k_rr: { deps: [], code: RANGE_REDUCTION },
  k_sinp: { deps: [], code: `fn k_sinp(r: f32) -> f32 { let z = r * r; return r + (r * z) * ${horner("z", SIN_S)}; }` },
  k_cosp: { deps: [], code: `fn k_cosp(r: f32) -> f32 { let z = r * r; return (1.0f - z * 0.5f) + (z * z) * ${horner("z", COS_C)}; }` },
  k_asinp: { deps: [], code: `fn k_asinp(x: f32) -> f32 { let z = x * x; return x + (x * z) * ${horner("z", ASIN_P)}; }` },
  k_sin: { deps: ["k_finite", "k_nan", "k_rr", "k_sinp", "k_cosp"], code: `fn k_sin(x: f32) -> f32 {
  if (!k_finite(x)) { return k_nan(); }
  if (abs(x) <= 0.785398f) { return k_sinp(x); }
  if (abs(x) > 8388608.0f) { return sin(x); } // TODO: Payne-Hanek; the reduction below fails past 2^23 on SwiftShader
  let q = k_rr(x);
  let s = select(k_sinp(q.x), k_cosp(q.x), (i32(q.y) & 1i) == 1i);
  return select(s, -s, (i32(q.y) & 2i) == 2i);
}` },
  k_cos: { deps: ["k_finite", "k_nan", "k_rr", "k_sinp", "k_cosp"], code: `fn k_cos(x: f32) -> f32 {
  if (!k_finite(x)) { return k_nan(); }
  if (abs(x) <= 0.785398f) { return k_cosp(x); }
  if (abs(x) > 8388608.0f) { return cos(x); }
  let q = k_rr(x);
  let c = select(k_cosp(q.x), k_sinp(q.x), (i32(q.y) & 1i) == 1i);
  return select(c, -c, ((i32(q.y) + 1i) & 2i) == 2i);
}` },
  k_tan: { deps: ["k_sin", "k_cos"], code: `fn k_tan(x: f32) -> f32 { return k_sin(x) / k_cos(x); }` },
  k_asin: { deps: ["k_isnan", "k_nan", "k_asinp"], code: `fn k_asin(x: f32) -> f32 {
  if (k_isnan(x) || abs(x) > 1.0f) { return k_nan(); }
  if (abs(x) <= 0.5f) { return k_asinp(x); }
  let a = 1.5707963267948966f - 2.0f * k_asinp(sqrt((1.0f - abs(x)) * 0.5f));
  return select(a, -a, x < 0.0f);
}` },
  k_acos: { deps: ["k_isnan", "k_nan", "k_asinp"], code: `fn k_acos(x: f32) -> f32 {
  if (k_isnan(x) || abs(x) > 1.0f) { return k_nan(); }
  if (abs(x) <= 0.5f) { return 1.5707963267948966f - k_asinp(x); }
  let a = 2.0f * k_asinp(sqrt((1.0f - abs(x)) * 0.5f));
  return select(a, 3.141592653589793f - a, x < 0.0f);
}` },
  k_atan: { deps: ["k_isnan"], code: `fn k_atan(x: f32) -> f32 {
  if (k_isnan(x)) { return x; }
  let a = abs(x);
  var t = a;
  var base = 0.0f;
  if (a > 2.414213562373095f) { t = -1.0f / a; base = 1.5707963267948966f; }
  else if (a > 0.41421356237309503f) { t = (a - 1.0f) / (a + 1.0f); base = 0.7853981633974483f; }
  let z = t * t;
  let r = base + (t + (t * z) * ${horner("z", ATAN_P)});
  return select(r, -r, x < 0.0f);
}` },
  k_tanh: { deps: ["k_isnan", "k_exp"], code: `fn k_tanh(x: f32) -> f32 {
  if (k_isnan(x)) { return x; }
  let a = abs(x);
  if (a < ${f(TANH_SMALL)}) { let z = x * x; return x + (x * z) * ${horner("z", TANH_P)}; }
  if (a > 10.0f) { return sign(x); }
  let r = 1.0f - 2.0f / (k_exp(2.0f * a) + 1.0f);
  return select(r, -r, x < 0.0f);
}` },
  k_sinh: { deps: ["k_isnan", "k_exp"], code: `fn k_sinh(x: f32) -> f32 {
  if (k_isnan(x)) { return x; }
  if (abs(x) < 0.5f) { let y = x * x; return x * (1.0f + y * (1.0f / 6.0f + y * (1.0f / 120.0f + y * (1.0f / 5040.0f)))); }
  if (abs(x) > 88.0f) { return sign(x) * k_exp(abs(x) - 0.6931471805599453f); }
  return 0.5f * (k_exp(x) - k_exp(-x));
}` },
  k_cosh: { deps: ["k_isnan", "k_exp"], code: `fn k_cosh(x: f32) -> f32 {
  if (k_isnan(x)) { return x; }
  if (abs(x) > 88.0f) { return k_exp(abs(x) - 0.6931471805599453f); }
  return 0.5f * (k_exp(x) + k_exp(-x));
}` },
  // erf: Maclaurin series near 0 (relative accuracy), else 1 - erfc with the Chebyshev fit of
  // Numerical Recipes (erfcc, fractional error < 1.2e-7); WGSL has no erf
  k_erf: { deps: ["k_isnan"], code: `fn k_erf(x: f32) -> f32 {
  if (k_isnan(x)) { return x; }
  let z = abs(x);
  if (z > 6.0f) { return sign(x); }
  if (z < 0.5f) {
    let y = x * x;
    return 1.1283791670955126f * x * (1.0f - y * (1.0f / 3.0f - y * (0.1f - y * (1.0f / 42.0f - y * (1.0f / 216.0f - y * (1.0f / 1320.0f))))));
  }
  let t = 1.0f / (1.0f + 0.5f * z);
  let r = t * exp(-z * z - 1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f + t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f)))))))));
  return sign(x) * (1.0f - r);
}` },
  // max/min: NaN if either is NaN; max(-0, 0) = 0 and min(-0, 0) = -0, as Math.max/min
  k_fmax: { deps: ["k_isnan", "k_nan"], code: `fn k_fmax(a: f32, b: f32) -> f32 {
  if (k_isnan(a) || k_isnan(b)) { return k_nan(); }
  if (a == b) { return bitcast<f32>(bitcast<u32>(a) & bitcast<u32>(b)); }
  return select(b, a, a > b);
}` },
  k_fmin: { deps: ["k_isnan", "k_nan"], code: `fn k_fmin(a: f32, b: f32) -> f32 {
  if (k_isnan(a) || k_isnan(b)) { return k_nan(); }
  if (a == b) { return bitcast<f32>(bitcast<u32>(a) | bitcast<u32>(b)); }
  return select(b, a, a < b);
}` },
  // C fmod (the dividend's sign), corrected when the rounded quotient is off by one
  k_fmod: { deps: ["k_isnan", "k_finite", "k_nan"], code: `fn k_fmod(a: f32, b: f32) -> f32 {
  if (k_isnan(a) || k_isnan(b) || !k_finite(a) || b == 0.0f) { return k_nan(); }
  if (!k_finite(b)) { return a; }
  let ab = abs(b);
  if (abs(a) < ab) { return a; }
  var r = fma(-b, trunc(a / b), a);
  if (abs(r) >= ab) { r = r - sign(r) * ab; }
  if (r != 0.0f && ((r < 0.0f) != (a < 0.0f))) { r = r + sign(a) * ab; }
  if (r == 0.0f) { return a * 0.0f; }
  return r;
}` },
  // Python/numpy mod: the divisor's sign
  k_mod: { deps: ["k_fmod"], code: `fn k_mod(a: f32, b: f32) -> f32 {
  let r = k_fmod(a, b);
  if (r != 0.0f && ((r < 0.0f) != (b < 0.0f))) { return r + b; }
  return r;
}` },
  // Math.pow: integer exponents by repeated squaring (exact small powers), else exp2(y·log2|x|)
  k_pow: { deps: ["k_isnan", "k_finite", "k_nan", "k_inf", "k_exp", "k_log"], code: `fn k_pow(x: f32, y: f32) -> f32 {
  if (y == 0.0f) { return 1.0f; }
  if (k_isnan(x) || k_isnan(y)) { return k_nan(); }
  let ax = abs(x);
  let ay = abs(y);
  let yfin = k_finite(y);
  let yint = yfin && floor(y) == y;
  let yodd = yint && ay < 16777216.0f && (u32(ay) & 1u) == 1u;
  if (!yfin) {
    if (ax == 1.0f) { return k_nan(); }
    if ((ax > 1.0f) == (y > 0.0f)) { return k_inf(); }
    return 0.0f;
  }
  if (x == 0.0f) {
    if (y > 0.0f) { return select(0.0f, x, yodd); }
    return select(k_inf(), 1.0f / x, yodd);
  }
  if (x < 0.0f && !yint) { return k_nan(); }
  if (!k_finite(x)) {
    let neg = x < 0.0f && yodd;
    if (y > 0.0f) { return select(k_inf(), -k_inf(), neg); }
    return select(0.0f, -0.0f, neg);
  }
  var r: f32;
  if (yint && ay <= 64.0f) {
    var e = u32(ay);
    var base = ax;
    r = 1.0f;
    loop {
      if ((e & 1u) == 1u) { r = r * base; }
      e = e >> 1u;
      if (e == 0u) { break; }
      base = base * base;
    }
    if (y < 0.0f) { r = 1.0f / r; }
  } else {
    if (ay == 0.5f) { r = select(sqrt(ax), 1.0f / sqrt(ax), y < 0.0f); } else { r = k_exp(y * k_log(ax)); }
  }
  return select(r, -r, x < 0.0f && yodd);
}` },
  // integer division truncates; x/0 = 0; MIN / -1 wraps
  k_idiv: { deps: [], code: `fn k_idiv(a: i32, b: i32) -> i32 { if (b == 0i) { return 0i; } if (b == -1i) { return 0i - a; } return a / b; }` },
  k_ifmod: { deps: [], code: `fn k_ifmod(a: i32, b: i32) -> i32 { if (b == 0i || b == -1i) { return 0i; } return a % b; }` },
  k_imod: { deps: ["k_ifmod"], code: `fn k_imod(a: i32, b: i32) -> i32 { let r = k_ifmod(a, b); if (r != 0i && ((r ^ b) < 0i)) { return r + b; } return r; }` },
  // integer pow: exact (wrapping) for b >= 0; 1/a^|b| truncated for b < 0
  k_ipow: { deps: [], code: `fn k_ipow(a: i32, b: i32) -> i32 {
  if (b < 0i) {
    if (a == 1i) { return 1i; }
    if (a == -1i) { return select(1i, -1i, (b & 1i) == 1i); }
    return 0i;
  }
  var r = 1i;
  var base = a;
  var e = b;
  loop {
    if (e == 0i) { break; }
    if ((e & 1i) == 1i) { r = r * base; }
    e = e >> 1u;
    base = base * base;
  }
  return r;
}` },
  // float to int: truncates; NaN and ±inf give 0; beyond int32, wraps modulo 2^32 (as JS's ToInt32)
  k_f2i: { deps: ["k_finite"], code: `fn k_f2i(x: f32) -> i32 {
  if (!k_finite(x)) { return 0i; }
  let t = trunc(x);
  if (abs(t) < 2147483648.0f) { return i32(t); }
  let r = t - 4294967296.0f * floor(t / 4294967296.0f);
  return bitcast<i32>(u32(r));
}` },
  // the four signed bytes of a packed word (byte t: bits 8t…8t+7), sign-extended (packed int8 GEMM)
  k_unpack4: { deps: [], code: `fn k_unpack4(w: u32) -> vec4<i32> {
  return bitcast<vec4<i32>>(vec4<u32>(w) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u);
}` },
  // an out-of-range index: the first report (kernel id + 1, index, size) wins; word 3 flags any
  k_err: { deps: [], code: `fn k_err(kid: i32, idx: i32, dim: i32) {
  let r = atomicCompareExchangeWeak(&E[0], 0i, kid);
  if (r.exchanged) { atomicStore(&E[1], idx); atomicStore(&E[2], dim); }
  atomicStore(&E[3], kid);
}` },
};

/** The text of the used helpers and everything they call, in dependency order. */
export function helperText(used: Iterable<string>): string {
  const out: string[] = [], done = new Set<string>();
  const add = (h: string) => {
    if (done.has(h)) return;
    done.add(h);
    const e = HELPERS[h];
    if (!e) throw new Error(`internal: no WGSL helper ${h}`);
    e.deps.forEach(add);
    out.push(e.code);
  };
  for (const h of [...used].sort()) add(h);
  return out.join("\n");
}

