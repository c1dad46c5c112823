/**
 * int8 GEMM on the wasm backend (matmul and conv nodes with zero points): every result is
 * compared for exact equality with the js reference. Random int8/uint8 operands (seeded, the
 * full 8-bit ranges), scalar and per-column / per-channel zero points, shapes with tails in M,
 * N and K (odd K, K = 1, M = 1), batched and broadcast batches, constant and runtime B, convs
 * with pads/strides/dilations/groups/depthwise/1×1/1-d/3-d, fused requantizing epilogues
 * (cast → per-column scale → bias → relu → round → clip → cast uint8) and other output dtypes,
 * on one and two threads, through the fast kernels (qmatmul.ts) and the scalar fallback
 * (anchors.ts, with `codegenOptions.blockedMatmul` off). Math epilogues (tanh, erf-GELU) run as
 * strip epilogues, checked against the reference (JS math) and, with the wasm math library's
 * f32x4 functions, against the scalar path bit for bit. The loop kernels around the GEMMs
 * (quantize, dequantize, 8-bit arithmetic, bool masks) vectorize and equal the reference exactly.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import "../../backends/js/index.js";
import "../../backends/wasm/index.js";
import { threading } from "../../backends/wasm/index.js";
import { codegenOptions } from "../../backends/wasm/kernel.js";
import { getBackend, type OptLevel } from "../../jit/backend.js";
import { buildGraph, type Graph } from "../../jit/graph.js";
import { node, constNode, numel, type Node, type Attrs } from "../../jit/ir.js";
import { runPasses } from "../../jit/passes/index.js";
import { fromF64, toF64, type HostBuffer } from "../../jit/buffer.js";
import type { DType } from "../../jit/dtype.js";
import { ModuleBuilder, type FunctionBuilder } from "../../backends/wasm/asm/index.js";
import { prng } from "../passes/helpers.js";
import { emitQGemm, type QGemmSpec, type QGemmTuning, type QOutDtype } from "../../backends/wasm/qmatmul.js";

type Q = "int8" | "uint8";
const lo = (d: Q) => (d === "uint8" ? 0 : -128);
const q8 = (d: Q, shape: readonly number[], rnd: () => number): HostBuffer =>
  fromF64(d, shape, Array.from({ length: numel(shape) }, () => lo(d) + Math.floor(rnd() * 256)));
const zeros = (d: Q, n: number, rnd: () => number): number[] => Array.from({ length: n }, () => lo(d) + Math.floor(rnd() * 256));

const input = (i: number, dtype: DType, shape: readonly number[]) => node("input", [], { index: i, to: dtype }, shape);
const cst = (b: HostBuffer) => constNode(b);
/** A constant vector along the last (`axis` = -1) or a given axis, broadcast to `shape`. */
function along(values: readonly number[], shape: readonly number[], axis: number): Node {
  const s = shape.map((_, i) => (i === axis ? values.length : 1));
  return node("expand", [cst(fromF64("float32", s, values))], {}, shape);
}
const scalar = (v: number, dtype: DType, shape: readonly number[]) =>
  node("expand", [node("reshape", [cst(fromF64(dtype, [], [v]))], {}, shape.map(() => 1))], {}, shape);

type Epi = "none" | "f32" | "requant" | "int32bias" | "int8out" | "tanh" | "tanhRequant" | "geluRequant";

/**
 * The kernel's epilogue over an int32 GEMM result `g` whose output channel runs along `axis`:
 * none; cast f32 · scale; cast · scale + bias → relu → round → clip [0, 255] → uint8; + int32
 * bias (an int32 output); cast · scale → round → clip [−128, 127] → int8.
 */
function epilogue(g: Node, epi: Epi, axis: number, rnd: () => number): Node {
  const C = g.shape[axis]!, sh = g.shape;
  const vec = (a: number, b: number) => Array.from({ length: C }, () => Math.fround(a + (b - a) * rnd()));
  if (epi === "none") return g;
  if (epi === "int32bias") {
    const bias = fromF64("int32", sh.map((_, i) => (i === axis ? C : 1)), Array.from({ length: C }, () => Math.floor(rnd() * 20001) - 10000));
    return node("add", [g, node("expand", [cst(bias)], {}, sh)]);
  }
  const f = node("mul", [node("cast", [g], { to: "float32" }), along(vec(1e-4, 3e-3), sh, axis)]);
  if (epi === "f32") return f;
  if (epi === "tanh") return node("add", [node("tanh", [f]), f]);
  if (epi === "geluRequant") {
    // erf-GELU, requantized to uint8 (a GPT MLP's first layer)
    const sh2 = (v: number) => scalar(v, "float32", sh);
    const gelu = node("mul", [node("mul", [f, node("add", [node("erf", [node("div", [f, sh2(Math.SQRT2)])]), sh2(1)])]), sh2(0.5)]);
    const r = node("add", [node("round", [node("div", [gelu, sh2(0.02)])]), sh2(3)]);
    return node("cast", [node("min", [node("max", [r, sh2(0)]), sh2(255)])], { to: "uint8" });
  }
  if (epi === "tanhRequant") {
    const r = node("round", [node("mul", [node("tanh", [f]), scalar(100, "float32", sh)])]);
    return node("cast", [node("min", [node("max", [r, scalar(-128, "float32", sh)]), scalar(127, "float32", sh)])], { to: "int8" });
  }
  if (epi === "int8out") {
    const r = node("round", [f]);
    return node("cast", [node("min", [node("max", [r, scalar(-128, "float32", sh)]), scalar(127, "float32", sh)])], { to: "int8" });
  }
  const y = node("max", [node("add", [f, along(vec(-20, 20), sh, axis)]), scalar(0, "float32", sh)]);
  const r = node("round", [node("add", [node("mul", [y, scalar(1.7, "float32", sh)]), scalar(3, "float32", sh)])]);
  return node("cast", [node("min", [node("max", [r, scalar(0, "float32", sh)]), scalar(255, "float32", sh)])], { to: "uint8" });
}

