/**
 * The wasm matmul kernel generator (backends/wasm/matmul.ts): every generated kernel is run on
 * random data and compared with a float64 reference. Covers tiny and prime shapes, K = 0,
 * vectors, batches (batched and broadcast A and B, the folded shared-B path), transposed,
 * padded, strided and negative-stride operands, constant B (pre-packed) and runtime B (packed
 * or read in place), fused epilogues in scalar and vector form, relaxed SIMD on and off,
 * forced blockings (several K blocks, column blocks, row blocks, unrolled k loops), work-item
 * splits (sequential and on two worker threads over a shared memory), and that nothing outside
 * C is written.
 */
import v8 from "node:v8";
import { Worker } from "node:worker_threads";
import { describe, it, expect } from "vitest";

// Relaxed SIMD is behind a flag in Node 20; set it before any module is compiled.
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { ModuleBuilder, wasmFeatures, type FunctionBuilder } from "../../backends/wasm/asm/index.js";
import { emitMatmul, planMatmul, packConstantB, type MatmulSpec, type MatmulTuning } from "../../backends/wasm/matmul.js";

const FEATURES = wasmFeatures(true);
const RELAXED_MODES = FEATURES.relaxedSimd ? [false, true] : [false];

/** How an operand is laid out in memory. */
type ALayout = "row" | "trans" | "padded" | "flipped" | "bcast";
type BLayout = "row" | "trans" | "strided" | "flipped" | "bcast" | "const" | "constShared";
type Epi = "none" | "biasRelu" | "coords";

interface Case {
  batch: number; M: number; N: number; K: number;
  a?: ALayout; b?: BLayout;
  epi?: Epi;
  /** Epilogue offers its vector form (default true). */
  vec?: boolean;
  relaxed?: boolean;
  tuning?: MatmulTuning;
  shared?: boolean;
  /** Function name (module bytes differ per name, so V8's module cache cannot share code). */
  name?: string;
}

/** Deterministic pseudo-random numbers in [-1, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return (s / 2 ** 32) * 2 - 1;
  };
}

interface Strided { sb: number; s1: number; s2: number }

function aStrides(l: ALayout, M: number, K: number): Strided {
  switch (l) {
    case "row": return { sb: M * K, s1: K, s2: 1 };
    case "trans": return { sb: M * K, s1: 1, s2: M };
    case "padded": return { sb: M * (K + 3) + 5, s1: K + 3, s2: 1 };
    case "flipped": return { sb: M * K, s1: -K, s2: -1 };
    case "bcast": return { sb: 0, s1: K, s2: 1 };
  }
}

function bStrides(l: BLayout, K: number, N: number): Strided {
  switch (l) {
    case "trans": return { sb: K * N, s1: 1, s2: K };
    case "strided": return { sb: K * (2 * N + 1) + 3, s1: 2 * N + 1, s2: 2 };
    case "flipped": return { sb: K * N, s1: -N, s2: -1 };
    case "bcast": return { sb: 0, s1: N, s2: 1 };
    default: return { sb: K * N, s1: N, s2: 1 };
  }
}

/** Element offsets (min, max) that a strided [batch, d1, d2] view touches. */
function span(batch: number, d1: number, d2: number, s: Strided): [number, number] {
  let lo = 0, hi = 0;
  for (const [n, st] of [[batch, s.sb], [d1, s.s1], [d2, s.s2]] as const) {
    if (n <= 0) continue;
    const e = (n - 1) * st;
    if (e < 0) lo += e; else hi += e;
  }
  return [lo, hi];
}

interface Built {
  run(start: number, end: number): void;
  workItems: number;
  describe: string;
  mem: WebAssembly.Memory;
  module: WebAssembly.Module;
  cBase: number;
  /** Float32 results (batch*M*N). */
  result(): Float32Array;
  want: Float64Array;
  tol: Float64Array;
  /** Byte ranges [lo, hi) of scratch handed out by alloc while emitting. */
  scratch: [number, number][];
}

