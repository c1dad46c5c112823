/**
 * Shape-specialized f32 matmul kernels for the CPU backend: `C[b] = epilogue(A[b] @ B[b])`,
 * emitted as WebAssembly SIMD128 with the in-house assembler.
 *
 * Design (GotoBLAS/BLIS style, every size a compile-time constant):
 *
 * - **Micro-kernel**: an `mr × nr` tile of C held in f32x4 accumulator locals, which V8 keeps
 *   in xmm registers (it allocates 15). 6×8 (12 accumulators + 2 B vectors + 1 broadcast) with
 *   `f32x4.relaxed_madd` (→ `vfmadd231ps`), 5×8 with `mul` + `add` (one more temporary); few
 *   rows get wide tiles (1×32, 2×16, 3×12, 4×8) so enough independent accumulators hide the
 *   latency. Per k step: `nr/4` vector loads of packed B, one `v128.load32_splat` of A per row,
 *   `mr·nr/4` multiply-adds. Every address is a constant offset from two pointers.
 *   The k loop is *not* unrolled by default: V8's TurboFan hoists `memory base + offset`
 *   for every distinct offset out of the loop (one register each) and schedules all loads of
 *   an unrolled body before the arithmetic, so unrolled bodies spill heavily (≈25 GFLOP/s at
 *   1024³ with 8 steps vs ≈63 with 1; the rolled loop costs ~7 integer ops per 12 FMAs, which
 *   the core absorbs). Measured single-thread peak of this core: ≈67 GFLOP/s (12 independent
 *   FMA chains, no loads); the 6×8 kernel reaches 92–97 % of it.
 *   Accumulators start at zero (first K block) or from C (later K blocks); the last K block
 *   applies the epilogue. The M tail (`M % mr` rows) and N tail (`N % nr` columns: fewer
 *   vectors, the last one partial, loaded and stored lane by lane) are separate kernels, so
 *   every shape is exact and nothing outside C is written.
 * - **A** is read in place through its strides (any strides, negative included: each kernel
 *   rebases its pointer to the tile's lowest address so every load has a non-negative
 *   immediate offset). No packing: measured as fast for row-major, transposed and padded A,
 *   and it needs no scratch and no per-call copy.
 * - **B** panels: `[panel][k][nr]`, zero-padded to a multiple of `nr` columns. Constant B is
 *   packed once at compile time (into memory from `alloc`, with `init`). Runtime B is packed
 *   per work item and K block into that item's own scratch region (so threads running
 *   different items never share scratch): vector copies when `sn == 1`, 4×4 shuffle
 *   transposes when `sk == 1` (transposed B: `x @ Wᵀ`, `Q @ Kᵀ`), scalar gathers otherwise.
 *   With few rows (≤ 2·mr, or ≤ 8·mr when a K block's rows of B spread over enough L1 sets)
 *   and `sn == 1`, runtime B is read in place instead (packing would cost as much as the
 *   product, or more than the strided reads).
 * - **Blocking**: K blocks of at most 512 (balanced; A micro-panel + B micro-panel ≈ 28 KiB
 *   of L1; no K blocking for few rows), column blocks of 128, row blocks of 192 (constant or
 *   in-place B). Within an item: for each K block, for each row panel, for each column panel.
 * - **Work items**: (batch, row block, column block). Packed runtime B: (batch, column block)
 *   with all rows, so B is packed once, unless that gives fewer than 4 items (then rows are
 *   split too and each row block packs its own copy). Batches that share B and whose A rows
 *   stack (`a.sb == M * a.sm`, or `M == 1`) are folded into M; packed B shared by batches
 *   that cannot fold is packed once per item and used for every batch.
 *
 * Engine notes: V8 first runs wasm in its baseline tier (Liftoff) and tiers hot functions up
 * in the background; the micro-kernel is called once per tile, so it tiers up within the
 * first large call (a first 1024³ call took ≈40 ms against ≈34 ms warm).
 *
 * The generated code touches only the module's memory (addresses from the spec and from
 * `alloc`). One `emitMatmul` call adds the driver `(start, end)` plus helper functions named
 * after it: up to four micro-kernels (full tile, M tail, N tail, corner) and up to two B packers.
 */
import type { ModuleBuilder, FunctionBuilder, FuncRef } from "./asm/index.js";

export interface MatmulSpec {
  batch: number; M: number; N: number; K: number;
  /** A element (b, m, k) is at byte address a.base + 4*(b*a.sb + m*a.sm + k*a.sk) (strides in elements; any strides, incl. 0 for broadcast batch). */
  a: { base: number; sb: number; sm: number; sk: number };
  /** B: either a runtime buffer with strides, or constant data known at compile time (row-major [batch or 1, K, N] Float32Array) that you may pre-pack in any layout. */
  b: { base: number; sb: number; sk: number; sn: number } | { constant: Float32Array; batched: boolean };
  /** C element (b, m, n) is at byte address c + 4*((b*M + m)*N + n) (contiguous). */
  c: number;
  /** Fused epilogue applied to each result before it is stored; null = store as is. Called while emitting; it must consume the value on the stack (f32, or v128 of 4 consecutive n when vector=true) and leave the transformed value of the same type. `b`, `m`, `n` are i32 locals holding the coordinates (n = first of the 4 lanes). */
  epilogue: null | {
    emit(f: FunctionBuilder, vector: boolean, b: number, m: number, n: number): void; vectorizable: boolean;
    /** Optional: called before the `emit` calls of one tile row (`b`, `m` set), in straight-line code that runs before them; it may compute what depends on the row only, for those calls to reuse. */
    beginRow?(f: FunctionBuilder, b: number, m: number): void;
  };
  /** Allocates bytes in linear memory (constants are written once by the caller): returns the byte address. */
  alloc(bytes: number, align: number, init?: Uint8Array): number;
  features: { relaxedSimd: boolean };
  /** Optional overrides of the blocking choices (for benchmarks and tests); each is validated. */
  tuning?: MatmulTuning;
}

