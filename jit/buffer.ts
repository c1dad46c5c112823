/**
 * Host-side tensor data: a dtype, a shape and a typed array in row-major order.
 *
 * @example
 * const b = hostBuffer("float32", [2], new Float32Array([1, 2]));
 */
import { DType, Storage, allocStorage, storageToF64, f64ToStorage } from "./dtype.js";
import type { Shape } from "./ir.js";
import { ValueError } from "./errors.js";

export interface HostBuffer {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly data: Storage;
}

const numelOf = (s: Shape): number => s.reduce((a, b) => a * b, 1);

export function hostBuffer(dtype: DType, shape: Shape, data?: Storage): HostBuffer {
  const n = numelOf(shape);
  const d = data ?? allocStorage(dtype, n);
  if (d.length !== n) throw new ValueError(`data has ${d.length} elements but shape [${shape.join(", ")}] needs ${n}`);
  return { dtype, shape: [...shape], data: d };
}

/** A host buffer from float64 values, converting with the dtype's store semantics. */
export function fromF64(dtype: DType, shape: Shape, v: ArrayLike<number>): HostBuffer {
  return hostBuffer(dtype, shape, f64ToStorage(v, dtype));
}

/** The values as float64 (int64 exact up to 2^53, float16 decoded). */
export function toF64(b: HostBuffer): Float64Array {
  return storageToF64(b.data, b.dtype);
}

/** FNV-1a over the bytes of a buffer, as 8 hex digits (for cache keys of constants). */
export function hashBytes(bytes: Uint8Array, seed = 0x811c9dc5): string {
  let h1 = seed >>> 0, h2 = 0x9747b28c;
  for (let i = 0; i < bytes.length; i++) {
    h1 = Math.imul(h1 ^ bytes[i]!, 0x01000193);
    h2 = Math.imul(h2 ^ bytes[i]!, 0x5bd1e995);
  }
  return (h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0");
}

export function bufferBytes(b: HostBuffer): Uint8Array {
  return new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength);
}