async function check(g: Graph, inputs: HostBuffer[], opts: { opt?: OptLevel; threads?: number } = {}): Promise<string> {
  const opt = opts.opt ?? 2;
  const ref = await getBackend("js").compile(g, { opt: 0 }).run(inputs);
  const pg = runPasses(g, opt).graph;
  const exe = getBackend("wasm").compile(pg, { opt, threads: opts.threads ?? 1 });
  const got = await exe.run(inputs);
  ref.forEach((r, i) => {
    const a = got[i]!;
    expect(a.dtype).toBe(r.dtype);
    expect([...a.shape]).toEqual([...r.shape]);
    const x = toF64(a), y = toF64(r);
    for (let j = 0; j < x.length; j++) if (!Object.is(x[j], y[j])) throw new Error(`output ${i} element ${j} of ${x.length}: ${x[j]} vs ${y[j]}`);
  });
  return exe.explain().map((s) => s.text).join("\n");
}

interface MM {
  batch?: number[]; M: number; N: number; K: number;
  da?: Q; db?: Q;
  /** zeroB: one entry or one per column; zeroA scalar. */
  perCol?: boolean; zeroA?: boolean;
  constB?: boolean;
  /** B broadcast over the batch (its batch dims are 1, expanded). */
  bcastB?: boolean;
  /** B given transposed ([N, K] permuted). */
  transB?: boolean;
  epi?: Epi;
  seed?: number;
}

function matmulCase(c: MM): { g: Graph; inputs: HostBuffer[] } {
  const rnd = prng(c.seed ?? (c.M * 7919 + c.N * 131 + c.K));
  const da = c.da ?? "uint8", db = c.db ?? "int8", bd = c.batch ?? [];
  const aShape = [...bd, c.M, c.K];
  const bBatch = c.bcastB ? bd.map(() => 1) : bd;
  const bStore = c.transB ? [...bBatch, c.N, c.K] : [...bBatch, c.K, c.N];
  const bVal = q8(db, bStore, rnd);
  const inputs = [q8(da, aShape, rnd)];
  const a = input(0, da, aShape);
  let b: Node = c.constB ? cst(bVal) : input(1, db, bStore);
  if (!c.constB) inputs.push(bVal);
  if (c.transB) b = node("permute", [b], { perm: [...bBatch.map((_, i) => i), bd.length + 1, bd.length] }, undefined);
  if (c.bcastB && bd.length) b = node("expand", [b], {}, [...bd, c.K, c.N]);
  const attrs: Attrs = { zeroA: c.zeroA === false ? 0 : zeros(da, 1, rnd)[0]!, zeroB: zeros(db, c.perCol ? c.N : 1, rnd) };
  const gm = node("matmul", [a, b], attrs);
  const out = epilogue(gm, c.epi ?? "none", gm.shape.length - 1, rnd);
  return { g: buildGraph(c.constB ? [a] : [a, b.op === "input" ? b : findInput(b)], [out]), inputs };
}

function findInput(n: Node): Node {
  while (n.op !== "input") n = n.inputs[0]!;
  return n;
}

interface CV {
  B?: number; C: number; O: number; spatial: number[]; k: number[];
  s?: number[]; p?: number[]; d?: number[]; g?: number;
  dx?: Q; dw?: Q; perCh?: boolean; constW?: boolean; epi?: Epi; seed?: number;
}

function convCase(c: CV): { g: Graph; inputs: HostBuffer[] } {
  const rnd = prng(c.seed ?? (c.C * 31 + c.O * 7 + c.spatial.reduce((x, y) => x * 13 + y, 0)));
  const dx = c.dx ?? "uint8", dw = c.dw ?? "int8", G = c.g ?? 1, sp = c.spatial.length;
  const xShape = [c.B ?? 1, c.C, ...c.spatial], wShape = [c.O, c.C / G, ...c.k];
  const inputs = [q8(dx, xShape, rnd)];
  const x = input(0, dx, xShape);
  const wVal = q8(dw, wShape, rnd);
  const w = c.constW === false ? input(1, dw, wShape) : cst(wVal);
  if (c.constW === false) inputs.push(wVal);
  const attrs: Attrs = {
    strides: c.s ?? c.k.map(() => 1), dilations: c.d ?? c.k.map(() => 1), pads: c.p ?? Array(2 * sp).fill(0), groups: G,
    zeroA: zeros(dx, 1, rnd)[0]!, zeroB: zeros(dw, c.perCh ? c.O : 1, rnd),
  };
  const gc = node("conv", [x, w], attrs);
  const out = epilogue(gc, c.epi ?? "none", 1, rnd);
  return { g: buildGraph(c.constW === false ? [x, w] : [x], [out]), inputs };
}

