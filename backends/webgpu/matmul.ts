/**
 * The matmul anchor in WGSL. Floats accumulate in f32, integers in i32 (wrapping); float16
 * rounds once at the end. Two forms: `tiledMatmul`, the whole kernel with workgroup tiling
 * (used whenever the output is at least 8×8), and `emitMatmul`, the value of one output
 * element as a loop over K (one invocation per element) for the other shapes.
 *
 * int8 GEMMs (a matmul node with zero points, jit/ir.ts `Attrs.zeroB`): operands are int8 or
 * uint8 words (sign- or zero-extended in the arena, one per element), the result is the i32
 * Σ (a − zeroA)(b − zeroB[col]), exact (wrapping like the reference's int32). Zero points are
 * literals, or a table of per-column words among the generated constants (`GenCtx.constWords`).
 * - per-element loop and unpacked tiled kernel: the zero points are subtracted as operands are
 *   loaded (into the workgroup tiles, for the tiled kernel), then the i32 loop as for int32.
 * - packed tiled kernels (variants of the tiled kernel's text; the executable picks one per
 *   device, `webgpuOptions.int8Gemm`): four k values of a row of A (of a column of B) are
 *   packed as signed bytes in one u32, so the workgroup tiles and their reads are a quarter of
 *   the words; each step is dot4I8Packed (the "dot4" text) or the words unpacked once to
 *   vec4<i32> and `dot` (the "packed" text, for WGSL without the feature). Bytes must be int8,
 *   so operands are shifted: a' = a − ca and b' = b − cb[j] with ca, cb 0 for int8 and 128 for
 *   uint8, and then (with δa = ca − zeroA, δb[j] = cb[j] − zeroB[j])
 *     Σ (a − zeroA)(b − zeroB[j]) = Σ a'b' + δb[j]·Σ a' + δa·Σ b'[j] + K·δa·δb[j],
 *   an identity in wrapping i32 arithmetic, so the result is bit-exact. Σ a' (per row) and, for
 *   a runtime B, Σ b' (per column) are dot products with 0x01010101 (vec4(1)) in the same loop,
 *   computed only where their factor is not 0. A constant B is packed when compiled (a column
 *   takes cb[j] = zeroB[j], making δb[j] = 0, where all its b − zeroB[j] fit a byte) and its
 *   Σ b' terms fold into one correction word per column; a runtime B and A are packed as their
 *   tiles are loaded (no extra pass, no scratch memory).
 */
import type { Node } from "../../jit/ir.js";
import type { Operand } from "../../jit/kernel/index.js";
import type { DType } from "../../jit/dtype.js";
import { loadWord, narrow, wtype, zero, literal } from "./wgsl.js";
import { viewIndex, type GenCtx, type KernelGen, type Phase } from "./kernel.js";

/** The zero points of an int8 GEMM node (matmul or conv), or undefined for other nodes. */
export interface Int8Gemm {
  readonly za: number;
  /** One entry, or one per output column (matmul) / output channel (conv). */
  readonly zb: readonly number[];
  readonly da: DType;
  readonly db: DType;
}

export function int8Gemm(n: Node): Int8Gemm | undefined {
  const zb = n.attrs.zeroB;
  if (!zb) return undefined;
  return { za: n.attrs.zeroA ?? 0, zb: zb.every((z) => z === zb[0]) ? [zb[0]!] : zb, da: n.inputs[0]!.dtype, db: n.inputs[1]!.dtype };
}

/** An i32 WGSL literal (wrapping to int32; i32's minimum is no literal). */
const lit = (v: number): string => literal(v | 0, "int32", () => {});

/** `x - z` for a literal zero point z (x itself when z is 0). */
const minus = (x: string, z: number): string => (z === 0 ? x : `(${x} - ${lit(z)})`);

/**
 * The i32 expression of a per-column table's entry at column expression `col`: a literal when
 * the table is one value, else a word of the generated constants.
 */