/** Blocking parameters; anything left out is chosen from the shape. */
export interface MatmulTuning {
  /** Rows of the micro-tile (1..8). */
  mr?: number;
  /** f32x4 vectors across the micro-tile (1..8): nr = 4 * nv columns. */
  nv?: number;
  /** K block length (≥ 1). */
  kc?: number;
  /** Columns per work item (rounded up to a multiple of nr). */
  nc?: number;
  /** Rows per work item (rounded up to a multiple of mr). */
  mc?: number;
  /** k steps per iteration of the micro-kernel's loop (1..32; 1 is fastest in V8 11.3, see above). */
  unroll?: number;
  /** Runtime B: pack into panels, or read in place (needs `sn == 1` and `sk > 0`). */
  bMode?: "pack" | "direct";
}

/** The blocking chosen for one spec (exported for tests and the benchmark's report). */
export interface MatmulPlan {
  /** Problem after folding shared-B batches into M. */
  batch: number; M: number; N: number; K: number;
  folded: boolean;
  mr: number; nv: number; nr: number; kc: number; nc: number; mc: number; unroll: number;
  bMode: "const" | "pack" | "direct";
  /** Work items split batches (else each item loops over all batches: packed B shared by every batch). */
  itemsPerBatch: boolean;
  rowBlocks: number; colBlocks: number; batchItems: number;
  workItems: number;
}

const I32 = "i32" as const;
const V128 = "v128" as const;

