/**
 * Creating tensors: from JS data, constants, ranges and seeded random numbers. Every creation
 * is a constant node (data on the host), so the compiler may fold or pre-pack it.
 *
 * @example
 * const a = tensor([[1, 2], [3, 4]]);            // float32 [2, 2]
 * const r = randn([3, 4], { seed: 0 });          // same numbers on every run
 */
import { constNode, numel, type Shape } from "../jit/ir.js";
import { type DType, type Storage, allocStorage, f64ToStorage, toHalfBits } from "../jit/dtype.js";
import { hostBuffer, fromF64 } from "../jit/buffer.js";
import { Site } from "../jit/site.js";
import { Tensor, type NestedArray } from "./tensor.js";
import { checkDType, shapeError, valueError } from "./core.js";

export interface CreateOptions { dtype?: DType }
export interface RandomOptions extends CreateOptions { seed?: number }

function checkShape(op: string, shape: readonly number[]): number[] {
  if (!Array.isArray(shape)) valueError(op, `shape must be an array of sizes, got ${JSON.stringify(shape)}`);
  for (const d of shape) if (!Number.isInteger(d) || d < 0) shapeError(op, `invalid size ${d} in shape [${shape.join(", ")}]`, "sizes are non-negative integers");
  const n = numel(shape);
  if (n > 2 ** 31) valueError(op, `shape [${shape.join(", ")}] has ${n} elements, more than kiln supports (2^31)`);
  return [...shape];
}

const fromBuffer = (dtype: DType, shape: Shape, data: Storage) => new Tensor(constNode(hostBuffer(dtype, shape, data), new Site()));

type TypedInput = Float32Array | Float64Array | Int32Array | BigInt64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Uint32Array;

function typedDType(a: TypedInput): DType {
  if (a instanceof Int32Array || a instanceof Int16Array || a instanceof Uint16Array) return "int32";
  if (a instanceof BigInt64Array || a instanceof Uint32Array) return "int64";
  if (a instanceof Int8Array) return "int8";
  if (a instanceof Uint8Array) return "uint8";
  return "float32";
}

/**
 * A tensor from nested arrays or a typed array.
 * Dtype: given, else from the typed array, else bool for booleans, else float32.
 * @example tensor([[1, 2], [3, 4]], { dtype: "int32" })
 */
export function tensor(data: NestedArray | TypedInput, opts: CreateOptions & { shape?: number[] } = {}): Tensor {
  let dtype = opts.dtype ? checkDType("tensor", opts.dtype) : undefined;
  if (ArrayBuffer.isView(data)) {
    const a = data as TypedInput;
    const shape = checkShape("tensor", opts.shape ?? [a.length]);
    if (numel(shape) !== a.length) shapeError("tensor", `${a.length} values do not fill shape [${shape.join(", ")}]`);
    dtype ??= typedDType(a);
    const vals = a instanceof BigInt64Array ? Array.from(a, Number) : (a as ArrayLike<number>);
    return fromBuffer(dtype, shape, dtype === "int64" && a instanceof BigInt64Array ? a.slice() : f64ToStorage(vals, dtype));
  }
  const shape: number[] = [];
  for (let x: unknown = data; Array.isArray(x); x = x[0]) shape.push(x.length);
  const flat: number[] = [];
  let sawBool = false, sawNum = false;
  const walk = (x: unknown, dim: number): void => {
    if (dim === shape.length) {
      if (typeof x === "boolean") { sawBool = true; flat.push(x ? 1 : 0); }
      else if (typeof x === "number") { sawNum = true; flat.push(x); }
      else if (typeof x === "bigint") { sawNum = true; flat.push(Number(x)); }
      else valueError("tensor", `element ${JSON.stringify(x)} is not a number or boolean`);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[dim]) shapeError("tensor", `ragged nested array: expected length ${shape[dim]} at depth ${dim}`, "every row must have the same length");
    for (const y of x) walk(y, dim + 1);
  };
  walk(data, 0);
  dtype ??= sawBool && !sawNum ? "bool" : "float32";
  const finalShape = opts.shape ? checkShape("tensor", opts.shape) : shape;
  if (numel(finalShape) !== flat.length) shapeError("tensor", `${flat.length} values do not fill shape [${finalShape.join(", ")}]`);
  return fromBuffer(dtype, finalShape, f64ToStorage(flat, dtype));
}

/** A tensor of one repeated value. Example: `full([2, 3], 7, { dtype: "int32" })`. */
export function full(shape: number[], value: number | boolean, opts: CreateOptions = {}): Tensor {
  const s = checkShape("full", shape);
  const dtype = opts.dtype ? checkDType("full", opts.dtype) : typeof value === "boolean" ? "bool" : "float32";
  const data = allocStorage(dtype, numel(s));
  const v = typeof value === "boolean" ? (value ? 1 : 0) : value;
  if (dtype === "int64") (data as BigInt64Array).fill(BigInt(Math.trunc(v)));
  else if (dtype === "float16") (data as Uint16Array).fill(toHalfBits(v));
  else (data as Float32Array).fill((f64ToStorage([v], dtype) as Float32Array)[0]!);
  return fromBuffer(dtype, s, data);
}
/** Zeros. Example: `zeros([2, 2])`. */
export const zeros = (shape: number[], opts: CreateOptions = {}): Tensor => full(shape, 0, opts);
/** Ones. Example: `ones([3], { dtype: "int32" })`. */
export const ones = (shape: number[], opts: CreateOptions = {}): Tensor => full(shape, 1, opts);
export const zerosLike = (t: Tensor): Tensor => full(t.shape, 0, { dtype: t.dtype });
export const onesLike = (t: Tensor): Tensor => full(t.shape, 1, { dtype: t.dtype });
export const fullLike = (t: Tensor, v: number | boolean): Tensor => full(t.shape, v, { dtype: t.dtype });