export function tableAt(g: GenCtx, table: readonly number[], col: string, packedOnly = false): string {
  if (table.every((v) => v === table[0])) return lit(table[0]!);
  const base = g.constWords(Int32Array.from(table, (v) => v | 0), packedOnly);
  return `bitcast<i32>(A[u32(${base}i + ${col})])`;
}

/** `x - zeroB[col]` (x itself when every zero point is 0). */
export function minusZeroB(g: GenCtx, q: Int8Gemm, x: string, col: string): string {
  if (q.zb.length === 1) return minus(x, q.zb[0]!);
  return `(${x} - ${tableAt(g, q.zb, col)})`;
}

/** Appends the loop to `g.lines`; returns the name holding the anchor's value at the current coordinates. */
export function emitMatmul(g: GenCtx, A: Operand, B: Operand, n: Node): string {
  const r = n.shape.length, d = n.dtype, K = A.view.shape[r - 1]!, q = int8Gemm(n);
  const acc = g.fresh("acc"), kk = g.fresh("k"), out = g.fresh("mm");
  const c = Array.from({ length: r }, (_, i) => g.coord(i));
  const ai = viewIndex(g.base(A.buf), A.view, [...c.slice(0, r - 1), kk]);
  const bi = viewIndex(g.base(B.buf), B.view, [...c.slice(0, r - 2), kk, c[r - 1]]);
  let term = `${loadWord(d, ai)} * ${loadWord(d, bi)}`;
  if (q) {
    // int8 GEMM: operands less their zero points (zeroB[col] once per invocation)
    let zb = "";
    if (q.zb.length > 1) { zb = g.fresh("zb"); g.lines.push(`let ${zb} = ${tableAt(g, q.zb, c[r - 1]!)};`); }
    const b = loadWord(q.db, bi);
    term = `${minus(loadWord(q.da, ai), q.za)} * ${zb ? `(${b} - ${zb})` : minus(b, q.zb[0]!)}`;
  }
  g.lines.push(
    `var ${acc}: ${wtype(d)} = ${zero(d)};`,
    `for (var ${kk}: i32 = 0i; ${kk} < ${K}i; ${kk} = ${kk} + 1i) {`,
    `  ${acc} = ${acc} + ${term};`,
    "}",
    `let ${out} = ${narrow(acc, d, (h) => g.use(h))};`,
  );
  return out;
}

/** A tiling: TX×TY invocations, each computing RM×RN outputs (rows ty + i·TY, columns tx + j·TX); K staged TK at a time. */
export interface Tiling { readonly tx: number; readonly ty: number; readonly rm: number; readonly rn: number; readonly tk: number }

// on SwiftShader (256³ / 512³ float32) big register blocks won most: 8×8 blocks of 8×8 invocations
// ran 5–6× the per-element loop; 4×4 blocks of 16×16 about 2.5×, 2×2 blocks about 1.1×
const BIG: Tiling = { tx: 8, ty: 8, rm: 8, rn: 8, tk: 16 };
const MID: Tiling = { tx: 8, ty: 8, rm: 4, rn: 4, tk: 16 };
const SMALL: Tiling = { tx: 8, ty: 8, rm: 2, rn: 2, tk: 16 };

/** The tiling for an [M, N] output over `batch` matrices, or undefined for the per-element loop (tiny outputs). */
export function chooseTiling(batch: number, M: number, N: number): Tiling | undefined {
  if (M < 8 || N < 8) return undefined;
  const tiles = (t: Tiling) => batch * Math.ceil(M / (t.ty * t.rm)) * Math.ceil(N / (t.tx * t.rn));
  for (const t of [BIG, MID]) if (tiles(t) >= 16) return t;
  return SMALL;
}

/**
 * The matmul kernel's phases: the tiled kernel, or undefined where the per-element loop is
 * kept. An int8 GEMM's tiled kernel is the unpacked form, with the packed forms as variants
 * that the executable picks from per device (index.ts, `webgpuOptions.int8Gemm`).
 */