const MATMULS: [string, MM][] = [
  ["tiny 1×1×1", { M: 1, N: 1, K: 1 }],
  ["K = 1", { M: 7, N: 13, K: 1, perCol: true }],
  ["M = 1 (vector)", { M: 1, N: 37, K: 50, perCol: true }],
  ["odd K, tails everywhere", { M: 13, N: 19, K: 33, perCol: true }],
  ["int8 × int8", { M: 11, N: 20, K: 24, da: "int8", db: "int8" }],
  ["uint8 × uint8", { M: 9, N: 17, K: 31, da: "uint8", db: "uint8", perCol: true }],
  ["int8 × uint8", { M: 10, N: 9, K: 16, da: "int8", db: "uint8", perCol: true }],
  ["no zero points", { M: 8, N: 8, K: 8, zeroA: false }],
  ["constant B", { M: 17, N: 23, K: 45, constB: true, perCol: true }],
  ["transposed runtime B", { M: 6, N: 11, K: 21, transB: true, perCol: true }],
  ["transposed constant B", { M: 6, N: 11, K: 21, transB: true, constB: true }],
  ["batched", { batch: [3], M: 5, N: 12, K: 9, perCol: true }],
  ["batched 2-d batch, constant B", { batch: [2, 2], M: 4, N: 7, K: 10, constB: true, perCol: true }],
  ["broadcast B over batch", { batch: [3], M: 7, N: 10, K: 14, bcastB: true, perCol: true }],
  ["broadcast constant B over batch", { batch: [4], M: 3, N: 10, K: 15, bcastB: true, constB: true }],
  ["requant epilogue", { M: 13, N: 21, K: 27, perCol: true, constB: true, epi: "requant" }],
  ["requant epilogue, runtime B", { M: 9, N: 14, K: 40, perCol: true, epi: "requant" }],
  ["f32 epilogue", { M: 12, N: 30, K: 17, epi: "f32" }],
  ["int32 bias epilogue", { M: 10, N: 18, K: 25, perCol: true, constB: true, epi: "int32bias" }],
  ["int8 out epilogue", { M: 7, N: 26, K: 19, constB: true, epi: "int8out" }],
  ["batched requant", { batch: [2], M: 9, N: 22, K: 33, constB: true, perCol: true, epi: "requant" }],
];

const CONVS: [string, CV][] = [
  ["3×3 pad 1", { C: 5, O: 7, spatial: [9, 11], k: [3, 3], p: [1, 1, 1, 1], perCh: true }],
  ["3×3 stride 2 asymmetric pad", { C: 4, O: 9, spatial: [10, 9], k: [3, 3], s: [2, 2], p: [0, 1, 2, 1] }],
  ["dilated", { C: 3, O: 6, spatial: [12, 12], k: [3, 3], p: [2, 2, 2, 2], d: [2, 2], perCh: true }],
  ["1×1 pointwise", { B: 2, C: 16, O: 12, spatial: [6, 7], k: [1, 1], perCh: true }],
  ["1×1 stride 2", { C: 8, O: 5, spatial: [9, 9], k: [1, 1], s: [2, 2] }],
  ["grouped", { C: 8, O: 6, spatial: [7, 8], k: [3, 3], p: [1, 1, 1, 1], g: 2, perCh: true }],
  ["depthwise", { B: 2, C: 6, O: 6, spatial: [9, 10], k: [3, 3], p: [1, 1, 1, 1], g: 6, perCh: true }],
  ["depthwise stride 2", { C: 5, O: 5, spatial: [11, 8], k: [3, 3], s: [2, 2], p: [1, 1, 1, 1], g: 5 }],
  ["1-d", { B: 2, C: 4, O: 6, spatial: [17], k: [3], p: [1, 2], perCh: true }],
  ["3-d", { C: 3, O: 4, spatial: [4, 5, 6], k: [2, 3, 2], p: [1, 0, 1, 0, 1, 1], perCh: true }],
  ["runtime weights", { C: 4, O: 5, spatial: [6, 7], k: [3, 3], p: [1, 1, 1, 1], constW: false, perCh: true }],
  ["requant epilogue", { C: 6, O: 10, spatial: [8, 9], k: [3, 3], p: [1, 1, 1, 1], perCh: true, epi: "requant" }],
  ["1×1 requant epilogue", { C: 12, O: 20, spatial: [5, 6], k: [1, 1], perCh: true, epi: "requant" }],
  ["int8 × int8 f32 epilogue", { C: 5, O: 8, spatial: [7, 7], k: [3, 3], dx: "int8", dw: "int8", epi: "f32" }],
  ["grouped 1×1 (direct), batch 2", { B: 2, C: 12, O: 8, spatial: [5, 7], k: [1, 1], g: 4, perCh: true, epi: "requant" }],
  ["depthwise 1×1", { B: 2, C: 6, O: 6, spatial: [4, 5], k: [1, 1], g: 6, perCh: true }],
  ["depthwise channel multiplier 2", { C: 4, O: 8, spatial: [7, 6], k: [3, 3], p: [1, 1, 1, 1], g: 4, perCh: true }],
  ["long K (several K blocks), uint8 out", { B: 2, C: 130, O: 6, spatial: [5, 4], k: [3, 3], p: [1, 1, 1, 1], perCh: true, epi: "requant" }],
  ["uint8 weights, int8 input", { C: 5, O: 7, spatial: [6, 6], k: [2, 2], s: [2, 1], dx: "int8", dw: "uint8", perCh: true, epi: "int8out" }],
];

/** Cases the fast kernels leave to the scalar path. */
const SCALAR_ONLY = new Set(["runtime weights"]);