export function checkInt(what: string, v: number, lo: number, hi = Number.MAX_SAFE_INTEGER, who = "emitMatmul"): void {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${who}: ${what} = ${v} is not an integer in [${lo}, ${hi}]`);
}

export const ceilDiv = (a: number, b: number) => Math.ceil(a / b);
export const roundUp = (a: number, b: number) => ceilDiv(a, b) * b;

/** Chooses the blocking for a spec (pure; no code emitted). */
export function planMatmul(spec: MatmulSpec): MatmulPlan {
  const { batch, M: M0, N, K } = spec;
  checkInt("batch", batch, 0); checkInt("M", M0, 0); checkInt("N", N, 0); checkInt("K", K, 0);
  const t = spec.tuning ?? {};
  const isConst = "constant" in spec.b;
  const bShared = "constant" in spec.b ? !spec.b.batched || batch <= 1 : spec.b.sb === 0 || batch <= 1;
  // Fold batches into rows when B is shared and A's batches stack like rows.
  const folded = batch > 1 && bShared && (M0 === 1 || spec.a.sb === M0 * spec.a.sm);
  const B_ = folded ? 1 : batch;
  const M = folded ? batch * M0 : M0;

  // Micro-tile (measured on Zen 5 with V8 11.3): 6×8 with fused multiply-add (12 accumulators
  // + 2 B vectors + 1 broadcast = 15 xmm registers, all V8 allocates); 5×8 with mul+add (one
  // more temporary). Fewer rows than that get wider tiles, so that enough independent
  // accumulators hide the multiply-add latency without spilling: 1×32, 2×16, 3×12, 4×8.
  const relaxed = !!spec.features.relaxedSimd;
  let mr = t.mr ?? (relaxed ? 6 : 5), nv = t.nv ?? 2;
  if (t.mr === undefined && t.nv === undefined && M < mr) {
    mr = Math.max(1, M);
    nv = [8, 8, 4, 3, 2, 2][mr]!;
  }
  checkInt("tuning.mr", mr, 1, 8); checkInt("tuning.nv", nv, 1, 8);
  const nr = 4 * nv;
  const unroll = t.unroll ?? 1;
  checkInt("tuning.unroll", unroll, 1, 32);
  // K blocks of at most 512 (A micro-panel + B micro-panel ≈ 28 KiB of L1), balanced so the last
  // block is not a sliver; few rows: no K blocking (each block re-reads and re-writes C).
  let kc: number;
  if (t.kc !== undefined) { checkInt("tuning.kc", t.kc, 1); kc = Math.max(1, Math.min(t.kc, K)); }
  else if (M <= mr) kc = Math.max(1, K);
  else kc = K === 0 ? 1 : ceilDiv(K, ceilDiv(K, 512));

  let bMode: MatmulPlan["bMode"];
  if (isConst) bMode = "const";
  else {
    const b = spec.b as { sb: number; sk: number; sn: number };
    const directOk = b.sn === 1 && b.sk > 0;
    // In place also for up to 8 row panels when a K block's rows of B sit in enough L1 sets
    // (48 KiB, 12 ways, 64 sets of 64-byte lines; a row stride of 4 KiB puts every row in one
    // set): each packed element would serve only a few tiles, so packing costs more than the
    // strided reads (measured: 24×3136×144 57.6 → 62.5 GFLOP/s, 36×784×256 59.7 → 63.9;
    // 24×1024×128 worse in place, 4 KiB rows).
    const rowBytes = b.sk * 4, g = (x: number, y: number): number => (y ? g(y, x % y) : x);
    const sets = rowBytes % 64 ? 64 : 64 / g((rowBytes / 64) % 64 || 64, 64);
    const fewPanels = M <= 8 * mr && kc <= 12 * sets;
    bMode = t.bMode ?? (directOk && (M <= 2 * mr || fewPanels) ? "direct" : "pack");
    if (bMode === "direct" && !directOk) bMode = "pack";
  }

  if (t.nc !== undefined) checkInt("tuning.nc", t.nc, 1);
  if (t.mc !== undefined) checkInt("tuning.mc", t.mc, 1);
  const nc = Math.max(nr, roundUp(Math.min(t.nc ?? 128, Math.max(N, 1)), nr));
  let mc = t.mc ?? 192;
  mc = roundUp(Math.min(mc, Math.max(M, 1)), mr);
  const itemsPerBatch = !(bMode === "pack" && bShared && B_ > 1);
  const colBlocks = Math.max(1, ceilDiv(N, nc));
  const batchItems = itemsPerBatch ? B_ : 1;
  if (bMode === "pack" && t.mc === undefined) {
    // Each item packs the B columns it uses, so items normally take every row (B is packed
    // once). When that leaves fewer than 4 items, rows are split too (each row block re-packs
    // its columns) so that threads still have work to share.
    const few = batchItems * colBlocks;
    const split = few >= 4 ? 1 : Math.max(1, Math.min(ceilDiv(4, few), Math.floor(M / (8 * mr))));
    mc = roundUp(ceilDiv(Math.max(M, 1), split), mr);
  }
  const rowBlocks = Math.max(1, ceilDiv(M, mc));
  const empty = B_ === 0 || M === 0 || N === 0;
  const workItems = empty ? 1 : batchItems * rowBlocks * colBlocks;
  return { batch: B_, M, N, K, folded, mr, nv, nr, kc, nc, mc, unroll, bMode, itemsPerBatch, rowBlocks, colBlocks, batchItems, workItems };
}

/**
 * Pre-packs constant B (`[bb][K][N]` row-major) into `[bb][panel][K][nr]`, zero-padding the
 * last panel's columns.
 */
export function packConstantB(data: Float32Array, bb: number, K: number, N: number, nr: number): Float32Array {
  const panels = ceilDiv(N, nr);
  const out = new Float32Array(bb * panels * K * nr);
  for (let b = 0; b < bb; b++) {
    for (let p = 0; p < panels; p++) {
      const n0 = p * nr, w = Math.min(nr, N - n0);
      const dst0 = (b * panels + p) * K * nr;
      for (let k = 0; k < K; k++) {
        const src = (b * K + k) * N + n0, dst = dst0 + k * nr;
        for (let j = 0; j < w; j++) out[dst + j] = data[src + j]!;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Small emission helpers

/** Pushes `local + off` as an address with a non-negative memarg offset; returns that offset. */
export function addr(f: FunctionBuilder, ptr: number, off: number): number {
  f.local_get(ptr);
  if (off < 0) { f.i32_const(off | 0).i32_add(); return 0; }
  return off;
}

/** Pushes a v128 holding `lanes` f32s from `ptr + off` (the rest zero). */
export function loadLanes(f: FunctionBuilder, ptr: number, off: number, lanes: number): void {
  if (lanes === 4) { const o = addr(f, ptr, off); f.v128_load(o, 4); return; }
  if (lanes === 1) { const o = addr(f, ptr, off); f.v128_load32_zero(o); return; }
  if (lanes === 2) { const o = addr(f, ptr, off); f.v128_load64_zero(o, 4); return; }
  const o2 = addr(f, ptr, off + 8);
  const o = addr(f, ptr, off);
  f.v128_load64_zero(o, 4).v128_load32_lane(2, o2);
}

/** Stores `lanes` f32s of the v128 that `push` pushes to `ptr + off`. */
export function storeLanes(f: FunctionBuilder, ptr: number, off: number, lanes: number, push: () => void): void {
  if (lanes === 4) { const o = addr(f, ptr, off); push(); f.v128_store(o, 4); return; }
  if (lanes === 1) { const o = addr(f, ptr, off); push(); f.v128_store32_lane(0, o); return; }
  if (lanes === 2) { const o = addr(f, ptr, off); push(); f.v128_store64_lane(0, o, 4); return; }
  let o = addr(f, ptr, off); push(); f.v128_store64_lane(0, o, 4);
  o = addr(f, ptr, off + 8); push(); f.v128_store32_lane(2, o);
}

/** `local += c` (nothing for 0). */
export function addConst(f: FunctionBuilder, local: number, c: number): void {
  if (c === 0) return;
  f.local_get(local).i32_const(c | 0).i32_add().local_set(local);
}

/** Pushes `local * c` (i32, wrapping). */
export function mulConst(f: FunctionBuilder, local: number, c: number): void {
  if (c === 0) { f.i32_const(0); return; }
  f.local_get(local);
  if (c === 1) return;
  if (c > 0 && (c & (c - 1)) === 0 && c < 2 ** 30) { f.i32_const(31 - Math.clz32(c)).i32_shl(); return; }
  f.i32_const(c | 0).i32_mul();
}

// ---------------------------------------------------------------------------------------------
// Micro-kernel

interface KernelShape {
  mr: number; nv: number;
  /** Valid lanes in the last vector (1..4). */
  lastLanes: number;
  /** A strides in bytes. */
  aSm: number; aSk: number;
  /** B bytes per k step (nr*4 when packed, sk*4 in place). */
  bSk: number;
  /** B is read in place: the partial last vector must be loaded lane by lane. */
  bDirect: boolean;
  /** C row stride in bytes. */
  cRow: number;
  unroll: number;
  relaxed: boolean;
  /** Original M when batches were folded into rows (epilogue coordinates), else 0. */
  foldM: number;
}

/**
 * Emits `kernel(a, bp, c, klen, flags, b, m, n)`: the `mr × (4·nv)` tile at `c` plus
 * `A[a..] @ B[bp..]` over `klen` k steps. flags bit 0: start from zero instead of C; bit 1:
 * apply the epilogue (last K block). `b, m, n` are the tile's coordinates for the epilogue.
 */
function emitKernel(mod: ModuleBuilder, name: string, ks: KernelShape, epi: MatmulSpec["epilogue"]): FuncRef {
  const f = mod.func({ params: [I32, I32, I32, I32, I32, I32, I32, I32] }, { name });
  const A = 0, BP = 1, C = 2, KL = 3, FL = 4, BI = 5, MI = 6, NI = 7;
  const { mr, nv, lastLanes, aSm, aSk, bSk, unroll } = ks;
  const acc = f.local(V128, mr * nv);
  const bv = f.local(V128, nv);
  const av = f.local(V128, mr);
  const bEnd = f.local(I32);
  const lanesOf = (v: number) => (v === nv - 1 ? lastLanes : 4);
  // Load all B vectors then one broadcast at a time (nv + 1 live temporaries), or all
  // broadcasts then one B vector at a time (mr + 1): whichever keeps fewer registers busy.
  const bFirst = nv <= mr;

  // ---- accumulators: zero or C
  f.local_get(FL).i32_const(1).i32_and().if();
  f.v128_const_i32x4(0, 0, 0, 0).local_set(acc);
  for (let i = 1; i < mr * nv; i++) f.local_get(acc).local_set(acc + i);
  f.else();
  for (let r = 0; r < mr; r++) {
    for (let v = 0; v < nv; v++) { loadLanes(f, C, r * ks.cRow + v * 16, lanesOf(v)); f.local_set(acc + r * nv + v); }
  }
  f.end();

  const madd = (r: number, v: number, aLocal: number) => {
    const a = acc + r * nv + v;
    if (ks.relaxed) f.local_get(aLocal).local_get(bv + v).local_get(a).f32x4_relaxed_madd().local_set(a);
    else f.local_get(a).local_get(aLocal).local_get(bv + v).f32x4_mul().f32x4_add().local_set(a);
  };

  const minOff = (u: number) => {
    let mn = 0;
    for (let r = 0; r < mr; r++) for (let s = 0; s < u; s++) mn = Math.min(mn, r * aSm + s * aSk);
    return mn;
  };
  const loadB = (v: number, off: number) => {
    if (ks.bDirect) loadLanes(f, BP, off + v * 16, lanesOf(v));
    else { f.local_get(BP).v128_load(off + v * 16, 16); }
    f.local_set(bv + v);
  };
  const step = (u: number, aBias: number) => {
    const aOff = (r: number) => r * aSm + u * aSk - aBias;
    if (bFirst) {
      for (let v = 0; v < nv; v++) loadB(v, u * bSk);
      for (let r = 0; r < mr; r++) {
        f.local_get(A).v128_load32_splat(aOff(r)).local_set(av);
        for (let v = 0; v < nv; v++) madd(r, v, av);
      }
    } else {
      for (let r = 0; r < mr; r++) f.local_get(A).v128_load32_splat(aOff(r)).local_set(av + r);
      for (let v = 0; v < nv; v++) {
        loadB(v, u * bSk);
        for (let r = 0; r < mr; r++) madd(r, v, av + r);
      }
    }
  };
  /**
   * A loop of `u` k steps per iteration, `count` (which pushes klen rounded to the steps this
   * loop runs) iterations; A is biased by `bias` meanwhile. Ends on the B pointer.
   */
  const kLoop = (u: number, count: () => void, bias: number) => {
    f.local_get(BP);
    count();
    f.i32_const(bSk).i32_mul().i32_add().local_set(bEnd);
    const exit = f.block();
    f.local_get(BP).local_get(bEnd).i32_eq().br_if(exit);
    const top = f.loop();
    for (let s = 0; s < u; s++) step(s, bias);
    addConst(f, A, u * aSk);
    addConst(f, BP, u * bSk);
    f.local_get(BP).local_get(bEnd).i32_ne().br_if(top);
    f.end();
    f.end();
  };
  // `unroll` steps at a time over klen - klen % unroll steps, then single steps.
  const pow2 = (unroll & (unroll - 1)) === 0;
  const biasU = minOff(unroll), bias1 = minOff(1);
  if (unroll > 1) {
    addConst(f, A, biasU);
    kLoop(unroll, () => {
      if (pow2) f.local_get(KL).i32_const(~(unroll - 1)).i32_and();
      else f.local_get(KL).i32_const(unroll).i32_div_u().i32_const(unroll).i32_mul();
    }, biasU);
    addConst(f, A, bias1 - biasU);
    kLoop(1, () => {
      if (pow2) f.local_get(KL).i32_const(unroll - 1).i32_and();
      else f.local_get(KL).i32_const(unroll).i32_rem_u();
    }, bias1);
  } else {
    addConst(f, A, bias1);
    kLoop(1, () => f.local_get(KL), bias1);
  }

  // ---- store (epilogue on the last K block)
  const plainStore = () => {
    for (let r = 0; r < mr; r++) {
      for (let v = 0; v < nv; v++) storeLanes(f, C, r * ks.cRow + v * 16, lanesOf(v), () => f.local_get(acc + r * nv + v));
    }
  };
  if (!epi) { plainStore(); return f; }
  const eb = f.local(I32), em = f.local(I32), en = f.local(I32);
  f.local_get(FL).i32_const(2).i32_and().if();
  for (let r = 0; r < mr; r++) {
    if (ks.foldM) {
      f.local_get(MI).i32_const(r).i32_add().local_tee(em).i32_const(ks.foldM).i32_div_u().local_set(eb);
      f.local_get(em).i32_const(ks.foldM).i32_rem_u().local_set(em);
    } else {
      f.local_get(MI).i32_const(r).i32_add().local_set(em);
    }
    const bLocal = ks.foldM ? eb : BI;
    epi.beginRow?.(f, bLocal, em);
    for (let v = 0; v < nv; v++) {
      const lanes = lanesOf(v), a = acc + r * nv + v, off = r * ks.cRow + v * 16;
      if (epi.vectorizable && lanes === 4) {
        f.local_get(NI).i32_const(v * 4).i32_add().local_set(en);
        const o = addr(f, C, off);
        f.local_get(a);
        epi.emit(f, true, bLocal, em, en);
        f.v128_store(o, 4);
      } else {
        for (let l = 0; l < lanes; l++) {
          f.local_get(NI).i32_const(v * 4 + l).i32_add().local_set(en);
          const o = addr(f, C, off + 4 * l);
          f.local_get(a).f32x4_extract_lane(l);
          epi.emit(f, false, bLocal, em, en);
          f.f32_store(o);
        }
      }
    }
  }
  f.else();
  plainStore();
  f.end();
  return f;
}

// ---------------------------------------------------------------------------------------------
// Runtime B packing

/**
 * Emits `pack(src, dst, klen)`: `width` columns of B starting at `src` (the element (k0, n0)),
 * `klen` rows, into `[panel][kc][nr]` at `dst` (panel stride kc*nr*4 bytes), zero-padding
 * the last panel.
 */
function emitPack(mod: ModuleBuilder, name: string, width: number, nr: number, kc: number, sk: number, sn: number): FuncRef {
  const f = mod.func({ params: [I32, I32, I32] }, { name });
  const SRC = 0, DST = 1, KL = 2;
  const s = f.local(I32), d = f.local(I32), dEnd = f.local(I32), tmp = f.local(V128, 4), t = f.local(V128, 4);
  const panels = ceilDiv(width, nr);
  const skB = sk * 4, snB = sn * 4, rowB = nr * 4;
  for (let p = 0; p < panels; p++) {
    const w = Math.min(nr, width - p * nr);
    // s = src + p*nr*sn*4, d = dst + p*kc*nr*4, dEnd = d + klen*nr*4
    f.local_get(SRC).i32_const((p * nr * snB) | 0).i32_add().local_set(s);
    f.local_get(DST).i32_const(p * kc * rowB).i32_add().local_tee(d);
    mulConst(f, KL, rowB);
    f.i32_add().local_set(dEnd);
    const exit = f.block();
    f.local_get(d).local_get(dEnd).i32_eq().br_if(exit);
    if (sn === 1) {
      const top = f.loop();
      for (let v = 0; v < nr / 4; v++) {
        const lanes = Math.max(0, Math.min(4, w - 4 * v));
        const o = addr(f, d, v * 16);
        if (lanes === 0) f.v128_const_i32x4(0, 0, 0, 0);
        else loadLanes(f, s, v * 16, lanes);
        f.v128_store(o, 16);
      }
      addConst(f, s, skB);
      addConst(f, d, rowB);
      f.local_get(d).local_get(dEnd).i32_ne().br_if(top);
      f.end();
    } else if (sk === 1) {
      // Transposed B: k is contiguous along each column. Four k rows at a time: load four
      // columns' 4-vectors along k and transpose 4×4 blocks with shuffles.
      const quad = f.block();
      const loop4 = f.loop();
      // need at least 4 rows left
      f.local_get(dEnd).local_get(d).i32_sub().i32_const(4 * rowB).i32_lt_u().br_if(quad);
      for (let v = 0; v < nr / 4; v++) {
        for (let j = 0; j < 4; j++) {
          const col = 4 * v + j;
          if (col < w) loadLanes(f, s, col * snB, 4);
          else f.v128_const_i32x4(0, 0, 0, 0);
          f.local_set(tmp + j);
        }
        // t0 = [c0k0 c1k0 c0k1 c1k1], t1 = [c0k2 c1k2 c0k3 c1k3], t2/t3 likewise for c2, c3
        const sh = (x: number, y: number, lanes: number[]) => {
          const bytes: number[] = [];
          for (const l of lanes) for (let b = 0; b < 4; b++) bytes.push(l * 4 + b);
          f.local_get(tmp + x).local_get(tmp + y).i8x16_shuffle(bytes);
        };
        sh(0, 1, [0, 4, 1, 5]); f.local_set(t);
        sh(0, 1, [2, 6, 3, 7]); f.local_set(t + 1);
        sh(2, 3, [0, 4, 1, 5]); f.local_set(t + 2);
        sh(2, 3, [2, 6, 3, 7]); f.local_set(t + 3);
        // row k: [c0 c1 c2 c3]
        const rows: [number, number, number[]][] = [[0, 2, [0, 1, 4, 5]], [0, 2, [2, 3, 6, 7]], [1, 3, [0, 1, 4, 5]], [1, 3, [2, 3, 6, 7]]];
        rows.forEach(([x, y, lanes], k) => {
          const o = addr(f, d, k * rowB + v * 16);
          const bytes: number[] = [];
          for (const l of lanes) for (let b = 0; b < 4; b++) bytes.push(l * 4 + b);
          f.local_get(t + x).local_get(t + y).i8x16_shuffle(bytes);
          f.v128_store(o, 16);
        });
      }
      addConst(f, s, 4 * skB);
      addConst(f, d, 4 * rowB);
      f.br(loop4);
      f.end();
      f.end();
      // remaining rows one at a time
      const exit1 = f.block();
      f.local_get(d).local_get(dEnd).i32_eq().br_if(exit1);
      const top = f.loop();
      emitScalarRow(f, s, d, w, nr, snB);
      addConst(f, s, skB);
      addConst(f, d, rowB);
      f.local_get(d).local_get(dEnd).i32_ne().br_if(top);
      f.end();
      f.end();
    } else {
      const top = f.loop();
      emitScalarRow(f, s, d, w, nr, snB);
      addConst(f, s, skB);
      addConst(f, d, rowB);
      f.local_get(d).local_get(dEnd).i32_ne().br_if(top);
      f.end();
    }
    f.end();
  }
  return f;
}

/** One packed row: `w` strided scalars then zeros up to `nr`. */
function emitScalarRow(f: FunctionBuilder, s: number, d: number, w: number, nr: number, snB: number): void {
  for (let j = 0; j < nr; j++) {
    if (j >= w && j % 4 === 0) {
      const o = addr(f, d, j * 4);
      f.v128_const_i32x4(0, 0, 0, 0).v128_store(o, 16);
      j += 3;
      continue;
    }
    const o = addr(f, d, j * 4);
    if (j < w) { const so = addr(f, s, j * snB); f.f32_load(so); }
    else f.f32_const(0);
    f.f32_store(o);
  }
}

// ---------------------------------------------------------------------------------------------
// Driver

/** Adds one function `(start: i32, end: i32) -> ()` computing work items [start, end) (your choice of work item: e.g. blocks of rows or column panels, so several threads can split the range); returns it and the number of work items. */
export function emitMatmul(m: ModuleBuilder, spec: MatmulSpec, name: string): { func: FuncRef; workItems: number; describe: string; macs: number } {
  const plan = planMatmul(spec);
  const { batch, M, N, K, mr, nv, nr, kc, nc, mc, bMode } = plan;
  const M0 = spec.M;
  const relaxed = !!spec.features.relaxedSimd;
  const describe = `matmul ${spec.batch}×${M0}×${N}×${K}${plan.folded ? ` (batches folded: M=${M})` : ""}: ` +
    `tile ${mr}×${nr}, kc ${kc}, nc ${nc}, mc ${mc}, unroll ${plan.unroll}, B ${bMode}, ` +
    `${relaxed ? "relaxed madd" : "mul+add"}, ${plan.workItems} work items`;

  const drv = m.func({ params: [I32, I32] }, { name });
  const macs = spec.batch * M0 * N * K; // the work estimate the backend weighs (kernel.ts, COST)
  if (batch === 0 || M === 0 || N === 0) return { func: drv, workItems: plan.workItems, describe, macs };

  // A strides in bytes (after folding)
  const aSb = spec.a.sb * 4, aSm = (plan.folded && M0 === 1 ? spec.a.sb : spec.a.sm) * 4, aSk = spec.a.sk * 4;
  const cRow = N * 4;

  // ---- B source
  let bConstBase = 0, bSkB = 0, bSbB = 0, bPanelStride = 0, bConstBatchStride = 0;
  let runtimeB: { base: number; sb: number; sk: number; sn: number } | null = null;
  const nPanelsTotal = ceilDiv(N, nr);
  if ("constant" in spec.b) {
    const bb = spec.b.batched ? spec.batch : 1;
    if (spec.b.constant.length !== bb * K * N) {
      throw new RangeError(`emitMatmul: constant B has ${spec.b.constant.length} elements, expected ${bb}×${K}×${N}`);
    }
    // folded or shared constant: batch index 0 for every batch
    const packed = packConstantB(spec.b.constant, bb, K, N, nr);
    if (packed.length) bConstBase = spec.alloc(packed.byteLength, 64, new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength));
    bPanelStride = K * nr * 4;
    bConstBatchStride = spec.b.batched && batch > 1 ? nPanelsTotal * K * nr * 4 : 0;
    bSkB = nr * 4;
  } else {
    runtimeB = spec.b;
    if (bMode === "direct") { bSkB = spec.b.sk * 4; bPanelStride = nr * 4; bSbB = spec.b.sb * 4; }
    else { bSkB = nr * 4; bPanelStride = kc * nr * 4; bSbB = spec.b.sb * 4; }
  }

  // ---- kernels (full tile, M tail, N tail, corner) created on demand
  const kernels = new Map<string, FuncRef>();
  const kernel = (rows: number, cols: number): FuncRef => {
    const key = `${rows}x${cols}`;
    let k = kernels.get(key);
    if (!k) {
      const vecs = ceilDiv(cols, 4);
      k = emitKernel(m, `${name}_k${key}`, {
        mr: rows, nv: vecs, lastLanes: cols - 4 * (vecs - 1), aSm, aSk, bSk: bSkB, bDirect: bMode === "direct",
        cRow, unroll: plan.unroll, relaxed, foldM: plan.folded && spec.epilogue ? M0 : 0,
      }, spec.epilogue);
      kernels.set(key, k);
    }
    return k;
  };
  const mTail = M % mr, nTail = N % nr;

  // ---- packer (runtime B, pack mode): per column block width nc, and the last block's width
  let scratch = 0, regionBytes = 0;
  const packers = new Map<number, FuncRef>();
  const packer = (width: number): FuncRef => {
    let p = packers.get(width);
    if (!p) {
      const b = runtimeB!;
      p = emitPack(m, `${name}_packB${width}`, width, nr, kc, b.sk, b.sn);
      packers.set(width, p);
    }
    return p;
  };
  if (bMode === "pack" && K > 0) {
    regionBytes = roundUp(ceilDiv(Math.min(nc, N), nr) * kc * nr * 4, 64);
    scratch = spec.alloc(regionBytes * plan.workItems, 64);
  }

  // ---- driver body
  const f = drv;
  const START = 0, END = 1;
  const item = f.local(I32), bi = f.local(I32), rb = f.local(I32), cb = f.local(I32), t = f.local(I32);
  const r0 = f.local(I32), r1 = f.local(I32), c0 = f.local(I32), c1 = f.local(I32);
  const kcl = f.local(I32), klen = f.local(I32), flags = f.local(I32);
  const b = f.local(I32), rp = f.local(I32), n = f.local(I32);
  const aRow = f.local(I32), bPtr = f.local(I32), bRow = f.local(I32), cPtr = f.local(I32), region = f.local(I32);
  const { rowBlocks, colBlocks } = plan;

  f.local_get(START).local_set(item);
  const done = f.block();
  const itemLoop = f.loop();
  f.local_get(item).local_get(END).i32_ge_s().br_if(done);
  // item = (bi * rowBlocks + rb) * colBlocks + cb
  if (colBlocks > 1) {
    f.local_get(item).i32_const(colBlocks).i32_rem_u().local_set(cb);
    f.local_get(item).i32_const(colBlocks).i32_div_u().local_set(t);
  } else {
    f.i32_const(0).local_set(cb);
    f.local_get(item).local_set(t);
  }
  if (rowBlocks > 1) {
    f.local_get(t).i32_const(rowBlocks).i32_rem_u().local_set(rb);
    f.local_get(t).i32_const(rowBlocks).i32_div_u().local_set(bi);
  } else {
    f.i32_const(0).local_set(rb);
    f.local_get(t).local_set(bi);
  }
  // rows [r0, r1), cols [c0, c1)
  mulConst(f, rb, mc); f.local_set(r0);
  f.local_get(r0).i32_const(mc).i32_add().i32_const(M).local_get(r0).i32_const(mc).i32_add().i32_const(M).i32_lt_u().select().local_set(r1);
  mulConst(f, cb, nc); f.local_set(c0);
  f.local_get(c0).i32_const(nc).i32_add().i32_const(N).local_get(c0).i32_const(nc).i32_add().i32_const(N).i32_lt_u().select().local_set(c1);
  if (bMode === "pack" && K > 0) {
    f.i32_const(scratch); mulConst(f, item, regionBytes); f.i32_add().local_set(region);
  }

  // K blocks
  f.i32_const(0).local_set(kcl);
  const kDone = f.block();
  const kLoop = f.loop();
  // klen = min(kc, K - kcl); flags = (kcl == 0) | (kcl + kc >= K) << 1
  f.i32_const(K).local_get(kcl).i32_sub().local_tee(klen).i32_const(kc).local_get(klen).i32_const(kc).i32_lt_u().select().local_set(klen);
  f.local_get(kcl).i32_eqz().local_get(kcl).i32_const(kc).i32_add().i32_const(K).i32_ge_u().i32_const(1).i32_shl().i32_or().local_set(flags);

  const batchLoop = (body: () => void) => {
    if (plan.itemsPerBatch) { f.local_get(bi).local_set(b); body(); return; }
    f.i32_const(0).local_set(b);
    const bl = f.loop();
    body();
    f.local_get(b).i32_const(1).i32_add().local_tee(b).i32_const(batch).i32_lt_u().br_if(bl);
    f.end();
  };

  const packBlock = (batchLocal: number) => {
    // src = B + 4*(b*sb + kcl*sk + c0*sn)
    const rb_ = runtimeB!;
    const emitCall = (width: number) => {
      f.i32_const(rb_.base);
      mulConst(f, batchLocal, bSbB); f.i32_add();
      mulConst(f, kcl, rb_.sk * 4); f.i32_add();
      mulConst(f, c0, rb_.sn * 4); f.i32_add();
      f.local_get(region).local_get(klen).call(packer(width));
    };
    const fullW = Math.min(nc, N), lastW = N - (colBlocks - 1) * nc;
    if (colBlocks === 1 || lastW === fullW) emitCall(fullW);
    else {
      f.local_get(cb).i32_const(colBlocks - 1).i32_eq().if();
      emitCall(lastW);
      f.else();
      emitCall(fullW);
      f.end();
    }
  };

  const rowPanel = (rows: number) => {
    // aRow = A + b*aSb + rp*aSm + kcl*aSk ; cPtr = C + ((b*M + rp)*N + c0)*4
    f.i32_const(spec.a.base);
    mulConst(f, b, aSb); f.i32_add();
    mulConst(f, rp, aSm); f.i32_add();
    mulConst(f, kcl, aSk); f.i32_add();
    f.local_set(aRow);
    mulConst(f, b, M); f.local_get(rp).i32_add().i32_const(N).i32_mul().local_get(c0).i32_add().i32_const(2).i32_shl()
      .i32_const(spec.c).i32_add().local_set(cPtr);
    f.local_get(bRow).local_set(bPtr);
    f.local_get(c0).local_set(n);
    const full = kernel(rows, nr);
    const pdone = f.block();
    const pl = f.loop();
    f.local_get(n).i32_const(nr).i32_add().local_get(c1).i32_gt_u().br_if(pdone);
    f.local_get(aRow).local_get(bPtr).local_get(cPtr).local_get(klen).local_get(flags).local_get(b).local_get(rp).local_get(n).call(full);
    addConst(f, bPtr, bPanelStride);
    addConst(f, cPtr, nr * 4);
    addConst(f, n, nr);
    f.br(pl);
    f.end();
    f.end();
    if (nTail) {
      f.local_get(n).local_get(c1).i32_lt_u().if();
      f.local_get(aRow).local_get(bPtr).local_get(cPtr).local_get(klen).local_get(flags).local_get(b).local_get(rp).local_get(n).call(kernel(rows, nTail));
      f.end();
    }
  };

  const computeBlock = () => {
    // bRow: B pointer of the first panel of this column block at k = kcl
    if (bMode === "const") {
      f.i32_const(bConstBase);
      if (bConstBatchStride) { mulConst(f, b, bConstBatchStride); f.i32_add(); }
      mulConst(f, cb, (nc / nr) * bPanelStride); f.i32_add();
      mulConst(f, kcl, nr * 4); f.i32_add();
      f.local_set(bRow);
    } else if (bMode === "direct") {
      f.i32_const(runtimeB!.base);
      mulConst(f, b, bSbB); f.i32_add();
      mulConst(f, kcl, bSkB); f.i32_add();
      mulConst(f, c0, 4); f.i32_add();
      f.local_set(bRow);
    } else {
      f.local_get(region).local_set(bRow);
    }
    // rows: full row panels, then the M tail
    f.local_get(r0).local_set(rp);
    const rdone = f.block();
    const rl = f.loop();
    f.local_get(rp).i32_const(mr).i32_add().local_get(r1).i32_gt_u().br_if(rdone);
    rowPanel(mr);
    addConst(f, rp, mr);
    f.br(rl);
    f.end();
    f.end();
    if (mTail) {
      f.local_get(rp).local_get(r1).i32_lt_u().if();
      rowPanel(mTail);
      f.end();
    }
  };

  if (bMode === "pack") {
    if (plan.itemsPerBatch) {
      f.local_get(bi).local_set(b);
      if (K > 0) packBlock(b);
      computeBlock();
    } else {
      // B shared by all batches: pack once per K block, then every batch
      if (K > 0) { f.i32_const(0).local_set(b); packBlock(b); }
      batchLoop(computeBlock);
    }
  } else {
    batchLoop(computeBlock);
  }

  f.local_get(kcl).i32_const(kc).i32_add().local_tee(kcl).i32_const(K).i32_lt_u().br_if(kLoop);
  f.br(kDone);
  f.end();
  f.end();

  f.local_get(item).i32_const(1).i32_add().local_set(item);
  f.br(itemLoop);
  f.end();
  f.end();
  return { func: drv, workItems: plan.workItems, describe, macs };
}
