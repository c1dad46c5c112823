/**
 * Plain implementations of every IR primitive over float64 arrays: the reference semantics.
 * Each function reads inputs as Float64Array (values already rounded to their dtype) and
 * returns the unrounded result; the interpreter rounds it to the node's dtype.
 */
import { Node, Shape, numel, stridesOf } from "../../jit/ir.js";
import { RuntimeError } from "../../jit/errors.js";

type F64 = Float64Array;

/** Visits every coordinate of `shape` in row-major order (an odometer, no div/mod per element). */
function eachCoord(shape: Shape, fn: (c: number[], flat: number) => void): void {
  const n = numel(shape);
  if (n === 0) return;
  const r = shape.length, c = new Array<number>(r).fill(0);
  for (let flat = 0; flat < n; flat++) {
    fn(c, flat);
    for (let d = r - 1; d >= 0; d--) { if (++c[d]! < shape[d]!) break; c[d] = 0; }
  }
}

export function erf(x: number): number {
  // Abramowitz–Stegun 7.1.26 is too coarse for an oracle; use a series / continued fraction pair.
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax > 6) return Math.sign(x);
  if (ax < 2.5) {
    // Maclaurin series: converges fast for |x| < 2.5 in float64
    let sum = x, term = x, k = 0;
    const x2 = x * x;
    do { k++; term *= -x2 / k; const add = term / (2 * k + 1); sum += add; if (Math.abs(add) < 1e-17 * Math.abs(sum)) break; } while (k < 200);
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // continued fraction for erfc at larger |x|
  let f = 0;
  for (let k = 60; k >= 1; k--) f = (k / 2) / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

/** Round half to even, as numpy and ONNX Round do. */
export function roundEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function unaryFn(op: string, isIntType: boolean): (x: number) => number {
  switch (op) {
    case "neg": return (x) => -x;
    case "abs": return Math.abs;
    case "sign": return (x) => (Number.isNaN(x) ? NaN : x > 0 ? 1 : x < 0 ? -1 : 0);
    case "exp": return Math.exp;
    case "log": return Math.log;
    case "sqrt": return Math.sqrt;
    case "recip": return (x) => 1 / x;
    case "sin": return Math.sin; case "cos": return Math.cos; case "tan": return Math.tan;
    case "tanh": return Math.tanh; case "asin": return Math.asin; case "acos": return Math.acos;
    case "atan": return Math.atan; case "sinh": return Math.sinh; case "cosh": return Math.cosh;
    case "erf": return erf;
    case "floor": return isIntType ? (x) => x : Math.floor;
    case "ceil": return isIntType ? (x) => x : Math.ceil;
    case "round": return isIntType ? (x) => x : roundEven;
    case "not": return (x) => (x !== 0 ? 0 : 1);
    case "isnan": return (x) => (Number.isNaN(x) ? 1 : 0);
    case "isinf": return (x) => (x === Infinity || x === -Infinity ? 1 : 0);
  }
  throw new Error(`internal: unary ${op}`);
}

export function binaryFn(op: string, isIntType: boolean, wide = true): (a: number, b: number) => number {
  switch (op) {
    case "add": return (a, b) => a + b;
    case "sub": return (a, b) => a - b;
    // integer products past 2^53 are formed exactly, then wrapped to int64
    // (32-bit integers: Math.imul keeps the low bits exact; int64 wraps through BigInt)
    case "mul": return !isIntType ? (a, b) => a * b : !wide ? Math.imul : (a, b) => { const p = a * b; return Math.abs(p) <= Number.MAX_SAFE_INTEGER ? p : Number(BigInt.asIntN(64, BigInt(a) * BigInt(b))); };
    // integer division truncates toward zero (C, ONNX); x/0 on integers gives 0
    case "div": return isIntType ? (a, b) => (b === 0 ? 0 : Math.trunc(a / b)) : (a, b) => a / b;
    case "pow": return Math.pow;
    // mod: the result takes the divisor's sign (Python, numpy); fmod: the dividend's (C)
    case "mod": return (a, b) => {
      if (isIntType && b === 0) return 0;
      const r = a % b;
      return r !== 0 && (r < 0) !== (b < 0) ? r + b : r;
    };
    case "fmod": return (a, b) => (isIntType && b === 0 ? 0 : a % b);
    case "max": return (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b));
    case "min": return (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b));
    case "lt": return (a, b) => (a < b ? 1 : 0);
    case "le": return (a, b) => (a <= b ? 1 : 0);
    case "eq": return (a, b) => (a === b ? 1 : 0);
    case "and": return (a, b) => (a !== 0 && b !== 0 ? 1 : 0);
    case "or": return (a, b) => (a !== 0 || b !== 0 ? 1 : 0);
    case "xor": return (a, b) => ((a !== 0 ? 1 : 0) ^ (b !== 0 ? 1 : 0));
  }
  throw new Error(`internal: binary ${op}`);
}