export function matmulPhases(g: KernelGen, A: Operand, B: Operand, n: Node): Phase[] | undefined {
  const sh = g.k.shape, r = sh.length;
  if (r < 2 || numelOf(sh) === 0) return undefined;
  const t = chooseTiling(sh.slice(0, r - 2).reduce((p, e) => p * e, 1), sh[r - 2]!, sh[r - 1]!);
  const f = t && tileFrame(g, A, n, t);
  if (!t || !f) return undefined;
  const epi = g.epilogue("k_epi");
  const base = tiledMatmul(g, A, B, n, t, f, epi);
  const q = int8Gemm(n);
  if (!q) return [base];
  // the same tiles, K staged PACKED_TK at a time (the same workgroups: one dispatch, either text)
  const p = packedInt8(g, A, B, n, q, { ...t, tk: PACKED_TK }, f, epi);
  return [{ ...base, variants: p }];
}

/** What the tiled kernels share: the shape, the tile grid and the lines that locate a workgroup's tile. */
interface TileFrame {
  readonly r: number; readonly M: number; readonly N: number; readonly K: number;
  readonly shape: readonly number[];
  /** Batch dims of extent > 1. */
  readonly bdims: number[];
  readonly batch: number;
  /** Batch coordinate expressions per dim (0i where the extent is 1). */
  readonly bc: string[];
  readonly TM: number; readonly TN: number; readonly NT: number; readonly W: number;
  /** main's first lines: wg, tn, tm, bb, c<batch dims>, li, tx, ty, m0, n0. */
  readonly head: string[];
}

function tileFrame(g: KernelGen, A: Operand, n: Node, t: Tiling): TileFrame | undefined {
  const k = g.k, shape = k.shape, r = shape.length;
  if (r < 2 || k.stages.length || shape.length !== n.shape.length || shape.some((e, i) => e !== n.shape[i])) return undefined;
  const M = shape[r - 2]!, N = shape[r - 1]!, K = A.view.shape[r - 1]!;
  const bdims = shape.slice(0, r - 2).map((_, i) => i).filter((i) => shape[i] !== 1);
  const batch = bdims.reduce((p, i) => p * shape[i]!, 1);
  const { tx: TX, ty: TY, rm: RM, rn: RN } = t;
  const TM = TY * RM, TN = TX * RN, NT = TX * TY;
  const nTM = Math.ceil(M / TM), nTN = Math.ceil(N / TN), W = batch * nTM * nTN;
  const L: string[] = [];
  L.push(`let wg = i32(wid.y * nwg.x + wid.x);`, `if (wg >= ${W}i) { return; }`);
  L.push(`let tn = wg % ${nTN}i;`, `let tm = (wg / ${nTN}i) % ${nTM}i;`, `let bb = wg / ${nTN * nTM}i;`);
  let inner = 1;
  for (let i = bdims.length - 1; i >= 0; i--) {
    const dd = bdims[i]!;
    L.push(`let c${dd} = ${inner === 1 ? "bb" : `(bb / ${inner}i)`}${i === 0 ? "" : ` % ${shape[dd]}i`};`);
    inner *= shape[dd]!;
  }
  const bc = shape.slice(0, r - 2).map((e, i) => (e === 1 ? "0i" : `c${i}`));
  L.push(`let li = i32(lid);`, `let tx = li % ${TX}i;`, `let ty = li / ${TX}i;`, `let m0 = tm * ${TM}i;`, `let n0 = tn * ${TN}i;`);
  return { r, M, N, K, shape, bdims, batch, bc, TM, TN, NT, W, head: L };
}

/** Lines calling k_epi for each in-range output of the invocation's block, with `value(i, j)` the anchor's value. */
function epilogueCalls(f: TileFrame, t: Tiling, value: (i: number, j: number) => string): string[] {
  const L: string[] = [], { shape, r, M, N } = f;
  const args = shape.map((e, dd) => (e === 1 ? "" : dd < r - 2 ? `c${dd}` : dd === r - 2 ? "gm" : "gn")).filter(Boolean);
  for (let i = 0; i < t.rm; i++) for (let j = 0; j < t.rn; j++) {
    L.push(`{ let gm = m0 + ty + ${i * t.ty}i; let gn = n0 + tx + ${j * t.tx}i;`,
      `  if (gm < ${M}i && gn < ${N}i) { k_epi(${[...args, value(i, j)].join(", ")}); } }`);
  }
  return L;
}