const GUARD = 256;

function build(c: Case, seed = 1): Built {
  const { batch, M, N, K } = c;
  const aL = c.a ?? "row", bL = c.b ?? "row", epi = c.epi ?? "none";
  const rand = rng(seed * 7919 + M * 131 + N * 31 + K);
  let top = GUARD;
  const inits: [number, Uint8Array][] = [];
  const scratch: [number, number][] = [];
  let emitting = false;
  const alloc = (bytes: number, align: number, init?: Uint8Array) => {
    expect(Number.isInteger(bytes) && bytes >= 0).toBe(true);
    expect(align > 0 && (align & (align - 1)) === 0).toBe(true);
    top = Math.ceil(top / align) * align;
    const p = top;
    top += bytes + GUARD;
    if (init) { expect(init.length).toBe(bytes); inits.push([p, init]); } else if (emitting) scratch.push([p, p + bytes]);
    return p;
  };

  // logical values
  const Av = new Float32Array(batch * M * K).map(() => rand());
  const bBatches = bL === "constShared" || bL === "bcast" ? 1 : batch;
  const Bv = new Float32Array(bBatches * K * N).map(() => rand());
  if (aL === "bcast") for (let b = 1; b < batch; b++) Av.copyWithin(b * M * K, 0, M * K);
  const bias = new Float32Array(N).map(() => rand());

  // physical placement
  const as = aStrides(aL, M, K);
  const [aLo, aHi] = span(batch, M, K, as);
  const aRegion = alloc(4 * (aHi - aLo + 1), 16);
  const aBase = aRegion - 4 * aLo;
  const runtimeB = bL !== "const" && bL !== "constShared";
  const bs = bStrides(bL, K, N);
  let bBase = 0;
  if (runtimeB) {
    const [lo, hi] = span(bL === "bcast" ? 1 : batch, K, N, bs);
    const region = alloc(4 * (hi - lo + 1), 16);
    bBase = region - 4 * lo;
  }
  const cBase = alloc(4 * batch * M * N, 16);
  const biasBase = alloc(4 * N, 16);

  const epilogue: MatmulSpec["epilogue"] = epi === "none" ? null : {
    vectorizable: c.vec ?? true,
    emit(f: FunctionBuilder, vector: boolean, b: number, m: number, n: number) {
      if (epi === "biasRelu") {
        f.local_get(n).i32_const(2).i32_shl();
        if (vector) f.v128_load(biasBase, 4).f32x4_add().v128_const_i32x4(0, 0, 0, 0).f32x4_max();
        else f.f32_load(biasBase).f32_add().f32_const(0).f32_max();
      } else {
        // v + bias[n] + 0.5*b + 0.01*m
        f.local_get(n).i32_const(2).i32_shl();
        if (vector) f.v128_load(biasBase, 4).f32x4_add();
        else f.f32_load(biasBase).f32_add();
        f.local_get(b).f32_convert_i32_s().f32_const(0.5).f32_mul()
          .local_get(m).f32_convert_i32_s().f32_const(0.01).f32_mul().f32_add();
        if (vector) f.f32x4_splat().f32x4_add();
        else f.f32_add();
      }
    },
  };

  const spec: MatmulSpec = {
    batch, M, N, K,
    a: { base: aBase, sb: as.sb, sm: as.s1, sk: as.s2 },
    b: runtimeB ? { base: bBase, sb: bs.sb, sk: bs.s1, sn: bs.s2 } : { constant: Bv, batched: bL === "const" },
    c: cBase, epilogue, alloc,
    features: { relaxedSimd: !!c.relaxed },
    tuning: c.tuning,
  };
  const m = new ModuleBuilder();
  m.importMemory("env", "mem", c.shared ? { min: 1, max: 65536, shared: true } : { min: 1 });
  emitting = true;
  const r = emitMatmul(m, spec, c.name ?? "mm");
  emitting = false;
  m.exportFunc("mm", r.func);
  const pages = Math.ceil((top + GUARD) / 65536) + 1;
  const mem = c.shared ? new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }) : new WebAssembly.Memory({ initial: pages });
  const module = new WebAssembly.Module(m.build());
  const inst = new WebAssembly.Instance(module, { env: { mem } });
  const f32 = new Float32Array(mem.buffer);
  const u8 = new Uint8Array(mem.buffer);
  // poison everything, then place data; C stays NaN so unwritten outputs show
  f32.fill(NaN);
  for (const [p, bytes] of inits) u8.set(bytes, p);
  for (let b = 0; b < batch; b++) for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) {
    f32[(aBase >> 2) + b * as.sb + i * as.s1 + k * as.s2] = Av[(b * M + i) * K + k]!;
  }
  if (runtimeB) {
    for (let b = 0; b < bBatches; b++) for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) {
      f32[(bBase >> 2) + b * bs.sb + k * bs.s1 + n * bs.s2] = Bv[(b * K + k) * N + n]!;
    }
  }
  f32.set(bias, biasBase >> 2);

  // reference
  const want = new Float64Array(batch * M * N), tol = new Float64Array(batch * M * N);
  for (let b = 0; b < batch; b++) {
    const bb = bBatches === 1 ? 0 : b;
    for (let i = 0; i < M; i++) for (let n = 0; n < N; n++) {
      let s = 0, sa = 0;
      for (let k = 0; k < K; k++) {
        const p = Av[(b * M + i) * K + k]! * Bv[(bb * K + k) * N + n]!;
        s += p; sa += Math.abs(p);
      }
      if (epi === "biasRelu") s = Math.max(0, s + bias[n]!);
      else if (epi === "coords") s = s + bias[n]! + 0.5 * b + 0.01 * i;
      want[(b * M + i) * N + n] = s;
      tol[(b * M + i) * N + n] = 1e-5 * (1 + sa);
    }
  }
  const run = inst.exports.mm as (s: number, e: number) => void;
  return {
    run, workItems: r.workItems, describe: r.describe, mem, module, cBase, want, tol, scratch,
    result: () => new Float32Array(mem.buffer, cBase, batch * M * N).slice(),
  };
}