/**
 * Values from `start` up to (not including) `stop` by `step`, like numpy.
 * Dtype: int64-free default — int32 when all arguments are integers, else float32.
 * @example arange(5) // [0,1,2,3,4]; arange(1, 2, 0.25)
 */
export function arange(start: number, stop?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (stop === undefined) { stop = start; start = 0; }
  if (step === 0 || !Number.isFinite(step)) valueError("arange", "step must be a finite non-zero number");
  if (!Number.isFinite(start) || !Number.isFinite(stop)) valueError("arange", "start and stop must be finite");
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (n > 2 ** 31) valueError("arange", `${n} elements is more than kiln supports`);
  const dtype = opts.dtype ? checkDType("arange", opts.dtype) : [start, stop, step].every(Number.isInteger) ? "int32" : "float32";
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = start + i * step;
  return new Tensor(constNode(fromF64(dtype, [n], v), new Site()));
}

/** `num` evenly spaced values from start to stop inclusive. Example: `linspace(0, 1, 5)`. */
export function linspace(start: number, stop: number, num: number, opts: CreateOptions = {}): Tensor {
  if (!Number.isInteger(num) || num < 0) valueError("linspace", `num must be a non-negative integer, got ${num}`);
  const v = new Float64Array(num);
  for (let i = 0; i < num; i++) v[i] = num === 1 ? start : start + ((stop - start) * i) / (num - 1);
  return new Tensor(constNode(fromF64(opts.dtype ? checkDType("linspace", opts.dtype) : "float32", [num], v), new Site()));
}

/** Identity matrix (n×m, ones on diagonal k). Example: `eye(3)`. */
export function eye(n: number, m = n, opts: CreateOptions & { k?: number } = {}): Tensor {
  const s = checkShape("eye", [n, m]), k = opts.k ?? 0;
  const v = new Float64Array(n * m);
  for (let i = 0; i < n; i++) { const j = i + k; if (j >= 0 && j < m) v[i * m + j] = 1; }
  return new Tensor(constNode(fromF64(opts.dtype ? checkDType("eye", opts.dtype) : "float32", s, v), new Site()));
}

// ---------------------------------------------------------------- seeded random numbers

let globalSeed = 0x5eed;
/** Sets the seed used by random functions called without one. */
export function manualSeed(seed: number): void { globalSeed = seed >>> 0; }

/** xoshiro128** seeded through splitmix32: fast, good quality, identical on every platform. */
export function rng(seed: number): () => number {
  let z = seed >>> 0;
  const sm = () => { z = (z + 0x9e3779b9) | 0; let t = z ^ (z >>> 16); t = Math.imul(t, 0x21f0aaad); t ^= t >>> 15; t = Math.imul(t, 0x735a2d97); return (t ^ (t >>> 15)) >>> 0; };
  let a = sm(), b = sm(), c = sm(), d = sm();
  return () => {
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = rotl(d, 11);
    return r / 4294967296;
  };
}
const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));
const nextSeed = (opts: RandomOptions) => opts.seed ?? (globalSeed = (Math.imul(globalSeed, 1664525) + 1013904223) >>> 0);

/** Uniform [low, high). Example: `rand([2, 2], { seed: 1 })`. */
export function rand(shape: number[], opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const s = checkShape("rand", shape), r = rng(nextSeed(opts)), lo = opts.low ?? 0, hi = opts.high ?? 1;
  const v = new Float64Array(numel(s));
  for (let i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * r();
  return new Tensor(constNode(fromF64(opts.dtype ? checkDType("rand", opts.dtype) : "float32", s, v), new Site()));
}

/** Standard normal (Box–Muller), scaled by `std` and shifted by `mean`. Example: `randn([4], { seed: 0 })`. */
export function randn(shape: number[], opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const s = checkShape("randn", shape), r = rng(nextSeed(opts)), mu = opts.mean ?? 0, sd = opts.std ?? 1;
  const v = new Float64Array(numel(s));
  for (let i = 0; i < v.length; i += 2) {
    const u1 = 1 - r(), u2 = r(), m = Math.sqrt(-2 * Math.log(u1));
    v[i] = mu + sd * m * Math.cos(2 * Math.PI * u2);
    if (i + 1 < v.length) v[i + 1] = mu + sd * m * Math.sin(2 * Math.PI * u2);
  }
  return new Tensor(constNode(fromF64(opts.dtype ? checkDType("randn", opts.dtype) : "float32", s, v), new Site()));
}

/** Integers uniform in [low, high). Example: `randint(0, 10, [5], { seed: 3 })` (int32). */
export function randint(low: number, high: number, shape: number[], opts: RandomOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) valueError("randint", `need integers low < high, got ${low}, ${high}`);
  const s = checkShape("randint", shape), r = rng(nextSeed(opts));
  const v = new Float64Array(numel(s));
  for (let i = 0; i < v.length; i++) v[i] = low + Math.floor(r() * (high - low));
  return new Tensor(constNode(fromF64(opts.dtype ? checkDType("randint", opts.dtype) : "int32", s, v), new Site()));
}
