/**
 * The JavaScript functions generated kernels import (module "env"), as self-contained source
 * text: worker threads rebuild exactly the same imports from it without loading kiln.
 * Scalar transcendental ops call these so their results equal the reference bit for bit
 * (Math.* in f64, then rounded to f32 by the kernel).
 */
export const IMPORTS_SOURCE = String.raw`
  function erf(x) {
    if (x !== x) return NaN;
    var ax = Math.abs(x);
    if (ax > 6) return x > 0 ? 1 : -1;
    if (ax < 2.5) {
      var sum = x, term = x, x2 = x * x, k = 0, add;
      do { k++; term *= -x2 / k; add = term / (2 * k + 1); sum += add; if (Math.abs(add) < 1e-17 * Math.abs(sum)) break; } while (k < 200);
      return (2 / Math.sqrt(Math.PI)) * sum;
    }
    var f = 0;
    for (var j = 60; j >= 1; j--) f = (j / 2) / (ax + f);
    var erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
    return (x > 0 ? 1 : -1) * (1 - erfc);
  }
  var f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
  function toHalf(v) {
    f32[0] = v;
    var x = u32[0], sign = (x >>> 16) & 0x8000, exp = (x >>> 23) & 0xff, mant = x & 0x7fffff;
    if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
    var e = exp - 127 + 15;
    if (e >= 0x1f) return sign | 0x7c00;
    if (e <= 0) {
      if (e < -10) return sign;
      mant |= 0x800000;
      var shift = 14 - e, h = mant >>> shift, rem = mant & ((1 << shift) - 1), half = 1 << (shift - 1);
      if (rem > half || (rem === half && (h & 1))) h++;
      return sign | h;
    }
    var h2 = (e << 10) | (mant >>> 13), rem2 = mant & 0x1fff;
    if (rem2 > 0x1000 || (rem2 === 0x1000 && (h2 & 1))) h2++;
    return sign | h2;
  }
  function fromHalf(h) {
    var sign = h & 0x8000 ? -1 : 1, e = (h >>> 10) & 0x1f, m = h & 0x3ff;
    if (e === 0) return sign * m * Math.pow(2, -24);
    if (e === 0x1f) return m ? NaN : sign * Infinity;
    return sign * (1 + m / 1024) * Math.pow(2, e - 15);
  }
  return {
    exp: Math.exp, log: Math.log, sin: Math.sin, cos: Math.cos, tan: Math.tan, tanh: Math.tanh,
    asin: Math.asin, acos: Math.acos, atan: Math.atan, sinh: Math.sinh, cosh: Math.cosh,
    pow: Math.pow, fmod: function (a, b) { return a % b; }, erf: erf,
    f16round: function (x) { return fromHalf(toHalf(x)); }, f16load: fromHalf, f16store: toHalf,
  };
`;

/** Signatures of the imports, in the order kernels declare them. */
export const IMPORT_SIGS: Record<string, { params: ("f64" | "f32" | "i32")[]; result: "f64" | "f32" | "i32" }> = {
  exp: { params: ["f64"], result: "f64" }, log: { params: ["f64"], result: "f64" },
  sin: { params: ["f64"], result: "f64" }, cos: { params: ["f64"], result: "f64" },
  tan: { params: ["f64"], result: "f64" }, tanh: { params: ["f64"], result: "f64" },
  asin: { params: ["f64"], result: "f64" }, acos: { params: ["f64"], result: "f64" },
  atan: { params: ["f64"], result: "f64" }, sinh: { params: ["f64"], result: "f64" },
  cosh: { params: ["f64"], result: "f64" }, pow: { params: ["f64", "f64"], result: "f64" },
  fmod: { params: ["f64", "f64"], result: "f64" }, erf: { params: ["f64"], result: "f64" },
  f16round: { params: ["f32"], result: "f32" }, f16load: { params: ["i32"], result: "f32" },
  f16store: { params: ["f32"], result: "i32" },
};

let cached: Record<string, (...a: number[]) => number> | undefined;
/** The import functions for this thread. */
export function makeImports(): Record<string, (...a: number[]) => number> {
  return (cached ??= new Function(IMPORTS_SOURCE)() as Record<string, (...a: number[]) => number>);
}