for (const path of ["fast", "scalar"] as const) {
  describe(`int8 GEMM on wasm (${path} path) equals the reference exactly`, () => {
    const saved = { ...codegenOptions };
    beforeAll(() => { codegenOptions.blockedMatmul = path === "fast"; codegenOptions.exactMath = true; });
    afterAll(() => { Object.assign(codegenOptions, saved); });
    const fastExpected = (name: string, text: string) => expect(text.includes("int8gemm")).toBe(path === "fast" && !SCALAR_ONLY.has(name));
    for (const [name, c] of MATMULS) {
      it(`matmul ${name}`, async () => {
        const { g, inputs } = matmulCase(c);
        const text = await check(g, inputs);
        fastExpected(name, text);
        // the requantizing epilogue runs in its vector form (4 columns at a time, narrowed in-register)
        if (path === "fast" && c.epi === "requant") expect(text).toMatch(/i32x4\.trunc_sat_f32x4_s[\s\S]*i8x16\.narrow_i16x8_u/);
        if (c.epi && c.epi !== "none") await check(g, inputs, { opt: 0 });
      });
    }
    for (const [name, c] of CONVS) {
      it(`conv ${name}`, async () => {
        const { g, inputs } = convCase(c);
        fastExpected(name, await check(g, inputs));
      });
    }
  });
}

describe("int8 GEMM on wasm: two threads (every phase split), long K, math epilogues", () => {
  const saved = { ...threading }, savedCg = { ...codegenOptions };
  beforeAll(() => { threading.minCost = 0; threading.chunkCost = 1; codegenOptions.exactMath = true; });
  afterAll(() => { Object.assign(threading, saved); Object.assign(codegenOptions, savedCg); });
  const mms: [string, MM][] = [
    ["requant, constant B", { M: 37, N: 270, K: 45, constB: true, perCol: true, epi: "requant" }],
    ["runtime B, batched", { batch: [3], M: 20, N: 33, K: 40, perCol: true, epi: "f32" }],
    ["long K (several K blocks), uint8 out", { M: 9, N: 260, K: 2100, constB: true, perCol: true, epi: "requant" }],
    ["long K, int32 out, runtime B", { M: 70, N: 18, K: 2051, perCol: true }],
    ["long K, f32 out", { M: 6, N: 300, K: 1500, constB: true, epi: "f32" }],
    // math epilogues run per row panel over an int32 strip (the "(strip)" epilogue)
    ["tanh epilogue, f32 out", { M: 13, N: 270, K: 30, constB: true, perCol: true, epi: "tanh" }],
    ["tanh then int8", { M: 13, N: 270, K: 30, constB: true, perCol: true, epi: "tanhRequant" }],
    ["erf-GELU then uint8, runtime B", { M: 10, N: 265, K: 33, perCol: true, epi: "geluRequant" }],
    ["erf-GELU then uint8, long K (partials in scratch)", { M: 7, N: 262, K: 2100, constB: true, perCol: true, epi: "geluRequant" }],
    ["tanh f32, long K (partials in C)", { M: 9, N: 261, K: 1500, constB: true, epi: "tanh" }],
    ["tanh f32, batches folded into M", { batch: [3], M: 5, N: 263, K: 19, constB: true, bcastB: true, perCol: true, epi: "tanh" }],
    ["erf-GELU uint8, batched runtime B", { batch: [2], M: 6, N: 21, K: 17, perCol: true, epi: "geluRequant" }],
  ];
  for (const threads of [1, 2]) {
    const split = (text: string) => { expect(text).toContain("int8gemm"); if (threads > 1) expect(text).toMatch(/k\d+(_\d+)?: \d+ work items, cost \d+: \d+ chunks/); };
    for (const [name, c] of mms) it(`matmul ${name}, ${threads} thread(s)`, async () => {
      const { g, inputs } = matmulCase(c);
      const text = await check(g, inputs, { threads });
      split(text);
      if (c.epi === "tanh" || c.epi === "tanhRequant" || c.epi === "geluRequant") expect(text).toContain("(strip)");
    });
    const convs: [string, CV][] = [
      ["3×3 requant", { B: 2, C: 8, O: 24, spatial: [14, 13], k: [3, 3], p: [1, 1, 1, 1], perCh: true, epi: "requant" }],
      ["depthwise requant", { B: 2, C: 16, O: 16, spatial: [12, 11], k: [3, 3], p: [1, 1, 1, 1], g: 16, perCh: true, epi: "requant" }],
      ["1×1 int8 out", { B: 1, C: 24, O: 40, spatial: [16, 17], k: [1, 1], perCh: true, epi: "int8out" }],
      ["grouped, erf-GELU uint8 (strip, group coordinates)", { B: 2, C: 8, O: 12, spatial: [7, 6], k: [3, 3], p: [1, 1, 1, 1], g: 2, perCh: true, epi: "geluRequant" }],
      ["3×3 tanh f32 (strip)", { B: 1, C: 6, O: 9, spatial: [9, 10], k: [3, 3], p: [1, 1, 1, 1], perCh: true, epi: "tanh" }],
    ];
    for (const [name, c] of convs) it(`conv ${name}, ${threads} thread(s)`, async () => { const { g, inputs } = convCase(c); split(await check(g, inputs, { threads })); });
  }
});

// ---------------------------------------------------------------------------------------------
// The kernel generator itself (qmatmul.ts), on memory of its own: layouts, forced blockings,
// work-item splits, and that nothing outside C and scratch is written.

interface Direct {
  batch: number; M: number; N: number; K: number;
  da?: Q; db?: Q; perCol?: boolean;
  /** A layout: row-major, transposed (sk = M), padded rows, negative strides. */
  a?: "row" | "trans" | "padded" | "flipped" | "const";
  /** B layout: row-major, transposed (sn = K), strided, broadcast over batch, constant (per batch or shared). */
  b?: "row" | "trans" | "strided" | "bcast" | "const" | "constShared";
  /** Output dtype through a hand-written epilogue (int32: none). */
  out?: QOutDtype;
  vec?: boolean;
  /** The epilogue runs as a strip function per row panel (QGemmSpec.epilogue.strip). */
  strip?: boolean;
  tuning?: QGemmTuning;
  /** Run the work items one at a time in this order instead of all at once. */
  split?: boolean;
}