/**
 * Reduction over axes (kept as size 1). With `intBits` (32 or 64), integer sums and products
 * are formed exactly and wrapped to that width, as integer hardware would.
 */
export function reduce(x: F64, shape: Shape, axes: readonly number[], fn: string, intBits = 0): F64 {
  if (intBits && (fn === "sum" || fn === "prod")) return reduceInt(x, shape, axes, fn, intBits);
  const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const os = stridesOf(outShape);
  const init = fn === "sum" ? 0 : fn === "prod" ? 1 : fn === "max" ? -Infinity : Infinity;
  const out = new Float64Array(numel(outShape)).fill(init);
  const nan = new Uint8Array(out.length);
  eachCoord(shape, (c, flat) => {
    let o = 0;
    for (let d = 0; d < c.length; d++) if (outShape[d] !== 1) o += c[d]! * os[d]!;
    const v = x[flat]!;
    if (fn === "sum") out[o]! += v;
    else if (fn === "prod") out[o]! *= v;
    else if (Number.isNaN(v)) nan[o] = 1;
    else if (fn === "max") { if (v > out[o]!) out[o] = v; }
    else if (v < out[o]!) out[o] = v;
  });
  for (let i = 0; i < out.length; i++) if (nan[i]) out[i] = NaN;
  return out;
}

function reduceInt(x: F64, shape: Shape, axes: readonly number[], fn: string, bits: number): F64 {
  const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const os = stridesOf(outShape);
  const acc: bigint[] = new Array(numel(outShape)).fill(fn === "sum" ? 0n : 1n);
  eachCoord(shape, (c, flat) => {
    let o = 0;
    for (let d = 0; d < c.length; d++) if (outShape[d] !== 1) o += c[d]! * os[d]!;
    const v = BigInt(x[flat]!);
    acc[o] = BigInt.asIntN(bits, fn === "sum" ? acc[o]! + v : acc[o]! * v);
  });
  return Float64Array.from(acc, Number);
}

export function argreduce(x: F64, shape: Shape, axis: number, fn: string, selectLast: boolean): F64 {
  const outer = numel(shape.slice(0, axis)), n = shape[axis]!, inner = numel(shape.slice(axis + 1));
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let best = 0, bv = x[o * n * inner + i]!;
      for (let k = 1; k < n; k++) {
        const v = x[(o * n + k) * inner + i]!;
        if (Number.isNaN(bv)) break; // the first NaN wins (numpy)
        const better = Number.isNaN(v) || (fn === "argmax" ? (selectLast ? v >= bv : v > bv) : selectLast ? v <= bv : v < bv);
        if (better) { best = k; bv = v; }
      }
      out[o * inner + i] = best;
    }
  return out;
}

export function cumsum(x: F64, shape: Shape, axis: number, exclusive: boolean, reverse: boolean): F64 {
  const outer = numel(shape.slice(0, axis)), n = shape[axis]!, inner = numel(shape.slice(axis + 1));
  const out = new Float64Array(x.length);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let acc = 0;
      for (let j = 0; j < n; j++) {
        const k = reverse ? n - 1 - j : j, at = (o * n + k) * inner + i;
        if (exclusive) { out[at] = acc; acc += x[at]!; } else { acc += x[at]!; out[at] = acc; }
      }
    }
  return out;
}

/** Generic view: out[c] = x[offset(c)] or `fill` where offset returns -1. */
function view(outShape: Shape, offset: (c: number[]) => number, x: F64, fill = 0): F64 {
  const out = new Float64Array(numel(outShape));
  eachCoord(outShape, (c, flat) => { const o = offset(c); out[flat] = o < 0 ? fill : x[o]!; });
  return out;
}

export function permute(x: F64, shape: Shape, perm: readonly number[]): F64 {
  const st = stridesOf(shape);
  return view(perm.map((p) => shape[p]!), (c) => { let o = 0; for (let i = 0; i < c.length; i++) o += c[i]! * st[perm[i]!]!; return o; }, x);
}

export function expand(x: F64, shape: Shape, to: Shape): F64 {
  const st = stridesOf(shape);
  return view(to, (c) => { let o = 0; for (let i = 0; i < c.length; i++) if (shape[i] !== 1) o += c[i]! * st[i]!; return o; }, x);
}

export function slice(x: F64, shape: Shape, to: Shape, starts: readonly number[], steps: readonly number[]): F64 {
  const st = stridesOf(shape);
  return view(to, (c) => { let o = 0; for (let i = 0; i < c.length; i++) o += (starts[i]! + c[i]! * steps[i]!) * st[i]!; return o; }, x);
}

