/**
 * Shape-specialized int8 GEMM kernels for the CPU backend: `C[b] = epilogue(Σ_k (A[b,m,k] − za[m])
 * · (B[b,k,n] − zb[n]))` over 8-bit operands (int8 or uint8, each its own), exact in wrapping i32,
 * emitted as WebAssembly SIMD128 with the in-house assembler (the structure follows matmul.ts).
 *
 * Design (every size a compile-time constant):
 *
 * - **Arithmetic**: operands minus their zero points fit i16 exactly (u8 − zp and s8 − zp lie in
 *   [−255, 255]), so both are packed as *pairs* of i16 along k and multiplied with
 *   `i32x4.dot_i16x8_s` (`vpmaddwd`: 8 multiply-adds into 4 i32 lanes; a product is at most 255²,
 *   a pair's sum below 2^17) then `i32x4.add` into the accumulators: exact for any K (the i32 sum
 *   wraps like the reference's int32 result). Relaxed SIMD's i8 dot is not used: it is
 *   deterministic only for a second operand in [0, 127], which centred operands are not, and
 *   V8 11 lowers it to three instructions (measured: ≈100 GOP/s at best, below this path).
 * - **Packed layouts**: A row panels `[k/2][mr]` (one i32 word = the pair (a[k], a[k+1]) of a
 *   row, so each k pair of a row is one `v128.load32_splat`), B column panels `[k/2][nr]` (word
 *   j = (b[k][j], b[k+1][j]): one v128 holds 4 columns × 2 k). Odd K ends in a zero half, K is
 *   padded with zero pairs to whole unrolled steps, columns past N are zero, rows past M are
 *   never stored.
 * - **Micro-kernel**: an `mr × nr` tile in i32x4 accumulators; per k pair `nr/4` B loads, `mr`
 *   A splats, `mr·nr/4` dot + add. The dot needs a temporary and V8 allocates 15 xmm registers:
 *   4×8 (8 accumulators + 2 B + 1 A + 1 temporary); M < 4 takes 1×16, 2×16, 3×12. The loop is
 *   frontend-bound (≈6 instructions per cycle: two of every ~2.5 are the dot and the add; a
 *   10-accumulator dot+add loop without loads peaks at ≈150 GOP/s on this Zen 5, the f32 FMA loop
 *   at ≈64 GFLOP/s), so it runs 4 k pairs per iteration: one stack check, pointer update and
 *   address zero-extension per stream for 4 steps. A never-taken branch between the steps keeps
 *   V8 from hoisting all of the body's loads above the arithmetic (which spills; 5×8 and 3×12
 *   spill even so and stay at one step). Measured ≈110 GOP/s on the large shapes (≈98 rolled).
 *   The M tail and the N tail (fewer vectors, the last partial) are separate kernels, so every
 *   shape is exact and nothing outside C is written.
 * - **A**: runtime A is packed per row panel per K block into the work item's own scratch
 *   (`load8x8` + `i16x8.sub` + four `store32_lane` per 8 k when k is contiguous; scalar pairs
 *   otherwise). Constant A (a conv's weights) is packed at compile time, zero points per row.
 * - **B**: constant B is packed at compile time (zero points per column subtracted), `[bb][panel]
 *   [K/2][nr]`. Runtime B is packed per work item and K block into the item's scratch: two rows
 *   of 8 bytes → `load8x8` → minus the column zero points → interleaved (one shuffle per 4
 *   columns) when `sn == 1`, scalar pairs otherwise.
 * - **Blocking**: K blocks of at most 1024 (A micro-panel + B micro-panel ≈ 24 KiB of L1; a
 *   1024 × 256 B block of i16 pairs is 512 KiB of L2), column blocks of 256, row blocks of 192;
 *   work items (batch, row block, column block) like matmul.ts (runtime B: items take all rows so
 *   B is packed once, unless that leaves fewer than 4 items). Partial sums of earlier K blocks live
 *   in C when its elements are 4 bytes, else in a per-item i32 scratch tile.
 * - **Epilogue**: the last K block applies the fused epilogue (the kernel's expression over the
 *   int32 sum: cast, per-column scale, bias, relu, round, clip, cast to 8 bits) in its vector form
 *   when it has one (4 columns at a time), else lane by lane, and stores the output dtype
 *   (float32, int32, uint8 or int8; 8-bit results are narrowed in-register and stored with one
 *   `store32_lane`). An epilogue that calls the math library (GELU's erf, tanh, …) is a *strip*
 *   epilogue instead: a call inside the micro-kernel would spill its live accumulators around
 *   every call, so the micro-kernels store the final int32 sums of a row panel (mr × nc, ≤ 4 KiB:
 *   L1) into the work item's scratch and a function of its own applies the epilogue to them, one
 *   row at a time (per-row values hoisted once per row), 4 columns at a time; any output dtype.
 *
 * The generated code touches only the module's memory (addresses from the spec and `alloc`).
 * One `emitQGemm` call adds the driver `(start, end)` and helpers named `<name>_int8gemm_…`:
 * micro-kernels (full tile, M tail, N tail, corner), the A and B packers and strip epilogues.
 */
import type { ModuleBuilder, FunctionBuilder, FuncRef } from "./asm/index.js";
import { addr, loadLanes, storeLanes, addConst, mulConst, checkInt as checkIntIn, ceilDiv, roundUp } from "./matmul.js";

/** Runtime 8-bit operand A: element (b, m, k) at byte a.base + b*sb + m*sm + k*sk (any strides). */
export interface QRuntimeA { base: number; sb: number; sm: number; sk: number; signed: boolean; zero: number }
/** Runtime 8-bit operand B: element (b, k, n) at byte base + b*sb + k*sk + n*sn; zero points: 1 or N. */
export interface QRuntimeB { base: number; sb: number; sk: number; sn: number; signed: boolean; zero: readonly number[] }
/** Constant operand, row-major `[bb][rows][cols]` (A: [bb][M][K], B: [bb][K][N]); zero points 1 or per row (A) / column (B). */
export interface QConst { constant: ArrayLike<number>; batched: boolean; zero: readonly number[] }

export type QOutDtype = "float32" | "int32" | "uint8" | "int8";