function runDirect(c: Direct, seed = 1): void {
  const { batch, M, N, K } = c;
  const rnd = prng(seed * 7919 + M * 131 + N * 31 + K);
  const da = c.da ?? "uint8", db = c.db ?? "int8", aL = c.a ?? "row", bL = c.b ?? "row", out = c.out ?? "int32";
  let top = 256;
  const inits: [number, Uint8Array][] = [];
  const scratch: [number, number][] = [];
  let emitting = false;
  const alloc = (bytes: number, align: number, init?: Uint8Array) => {
    top = Math.ceil(top / align) * align;
    const p = top;
    top += bytes + 256;
    if (init) inits.push([p, init]); else if (emitting) scratch.push([p, p + bytes]);
    return p;
  };
  const rv = (d: Q) => lo(d) + Math.floor(rnd() * 256);
  const Av = Array.from({ length: batch * M * K }, () => rv(da));
  const bBatches = bL === "bcast" || bL === "constShared" ? 1 : batch;
  const Bv = Array.from({ length: bBatches * K * N }, () => rv(db));
  const za = aL === "const" ? zeros(da, c.perCol ? M : 1, rnd) : zeros(da, 1, rnd);
  const zb = zeros(db, c.perCol ? N : 1, rnd);
  // A placement (element strides; bytes = elements)
  const as = aL === "trans" ? { sb: M * K, sm: 1, sk: M } : aL === "padded" ? { sb: M * (K + 3) + 5, sm: K + 3, sk: 1 }
    : aL === "flipped" ? { sb: M * K, sm: -K, sk: -1 } : { sb: M * K, sm: K, sk: 1 };
  const span = (n: number[], s: number[]) => { let l = 0, h = 0; n.forEach((d, i) => { if (d > 0) { const e = (d - 1) * s[i]!; if (e < 0) l += e; else h += e; } }); return [l, h] as const; };
  const [aLo, aHi] = span([batch, M, K], [as.sb, as.sm, as.sk]);
  const aBase = alloc(aHi - aLo + 1, 16) - aLo;
  const bs = bL === "trans" ? { sb: K * N, sk: 1, sn: K } : bL === "strided" ? { sb: K * (2 * N + 1) + 3, sk: 2 * N + 1, sn: 2 } : { sb: bL === "bcast" ? 0 : K * N, sk: N, sn: 1 };
  const [bLo, bHi] = span([bBatches, K, N], [bs.sb, bs.sk, bs.sn]);
  const bBase = alloc(bHi - bLo + 1, 16) - bLo;
  const osz = out === "float32" || out === "int32" ? 4 : 1;
  const cBase = alloc(osz * batch * M * N, 16);
  const scale = Array.from({ length: N }, () => Math.fround(1e-3 + rnd() * 1e-2));
  const scaleBase = alloc(4 * N, 16);
  const epilogue: QGemmSpec["epilogue"] = out === "int32" ? null : {
    vectorizable: c.vec ?? true,
    strip: c.strip,
    emit(f: FunctionBuilder, vector: boolean, _b: number, m: number, n: number) {
      // float32: acc · scale[n] + m; uint8: (acc + n) & 255; int8: wrap(acc − m)
      if (out === "float32") {
        if (vector) f.f32x4_convert_i32x4_s().local_get(n).i32_const(2).i32_shl().v128_load(scaleBase, 4).f32x4_mul().local_get(m).f32_convert_i32_s().f32x4_splat().f32x4_add();
        else f.f32_convert_i32_s().local_get(n).i32_const(2).i32_shl().f32_load(scaleBase, 4).f32_mul().local_get(m).f32_convert_i32_s().f32_add();
      } else if (out === "uint8") {
        if (vector) f.local_get(n).i32x4_splat().v128_const_i32x4(0, 1, 2, 3).i32x4_add().i32x4_add().v128_const_i32x4(255, 255, 255, 255).v128_and();
        else f.local_get(n).i32_add().i32_const(255).i32_and();
      } else {
        if (vector) f.local_get(m).i32x4_splat().i32x4_sub().i32_const(24).i32x4_shl().i32_const(24).i32x4_shr_s();
        else f.local_get(m).i32_sub().i32_extend8_s();
      }
    },
  };
  const spec: QGemmSpec = {
    batch, M, N, K,
    a: aL === "const" ? { constant: Av, batched: true, zero: za } : { base: aBase, ...as, signed: da === "int8", zero: za[0]! },
    b: bL === "const" || bL === "constShared" ? { constant: Bv, batched: bL === "const", zero: zb } : { base: bBase, ...bs, signed: db === "int8", zero: zb },
    c: cBase, cDtype: out, epilogue, alloc, tuning: c.tuning,
  };
  const m = new ModuleBuilder();
  m.importMemory("env", "mem", { min: 1 });
  emitting = true;
  const r = emitQGemm(m, spec, "q");
  emitting = false;
  m.exportFunc("q", r.func);
  const mem = new WebAssembly.Memory({ initial: Math.ceil((top + 512) / 65536) + 1 });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(m.build()), { env: { mem } });
  const u8 = new Uint8Array(mem.buffer), i8 = new Int8Array(mem.buffer);
  u8.fill(0xa5);
  for (const [p, bytes] of inits) u8.set(bytes, p);
  const put = (d: Q, at: number, v: number) => { if (d === "int8") i8[at] = v; else u8[at] = v; };
  for (let b = 0; b < batch; b++) for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) put(da, aBase + b * as.sb + i * as.sm + k * as.sk, Av[(b * M + i) * K + k]!);
  for (let b = 0; b < bBatches; b++) for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) put(db, bBase + b * bs.sb + k * bs.sk + n * bs.sn, Bv[(b * K + k) * N + n]!);
  new Float32Array(mem.buffer, scaleBase, N).set(scale);
  const before = u8.slice();
  const run = inst.exports.q as (s: number, e: number) => void;
  if (c.split) for (let i = r.workItems - 1; i >= 0; i--) run(i, i + 1);
  else run(0, r.workItems);
  const view = out === "float32" ? new Float32Array(mem.buffer, cBase, batch * M * N) : out === "int32" ? new Int32Array(mem.buffer, cBase, batch * M * N)
    : out === "uint8" ? new Uint8Array(mem.buffer, cBase, batch * M * N) : new Int8Array(mem.buffer, cBase, batch * M * N);
  for (let b = 0; b < batch; b++) {
    const bb = bBatches === 1 ? 0 : b;
    for (let i = 0; i < M; i++) for (let n = 0; n < N; n++) {
      let s = 0;
      const zA = za.length === 1 ? za[0]! : za[i]!, zB = zb.length === 1 ? zb[0]! : zb[n]!;
      for (let k = 0; k < K; k++) s += (Av[(b * M + i) * K + k]! - zA) * (Bv[(bb * K + k) * N + n]! - zB);
      const want = out === "float32" ? Math.fround(Math.fround(Math.fround(s) * scale[n]!) + i) : out === "int32" ? s | 0 : out === "uint8" ? (s + n) & 255 : ((s - i) << 24) >> 24;
      const got = view[(b * M + i) * N + n]!;
      if (!Object.is(got, want)) expect.fail(`${JSON.stringify(c)} [${r.describe}]: C[${b}, ${i}, ${n}] = ${got}, expected ${want}`);
    }
  }
  const cLo = cBase, cHi = cBase + osz * batch * M * N;
  for (let i = 0; i < u8.length; i++) {
    if (u8[i] !== before[i] && !(i >= cLo && i < cHi) && !scratch.some(([l, h]) => i >= l && i < h)) expect.fail(`${JSON.stringify(c)}: byte ${i} outside C and scratch was written`);
  }
}