/**
 * The matmul kernel with workgroup tiling `t` over the frame `f`, `epi` the epilogue function.
 * One workgroup per TM×TN output tile of one batch matrix (TM = TY·RM, TN = TX·RN); the K loop
 * stages TK-deep slices of A and B through workgroup memory (every invocation loading a strided
 * share, clamped into range), and each invocation accumulates its RM×RN block in registers in
 * k order, like the per-element loop (so integer results wrap alike and float sums round
 * alike). Batch dims broadcast through the operands' views (stride 0), which also carry any
 * transposition as index arithmetic. The kernel's epilogue (its value with the anchor standing
 * for the product, and the store) is a function called per in-range output element. An int8
 * GEMM's tiles hold the operands less their zero points.
 */
function tiledMatmul(g: KernelGen, A: Operand, B: Operand, n: Node, t: Tiling, f: TileFrame, epi: string): Phase {
  const q = int8Gemm(n);
  const { tx: TX, ty: TY, rm: RM, rn: RN, tk: TK } = t;
  const { M, N, K, TM, TN, NT, W, bc } = f, d = n.dtype, T = wtype(d);
  const use = (h: string) => g.use(h);
  const L = [...f.head];
  const acc = (i: number, j: number) => `r${i}_${j}`;
  for (let i = 0; i < RM; i++) for (let j = 0; j < RN; j++) L.push(`var ${acc(i, j)}: ${T} = ${zero(d)};`);
  const ai = viewIndex(g.base(A.buf), A.view, [...bc, "gm", "gk"]);
  const bi = viewIndex(g.base(B.buf), B.view, [...bc, "gk", "gn"]);
  // int8 GEMM: the tiles hold the operands less their zero points
  const aval = q ? minus(loadWord(q.da, ai), q.za) : loadWord(d, ai);
  const bval = q ? minusZeroB(g, q, loadWord(q.db, bi), "gn") : loadWord(d, bi);
  L.push(
    `for (var k0: i32 = 0i; k0 < ${K}i; k0 = k0 + ${TK}i) {`,
    `  for (var e: i32 = li; e < ${TM * TK}i; e = e + ${NT}i) {`,
    `    let mm = e / ${TK}i; let kk = e % ${TK}i;`,
    `    let gm = min(m0 + mm, ${M - 1}i); let gk = min(k0 + kk, ${K - 1}i);`,
    `    tA[kk * ${TM}i + mm] = ${aval};`,
    "  }",
    `  for (var e: i32 = li; e < ${TN * TK}i; e = e + ${NT}i) {`,
    `    let nn = e % ${TN}i; let kk = e / ${TN}i;`,
    `    let gn = min(n0 + nn, ${N - 1}i); let gk = min(k0 + kk, ${K - 1}i);`,
    `    tB[kk * ${TN}i + nn] = ${bval};`,
    "  }",
    "  workgroupBarrier();",
    `  let kn = min(${TK}i, ${K}i - k0);`,
    "  for (var kk: i32 = 0i; kk < kn; kk = kk + 1i) {",
  );
  for (let i = 0; i < RM; i++) L.push(`    let a${i} = tA[kk * ${TM}i + ty + ${i * TY}i];`);
  for (let j = 0; j < RN; j++) L.push(`    let b${j} = tB[kk * ${TN}i + tx + ${j * TX}i];`);
  for (let i = 0; i < RM; i++) for (let j = 0; j < RN; j++) L.push(`    ${acc(i, j)} = ${acc(i, j)} + a${i} * b${j};`);
  L.push("  }", "  workgroupBarrier();", "}");
  L.push(...epilogueCalls(f, t, (i, j) => narrow(acc(i, j), d, use)));
  const decls = [`var<workgroup> tA: array<${T}, ${TM * TK}>;`, `var<workgroup> tB: array<${T}, ${TN * TK}>;`];
  return { wgsl: g.module(decls, [epi], NT, L), invocations: f.batch * M * N, workgroups: W, workgroupSize: NT };
}