export function pad(x: F64, shape: Shape, pads: readonly number[], mode: string, value: number): F64 {
  const r = shape.length, st = stridesOf(shape);
  const to = shape.map((d, i) => d + pads[i]! + pads[i + r]!);
  return view(to, (c) => {
    let o = 0;
    for (let i = 0; i < r; i++) {
      let k = c[i]! - pads[i]!;
      const d = shape[i]!;
      if (k < 0 || k >= d) {
        if (mode === "constant") return -1;
        if (mode === "edge") k = k < 0 ? 0 : d - 1;
        else { // reflect (without repeating the edge)
          const period = 2 * (d - 1);
          k = period === 0 ? 0 : ((k % period) + period) % period;
          if (k >= d) k = period - k;
        }
      }
      o += k * st[i]!;
    }
    return o;
  }, x, value);
}

export function concat(xs: F64[], shapes: Shape[], axis: number): F64 {
  const outer = numel(shapes[0]!.slice(0, axis)), inner = numel(shapes[0]!.slice(axis + 1));
  const total = shapes.reduce((a, s) => a + s[axis]!, 0);
  const out = new Float64Array(outer * total * inner);
  let off = 0;
  xs.forEach((x, k) => {
    const n = shapes[k]![axis]!;
    for (let o = 0; o < outer; o++) out.set(x.subarray(o * n * inner, (o + 1) * n * inner), (o * total + off) * inner);
    off += n;
  });
  return out;
}

export function matmul(a: F64, b: F64, as: Shape, bs: Shape, intBits = 0): F64 {
  const r = as.length, M = as[r - 2]!, K = as[r - 1]!, N = bs[r - 1]!;
  const batch = numel(as.slice(0, r - 2));
  const out = new Float64Array(batch * M * N);
  if (intBits) {
    // integer products and sums past 2^53 are formed exactly, then wrapped to the output's width
    for (let t = 0; t < batch; t++)
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let acc = 0n;
          for (let k = 0; k < K; k++) acc += BigInt(a[t * M * K + i * K + k]!) * BigInt(b[t * K * N + k * N + j]!);
          out[t * M * N + i * N + j] = Number(BigInt.asIntN(intBits, acc));
        }
    return out;
  }
  for (let t = 0; t < batch; t++)
    for (let i = 0; i < M; i++)
      for (let k = 0; k < K; k++) {
        const av = a[t * M * K + i * K + k]!;
        const bo = t * K * N + k * N, oo = t * M * N + i * N;
        for (let j = 0; j < N; j++) out[oo + j]! += av * b[bo + j]!;
      }
  return out;
}

/** N-d convolution (cross-correlation) with groups, strides, dilations and begin/end pads. */
export function conv(x: F64, w: F64, n: Node): F64 {
  const xs = n.inputs[0]!.shape, ws = n.inputs[1]!.shape, os = n.shape, a = n.attrs;
  const sp = xs.length - 2, G = a.groups!, Cg = ws[1]!, Og = ws[0]! / G;
  const xst = stridesOf(xs), wst = stridesOf(ws);
  const kShape = ws.slice(2);
  const out = new Float64Array(numel(os));
  eachCoord(os, (c, flat) => {
    const b = c[0]!, oc = c[1]!, g = Math.floor(oc / Og);
    let acc = 0;
    for (let ic = 0; ic < Cg; ic++) {
      const xc = g * Cg + ic;
      eachCoord(kShape, (k) => {
        let xo = b * xst[0]! + xc * xst[1]!;
        for (let d = 0; d < sp; d++) {
          const p = c[d + 2]! * a.strides![d]! + k[d]! * a.dilations![d]! - a.pads![d]!;
          if (p < 0 || p >= xs[d + 2]!) return;
          xo += p * xst[d + 2]!;
        }
        let wo = oc * wst[0]! + ic * wst[1]!;
        for (let d = 0; d < sp; d++) wo += k[d]! * wst[d + 2]!;
        acc += x[xo]! * w[wo]!;
      });
    }
    out[flat] = acc;
  });
  return out;
}

/** Transposed convolution: scatters each input element through the kernel. Weight is [C, O/g, k...]. */
export function convTranspose(x: F64, w: F64, n: Node): F64 {
  const xs = n.inputs[0]!.shape, ws = n.inputs[1]!.shape, os = n.shape, a = n.attrs;
  const sp = xs.length - 2, G = a.groups!, Cg = xs[1]! / G, Og = ws[1]!;
  const ost = stridesOf(os), wst = stridesOf(ws);
  const kShape = ws.slice(2);
  const out = new Float64Array(numel(os));
  eachCoord(xs, (c, flat) => {
    const b = c[0]!, ic = c[1]!, g = Math.floor(ic / Cg), v = x[flat]!;
    for (let oc = 0; oc < Og; oc++)
      eachCoord(kShape, (k) => {
        let oo = b * ost[0]! + (g * Og + oc) * ost[1]!;
        for (let d = 0; d < sp; d++) {
          const p = c[d + 2]! * a.strides![d]! + k[d]! * a.dilations![d]! - a.pads![d]!;
          if (p < 0 || p >= os[d + 2]!) return;
          oo += p * ost[d + 2]!;
        }
        let wo = ic * wst[0]! + oc * wst[1]!;
        for (let d = 0; d < sp; d++) wo += k[d]! * wst[d + 2]!;
        out[oo]! += v * w[wo]!;
      });
  });
  return out;
}