describe("emitQGemm (the generator, on its own memory)", () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1], [1, 37, 19], [1, 100, 300], [5, 1, 30], [7, 13, 5], [4, 8, 8], [16, 16, 16], [65, 33, 17], [2, 9, 4],
    [3, 50, 7], [6, 20, 33], [9, 6, 70], [97, 101, 103], [131, 257, 521], [3, 5, 0],
  ];
  for (const [M, N, K] of shapes) {
    for (const b of ["row", "const"] as const) it(`${M}×${N}×${K} B ${b}`, () => { runDirect({ batch: 1, M, N, K, b, perCol: true }); });
  }
  const layouts: Direct[] = [
    { batch: 2, M: 9, N: 19, K: 23, a: "trans" }, { batch: 2, M: 9, N: 19, K: 23, a: "padded", perCol: true },
    { batch: 2, M: 10, N: 21, K: 25, a: "flipped" }, { batch: 3, M: 7, N: 22, K: 27, a: "const", perCol: true, b: "row" },
    { batch: 2, M: 7, N: 22, K: 27, a: "const", b: "const" },
    { batch: 2, M: 11, N: 17, K: 19, b: "trans", perCol: true }, { batch: 2, M: 11, N: 17, K: 19, b: "strided", perCol: true },
    { batch: 3, M: 5, N: 30, K: 16, b: "bcast", perCol: true }, { batch: 3, M: 1, N: 30, K: 16, b: "bcast" },
    { batch: 3, M: 6, N: 20, K: 33, b: "constShared", perCol: true }, { batch: 3, M: 6, N: 20, K: 33, b: "const" },
    { batch: 2, M: 8, N: 20, K: 24, da: "int8", db: "uint8" }, { batch: 1, M: 8, N: 20, K: 24, da: "uint8", db: "uint8", perCol: true },
  ];
  for (const l of layouts) it(`layout ${JSON.stringify(l)}`, () => { runDirect(l); });
  const outs: Direct[] = [];
  for (const out of ["float32", "uint8", "int8"] as const)
    for (const vec of [true, false]) for (const b of ["row", "const"] as const) outs.push({ batch: 2, M: 13, N: 23, K: 41, out, vec, b, perCol: true });
  for (const o of outs) it(`epilogue ${JSON.stringify(o)}`, () => { runDirect(o); });
  const tunings: Direct[] = [
    { batch: 1, M: 40, N: 70, K: 100, tuning: { kc: 16 } }, { batch: 1, M: 40, N: 70, K: 101, tuning: { kc: 17 }, out: "uint8" },
    { batch: 2, M: 40, N: 70, K: 99, tuning: { kc: 20, nc: 24, mc: 8 }, b: "const", out: "float32", split: true },
    { batch: 2, M: 33, N: 70, K: 77, tuning: { kc: 30, nc: 16, mc: 12 }, out: "int8", split: true },
    { batch: 3, M: 20, N: 50, K: 64, tuning: { mr: 6, nv: 2 }, b: "bcast" }, { batch: 1, M: 20, N: 50, K: 64, tuning: { mr: 3, nv: 3 } },
    { batch: 1, M: 20, N: 50, K: 64, tuning: { mr: 2, nv: 5, unroll: 2 } }, { batch: 1, M: 30, N: 50, K: 63, tuning: { mr: 5, nv: 2, unroll: 2 }, b: "const" },
    { batch: 1, M: 30, N: 50, K: 63, tuning: { mr: 8, nv: 1 }, a: "const", b: "const", perCol: true },
    { batch: 4, M: 3, N: 40, K: 50, b: "bcast", tuning: { kc: 10 }, out: "uint8", split: true },
    { batch: 1, M: 21, N: 35, K: 77, tuning: { unroll: 8 }, perCol: true }, { batch: 2, M: 21, N: 35, K: 77, tuning: { unroll: 8, kc: 20 }, b: "const", out: "float32" },
    { batch: 1, M: 21, N: 35, K: 77, tuning: { unroll: 1 }, perCol: true, a: "const", b: "const" },
    { batch: 1, M: 9, N: 36, K: 45, tuning: { mr: 5, unroll: 2 }, perCol: true }, { batch: 2, M: 10, N: 36, K: 45, tuning: { mr: 5, unroll: 8 }, a: "const" },
  ];
  for (const t of tunings) it(`tuning ${JSON.stringify(t)}`, () => { runDirect(t); });
  // strip epilogues: every output dtype, vector and lane forms, tails in M and N, several K blocks
  // (partials in C and in scratch), folded and real batches, split work items
  const strips: Direct[] = [];
  for (const out of ["float32", "uint8", "int8"] as const)
    for (const vec of [true, false]) for (const b of ["row", "const"] as const) strips.push({ batch: 2, M: 13, N: 23, K: 41, out, vec, b, perCol: true, strip: true });
  strips.push(
    { batch: 1, M: 40, N: 70, K: 101, tuning: { kc: 17 }, out: "uint8", strip: true },
    { batch: 2, M: 40, N: 70, K: 99, tuning: { kc: 20, nc: 24, mc: 8 }, b: "const", out: "float32", split: true, strip: true },
    { batch: 2, M: 33, N: 70, K: 77, tuning: { kc: 30, nc: 16, mc: 12 }, out: "int8", split: true, strip: true },
    { batch: 3, M: 5, N: 30, K: 16, b: "bcast", out: "float32", strip: true }, { batch: 4, M: 3, N: 40, K: 50, b: "bcast", tuning: { kc: 10 }, out: "uint8", split: true, strip: true },
    { batch: 3, M: 7, N: 22, K: 27, a: "const", perCol: true, b: "row", out: "int8", strip: true },
    { batch: 1, M: 30, N: 50, K: 63, tuning: { mr: 5, nv: 2, unroll: 2 }, b: "const", out: "uint8", vec: false, strip: true },
    { batch: 1, M: 5, N: 3, K: 9, out: "float32", strip: true }, { batch: 1, M: 1, N: 37, K: 19, out: "uint8", strip: true },
    { batch: 1, M: 3, N: 5, K: 0, out: "float32", strip: true },
  );
  for (const o of strips) it(`strip epilogue ${JSON.stringify(o)}`, () => { runDirect(o); });
});