function expectClose(got: Float32Array, want: Float64Array, tol: Float64Array, what: string): void {
  let bad = -1;
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= tol[i]!)) { bad = i; break; }
  }
  if (bad >= 0) {
    expect.fail(`${what}: element ${bad} is ${got[bad]}, expected ${want[bad]} (±${tol[bad]!.toExponential(2)})`);
  }
}

/** Builds, snapshots memory, runs all work items, checks C and that only C and scratch changed. */
function check(c: Case): Built {
  const bt = build(c);
  const before = new Uint8Array(bt.mem.buffer).slice();
  bt.run(0, bt.workItems);
  expectClose(bt.result(), bt.want, bt.tol, `${label(c)} [${bt.describe}]`);
  // outside C, only scratch (from alloc without init, during emission) may change
  const after = new Uint8Array(bt.mem.buffer);
  const cLo = bt.cBase, cHi = bt.cBase + 4 * c.batch * c.M * c.N;
  const scratch = bt.scratch;
  for (let i = 0; i < after.length; i++) {
    if (after[i] !== before[i] && !(i >= cLo && i < cHi) && !scratch.some(([lo, hi]) => i >= lo && i < hi)) {
      expect.fail(`${label(c)}: byte ${i} outside C and scratch was written`);
    }
  }
  return bt;
}

function label(c: Case): string {
  return `${c.batch}×${c.M}×${c.N}×${c.K} A:${c.a ?? "row"} B:${c.b ?? "row"} epi:${c.epi ?? "none"}${c.vec === false ? "(scalar)" : ""}` +
    `${c.relaxed ? " relaxed" : ""}${c.tuning ? " " + JSON.stringify(c.tuning) : ""}`;
}