export interface QGemmSpec {
  batch: number; M: number; N: number; K: number;
  a: QRuntimeA | QConst;
  b: QRuntimeB | QConst;
  /** C element (b, m, n) is at byte address c + size*((b*M + m)*N + n) (contiguous), of dtype `cDtype`. */
  c: number;
  cDtype: QOutDtype;
  /**
   * Fused epilogue; null = store the int32 sums (cDtype int32). `emit` consumes the i32 sum (or a
   * v128 of the i32x4 sums of 4 consecutive n when vector=true) and leaves the value to store: an
   * f32 for float32, an i32 already wrapped to the dtype for the integer dtypes (v128: f32x4 or
   * i32x4 lanes). `b`, `m`, `n` are i32 locals with the coordinates (n = first of the 4 lanes).
   */
  epilogue: null | {
    emit(f: FunctionBuilder, vector: boolean, b: number, m: number, n: number): void; vectorizable: boolean;
    beginRow?(f: FunctionBuilder, b: number, m: number): void;
    /**
     * A heavy epilogue (calls of the math library: GELU, sigmoid, …): applied by a function of
     * its own to each row panel's int32 sums, which the micro-kernel leaves in an L1-resident
     * strip of the work item's scratch, instead of inside the micro-kernel (where every call
     * would spill its live accumulators).
     */
    strip?: boolean;
  };
  alloc(bytes: number, align: number, init?: Uint8Array): number;
  tuning?: QGemmTuning;
  /**
   * Grouped problems (a grouped convolution as batch = image·groups + group): constant A holds
   * `aBatchMod` batches and batch b uses A's batch b mod aBatchMod.
   */
  aBatchMod?: number;
}

export interface QGemmTuning {
  /** Rows of the micro-tile (1..8). */
  mr?: number;
  /** i32x4 vectors across the micro-tile (1..6): nr = 4·nv columns. */
  nv?: number;
  /** K block length (rounded up to even). */
  kc?: number;
  /** Columns per work item (rounded up to a multiple of nr). */
  nc?: number;
  /** Rows per work item (rounded up to a multiple of mr). */
  mc?: number;
  /** k pairs per iteration of the micro-kernel loop (1, 2, 4 or 8; packed K is padded to a multiple). */
  unroll?: number;
}

export interface QGemmPlan {
  batch: number; M: number; N: number; K: number; folded: boolean;
  mr: number; nv: number; nr: number; kc: number; nc: number; mc: number; unroll: number;
  /** Packed A words per k pair (mr). */
  mrA: number;
  aMode: "const" | "pack"; bMode: "const" | "pack";
  itemsPerBatch: boolean; rowBlocks: number; colBlocks: number; batchItems: number; workItems: number;
  /** Partial sums of earlier K blocks: in C, in a per-item scratch tile, or none (one K block). */
  partials: "none" | "c" | "scratch";
}

const checkInt = (what: string, v: number, lo: number, hi?: number) => checkIntIn(what, v, lo, hi, "emitQGemm");
const I32 = "i32" as const;
const V128 = "v128" as const;

const outSize = (d: QOutDtype) => (d === "float32" || d === "int32" ? 4 : 1);
const isConst = (o: QRuntimeA | QRuntimeB | QConst): o is QConst => "constant" in o;

/** Chooses the blocking for a spec (pure). */
export function planQGemm(spec: QGemmSpec): QGemmPlan {
  const { batch, M: M0, N, K } = spec;
  checkInt("batch", batch, 0); checkInt("M", M0, 0); checkInt("N", N, 0); checkInt("K", K, 0);
  const t = spec.tuning ?? {};
  const bShared = isConst(spec.b) ? !spec.b.batched || batch <= 1 : spec.b.sb === 0 || batch <= 1;
  const a = spec.a;
  const folded = batch > 1 && bShared && !isConst(a) && (M0 === 1 || a.sb === M0 * a.sm);
  const B_ = folded ? 1 : batch;
  const M = folded ? batch * M0 : M0;
  let mr = t.mr ?? 4, nv = t.nv ?? 2;
  if (t.mr === undefined && t.nv === undefined && M < mr) {
    mr = Math.max(1, M);
    nv = [4, 4, 4, 3][mr]!;
  }
  checkInt("tuning.mr", mr, 1, 8); checkInt("tuning.nv", nv, 1, 6);
  const nr = 4 * nv;
  // 4 k pairs per loop iteration (see emitKernel) where even every load of a step hoisted ahead of
  // its arithmetic fits the 15 registers (4×8, 2×16, 1×16; 3×12 and 5×8 spill then), fewer when
  // padding K to whole steps would add more than 1/8 of zero pairs (a depthwise 3×3: K = 9)
  const pairs = ceilDiv(K, 2);
  const unroll = t.unroll ?? (mr * nv + nv + mr + 1 > 15 ? 1 : [4, 2, 1].find((u) => 8 * (roundUp(pairs, u) - pairs) <= pairs)!);
  if (![1, 2, 4, 8].includes(unroll)) throw new RangeError(`emitQGemm: tuning.unroll = ${unroll} is not 1, 2, 4 or 8`);
  let kc: number;
  if (t.kc !== undefined) { checkInt("tuning.kc", t.kc, 1); kc = t.kc; }
  else kc = M <= mr ? K : ceilDiv(K, ceilDiv(K, 1024));
  // K blocks hold whole unrolled steps (the last one is padded with zero pairs)
  kc = roundUp(Math.min(kc, Math.max(K, 1)), 2 * unroll);
  const aMode = isConst(a) ? "const" : "pack", bMode = isConst(spec.b) ? "const" : "pack";
  if (t.nc !== undefined) checkInt("tuning.nc", t.nc, 1);
  if (t.mc !== undefined) checkInt("tuning.mc", t.mc, 1);
  let mc = roundUp(Math.min(t.mc ?? 192, Math.max(M, 1)), mr);
  const itemsPerBatch = !(bMode === "pack" && bShared && B_ > 1);
  // column blocks of 256 (A panels reused twice as long: ≈2 % faster) while that leaves 8 work
  // items or more for threads to share, else 128
  const ncFor = (w: number) => Math.max(nr, roundUp(Math.min(w, Math.max(N, 1)), nr));
  const nc = t.nc !== undefined ? ncFor(t.nc)
    : (itemsPerBatch ? B_ : 1) * ceilDiv(M, mc) * ceilDiv(N, ncFor(256)) >= 8 ? ncFor(256) : ncFor(128);
  const colBlocks = Math.max(1, ceilDiv(N, nc));
  const batchItems = itemsPerBatch ? B_ : 1;
  if (bMode === "pack" && t.mc === undefined) {
    const few = batchItems * colBlocks;
    const split = few >= 4 ? 1 : Math.max(1, Math.min(ceilDiv(4, few), Math.floor(M / (8 * mr))));
    mc = roundUp(ceilDiv(Math.max(M, 1), split), mr);
  }
  const rowBlocks = Math.max(1, ceilDiv(M, mc));
  const empty = B_ === 0 || M === 0 || N === 0;
  const workItems = empty ? 1 : batchItems * rowBlocks * colBlocks;
  const partials = kc >= K ? "none" : outSize(spec.cDtype) === 4 ? "c" : "scratch";
  return { batch: B_, M, N, K, folded, mr, nv, nr, kc, nc, mc, unroll, mrA: mr, aMode, bMode, itemsPerBatch, rowBlocks, colBlocks, batchItems, workItems, partials };
}