const numelOf = (s: readonly number[]) => s.reduce((p, e) => p * e, 1);

/**
 * k per workgroup slice in the packed int8 kernels (a multiple of 4). On SwiftShader
 * (128×768×768) 16 ran slower than 32 and 64; 32 keeps the workgroup tiles at 2 KiB each.
 */
export const PACKED_TK = 32;
const ONES = "0x01010101u";

/**
 * The packed int8 GEMM's two texts (see the header): tiles of packed words, a dot product per
 * (row, column) in the inner loop (dot4I8Packed, or unpacked vec4s), correction terms in the
 * epilogue. A constant B is packed here, once, into generated constants laid out
 * [batch of B (its broadcast dims dropped)][K/4][N].
 */
function packedInt8(g: KernelGen, A: Operand, B: Operand, n: Node, q: Int8Gemm, t: Tiling, f: TileFrame, epi: string): { dot4: string; packed: string } {
  const { tx: TX, ty: TY, rm: RM, rn: RN } = t;
  const { r, M, N, K, TM, TN, NT, bc, shape, bdims } = f;
  const TK4 = t.tk / 4, K4 = Math.ceil(K / 4), use = (h: string) => g.use(h);
  const zbAt = (j: number) => q.zb[q.zb.length === 1 ? 0 : j]!;
  const ca = q.da === "uint8" ? 128 : 0, dA = ca - q.za;
  const cbDefault = q.db === "uint8" ? 128 : 0;
  const bv = g.constValue(B.buf);
  const L = [...f.head];

  // ---- B: a constant packed now, or a runtime operand packed as its tiles load
  const cb = new Array<number>(N).fill(cbDefault);
  let bWord: (gq: string, gn: string) => string; // the packed word of column gn, k 4·gq…
  let corrAt: ((gn: string) => string) | undefined; // constant B: the folded correction word
  let colSums = false; // runtime B: Σ b' per column in the loop
  if (bv) {
    // B's batch dims that are not broadcast; the packed copy is indexed by those alone
    const pbd = bdims.filter((d) => B.view.strides[d] !== 0);
    const PB = pbd.reduce((p, d) => p * shape[d]!, 1);
    const pbs: number[] = [];
    let acc = 1;
    for (let i = pbd.length - 1; i >= 0; i--) { pbs[i] = acc; acc *= shape[pbd[i]!]!; }
    const data = bv.data as ArrayLike<number>, v = B.view;
    // element offsets of each packed batch; then k and j by their strides (operands have no masks)
    const boff = Array.from({ length: PB }, (_, p) => pbd.reduce((o, d, i) => o + (Math.floor(p / pbs[i]!) % shape[d]!) * v.strides[d]!, v.offset));
    const sk = K > 1 ? v.strides[r - 2]! : 0, sn = N > 1 ? v.strides[r - 1]! : 0;
    const at = v.mask
      ? (p: number, k: number, j: number): number => {
        const c = new Array<number>(r).fill(0);
        pbd.forEach((d, i) => { c[d] = Math.floor(p / pbs[i]!) % shape[d]!; });
        c[r - 2] = k; c[r - 1] = j;
        const ix = v.indexOf(c);
        return ix < 0 ? 0 : Number(data[ix]!);
      }
      : (p: number, k: number, j: number): number => data[boff[p]! + k * sk + j * sn]!;
    // a column whose b − zeroB[j] all fit a signed byte packs them as they are (δb[j] = 0)
    for (let j = 0; j < N; j++) {
      let fits = true;
      for (let p = 0; p < PB && fits; p++) for (let k = 0; k < K && fits; k++) { const v = at(p, k, j) - zbAt(j); fits = v >= -128 && v <= 127; }
      if (fits) cb[j] = zbAt(j);
    }
    const words = new Int32Array(PB * K4 * N), corr = new Int32Array(PB * N);
    for (let p = 0; p < PB; p++) for (let j = 0; j < N; j++) {
      let sum = 0;
      for (let k = 0; k < K; k++) {
        const v = at(p, k, j) - cb[j]!;
        sum += v;
        const w = (p * K4 + (k >> 2)) * N + j;
        words[w] = words[w]! | ((v & 0xff) << (8 * (k & 3)));
      }
      // δa·Σ b' + K·δa·δb[j], wrapping like the kernel's i32
      corr[p * N + j] = (Math.imul(dA, sum) + Math.imul(Math.imul(K, dA), cb[j]! - zbAt(j))) | 0;
    }
    const base = g.constWords(words, true);
    const pbIdx = pbd.map((d, i) => `c${d} * ${pbs[i]}i`).join(" + ") || "0i";
    L.push(`let pb = ${pbIdx};`);
    bWord = (gq, gn) => `A[u32(${base}i + (pb * ${K4}i + ${gq}) * ${N}i + ${gn})]`;
    if (corr.some((v) => v !== 0)) {
      const cbase = g.constWords(corr, true);
      corrAt = (gn) => `bitcast<i32>(A[u32(${cbase}i + pb * ${N}i + ${gn})])`;
    }
  } else {
    bWord = (gq, gn) => packWord(g, B, q.db, [...bc, "", gn], r - 2, `${gq} * 4i`, K);
    colSums = dA !== 0;
  }
  const dB = cb.map((c, j) => c - zbAt(j));
  const rowSums = dB.some((v) => v !== 0);

  // ---- the loop over K: packed tiles through workgroup memory, a dot product per (row, column)
  const acc = (i: number, j: number) => `r${i}_${j}`;
  for (let i = 0; i < RM; i++) for (let j = 0; j < RN; j++) L.push(`var ${acc(i, j)}: i32 = 0i;`);
  if (rowSums) for (let i = 0; i < RM; i++) L.push(`var rs${i}: i32 = 0i;`);
  if (colSums) for (let j = 0; j < RN; j++) L.push(`var cs${j}: i32 = 0i;`);
  L.push(
    `for (var q0: i32 = 0i; q0 < ${K4}i; q0 = q0 + ${TK4}i) {`,
    `  for (var e: i32 = li; e < ${TM * TK4}i; e = e + ${NT}i) {`,
    `    let mm = e / ${TK4}i; let kq = e % ${TK4}i;`,
    `    let gm = min(m0 + mm, ${M - 1}i); let gq = min(q0 + kq, ${K4 - 1}i);`,
    `    tA[kq * ${TM}i + mm] = ${packWord(g, A, q.da, [...bc, "gm", ""], r - 1, "gq * 4i", K)};`,
    "  }",
    `  for (var e: i32 = li; e < ${TN * TK4}i; e = e + ${NT}i) {`,
    `    let nn = e % ${TN}i; let kq = e / ${TN}i;`,
    `    let gn = min(n0 + nn, ${N - 1}i); let gq = min(q0 + kq, ${K4 - 1}i);`,
    `    tB[kq * ${TN}i + nn] = ${bWord("gq", "gn")};`,
    "  }",
    "  workgroupBarrier();",
    `  let kn = min(${TK4}i, ${K4}i - q0);`,
    "  for (var kq: i32 = 0i; kq < kn; kq = kq + 1i) {",
  );
  // two forms of the inner step: dot4I8Packed on the packed words, or the words unpacked once
  // each to vec4<i32> and dot (RM + RN unpacks per step, not one per product: on a CPU
  // emulation, where dot4I8Packed is itself unpacking, this one is the faster)
  const inner = (native: boolean): string[] => {
    const I: string[] = [];
    const word = (v: string) => (native ? v : `k_unpack4(${v})`);
    for (let i = 0; i < RM; i++) I.push(`    let a${i} = ${word(`tA[kq * ${TM}i + ty + ${i * TY}i]`)};`);
    for (let j = 0; j < RN; j++) I.push(`    let b${j} = ${word(`tB[kq * ${TN}i + tx + ${j * TX}i]`)};`);
    const dot = (x: string, y: string) => (native ? `dot4I8Packed(${x}, ${y})` : `dot(${x}, ${y})`);
    const ones = native ? ONES : "vec4<i32>(1i)";
    for (let i = 0; i < RM; i++) for (let j = 0; j < RN; j++) I.push(`    ${acc(i, j)} = ${acc(i, j)} + ${dot(`a${i}`, `b${j}`)};`);
    if (rowSums) for (let i = 0; i < RM; i++) I.push(`    rs${i} = rs${i} + ${dot(`a${i}`, ones)};`);
    if (colSums) for (let j = 0; j < RN; j++) I.push(`    cs${j} = cs${j} + ${dot(ones, `b${j}`)};`);
    I.push("  }", "  workgroupBarrier();", "}");
    return I;
  };

  // ---- the epilogue: Σ a'b' + δb[j]·Σ a' + (constant B: the folded word; runtime B: δa·Σ b' + K·δa·δb[j])
  let dbAt: (gn: string) => string = () => "0i";
  if (rowSums || (colSums && dB.some((v) => v !== 0))) {
    const dbx = tableAt(g, dB, "gn", true);
    dbAt = () => dbx;
  }
  const value = (i: number, j: number): string => {
    const terms = [acc(i, j)];
    if (rowSums) terms.push(`${dbAt("gn")} * rs${i}`);
    if (corrAt) terms.push(corrAt("gn"));
    if (!bv && dA !== 0) {
      terms.push(`${lit(dA)} * cs${j}`);
      if (dB.some((v) => v !== 0)) terms.push(`${lit(Math.imul(K, dA))} * ${dbAt("gn")}`);
    }
    return narrow(terms.length > 1 ? `(${terms.join(" + ")})` : terms[0]!, "int32", use);
  };
  const tail = epilogueCalls(f, t, value);
  const decls = [`var<workgroup> tA: array<u32, ${TM * TK4}>;`, `var<workgroup> tB: array<u32, ${TN * TK4}>;`];
  g.use("k_unpack4");
  return { packed: g.module(decls, [epi], NT, [...L, ...inner(false), ...tail]), dot4: g.module(decls, [epi], NT, [...L, ...inner(true), ...tail]) };
}