// ---------------------------------------------------------------------------------------------
// Around the GEMMs: vector math epilogues, and the quantize / dequantize loop kernels

/** Compiles for wasm (opt 2, one thread) and runs; returns the outputs and the explain text. */
async function runWasm(g: Graph, inputs: HostBuffer[]): Promise<{ out: Float64Array[]; text: string }> {
  const exe = getBackend("wasm").compile(runPasses(g, 2).graph, { opt: 2, threads: 1 });
  const got = await exe.run(inputs);
  return { out: got.map((b) => toF64(b)), text: exe.explain().map((s) => s.text).join("\n") };
}

describe("int8 GEMM on wasm: vectorized math epilogues equal the scalar path bit for bit", () => {
  // With the wasm math library (exactMath off) the strip epilogue calls the f32x4 functions, whose
  // lanes equal the f32 variants that the scalar fallback calls: the results agree exactly
  const saved = { ...codegenOptions };
  afterAll(() => { Object.assign(codegenOptions, saved); });
  const cases: [string, MM, RegExp][] = [
    ["erf-GELU then uint8", { M: 13, N: 150, K: 70, constB: true, perCol: true, epi: "geluRequant" }, /call \$kiln\.math\.erf\.f32x4/],
    ["tanh, f32 out, runtime B", { M: 9, N: 41, K: 33, perCol: true, epi: "tanh" }, /call \$kiln\.math\.tanh\.f32x4/],
    ["tanh then int8, long K", { M: 6, N: 45, K: 1300, constB: true, epi: "tanhRequant" }, /call \$kiln\.math\.tanh\.f32x4/],
  ];
  for (const [name, c, call] of cases) {
    it(name, async () => {
      const { g, inputs } = matmulCase(c);
      codegenOptions.exactMath = false;
      codegenOptions.blockedMatmul = false;
      const ref = await runWasm(g, inputs);
      codegenOptions.blockedMatmul = true;
      const fast = await runWasm(g, inputs);
      expect(fast.text).toContain("(strip)");
      expect(fast.text).toMatch(call);
      ref.out.forEach((r, i) => {
        const x = fast.out[i]!;
        for (let j = 0; j < r.length; j++) if (!Object.is(x[j], r[j])) throw new Error(`element ${j}: ${x[j]} vs ${r[j]}`);
      });
    });
  }
});