export function pool(x: F64, n: Node): F64 {
  const xs = n.inputs[0]!.shape, os = n.shape, a = n.attrs, k = a.kernel!, sp = k.length;
  const xst = stridesOf(xs);
  const out = new Float64Array(numel(os));
  const isMax = a.fn === "maxpool";
  eachCoord(os, (c, flat) => {
    let acc = isMax ? -Infinity : 0, cnt = 0, padCnt = 0, nan = false;
    eachCoord(k, (kk) => {
      let xo = c[0]! * xst[0]! + c[1]! * xst[1]!, inside = true, inPadded = true;
      for (let d = 0; d < sp; d++) {
        const p = c[d + 2]! * a.strides![d]! + kk[d]! * a.dilations![d]! - a.pads![d]!;
        if (p < 0 || p >= xs[d + 2]!) inside = false;
        if (p < -a.pads![d]! || p >= xs[d + 2]! + a.pads![d + sp]!) inPadded = false;
        xo += p * xst[d + 2]!;
      }
      if (inPadded) padCnt++;
      if (!inside) return;
      const v = x[xo]!;
      cnt++;
      if (isMax) { if (Number.isNaN(v)) nan = true; else if (v > acc) acc = v; } else acc += v;
    });
    out[flat] = isMax ? (nan ? NaN : acc) : acc / (a.countIncludePad ? padCnt : cnt);
  });
  return out;
}

function normIndex(i: number, dim: number, n: Node): number {
  const j = i < 0 ? i + dim : i;
  if (!(j >= 0 && j < dim)) throw new RuntimeError(`index ${i} is out of range for a dimension of size ${dim}`, { op: n.op, node: `%${n.id}`, input: 1, site: n.site?.toString() });
  return j;
}

export function gather(x: F64, idx: F64, n: Node): F64 {
  const xs = n.inputs[0]!.shape, ax = n.attrs.axis!;
  const outer = numel(xs.slice(0, ax)), dim = xs[ax]!, inner = numel(xs.slice(ax + 1)), ni = idx.length;
  const out = new Float64Array(outer * ni * inner);
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < ni; j++) {
      const k = normIndex(idx[j]!, dim, n);
      out.set(x.subarray((o * dim + k) * inner, (o * dim + k + 1) * inner), (o * ni + j) * inner);
    }
  return out;
}

export function gatherElements(x: F64, idx: F64, n: Node): F64 {
  const xs = n.inputs[0]!.shape, is = n.inputs[1]!.shape, ax = n.attrs.axis!, st = stridesOf(xs);
  const out = new Float64Array(numel(is));
  eachCoord(is, (c, flat) => {
    let o = 0;
    for (let d = 0; d < c.length; d++) {
      if (d !== ax && c[d]! >= xs[d]!) throw new RuntimeError(`indices shape exceeds data on axis ${d}`, { op: n.op, node: `%${n.id}` });
      o += (d === ax ? normIndex(idx[flat]!, xs[ax]!, n) : c[d]!) * st[d]!;
    }
    out[flat] = x[o]!;
  });
  return out;
}

export function scatterElements(x: F64, idx: F64, upd: F64, n: Node): F64 {
  const xs = n.inputs[0]!.shape, is = n.inputs[1]!.shape, ax = n.attrs.axis!, st = stridesOf(xs);
  const out = Float64Array.from(x);
  const red = n.attrs.reduction ?? "none";
  eachCoord(is, (c, flat) => {
    let o = 0;
    for (let d = 0; d < c.length; d++) {
      if (d !== ax && c[d]! >= xs[d]!) throw new RuntimeError(`indices shape exceeds data on axis ${d}`, { op: n.op, node: `%${n.id}` });
      o += (d === ax ? normIndex(idx[flat]!, xs[ax]!, n) : c[d]!) * st[d]!;
    }
    const u = upd[flat]!;
    out[o] = red === "add" ? out[o]! + u : red === "mul" ? out[o]! * u : red === "max" ? Math.max(out[o]!, u) : red === "min" ? Math.min(out[o]!, u) : u;
  });
  return out;
}