/**
 * WGSL of one packed word: the four elements of operand `X` at k = `k4` + 0…3 along dim `kd`
 * (other coordinates: `coords`, `kd` left blank), each less the shift (128 for uint8: the byte
 * of x − 128 is x ^ 0x80), as signed bytes; bytes past K are 0.
 */
function packWord(g: GenCtx, X: Operand, dt: DType, coords: readonly string[], kd: number, k4: string, K: number): string {
  const base = g.base(X.buf), st = X.view.strides[kd]!;
  const flip = dt === "uint8";
  const parts: string[] = [];
  if (K % 4 === 0) {
    // every word is whole: one index, the next three at stride offsets
    const idx = viewIndex(base, X.view, coords.map((c, i) => (i === kd ? `(${k4})` : c)));
    for (let t = 0; t < 4; t++) {
      const w = `A[u32(${idx}${t && st ? ` + ${t * st}i` : ""})]`;
      parts.push(t === 3 ? `(${w} << 24u)` : `((${w} & 0xffu)${t ? ` << ${8 * t}u` : ""})`);
    }
    const word = `(${parts.join(" | ")})`;
    return flip ? `(${word} ^ 0x80808080u)` : word;
  }
  // the last word is partial: clamp the index, zero the bytes past K
  for (let t = 0; t < 4; t++) {
    const kt = `${k4} + ${t}i`;
    const idx = viewIndex(base, X.view, coords.map((c, i) => (i === kd ? `min(${kt}, ${K - 1}i)` : c)));
    const byte = `((A[u32(${idx})] & 0xffu)${flip ? " ^ 0x80u" : ""})`;
    parts.push(`(select(0u, ${byte}, ${kt} < ${K}i)${t ? ` << ${8 * t}u` : ""})`);
  }
  return `(${parts.join(" | ")})`;
}