describe("quantize / dequantize loop kernels vectorize and equal the reference exactly", () => {
  const saved = { ...codegenOptions };
  beforeAll(() => { codegenOptions.exactMath = true; });
  afterAll(() => { Object.assign(codegenOptions, saved); });
  const rnd = prng(99);
  // awkward floats: NaN, ±inf, ±0, huge, ties of round, values past the clip
  const special = [NaN, Infinity, -Infinity, -0, 0, 1e30, -1e30, 0.5, 1.5, 2.5, -0.5, -2.5, 3e9, -3e9];
  const floats = (n: number, s: number) => Array.from({ length: n }, (_, i) => (i < special.length ? special[i]! * s : (rnd() - 0.5) * 20));
  const f32 = (shape: number[], s = 1) => fromF64("float32", shape, floats(numel(shape), s));
  const quantize = (x: Node, scale: number, zp: number, to: "uint8" | "int8") => {
    const sh = x.shape, [lo8, hi8] = to === "uint8" ? [0, 255] : [-128, 127];
    const r = node("add", [node("round", [node("div", [x, scalar(scale, "float32", sh)])]), scalar(zp, "float32", sh)]);
    return node("cast", [node("min", [node("max", [r, scalar(lo8, "float32", sh)]), scalar(hi8, "float32", sh)])], { to });
  };
  const cases: [string, () => { g: Graph; inputs: HostBuffer[] }, RegExp][] = [
    ["quantize to uint8 (tail columns)", () => {
      const x = input(0, "float32", [6, 19]);
      return { g: buildGraph([x], [quantize(x, 0.037, 131, "uint8")]), inputs: [f32([6, 19], 0.1)] };
    }, /i8x16\.narrow_i16x8_u/],
    ["quantize to int8", () => {
      const x = input(0, "float32", [3, 4, 10]);
      return { g: buildGraph([x], [quantize(x, 0.05, -7, "int8")]), inputs: [f32([3, 4, 10], 0.1)] };
    }, /i8x16\.narrow_i16x8_s/],
    ["layer norm, then quantize (per-column affine)", () => {
      const x = input(0, "float32", [5, 24]), sh = [5, 24];
      const mean = node("expand", [node("div", [node("reduce", [x], { fn: "sum", axes: [1] }), scalar(24, "float32", [5, 1])])], {}, sh);
      const y = node("add", [node("mul", [node("sub", [x, mean]), along(floats(24, 1).map((v, i) => 1 + (i % 5) / 7), sh, 1)]), along(floats(24, 1).map((v, i) => i / 9), sh, 1)]);
      return { g: buildGraph([x], [quantize(y, 0.03, 128, "uint8")]), inputs: [fromF64("float32", sh, Array.from({ length: 120 }, () => (rnd() - 0.5) * 8))] };
    }, /i8x16\.narrow_i16x8_u/],
    ["dequantize uint8 and int32, residual add", () => {
      const sh = [7, 22], a = input(0, "uint8", sh), b = input(1, "int32", sh), c = input(2, "float32", sh);
      const da = node("mul", [node("cast", [node("sub", [node("cast", [a], { to: "int32" }), scalar(128, "int32", sh)])], { to: "float32" }), along(floats(22, 0.01).map((v) => Math.abs(v) + 1e-3), sh, 1)]);
      const db = node("mul", [node("cast", [b], { to: "float32" }), scalar(1.5e-4, "float32", sh)]);
      const ins = [q8("uint8", sh, rnd), fromF64("int32", sh, Array.from({ length: 154 }, () => Math.floor((rnd() - 0.5) * 2 ** 31))), f32(sh)];
      return { g: buildGraph([a, b, c], [node("add", [node("add", [c, da]), db])]), inputs: ins };
    }, /f32x4\.convert_i32x4_s/],
    ["dequantize int32 sums, a residual add and a row sum (no 8-bit data)", () => {
      const sh = [6, 18], a = input(0, "int32", sh), c = input(1, "float32", sh);
      const y = node("add", [c, node("mul", [node("cast", [a], { to: "float32" }), along(floats(18, 0.01).map((v) => Math.abs(v) + 1e-4), sh, 1)])]);
      const ins = [fromF64("int32", sh, Array.from({ length: 108 }, () => Math.floor((rnd() - 0.5) * 2 ** 32))), f32(sh)];
      return { g: buildGraph([a, c], [y, node("reduce", [y], { fn: "sum", axes: [1] })]), inputs: ins };
    }, /f32x4\.convert_i32x4_s/],
    ["8-bit integer arithmetic wraps (uint8 + uint8, int8 max, int32 out)", () => {
      const sh = [4, 13], a = input(0, "uint8", sh), b = input(1, "uint8", sh), c = input(2, "int8", sh), d = input(3, "int8", sh);
      const s = node("add", [a, b]);
      const mx = node("max", [c, d]);
      const w = node("add", [node("cast", [mx], { to: "int32" }), node("mul", [node("cast", [a], { to: "int32" }), scalar(70000, "int32", sh)])]);
      return { g: buildGraph([a, b, c, d], [s, mx, w]), inputs: [q8("uint8", sh, rnd), q8("uint8", sh, rnd), q8("int8", sh, rnd), q8("int8", sh, rnd)] };
    }, /i32x4\.max_s/],
    ["bool masks: where and a masked max (softmax's first pass)", () => {
      const sh = [6, 21], m = input(0, "bool", sh), x = input(1, "float32", sh);
      const t = node("where", [m, node("div", [x, scalar(8, "float32", sh)]), scalar(-Infinity, "float32", sh)]);
      const mx = node("reduce", [t], { fn: "max", axes: [1] });
      const maskBytes = fromF64("bool", sh, Array.from({ length: 126 }, (_, i) => (i % 21 <= Math.floor(i / 21) * 3 ? 1 : 0)));
      return { g: buildGraph([m, x], [t, mx]), inputs: [maskBytes, f32(sh)] };
    }, /i8x16\.ne/],
  ];
  for (const [name, make, vec] of cases) {
    it(name, async () => {
      const { g, inputs } = make();
      const text = await check(g, inputs);
      expect(text).toMatch(vec);
      expect(text).not.toContain("int8gemm");
    });
  }
});