describe("wasm matmul: shapes", () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1], [1, 37, 19], [1, 100, 300], [1, 1, 1000], [50, 1, 30], [7, 13, 5], [64, 64, 64], [65, 33, 17],
    [2, 9, 4], [3, 50, 7], [4, 20, 33], [5, 6, 70], [6, 8, 8], [8, 31, 9], [97, 101, 103], [131, 257, 521],
  ];
  for (const relaxed of RELAXED_MODES) {
    for (const [M, N, K] of shapes) {
      for (const b of ["row", "const"] as const) {
        it(`${M}×${N}×${K} B ${b}${relaxed ? " relaxed" : ""}`, () => { check({ batch: 1, M, N, K, b, relaxed }); });
      }
    }
  }
  it("K = 0 stores epilogue(0) (and 0 without one)", () => {
    for (const relaxed of RELAXED_MODES) {
      for (const b of ["row", "const", "trans"] as const) {
        check({ batch: 1, M: 7, N: 13, K: 0, b, relaxed });
        check({ batch: 2, M: 3, N: 5, K: 0, b, relaxed, epi: "coords" });
        check({ batch: 1, M: 1, N: 9, K: 0, b, relaxed, epi: "biasRelu", vec: false });
      }
    }
  });
  it("empty outputs (M, N or batch = 0) run as one no-op work item", () => {
    for (const [batch, M, N, K] of [[1, 0, 5, 3], [1, 4, 0, 3], [0, 4, 5, 3]] as const) {
      const bt = build({ batch, M, N, K });
      expect(bt.workItems).toBe(1);
      const before = new Uint8Array(bt.mem.buffer).slice();
      bt.run(0, bt.workItems);
      expect(Buffer.compare(Buffer.from(before), Buffer.from(new Uint8Array(bt.mem.buffer)))).toBe(0);
    }
  });
});

describe("wasm matmul: layouts and batches", () => {
  const aLayouts: ALayout[] = ["row", "trans", "padded", "flipped"];
  const bLayouts: BLayout[] = ["row", "trans", "strided", "flipped", "const"];
  for (const relaxed of RELAXED_MODES) {
    it(`every A × B layout${relaxed ? " (relaxed)" : ""}`, () => {
      for (const a of aLayouts) for (const b of bLayouts) {
        check({ batch: 1, M: 23, N: 19, K: 11, a, b, relaxed });
        check({ batch: 2, M: 3, N: 37, K: 6, a, b, relaxed });
        check({ batch: 1, M: 1, N: 45, K: 9, a, b, relaxed });
      }
    });
    it(`batches: batched, broadcast A, broadcast B, constant shared or batched B${relaxed ? " (relaxed)" : ""}`, () => {
      const combos: [ALayout, BLayout][] = [
        ["row", "row"], ["bcast", "row"], ["row", "bcast"], ["bcast", "bcast"], ["trans", "bcast"], ["padded", "bcast"],
        ["row", "const"], ["row", "constShared"], ["bcast", "const"], ["bcast", "constShared"], ["trans", "constShared"],
        ["padded", "constShared"], ["flipped", "bcast"], ["row", "trans"], ["bcast", "trans"],
      ];
      for (const [a, b] of combos) {
        check({ batch: 3, M: 13, N: 21, K: 10, a, b, relaxed });
        check({ batch: 3, M: 1, N: 70, K: 17, a, b, relaxed });
        check({ batch: 4, M: 7, N: 3, K: 33, a, b, relaxed, epi: "coords" });
      }
    });
  }
  it("folds shared-B batches into rows when A stacks, and not otherwise", () => {
    const base = { batch: 3, M: 5, N: 8, K: 4, c: 0, epilogue: null, alloc: () => 0, features: { relaxedSimd: false } };
    const shared = { base: 0, sb: 0, sk: 8, sn: 1 };
    expect(planMatmul({ ...base, a: { base: 0, sb: 20, sm: 4, sk: 1 }, b: shared }).folded).toBe(true);
    expect(planMatmul({ ...base, a: { base: 0, sb: 0, sm: 4, sk: 1 }, b: shared }).folded).toBe(false);
    expect(planMatmul({ ...base, a: { base: 0, sb: 20, sm: 4, sk: 1 }, b: { base: 0, sb: 32, sk: 8, sn: 1 } }).folded).toBe(false);
    expect(planMatmul({ ...base, M: 1, a: { base: 0, sb: 9, sm: 4, sk: 1 }, b: { constant: new Float32Array(32), batched: false } }).folded).toBe(true);
  });
});

