/**
 * Which WebAssembly features this JavaScript engine supports, probed by validating tiny modules
 * built with the assembler (no instantiation, so probing costs well under a millisecond).
 *
 * - `simd`: SIMD128 (`v128` values, `i32x4.splat`, `f32x4.add`).
 * - `relaxedSimd`: relaxed SIMD (`f32x4.relaxed_madd`, `i32x4.relaxed_dot_i8x16_i7x16_add_s`).
 *   Off in Node 20 unless V8 runs with `--experimental-wasm-relaxed-simd` (NODE_OPTIONS
 *   refuses it; `v8.setFlagsFromString("--experimental-wasm-relaxed-simd")` before compiling
 *   works), so kernels must treat it as optional.
 * - `threads`: a shared memory with atomics (`memory.atomic.wait32`/`notify`,
 *   `i32.atomic.rmw.cmpxchg`) validates and `SharedArrayBuffer` exists.
 *
 * @example
 * const { simd, relaxedSimd, threads } = wasmFeatures();
 * if (relaxedSimd) f.f32x4_relaxed_madd(); else f.f32x4_mul().f32x4_add();
 */
import { ModuleBuilder } from "./module.js";

/** What the engine supports. */
export interface WasmFeatures {
  readonly simd: boolean;
  readonly relaxedSimd: boolean;
  readonly threads: boolean;
}

/** The probe modules' bytes, exported for tests and for engines checked out of process. */
export function probeModules(): { simd: Uint8Array<ArrayBuffer>; relaxedSimd: Uint8Array<ArrayBuffer>; threads: Uint8Array<ArrayBuffer> } {
  const simd = new ModuleBuilder();
  simd.func({ params: ["f32"], results: ["v128"] })
    .local_get(0).f32x4_splat().i32_const(1).i32x4_splat().f32x4_convert_i32x4_s().f32x4_add();

  const relaxed = new ModuleBuilder();
  relaxed.func({ params: ["v128", "v128", "v128"], results: ["v128"] })
    .local_get(0).local_get(1).local_get(2).f32x4_relaxed_madd()
    .local_get(1).local_get(2).i32x4_relaxed_dot_i8x16_i7x16_add_s();

  const threads = new ModuleBuilder();
  threads.memory({ min: 1, max: 1, shared: true });
  threads.func({ params: ["i32"], results: ["i32"] })
    .local_get(0).i32_const(0).i64_const(0).memory_atomic_wait32().drop()
    .local_get(0).i32_const(0).i32_const(1).i32_atomic_rmw_cmpxchg().drop()
    .local_get(0).i32_const(1).memory_atomic_notify();

  return { simd: simd.build(), relaxedSimd: relaxed.build(), threads: threads.build() };
}

let cached: WasmFeatures | null = null;

/**
 * Probes the engine once and caches the answer. Pass `refresh` to probe again (after
 * `v8.setFlagsFromString` has enabled a feature, say).
 */
export function wasmFeatures(refresh = false): WasmFeatures {
  if (cached && !refresh) return cached;
  let p: ReturnType<typeof probeModules> | null = null;
  try { p = probeModules(); } catch { p = null; }
  const ok = (b: Uint8Array<ArrayBuffer> | undefined) => {
    if (!b || typeof WebAssembly !== "object") return false;
    try { return WebAssembly.validate(b); } catch { return false; }
  };
  const simd = ok(p?.simd);
  cached = {
    simd,
    relaxedSimd: simd && ok(p?.relaxedSimd),
    threads: typeof SharedArrayBuffer === "function" && ok(p?.threads) && sharedMemoryWorks(),
  };
  return cached;
}

function sharedMemoryWorks(): boolean {
  try {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return mem.buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}