/** The i16 pair word of two centred values (the low half first). */
const pair = (lo: number, hi: number) => ((lo & 0xffff) | (hi << 16)) | 0;

/**
 * Packs a constant matrix into panels of `w` lines along its "panel" axis, each `[Kp/2][w]` words
 * of i16 pairs along k: `kind` "b": data `[bb][K][N]`, panels of columns, zero per column;
 * "a": data `[bb][M][K]`, panels of rows, zero per row. Lines past the end are zero.
 */
export function packConstant(data: ArrayLike<number>, bb: number, lines: number, K: number, w: number, zero: readonly number[], kind: "a" | "b", stride = w, kpTotal = 0): Int32Array {
  const panels = ceilDiv(lines, w), kp = Math.max(ceilDiv(K, 2), kpTotal), kReal = ceilDiv(K, 2);
  const out = new Int32Array(bb * panels * kp * stride);
  const at = kind === "b" ? (b: number, k: number, j: number) => data[(b * K + k) * lines + j]! : (b: number, k: number, j: number) => data[(b * lines + j) * K + k]!;
  for (let b = 0; b < bb; b++)
    for (let p = 0; p < panels; p++)
      for (let q = 0; q < kReal; q++)
        for (let jj = 0; jj < w; jj++) {
          const j = p * w + jj;
          if (j >= lines) continue;
          // one zero point, one per line, or one per line of every batch (grouped A)
          const z = zero.length === 1 ? zero[0]! : zero.length === lines ? zero[j]! : zero[b * lines + j]!;
          const k = 2 * q;
          out[((b * panels + p) * kp + q) * stride + jj] = pair(at(b, k, j) - z, k + 1 < K ? at(b, k + 1, j) - z : 0);
        }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Small emission helpers

/** `for (; cur != end; cur += step) body()` with `end` = cur + count*step computed first (count ≥ 0 constant). */
function countedLoop(f: FunctionBuilder, cur: number, end: number, count: number, step: number, body: () => void): void {
  if (count <= 0) return;
  if (count === 1) { body(); addConst(f, cur, step); return; }
  f.local_get(cur).i32_const((count * step) | 0).i32_add().local_set(end);
  const top = f.loop();
  body();
  addConst(f, cur, step);
  f.local_get(cur).local_get(end).i32_ne().br_if(top);
  f.end();
}

/** Loads one 8-bit element (address on the stack) as i32. */
const load8 = (f: FunctionBuilder, signed: boolean, off = 0) => (signed ? f.i32_load8_s(off, 1) : f.i32_load8_u(off, 1));
/** `v128.load8x8` of 8 bytes as i16x8 (address on the stack). */
const load8x8 = (f: FunctionBuilder, signed: boolean, off = 0) => (signed ? f.v128_load8x8_s(off, 1) : f.v128_load8x8_u(off, 1));

/** Pushes the i16 pair word `(x0 − z) | (x1 − z) << 16` from the values pushed by `lo`/`hi` (hi null: 0). */
function pairWord(f: FunctionBuilder, lo: () => void, hi: (() => void) | null, z: () => void): void {
  lo(); z(); f.i32_sub().i32_const(0xffff).i32_and();
  if (hi) { hi(); z(); f.i32_sub().i32_const(16).i32_shl().i32_or(); }
}

// ---------------------------------------------------------------------------------------------
// Micro-kernel

interface KernelShape {
  mr: number; nv: number;
  /** Valid lanes in the last vector (1..4). */
  lastLanes: number;
  /** Packed A words per k pair (the panel's row count), packed B words per k pair (the panel's column count). */
  mrA: number; nrB: number;
  /** Partial-sum tile row stride in bytes (P), output row stride in bytes (O). */
  pRow: number; oRow: number;
  cDtype: QOutDtype;
  unroll: number;
  foldM: number;
  /** There are several K blocks (partials are read and written). */
  blocked: boolean;
}

/**
 * Emits `kernel(a, bp, p, o, kpairs, flags, b, m, n)`: the `mr × 4·nv` tile of `A[a..] @ B[bp..]`
 * over `kpairs` k pairs, added to the partial sums at `p` (flags bit 0 clear) or from zero (set);
 * flags bit 1: last K block, apply the epilogue and store to `o`, else store the sums to `p`.
 */
function emitKernel(mod: ModuleBuilder, name: string, ks: KernelShape, epi: QGemmSpec["epilogue"]): FuncRef {
  const f = mod.func({ params: [I32, I32, I32, I32, I32, I32, I32, I32, I32] }, { name });
  const A = 0, BP = 1, P = 2, O = 3, KP = 4, FL = 5, BI = 6, MI = 7, NI = 8;
  const { mr, nv, lastLanes, unroll } = ks;
  const nr = ks.nrB;
  const acc = f.local(V128, mr * nv);
  const bv = f.local(V128, nv);
  const av = f.local(V128, mr);
  const bEnd = f.local(I32);
  const lanesOf = (v: number) => (v === nv - 1 ? lastLanes : 4);
  const bFirst = nv <= mr;

  // ---- accumulators: zero, or the partial sums
  const zero = () => {
    f.v128_const_i32x4(0, 0, 0, 0).local_set(acc);
    for (let i = 1; i < mr * nv; i++) f.local_get(acc).local_set(acc + i);
  };
  if (ks.blocked) {
    f.local_get(FL).i32_const(1).i32_and().if();
    zero();
    f.else();
    for (let r = 0; r < mr; r++) for (let v = 0; v < nv; v++) { loadLanes(f, P, r * ks.pRow + v * 16, lanesOf(v)); f.local_set(acc + r * nv + v); }
    f.end();
  } else zero();

  const madd = (r: number, v: number, aLocal: number, bLocal: number) => {
    const a = acc + r * nv + v;
    f.local_get(a).local_get(aLocal).local_get(bLocal).i32x4_dot_i16x8_s().i32x4_add().local_set(a);
  };
  // Row r's pair broadcast to the 4 lanes. V8 keeps one general register per distinct offset of
  // `v128.load32_splat` (it does not fold them into the address like `v128.load`'s), so the splats
  // of later unrolled steps read through a pointer of their own (aU = A + u·mrA·4) and every step
  // shares the mr offsets
  const aU = f.local(I32);
  const aSplat = (u: number, r: number) => { f.local_get(u ? aU : A).v128_load32_splat(r * 4, 4); };
  const step = (u: number) => {
    const bOff = (v: number) => (u * nr + v * 4) * 4;

    if (bFirst) {
      for (let v = 0; v < nv; v++) f.local_get(BP).v128_load(bOff(v), 16).local_set(bv + v);
      for (let r = 0; r < mr; r++) {
        aSplat(u, r); f.local_set(av);
        for (let v = 0; v < nv; v++) madd(r, v, av, bv + v);
      }
    } else {
      for (let r = 0; r < mr; r++) { aSplat(u, r); f.local_set(av + r); }
      for (let v = 0; v < nv; v++) {
        f.local_get(BP).v128_load(bOff(v), 16).local_set(bv);
        for (let r = 0; r < mr; r++) madd(r, v, av + r, bv);
      }
    }
  };
  const kLoop = (u: number, count: () => void) => {
    f.local_get(BP);
    count();
    f.i32_const(nr * 4).i32_mul().i32_add().local_set(bEnd);
    const exit = f.block();
    f.local_get(BP).local_get(bEnd).i32_eq().br_if(exit);
    const top = f.loop();
    for (let s = 0; s < u; s++) step(s);
    addConst(f, A, u * ks.mrA * 4);
    addConst(f, BP, u * nr * 4);
    f.local_get(BP).local_get(bEnd).i32_ne().br_if(top);
    f.end();
    f.end();
  };
  if (unroll > 1) {
    // `unroll` k pairs per iteration (kpairs is a multiple): one loop-header stack check, one
    // pointer update and one address zero-extension per stream for `unroll` steps. Without a
    // branch between the steps V8 hoists every load of the body above the arithmetic, which
    // spills; a compare of two registers that is never true keeps the order
    f.local_get(BP).local_get(KP).i32_const(nr * 4).i32_mul().i32_add().local_set(bEnd);
    const exit = f.block();
    f.local_get(BP).local_get(bEnd).i32_eq().br_if(exit);
    const top = f.loop();
    for (let s = 0; s < unroll; s++) {
      step(s);
      // A branch that is never taken (k pairs come in whole steps) keeps each step's loads after
      // the previous step's arithmetic. Its condition must differ per step (V8 merges equal
      // ones): the next step's A pointer against B's end, which never meet (A's panel lies
      // wholly below or above B's)
      if (s < unroll - 1) f.local_get(A).i32_const((s + 1) * ks.mrA * 4).i32_add().local_tee(aU).local_get(bEnd).i32_eq().br_if(exit);
    }
    addConst(f, A, unroll * ks.mrA * 4);
    addConst(f, BP, unroll * nr * 4);
    f.local_get(BP).local_get(bEnd).i32_ne().br_if(top);
    f.end();
    f.end();
  } else kLoop(1, () => f.local_get(KP));

  // ---- store
  const storePartials = () => {
    for (let r = 0; r < mr; r++) for (let v = 0; v < nv; v++) storeLanes(f, P, r * ks.pRow + v * 16, lanesOf(v), () => f.local_get(acc + r * nv + v));
  };
  const dt = ks.cDtype, osz = outSize(dt);
  const em = f.local(I32), eb = f.local(I32), en = f.local(I32), tv = f.local(V128);
  const storeVec = (off: number) => storeVecOut(f, dt, off, tv);
  const storeScalar = (off: number) => storeScalarOut(f, dt, off);
  const finalStore = () => {
    for (let r = 0; r < mr; r++) {
      const bLocal = ks.foldM ? eb : BI;
      if (epi) {
        if (ks.foldM) {
          f.local_get(MI).i32_const(r).i32_add().local_tee(em).i32_const(ks.foldM).i32_div_u().local_set(eb);
          f.local_get(em).i32_const(ks.foldM).i32_rem_u().local_set(em);
        } else f.local_get(MI).i32_const(r).i32_add().local_set(em);
        epi.beginRow?.(f, bLocal, em);
      }
      for (let v = 0; v < nv; v++) {
        const lanes = lanesOf(v), a = acc + r * nv + v, off = r * ks.oRow + v * 4 * osz;
        if (!epi) {
          // int32 sums as they are
          storeLanes(f, O, off, lanes, () => f.local_get(a));
          continue;
        }
        if (epi.vectorizable && lanes === 4) {
          f.local_get(NI).i32_const(v * 4).i32_add().local_set(en);
          const o = addr(f, O, off);
          f.local_get(a);
          epi.emit(f, true, bLocal, em, en);
          storeVec(o);
        } else {
          for (let l = 0; l < lanes; l++) {
            f.local_get(NI).i32_const(v * 4 + l).i32_add().local_set(en);
            const o = addr(f, O, off + osz * l);
            f.local_get(a).i32x4_extract_lane(l);
            epi.emit(f, false, bLocal, em, en);
            storeScalar(o);
          }
        }
      }
    }
  };
  if (ks.blocked) {
    f.local_get(FL).i32_const(2).i32_and().if();
    finalStore();
    f.else();
    storePartials();
    f.end();
  } else finalStore();
  return f;
}

/** Stores the v128 on the stack (f32x4 / i32x4 lanes of dtype dt, already wrapped) at the address below it + off: 4 elements. */
function storeVecOut(f: FunctionBuilder, dt: QOutDtype, off: number, tv: number): void {
  if (outSize(dt) === 4) { f.v128_store(off, 4); return; }
  // 8-bit values (already wrapped to their range) narrow exactly
  f.local_tee(tv).local_get(tv).i16x8_narrow_i32x4_s().local_tee(tv).local_get(tv);
  if (dt === "uint8") f.i8x16_narrow_i16x8_u(); else f.i8x16_narrow_i16x8_s();
  f.v128_store32_lane(0, off, 1);
}

function storeScalarOut(f: FunctionBuilder, dt: QOutDtype, off: number): void {
  if (dt === "float32") f.f32_store(off, 4);
  else if (dt === "int32") f.i32_store(off, 4);
  else f.i32_store8(off, 1);
}

/**
 * Emits `strip(s, o, b, m0, n0, width)` for a strip epilogue: rows m0 .. m0+rows−1 of int32 sums
 * at `s` (row stride `sRow` bytes, `width` columns from n0) through the epilogue into C at `o`
 * (row stride `oRow` bytes): 4 columns at a time in the vector form, the rest lane by lane.
 * `foldM` > 0: batches folded into M (the epilogue sees batch m / foldM, row m mod foldM).
 */
function emitStripEpilogue(mod: ModuleBuilder, name: string, rows: number, sRow: number, oRow: number, dt: QOutDtype, foldM: number,
  epi: NonNullable<QGemmSpec["epilogue"]>): FuncRef {
  const f = mod.func({ params: [I32, I32, I32, I32, I32, I32] }, { name });
  const S = 0, O = 1, BI = 2, M0 = 3, N0 = 4, W = 5;
  const osz = outSize(dt);
  const r = f.local(I32), m = f.local(I32), b = f.local(I32), n = f.local(I32), nEnd = f.local(I32), nVec = f.local(I32);
  const sp = f.local(I32), op = f.local(I32), tv = f.local(V128);
  f.local_get(N0).local_get(W).i32_add().local_set(nEnd);
  // the last column that starts a whole vector: n0 + (width & ~3)
  f.local_get(N0).local_get(W).i32_const(-4).i32_and().i32_add().local_set(nVec);
  f.i32_const(0).local_set(r);
  const rowLoop = f.loop();
  if (foldM) {
    f.local_get(M0).local_get(r).i32_add().local_tee(m).i32_const(foldM).i32_div_u().local_set(b);
    f.local_get(m).i32_const(foldM).i32_rem_u().local_set(m);
  } else {
    f.local_get(M0).local_get(r).i32_add().local_set(m);
    f.local_get(BI).local_set(b);
  }
  epi.beginRow?.(f, b, m);
  f.local_get(S).local_get(r).i32_const(sRow).i32_mul().i32_add().local_set(sp);
  f.local_get(O).local_get(r).i32_const(oRow).i32_mul().i32_add().local_set(op);
  f.local_get(N0).local_set(n);
  if (epi.vectorizable) {
    const vdone = f.block();
    f.local_get(n).local_get(nVec).i32_ge_u().br_if(vdone);
    const vl = f.loop();
    f.local_get(op);
    f.local_get(sp).v128_load(0, 4);
    epi.emit(f, true, b, m, n);
    storeVecOut(f, dt, 0, tv);
    addConst(f, sp, 16);
    addConst(f, op, 4 * osz);
    f.local_get(n).i32_const(4).i32_add().local_tee(n).local_get(nVec).i32_lt_u().br_if(vl);
    f.end();
    f.end();
  }
  const done = f.block();
  f.local_get(n).local_get(nEnd).i32_ge_u().br_if(done);
  const sl = f.loop();
  f.local_get(op);
  f.local_get(sp).i32_load(0, 4);
  epi.emit(f, false, b, m, n);
  storeScalarOut(f, dt, 0);
  addConst(f, sp, 4);
  addConst(f, op, osz);
  f.local_get(n).i32_const(1).i32_add().local_tee(n).local_get(nEnd).i32_lt_u().br_if(sl);
  f.end();
  f.end();
  f.local_get(r).i32_const(1).i32_add().local_tee(r).i32_const(rows).i32_lt_u().br_if(rowLoop);
  f.end();
  return f;
}

// ---------------------------------------------------------------------------------------------
// Runtime packing

/**
 * Emits `packA(src, dst)`: `rows` rows of A from `src` (the element (m0, k0)), `klen` k, into
 * `[klen/2][mrA]` words at `dst` (zero point subtracted; an odd k's pair ends in 0).
 */
function emitPackA(mod: ModuleBuilder, name: string, a: QRuntimeA, rows: number, mrA: number, klen: number): FuncRef {
  const f = mod.func({ params: [I32, I32] }, { name });
  const SRC = 0, DST = 1;
  const s = f.local(I32), d = f.local(I32), end = f.local(I32);
  const z = a.zero, rowW = mrA * 4;
  const zc = () => f.i32_const(z);
  const vec = a.sk === 1 && a.sm >= 0;
  let done = 0; // k elements packed by the vector loop
  if (vec && klen >= 8) {
    const groups = Math.floor(klen / 8);
    const zs = f.local(V128);
    if (z) f.i32_const(z).i16x8_splat().local_set(zs);
    f.local_get(SRC).local_set(s);
    f.local_get(DST).local_set(d);
    f.local_get(d).i32_const(groups * 4 * rowW).i32_add().local_set(end);
    const top = f.loop();
    for (let r = 0; r < rows; r++) {
      const t = f.local(V128);
      f.local_get(s); load8x8(f, a.signed, r * a.sm);
      if (z) f.local_get(zs).i16x8_sub();
      f.local_set(t);
      for (let j = 0; j < 4; j++) f.local_get(d).local_get(t).v128_store32_lane(j, j * rowW + r * 4, 4);
    }
    addConst(f, s, 8);
    addConst(f, d, 4 * rowW);
    f.local_get(d).local_get(end).i32_ne().br_if(top);
    f.end();
    done = groups * 8;
  }
  // the rest: scalar pairs. Row pointers at k = done: s = src + r*sm + done*sk
  const pairs = ceilDiv(klen - done, 2);
  if (pairs > 0) {
    for (let r = 0; r < rows; r++) {
      f.local_get(SRC).i32_const((r * a.sm + done * a.sk) | 0).i32_add().local_set(s);
      f.local_get(DST).i32_const((done / 2) * rowW + r * 4).i32_add().local_set(d);
      const full = Math.floor((klen - done) / 2);
      const body = (last: boolean) => {
        f.local_get(d);
        pairWord(f, () => { f.local_get(s); load8(f, a.signed); }, last ? null : () => { f.local_get(s).i32_const(a.sk).i32_add(); load8(f, a.signed); }, zc);
        f.i32_store(0, 4);
      };
      countedLoop(f, d, end, full, rowW, () => { body(false); addConst(f, s, 2 * a.sk); });
      if ((klen - done) % 2) body(true);
    }
  }
  return f;
}

/**
 * Emits `packB(src, zp, dst)`: `width` columns of B from `src` (the element (k0, n0)), `klen`
 * rows, into `[panel][kc/2][nr]` words at `dst` (panel stride kc/2·nr·4 bytes), zero-padding the
 * last panel; `zp` points at the i16 zero points of these columns (per-column zero points only).
 */
function emitPackB(mod: ModuleBuilder, name: string, b: QRuntimeB, width: number, nr: number, kc: number, klen: number, unroll: number): FuncRef {
  const f = mod.func({ params: [I32, I32, I32] }, { name });
  const SRC = 0, ZP = 1, DST = 2;
  const s = f.local(I32), d = f.local(I32), end = f.local(I32);
  const perCol = b.zero.length > 1 && !b.zero.every((z) => z === b.zero[0]);
  const z0 = b.zero[0]!;
  const panels = ceilDiv(width, nr), panelB = (kc / 2) * nr * 4;
  const fullPairs = Math.floor(klen / 2), odd = klen % 2 === 1;
  const vec = b.sn === 1 && b.sk >= 0;
  const zs = f.local(V128), r0 = f.local(V128), r1 = f.local(V128);
  if (vec && !perCol && z0) f.i32_const(z0).i16x8_splat().local_set(zs);
  // words of one k pair (`second` false: the odd last k alone), for every panel and column
  const pairRow = (second: boolean) => {
    for (let p = 0; p < panels; p++) {
      const w = Math.min(nr, width - p * nr);
      let j = 0;
      if (vec) {
        // 8 columns: two 8-byte rows → i16x8 − zero points → interleave
        for (; j + 8 <= w; j += 8) {
          const col = p * nr + j;
          const zeroVec = () => { if (perCol) f.local_get(ZP).v128_load(col * 2, 2); else f.local_get(zs); };
          f.local_get(s); load8x8(f, b.signed, col); if (perCol || z0) { zeroVec(); f.i16x8_sub(); } f.local_set(r0);
          if (second) { f.local_get(s); load8x8(f, b.signed, col + b.sk); if (perCol || z0) { zeroVec(); f.i16x8_sub(); } f.local_set(r1); }
          else f.v128_const_i32x4(0, 0, 0, 0).local_set(r1);
          const sh = (half: number) => {
            const bytes: number[] = [];
            for (let i = 0; i < 4; i++) for (const src of [half * 4 + i, 8 + half * 4 + i]) bytes.push(src * 2, src * 2 + 1);
            f.local_get(r0).local_get(r1).i8x16_shuffle(bytes);
          };
          f.local_get(d); sh(0); f.v128_store(p * panelB + j * 4, 4);
          f.local_get(d); sh(1); f.v128_store(p * panelB + j * 4 + 16, 4);
        }
        // 4 columns: 4-byte rows widened
        for (; j + 4 <= w; j += 4) {
          const col = p * nr + j;
          const widen = () => (b.signed ? f.i16x8_extend_low_i8x16_s() : f.i16x8_extend_low_i8x16_u());
          const zeroVec = () => { if (perCol) f.local_get(ZP).v128_load64_zero(col * 2, 2); else f.local_get(zs); };
          f.local_get(s).v128_load32_zero(col, 1); widen(); if (perCol || z0) { zeroVec(); f.i16x8_sub(); } f.local_set(r0);
          if (second) { f.local_get(s).v128_load32_zero(col + b.sk, 1); widen(); if (perCol || z0) { zeroVec(); f.i16x8_sub(); } f.local_set(r1); }
          else f.v128_const_i32x4(0, 0, 0, 0).local_set(r1);
          f.local_get(d).local_get(r0).local_get(r1).i8x16_shuffle([0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23]);
          f.v128_store(p * panelB + j * 4, 4);
        }
      }
      // the rest of the columns one at a time
      for (; j < w; j++) {
        const col = p * nr + j;
        const zc = () => { if (perCol) f.local_get(ZP).i32_load16_s(col * 2, 2); else f.i32_const(z0); };
        f.local_get(d);
        pairWord(f, () => { f.local_get(s).i32_const((col * b.sn) | 0).i32_add(); load8(f, b.signed); },
          second ? () => { f.local_get(s).i32_const((col * b.sn + b.sk) | 0).i32_add(); load8(f, b.signed); } : null, zc);
        f.i32_store(p * panelB + j * 4, 4);
      }
      // zero columns up to nr
      while (j < nr) {
        if (j % 4 === 0 && j + 4 <= nr) { f.local_get(d).v128_const_i32x4(0, 0, 0, 0).v128_store(p * panelB + j * 4, 4); j += 4; }
        else { f.local_get(d).i32_const(0).i32_store(p * panelB + j * 4, 4); j++; }
      }
    }
  };
  f.local_get(SRC).local_set(s);
  f.local_get(DST).local_set(d);
  countedLoop(f, d, end, fullPairs, nr * 4, () => { pairRow(true); addConst(f, s, 2 * b.sk); });
  if (odd) { pairRow(false); addConst(f, d, nr * 4); }
  // zero pairs up to whole unrolled steps (the kernel runs them; A's side of them is garbage)
  const pad = roundUp(ceilDiv(klen, 2), unroll) - ceilDiv(klen, 2);
  for (let q = 0; q < pad; q++)
    for (let p = 0; p < panels; p++)
      for (let j = 0; j < nr; j += 4) f.local_get(d).v128_const_i32x4(0, 0, 0, 0).v128_store(p * panelB + q * nr * 4 + j * 4, 4);
  return f;
}

// ---------------------------------------------------------------------------------------------
// Driver

/**
 * Adds one function `(start: i32, end: i32) -> ()` computing work items [start, end); returns it,
 * the number of work items, a description and the multiply-add count.
 */
export function emitQGemm(m: ModuleBuilder, spec: QGemmSpec, name: string): { func: FuncRef; workItems: number; describe: string; macs: number } {
  const plan = planQGemm(spec);
  const { batch, M, N, K, mr, nv, nr, kc, nc, mc } = plan;
  const M0 = spec.M;
  if (!spec.epilogue && spec.cDtype !== "int32") throw new RangeError(`emitQGemm: without an epilogue C must be int32, got ${spec.cDtype}`);
  const describe = `int8 GEMM ${spec.batch}×${M0}×${N}×${K}${plan.folded ? ` (batches folded: M=${M})` : ""}: ` +
    `i16 pairs + i32x4.dot_i16x8_s, tile ${mr}×${nr}, kc ${kc}, nc ${nc}, mc ${mc}, A ${plan.aMode}, B ${plan.bMode}, ` +
    `partials ${plan.partials}, out ${spec.cDtype}, epilogue ${!spec.epilogue ? "none" : spec.epilogue.vectorizable ? "vector" : "lanes"}${spec.epilogue?.strip ? " (strip)" : ""}, ${plan.workItems} work items`;
  const drv = m.func({ params: [I32, I32] }, { name });
  const macs = spec.batch * M0 * N * K;
  if (batch === 0 || M === 0 || N === 0) return { func: drv, workItems: plan.workItems, describe, macs };

  const osz = outSize(spec.cDtype);
  // packed k pairs: K's, padded to whole unrolled steps (zero pairs)
  const kpAll = roundUp(ceilDiv(K, 2), plan.unroll), kcp = kc / 2;
  const nBlocks = Math.max(1, ceilDiv(K, kc)), lastK = K - (nBlocks - 1) * kc;

  // ---- A source
  let aConstBase = 0, aConstBatch = 0, aPanelStride = 0;
  const runtimeA = isConst(spec.a) ? null : spec.a;
  if (isConst(spec.a)) {
    const bb = spec.aBatchMod ?? (spec.a.batched ? spec.batch : 1);
    if (spec.a.constant.length !== bb * M0 * K) throw new RangeError(`emitQGemm: constant A has ${spec.a.constant.length} elements, expected ${bb}×${M0}×${K}`);
    if (spec.a.zero.length !== 1 && spec.a.zero.length !== M0 && spec.a.zero.length !== bb * M0) throw new RangeError(`emitQGemm: A needs 1, ${M0} or ${bb * M0} zero points`);
    const packed = packConstant(spec.a.constant, bb, M0, K, mr, spec.a.zero, "a", plan.mrA, kpAll);
    if (packed.length) aConstBase = spec.alloc(packed.byteLength, 64, new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength));
    aPanelStride = kpAll * plan.mrA * 4;
    aConstBatch = bb > 1 ? ceilDiv(M0, mr) * aPanelStride : 0;
  }

  // ---- B source
  let bConstBase = 0, bConstBatch = 0, bPanelStride = 0;
  const runtimeB = isConst(spec.b) ? null : spec.b;
  if (isConst(spec.b)) {
    const bb = spec.b.batched ? spec.batch : 1;
    if (spec.b.constant.length !== bb * K * N) throw new RangeError(`emitQGemm: constant B has ${spec.b.constant.length} elements, expected ${bb}×${K}×${N}`);
    if (spec.b.zero.length !== 1 && spec.b.zero.length !== N) throw new RangeError(`emitQGemm: B needs 1 or ${N} zero points`);
    const packed = packConstant(spec.b.constant, bb, N, K, nr, spec.b.zero, "b", nr, kpAll);
    if (packed.length) bConstBase = spec.alloc(packed.byteLength, 64, new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength));
    bPanelStride = kpAll * nr * 4;
    bConstBatch = spec.b.batched && batch > 1 ? ceilDiv(N, nr) * bPanelStride : 0;
  } else {
    if (spec.b.zero.length !== 1 && spec.b.zero.length !== N) throw new RangeError(`emitQGemm: B needs 1 or ${N} zero points`);
    bPanelStride = kcp * nr * 4;
  }
  let zbTable = 0;
  if (runtimeB && runtimeB.zero.length > 1) {
    const t = new Int16Array(N + 8);
    runtimeB.zero.forEach((z, i) => { t[i] = z; });
    zbTable = spec.alloc(t.byteLength, 16, new Uint8Array(t.buffer));
  }

  // ---- scratch per work item: packed A panel, packed B block, partial sums
  const aRegion = runtimeA ? roundUp(kcp * plan.mrA * 4, 64) : 0;
  const bRegion = runtimeB && K > 0 ? roundUp(ceilDiv(Math.min(nc, N), nr) * kcp * nr * 4, 64) : 0;
  const pRegion = plan.partials === "scratch" ? roundUp(mc * nc * 4, 64) : 0;
  // strip epilogue: the final sums of one row panel (mr × nc int32), read back by the epilogue function
  const strip = !!spec.epilogue?.strip;
  const sRegion = strip ? roundUp(mr * nc * 4, 64) : 0, sOff = aRegion + bRegion + pRegion;
  const region = aRegion + bRegion + pRegion + sRegion;
  const scratch = region ? spec.alloc(region * plan.workItems, 64) : 0;

  // ---- kernels
  const blocked = nBlocks > 1;
  const pRow = plan.partials === "scratch" ? nc * 4 : N * 4;
  const kernels = new Map<string, FuncRef>();
  const kernel = (rows: number, cols: number): FuncRef => {
    const key = `${rows}x${cols}`;
    let k = kernels.get(key);
    if (!k) {
      const vecs = ceilDiv(cols, 4);
      // (strip epilogue: the kernel stores its int32 sums into the strip, rows nc·4 bytes apart)
      k = emitKernel(m, `${name}_int8gemm_${key}`, {
        mr: rows, nv: vecs, lastLanes: cols - 4 * (vecs - 1), mrA: plan.mrA, nrB: nr, pRow, oRow: strip ? nc * 4 : N * osz, cDtype: strip ? "int32" : spec.cDtype,
        unroll: rows * vecs + vecs + rows + 1 <= 15 || spec.tuning?.unroll ? plan.unroll : 1, foldM: plan.folded && spec.epilogue && !strip ? M0 : 0, blocked,
      }, strip ? null : spec.epilogue);
      kernels.set(key, k);
    }
    return k;
  };
  const strips = new Map<number, FuncRef>();
  const stripEpi = (rows: number): FuncRef => {
    let s = strips.get(rows);
    if (!s) { s = emitStripEpilogue(m, `${name}_int8gemm_epilogue${rows}`, rows, nc * 4, N * osz, spec.cDtype, plan.folded ? M0 : 0, spec.epilogue!); strips.set(rows, s); }
    return s;
  };
  const mTail = M % mr, nTail = N % nr;
  const packersA = new Map<string, FuncRef>(), packersB = new Map<string, FuncRef>();
  // folded single-row batches: consecutive rows are consecutive batches
  const aRows: QRuntimeA = runtimeA ? { ...runtimeA, sm: plan.folded && M0 === 1 ? runtimeA.sb : runtimeA.sm } : { base: 0, sb: 0, sm: 0, sk: 0, signed: false, zero: 0 };
  const packA = (rows: number, klen: number): FuncRef => {
    const key = `${rows}_${klen}`;
    let p = packersA.get(key);
    if (!p) { p = emitPackA(m, `${name}_int8gemm_packA${key}`, aRows, rows, plan.mrA, klen); packersA.set(key, p); }
    return p;
  };
  const packB = (width: number, klen: number): FuncRef => {
    const key = `${width}_${klen}`;
    let p = packersB.get(key);
    if (!p) { p = emitPackB(m, `${name}_int8gemm_packB${key}`, runtimeB!, width, nr, kc, klen, plan.unroll); packersB.set(key, p); }
    return p;
  };

  // ---- driver body
  const f = drv;
  const START = 0, END = 1;
  const item = f.local(I32), bi = f.local(I32), rb = f.local(I32), cb = f.local(I32), t = f.local(I32);
  const r0 = f.local(I32), r1 = f.local(I32), c0 = f.local(I32), c1 = f.local(I32);
  const kcl = f.local(I32), kpairs = f.local(I32), flags = f.local(I32);
  const b = f.local(I32), rp = f.local(I32), n = f.local(I32);
  const src = f.local(I32), aPtr = f.local(I32), bPtr = f.local(I32), bRow = f.local(I32), pPtr = f.local(I32), oPtr = f.local(I32), reg = f.local(I32);
  const cRow = f.local(I32);
  const { rowBlocks, colBlocks } = plan;

  f.local_get(START).local_set(item);
  const done = f.block();
  const itemLoop = f.loop();
  f.local_get(item).local_get(END).i32_ge_s().br_if(done);
  if (colBlocks > 1) {
    f.local_get(item).i32_const(colBlocks).i32_rem_u().local_set(cb);
    f.local_get(item).i32_const(colBlocks).i32_div_u().local_set(t);
  } else { f.i32_const(0).local_set(cb); f.local_get(item).local_set(t); }
  if (rowBlocks > 1) {
    f.local_get(t).i32_const(rowBlocks).i32_rem_u().local_set(rb);
    f.local_get(t).i32_const(rowBlocks).i32_div_u().local_set(bi);
  } else { f.i32_const(0).local_set(rb); f.local_get(t).local_set(bi); }
  mulConst(f, rb, mc); f.local_set(r0);
  f.local_get(r0).i32_const(mc).i32_add().i32_const(M).local_get(r0).i32_const(mc).i32_add().i32_const(M).i32_lt_u().select().local_set(r1);
  mulConst(f, cb, nc); f.local_set(c0);
  f.local_get(c0).i32_const(nc).i32_add().i32_const(N).local_get(c0).i32_const(nc).i32_add().i32_const(N).i32_lt_u().select().local_set(c1);
  if (region) { f.i32_const(scratch); mulConst(f, item, region); f.i32_add().local_set(reg); }

  // K blocks: klen is kc, or lastK for the last block (packers are specialized on it)
  f.i32_const(0).local_set(kcl);
  const kDone = f.block();
  const kLoop = f.loop();
  // kpairs = ceil(min(kc, K - kcl) / 2) rounded up to whole unrolled steps; flags = (kcl == 0) | (kcl + kc >= K) << 1
  f.i32_const(K).local_get(kcl).i32_sub().local_tee(kpairs).i32_const(kc).local_get(kpairs).i32_const(kc).i32_lt_u().select()
    .i32_const(2 * plan.unroll - 1).i32_add().i32_const(-2 * plan.unroll).i32_and().i32_const(1).i32_shr_u().local_set(kpairs);
  f.local_get(kcl).i32_eqz().local_get(kcl).i32_const(kc).i32_add().i32_const(K).i32_ge_u().i32_const(1).i32_shl().i32_or().local_set(flags);
  /** Emits `body(klen)` for the K block's length (two variants when the last block is shorter). */
  const byKlen = (body: (klen: number) => void) => {
    if (nBlocks === 1 || lastK === kc) { body(nBlocks === 1 ? lastK : kc); return; }
    f.local_get(flags).i32_const(2).i32_and().if();
    body(lastK);
    f.else();
    body(kc);
    f.end();
  };

  const batchLoop = (body: () => void) => {
    if (plan.itemsPerBatch) { f.local_get(bi).local_set(b); body(); return; }
    f.i32_const(0).local_set(b);
    const bl = f.loop();
    body();
    f.local_get(b).i32_const(1).i32_add().local_tee(b).i32_const(batch).i32_lt_u().br_if(bl);
    f.end();
  };

  const packBlock = (batchLocal: number) => {
    const rb_ = runtimeB!;
    const emitCall = (width: number) => {
      f.i32_const(rb_.base);
      mulConst(f, batchLocal, rb_.sb); f.i32_add();
      mulConst(f, kcl, rb_.sk); f.i32_add();
      mulConst(f, c0, rb_.sn); f.i32_add();
      f.local_set(src);
      byKlen((klen) => {
        f.local_get(src);
        f.i32_const(zbTable); mulConst(f, c0, 2); f.i32_add();
        f.local_get(reg).i32_const(aRegion).i32_add();
        f.call(packB(width, klen));
      });
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
    // A: pack this row panel (runtime) or point into the constant panels
    if (runtimeA) {
      const a = runtimeA;
      f.i32_const(a.base);
      mulConst(f, b, a.sb); f.i32_add();
      mulConst(f, rp, aRows.sm); f.i32_add();
      mulConst(f, kcl, a.sk); f.i32_add();
      f.local_set(src);
      byKlen((klen) => { f.local_get(src).local_get(reg).call(packA(rows, klen)); });
      f.local_get(reg).local_set(aPtr);
    } else {
      // rp is a multiple of mr: panel rp/mr, at k pair kcl/2
      f.i32_const(aConstBase);
      if (aConstBatch && spec.aBatchMod) f.local_get(b).i32_const(spec.aBatchMod).i32_rem_u().i32_const(aConstBatch).i32_mul().i32_add();
      else if (aConstBatch) { mulConst(f, b, aConstBatch); f.i32_add(); }
      f.local_get(rp).i32_const(mr).i32_div_u().i32_const(aPanelStride).i32_mul().i32_add();
      mulConst(f, kcl, plan.mrA * 2); f.i32_add();
      f.local_set(aPtr);
    }
    // C row = C + ((b*M + rp)*N + c0)*osz; O = the C row, or the strip (strip epilogue); P = the
    // C row (partials in C, 4-byte C) or scratch + (rp - r0)*nc*4 + (n - c0)*4
    mulConst(f, b, M); f.local_get(rp).i32_add().i32_const(N).i32_mul().local_get(c0).i32_add();
    if (osz !== 1) f.i32_const(Math.log2(osz)).i32_shl();
    f.i32_const(spec.c).i32_add().local_set(cRow);
    if (strip) f.local_get(reg).i32_const(sOff).i32_add().local_set(oPtr);
    else f.local_get(cRow).local_set(oPtr);
    if (plan.partials === "scratch") {
      f.local_get(reg).i32_const(aRegion + bRegion).i32_add();
      f.local_get(rp).local_get(r0).i32_sub().i32_const(nc * 4).i32_mul().i32_add().local_set(pPtr);
    } else f.local_get(cRow).local_set(pPtr);
    f.local_get(bRow).local_set(bPtr);
    f.local_get(c0).local_set(n);
    const call = (k: FuncRef) => f.local_get(aPtr).local_get(bPtr).local_get(pPtr).local_get(oPtr).local_get(kpairs).local_get(flags).local_get(b).local_get(rp).local_get(n).call(k);
    const full = kernel(rows, nr);
    const pdone = f.block();
    const pl = f.loop();
    f.local_get(n).i32_const(nr).i32_add().local_get(c1).i32_gt_u().br_if(pdone);
    call(full);
    addConst(f, bPtr, bPanelStride);
    addConst(f, pPtr, nr * 4);
    addConst(f, oPtr, nr * (strip ? 4 : osz));
    addConst(f, n, nr);
    f.br(pl);
    f.end();
    f.end();
    if (nTail) {
      f.local_get(n).local_get(c1).i32_lt_u().if();
      call(kernel(rows, nTail));
      f.end();
    }
    if (strip) {
      // last K block: the epilogue over the strip's rows × (c1 − c0) sums
      const run = () => f.local_get(reg).i32_const(sOff).i32_add().local_get(cRow).local_get(b).local_get(rp).local_get(c0).local_get(c1).local_get(c0).i32_sub().call(stripEpi(rows));
      if (blocked) { f.local_get(flags).i32_const(2).i32_and().if(); run(); f.end(); }
      else run();
    }
  };

  const computeBlock = () => {
    if (runtimeB) f.local_get(reg).i32_const(aRegion).i32_add().local_set(bRow);
    else {
      f.i32_const(bConstBase);
      if (bConstBatch) { mulConst(f, b, bConstBatch); f.i32_add(); }
      mulConst(f, cb, (nc / nr) * bPanelStride); f.i32_add();
      mulConst(f, kcl, nr * 2); f.i32_add();
      f.local_set(bRow);
    }
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

  if (runtimeB) {
    if (plan.itemsPerBatch) {
      f.local_get(bi).local_set(b);
      if (K > 0) packBlock(b);
      computeBlock();
    } else {
      if (K > 0) { f.i32_const(0).local_set(b); packBlock(b); }
      batchLoop(computeBlock);
    }
  } else batchLoop(computeBlock);

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