describe("wasm matmul: epilogues", () => {
  for (const relaxed of RELAXED_MODES) {
    it(`bias + relu and coordinate epilogues, vector and scalar forms${relaxed ? " (relaxed)" : ""}`, () => {
      for (const epi of ["biasRelu", "coords"] as const) {
        for (const vec of [true, false]) {
          for (const b of ["row", "const", "trans"] as const) {
            check({ batch: 1, M: 29, N: 30, K: 21, b, epi, vec, relaxed });
            check({ batch: 1, M: 1, N: 77, K: 5, b, epi, vec, relaxed });
            check({ batch: 2, M: 6, N: 16, K: 40, b, epi, vec, relaxed, tuning: { kc: 16 } });
            check({ batch: 3, M: 4, N: 9, K: 8, a: "bcast", b, epi, vec, relaxed });
          }
          check({ batch: 3, M: 5, N: 11, K: 9, b: "bcast", epi, vec, relaxed });
          check({ batch: 3, M: 5, N: 11, K: 9, b: "constShared", epi, vec, relaxed, tuning: { mc: 4 } });
        }
      }
    });
  }
});

describe("wasm matmul: blockings", () => {
  const tunings: MatmulTuning[] = [
    { kc: 7 }, { kc: 16, nc: 8 }, { nc: 24, mc: 12 }, { mr: 4, nv: 3 }, { mr: 1, nv: 1 }, { mr: 8, nv: 1 }, { mr: 2, nv: 8 },
    { unroll: 2 }, { unroll: 3 }, { unroll: 4, kc: 10 }, { mr: 3, nv: 2, unroll: 5, kc: 13 }, { bMode: "direct" }, { bMode: "pack", nc: 16 },
    { mc: 1 },
  ];
  for (const relaxed of RELAXED_MODES) {
    it(`forced tile sizes, K/N/M blocks and unrolls${relaxed ? " (relaxed)" : ""}`, () => {
      for (const tuning of tunings) {
        for (const b of ["row", "const", "trans"] as const) {
          check({ batch: 1, M: 31, N: 45, K: 37, b, tuning, relaxed, epi: "coords" });
          check({ batch: 2, M: 3, N: 10, K: 29, b, a: "flipped", tuning, relaxed });
          check({ batch: 1, M: 1, N: 13, K: 40, b, tuning, relaxed });
        }
      }
    });
  }
  it("chooses wide tiles for few rows, 6×8 / 5×8 otherwise, and K blocks of at most 512", () => {
    const spec = (M: number, K: number, relaxed: boolean): MatmulSpec => ({
      batch: 1, M, N: 64, K, a: { base: 0, sb: 0, sm: K, sk: 1 }, b: { base: 0, sb: 0, sk: 64, sn: 1 },
      c: 0, epilogue: null, alloc: () => 0, features: { relaxedSimd: relaxed },
    });
    expect(planMatmul(spec(1, 8, true))).toMatchObject({ mr: 1, nr: 32 });
    expect(planMatmul(spec(2, 8, true))).toMatchObject({ mr: 2, nr: 16 });
    expect(planMatmul(spec(100, 8, true))).toMatchObject({ mr: 6, nr: 8 });
    expect(planMatmul(spec(100, 8, false))).toMatchObject({ mr: 5, nr: 8 });
    expect(planMatmul(spec(100, 3072, true)).kc).toBe(512);
    expect(planMatmul(spec(100, 768, true)).kc).toBe(384);
    // runtime B packed per item: all rows per item, unless that leaves too few items
    expect(planMatmul(spec(600, 8, true))).toMatchObject({ bMode: "pack", rowBlocks: 4, colBlocks: 1, workItems: 4 });
    expect(planMatmul({ ...spec(600, 8, true), N: 1024 })).toMatchObject({ bMode: "pack", rowBlocks: 1, colBlocks: 8 });
    expect(planMatmul(spec(4, 8, true))).toMatchObject({ bMode: "direct" });
  });
  it("rejects bad tunings and mismatched constants", () => {
    const mk = (over: Partial<MatmulSpec>): MatmulSpec => ({
      batch: 1, M: 4, N: 4, K: 4, a: { base: 0, sb: 0, sm: 4, sk: 1 }, b: { base: 64, sb: 0, sk: 4, sn: 1 },
      c: 128, epilogue: null, alloc: () => 256, features: { relaxedSimd: false }, ...over,
    });
    const m = new ModuleBuilder();
    m.memory({ min: 1 });
    expect(() => emitMatmul(m, mk({ tuning: { mr: 0 } }), "x")).toThrow(RangeError);
    expect(() => emitMatmul(m, mk({ tuning: { nv: 9 } }), "x")).toThrow(RangeError);
    expect(() => emitMatmul(m, mk({ tuning: { unroll: 1.5 } }), "x")).toThrow(RangeError);
    expect(() => emitMatmul(m, mk({ tuning: { kc: 0 } }), "x")).toThrow(RangeError);
    expect(() => emitMatmul(m, mk({ tuning: { nc: -4 } }), "x")).toThrow(RangeError);
    expect(() => emitMatmul(m, mk({ tuning: { mc: 2.5 } }), "x")).toThrow(RangeError);
    expect(() => emitMatmul(m, mk({ M: -1 }), "x")).toThrow(RangeError);
    expect(() => emitMatmul(m, mk({ b: { constant: new Float32Array(15), batched: false } }), "x")).toThrow(/constant B/);
  });
  it("packs constant B into zero-padded [panel][k][nr] panels", () => {
    const data = Float32Array.from({ length: 2 * 3 * 5 }, (_, i) => i + 1); // [2][3][5]
    const p = packConstantB(data, 2, 3, 5, 4);
    expect(p.length).toBe(2 * 2 * 3 * 4);
    expect(Array.from(p.subarray(0, 12))).toEqual([1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14]);
    expect(Array.from(p.subarray(12, 24))).toEqual([5, 0, 0, 0, 10, 0, 0, 0, 15, 0, 0, 0]);
    expect(p[24]).toBe(16);
  });
});

describe("wasm matmul: work items", () => {
  const cases: Case[] = [
    { batch: 1, M: 200, N: 300, K: 50 },
    { batch: 1, M: 200, N: 300, K: 50, b: "const", epi: "biasRelu" },
    { batch: 1, M: 30, N: 300, K: 20, b: "trans", tuning: { nc: 32 } },
    { batch: 3, M: 20, N: 40, K: 30, a: "bcast", b: "bcast", tuning: { nc: 16 }, epi: "coords" },
    { batch: 3, M: 20, N: 40, K: 30, b: "row", tuning: { nc: 16, mc: 6 } },
    { batch: 1, M: 1, N: 500, K: 64, tuning: { nc: 64 } },
    { batch: 1, M: 100, N: 20, K: 30, b: "trans", epi: "biasRelu" },
  ];
  it("splitting [0, workItems) into two calls equals one call", () => {
    for (const relaxed of RELAXED_MODES) {
      for (const c of cases) {
        const one = build({ ...c, relaxed });
        expect(one.workItems).toBeGreaterThan(1);
        one.run(0, one.workItems);
        const ref = one.result();
        expectClose(ref, one.want, one.tol, label(c));
        for (const cut of [1, one.workItems >> 1, one.workItems - 1]) {
          const two = build({ ...c, relaxed });
          two.run(cut, two.workItems);
          two.run(0, cut);
          expect(Buffer.compare(Buffer.from(two.result().buffer), Buffer.from(ref.buffer))).toBe(0);
        }
        // item by item, backwards
        const each = build({ ...c, relaxed });
        for (let i = each.workItems - 1; i >= 0; i--) each.run(i, i + 1);
        expect(Buffer.compare(Buffer.from(each.result().buffer), Buffer.from(ref.buffer))).toBe(0);
      }
    }
  });
  it("two worker threads over a shared memory compute the same result", async () => {
    const workerSrc = `
      const { parentPort } = require("node:worker_threads");
      parentPort.on("message", ({ module, mem, start, end }) => {
        const inst = new WebAssembly.Instance(module, { env: { mem } });
        inst.exports.mm(start, end);
        parentPort.postMessage("done");
      });`;
    const workers = [new Worker(workerSrc, { eval: true }), new Worker(workerSrc, { eval: true })];
    try {
      for (const c of cases) {
        const bt = build({ ...c, shared: true, relaxed: FEATURES.relaxedSimd });
        const half = bt.workItems >> 1;
        await Promise.all(workers.map((w, i) => new Promise<void>((resolve, reject) => {
          w.once("message", () => resolve());
          w.once("error", reject);
          w.postMessage({ module: bt.module, mem: bt.mem, start: i === 0 ? 0 : half, end: i === 0 ? half : bt.workItems });
        })));
        expectClose(bt.result(), bt.want, bt.tol, `threads ${label(c)}`);
      }
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });
  it("describes its plan and gives big problems many work items", () => {
    const m = new ModuleBuilder();
    m.memory({ min: 1 });
    let top = 0;
    const r = emitMatmul(m, {
      batch: 1, M: 1024, N: 1024, K: 1024, a: { base: 0, sb: 0, sm: 1024, sk: 1 },
      b: { constant: new Float32Array(1024 * 1024), batched: false }, c: 0, epilogue: null,
      alloc: (bytes) => { const p = top; top += bytes; return p; }, features: { relaxedSimd: true },
    }, "big");
    expect(r.workItems).toBeGreaterThan(8);
    expect(r.describe).toMatch(/tile 6×8/);
    expect(r.describe).toMatch(/B const/);
    expect(WebAssembly.validate(m.build())).toBe(true);
  });
});

describe("wasm matmul: engine tiers", () => {
  it("relaxed SIMD is available once the V8 flag is set", () => {
    expect(FEATURES.simd).toBe(true);
    expect(FEATURES.relaxedSimd).toBe(true);
  });
  it("optimized (TurboFan) code agrees with baseline (Liftoff) code", () => {
    for (const relaxed of RELAXED_MODES) {
      const c: Case = { batch: 2, M: 37, N: 41, K: 53, b: "trans", epi: "coords", relaxed };
      const base = build(c);
      base.run(0, base.workItems);
      // a different name gives different module bytes, so the compiled-module cache is not hit
      v8.setFlagsFromString("--no-liftoff");
      let opt: Built;
      try { opt = build({ ...c, name: "mm_turbofan" }); } finally { v8.setFlagsFromString("--liftoff"); }
      opt.run(0, opt.workItems);
      expectClose(opt.result(), opt.want, opt.tol, `turbofan ${label(c)}`);
      // both tiers fuse (or not) the same way: identical bits
      expect(Buffer.compare(Buffer.from(opt.result().buffer), Buffer.from(base.result().buffer))).toBe(0);
    }
  });
});
