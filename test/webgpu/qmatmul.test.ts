/**
 * int8 GEMMs on the webgpu backend (matmul and conv nodes with zero points, jit/ir.ts
 * `Attrs.zeroB`) against the js reference, bit for bit: int8/uint8 operands in every pairing,
 * scalar and per-column/per-channel zero points, ragged tiles and K not a multiple of 4,
 * batches (B broadcast), constant and runtime B, every kernel form (per-element loop, unpacked
 * tiled, packed tiled with dot4I8Packed and with the emulated dot product), conv with pads,
 * strides, dilations, groups and depthwise, and a requantizing epilogue (cast to f32 · scale +
 * bias → relu → round → clip → cast to uint8) fused into the kernel.
 *
 * SwiftShader runs these on the CPU: shapes stay small. Needs a WebGPU adapter (see helpers.ts):
 * skipped with the reason where none exists, a failure under KILN_REQUIRE_WEBGPU=1.
 */
import { describe, it, expect, afterEach } from "vitest";
import "../../backends/js/index.js";
import { webgpuOptions } from "../../backends/webgpu/index.js";
import type { Int8Form } from "../../backends/webgpu/options.js";
import { getGpu } from "../../backends/webgpu/device.js";
import { getBackend, type OptLevel } from "../../jit/backend.js";
import { buildGraph, printGraph, type Graph } from "../../jit/graph.js";
import { node, constNode, type Node, type Attrs } from "../../jit/ir.js";
import { runPasses } from "../../jit/passes/index.js";
import { fromF64, type HostBuffer } from "../../jit/buffer.js";
import type { DType } from "../../jit/dtype.js";
import { runGraph, diffBuffers, ensureEvaluator, prng } from "../passes/helpers.js";
import { nodeAdapterMissing, REQUIRE_WEBGPU } from "./helpers.js";

const why = await nodeAdapterMissing();
if (why) {
  if (REQUIRE_WEBGPU) throw new Error(`KILN_REQUIRE_WEBGPU=1 but WebGPU cannot run here: ${why}`);
  console.warn(`webgpu int8 tests SKIPPED: ${why} (set VK_ICD_FILENAMES to a Vulkan driver such as SwiftShader; KILN_REQUIRE_WEBGPU=1 makes this a failure)`);
}

type I8 = "int8" | "uint8";
const rnd = prng(20261207);
const lo = (d: I8) => (d === "int8" ? -128 : 0);

/** Random values over the whole range of `d`, a fifth of them at the extremes. */
function q8(d: I8, shape: number[]): HostBuffer {
  const n = shape.reduce((a, b) => a * b, 1), v: number[] = [];
  for (let i = 0; i < n; i++) v.push(rnd() < 0.2 ? lo(d) + (rnd() < 0.5 ? 0 : 255) : lo(d) + Math.floor(rnd() * 256));
  return fromF64(d, shape, v);
}
/** A zero point of `d`: extremes included. */
const zp = (d: I8) => (rnd() < 0.25 ? lo(d) + (rnd() < 0.5 ? 0 : 255) : lo(d) + Math.floor(rnd() * 256));
const zps = (d: I8, n: number) => Array.from({ length: n }, () => zp(d));

const input = (i: number, dtype: DType, shape: number[]) => node("input", [], { index: i, to: dtype }, shape);
const splat = (v: number, dtype: DType, shape: number[]) =>
  node("expand", [node("reshape", [constNode(fromF64(dtype, [], [v]))], {}, shape.map(() => 1))], {}, shape);
/** A per-column vector [N] broadcast over `shape` (its last axis N). */
const perColumn = (vals: number[], shape: number[]) =>
  node("expand", [node("reshape", [constNode(fromF64("float32", [vals.length], vals))], {}, shape.map((d, i) => (i === shape.length - 1 ? d : 1)))], {}, shape);

/** Compiles for webgpu (passes at `opt`) and demands every output equal the js reference's. Returns the explain text. */
async function check(g: Graph, inputs: HostBuffer[], opt: OptLevel = 2): Promise<string> {
  const ref = await runGraph(g, inputs);
  const pg = runPasses(g, opt).graph;
  const exe = getBackend("webgpu").compile(pg, { opt });
  const got = await exe.run(inputs);
  const text = exe.explain().map((s) => `${s.title}\n${s.text}`).join("\n");
  ref.forEach((r, i) => {
    const d = diffBuffers(got[i]!, r);
    if (d) throw new Error(`output ${i}: ${d}\n${printGraph(pg)}\n${text}`);
  });
  return text;
}

interface MM { M: number; K: number; N: number; batch?: number[]; da: I8; db: I8; perCol: boolean; constB: boolean; bcastB?: boolean; transA?: boolean }

/** One int8 matmul graph and its inputs; B broadcast over the batch when `bcastB`. */
function matmulCase(c: MM, epilogue?: (y: Node, shape: number[]) => Node): { g: Graph; ins: HostBuffer[]; attrs: Attrs } {
  const bt = c.batch ?? [], as = [...bt, c.M, c.K], bs = c.bcastB ? [c.K, c.N] : [...bt, c.K, c.N];
  const attrs: Attrs = { zeroA: zp(c.da), zeroB: c.perCol ? zps(c.db, c.N) : [zp(c.db)] };
  const a = input(0, c.da, c.transA ? [...bt, c.K, c.M] : as), bv = q8(c.db, bs);
  const av = c.transA ? node("permute", [a], { perm: [...bt.map((_, i) => i), bt.length + 1, bt.length] }) : a;
  const b0 = c.constB ? constNode(bv) : input(1, c.db, bs);
  const b = c.bcastB && bt.length ? node("expand", [node("reshape", [b0], {}, [...bt.map(() => 1), c.K, c.N])], {}, [...bt, c.K, c.N]) : b0;
  let y = node("matmul", [av, b], attrs);
  if (epilogue) y = epilogue(y, [...bt, c.M, c.N]);
  const ins = [q8(c.da, c.transA ? [...bt, c.K, c.M] : as), ...(c.constB ? [] : [bv])];
  return { g: buildGraph(c.constB ? [a] : [a, b0], [y]), ins, attrs };
}

/** The int8 GEMM forms this device can run (dot4 needs WGSL's packed_4x8_integer_dot_product). */
const forms = async (): Promise<Int8Form[]> => ["unpacked", "packed", ...((await getGpu()).packedDot ? ["dot4" as const] : [])];

const PAIRS: [I8, I8][] = [["int8", "int8"], ["uint8", "int8"], ["uint8", "uint8"], ["int8", "uint8"]];

describe.skipIf(!!why)(why ? `webgpu int8 GEMM [skipped: ${why}]` : "webgpu int8 GEMM", () => {
  ensureEvaluator();
  const saved = { ...webgpuOptions };
  afterEach(() => { Object.assign(webgpuOptions, saved); });

  it("per-element matmul (small outputs): every signedness pairing, scalar and per-column zero points, batches", async () => {
    for (const [da, db] of PAIRS) for (const perCol of [false, true]) {
      const { g, ins } = matmulCase({ M: 5, K: 11, N: 6, batch: [2], da, db, perCol, constB: perCol });
      const text = await check(g, ins);
      expect(text).not.toContain("var<workgroup>");
    }
  });

  it("tiled matmul in every form (unpacked, packed, dot4I8Packed): tails, K % 4, K = 0, batches, transposed A, constant and runtime B", async () => {
    const cases: MM[] = [
      { M: 19, K: 37, N: 21, da: "uint8", db: "int8", perCol: true, constB: true },
      { M: 19, K: 37, N: 21, da: "int8", db: "uint8", perCol: false, constB: false },
      { M: 9, K: 8, N: 70, batch: [3], da: "uint8", db: "uint8", perCol: true, constB: false },
      { M: 33, K: 20, N: 17, batch: [2], da: "int8", db: "int8", perCol: true, constB: true, bcastB: true },
      { M: 12, K: 3, N: 9, da: "uint8", db: "uint8", perCol: false, constB: true },
      { M: 10, K: 1, N: 10, da: "int8", db: "int8", perCol: true, constB: false },
      { M: 20, K: 24, N: 11, batch: [2], da: "uint8", db: "int8", perCol: true, constB: false, transA: true },
      { M: 11, K: 14, N: 9, da: "int8", db: "uint8", perCol: false, constB: true, transA: true },
      { M: 8, K: 0, N: 9, da: "uint8", db: "uint8", perCol: true, constB: true },
    ];
    for (const form of await forms()) {
      webgpuOptions.int8Gemm = form;
      for (const c of cases) {
        const { g, ins } = matmulCase(c);
        const text = await check(g, ins);
        expect(text).toContain("var<workgroup>");
        expect(text).toContain(`int8 GEMM kernels: ${form} (webgpuOptions.int8Gemm)`);
      }
    }
  });

  it("packed constant B: columns that fit a byte after zeroB and columns that do not, extremes everywhere", async () => {
    // column j of B: either all values within zeroB[j] ± 127 (packed as b − zeroB: no row sums for it) or spanning 0…255
    const M = 16, K = 13, N = 12;
    for (const da of ["uint8", "int8"] as I8[]) {
      const zb = Array.from({ length: N }, (_, j) => (j % 3 === 0 ? 0 : j % 3 === 1 ? 255 : 100));
      const bv = fromF64("uint8", [K, N], Array.from({ length: K * N }, (_, i) => {
        const j = i % N, z = zb[j]!;
        if (j % 2 === 0) return Math.max(0, Math.min(255, z + Math.floor(rnd() * 255) - 127));
        return rnd() < 0.5 ? (rnd() < 0.5 ? 0 : 255) : Math.floor(rnd() * 256);
      }));
      const a = input(0, da, [M, K]);
      const av = fromF64(da, [M, K], Array.from({ length: M * K }, () => (rnd() < 0.5 ? lo(da) + (rnd() < 0.5 ? 0 : 255) : lo(da) + Math.floor(rnd() * 256))));
      for (const form of (await forms()).filter((f) => f !== "unpacked")) {
        webgpuOptions.int8Gemm = form;
        for (const zeroA of [lo(da), lo(da) + 255, 128 + lo(da)]) {
          const text = await check(buildGraph([a], [node("matmul", [a, constNode(bv)], { zeroA, zeroB: zb })]), [av]);
          expect(text).toMatch(/rs0 = rs0 \+ dot/); // the columns that do not fit need row sums
        }
      }
    }
  });

  it("a requantizing epilogue fuses into the kernel: cast f32 · per-column scale + bias → relu → round → clip → cast uint8", async () => {
    // dyadic scales and biases: every float step is exact, so the result must be too
    const requant = (N: number) => (y: Node, shape: number[]): Node => {
      const scale = Array.from({ length: N }, (_, j) => (1 + (j % 5)) / 512), bias = Array.from({ length: N }, (_, j) => ((j % 7) - 3) * 0.375);
      let v = node("cast", [y], { to: "float32" });
      v = node("add", [node("mul", [v, perColumn(scale, shape)]), perColumn(bias, shape)]);
      v = node("round", [node("max", [v, splat(0, "float32", shape)])]);
      v = node("min", [v, splat(255, "float32", shape)]);
      return node("cast", [v], { to: "uint8" });
    };
    for (const form of await forms()) {
      webgpuOptions.int8Gemm = form;
      for (const c of [
        { M: 24, K: 40, N: 20, da: "uint8", db: "int8", perCol: true, constB: true },
        { M: 4, K: 9, N: 5, da: "uint8", db: "int8", perCol: false, constB: false },
        { M: 17, K: 30, N: 16, batch: [2], da: "uint8", db: "uint8", perCol: true, constB: false },
      ] as MM[]) {
        const { g, ins } = matmulCase(c, requant(c.N));
        const text = await check(g, ins);
        expect(text).toMatch(/kernels \(1\)/);
      }
    }
  });

  it("conv: pads, strides, dilations, groups, depthwise, per-channel zero points, fused requantize", async () => {
    const conv = async (da: I8, db: I8, xs: number[], ws: number[], attrs: Attrs, perCh: boolean, constW: boolean, epi = false) => {
      const x = input(0, da, xs), wv = q8(db, ws);
      const w = constW ? constNode(wv) : input(1, db, ws);
      const full: Attrs = { ...attrs, zeroA: zp(da), zeroB: perCh ? zps(db, ws[0]!) : [zp(db)] };
      let y = node("conv", [x, w], full);
      if (epi) {
        const sh = [...y.shape];
        const sc = node("expand", [node("reshape", [constNode(fromF64("float32", [ws[0]!], Array.from({ length: ws[0]! }, (_, i) => (i + 1) / 256)))], {}, [1, ws[0]!, ...sh.slice(2).map(() => 1)])], {}, sh);
        y = node("cast", [node("min", [node("round", [node("max", [node("mul", [node("cast", [y], { to: "float32" }), sc]), splat(0, "float32", sh)])]), splat(255, "float32", sh)])], { to: "uint8" });
      }
      await check(buildGraph(constW ? [x] : [x, w], [y]), constW ? [q8(da, xs)] : [q8(da, xs), wv]);
    };
    const a2 = (strides: number[], pads: number[], groups: number, dilations = [1, 1]): Attrs => ({ strides, pads, groups, dilations });
    await conv("uint8", "int8", [1, 4, 7, 6], [6, 2, 3, 3], a2([2, 1], [1, 0, 1, 2], 2, [1, 2]), true, true);
    await conv("int8", "uint8", [2, 3, 5, 5], [4, 3, 3, 3], a2([1, 1], [1, 1, 1, 1], 1), false, false);
    await conv("uint8", "uint8", [1, 5, 6, 6], [5, 1, 3, 3], a2([1, 1], [2, 2, 2, 2], 5), true, false); // depthwise, pads > half the window
    await conv("int8", "int8", [1, 4, 6, 5], [8, 4, 1, 1], a2([1, 1], [0, 0, 0, 0], 1), true, true, true); // 1×1, requantized
    await conv("uint8", "int8", [2, 3, 9], [4, 3, 2], { strides: [2], pads: [1, 1], groups: 1, dilations: [1] }, true, true, true); // 1-d
  });

  it("picks a form per device, explains it, and packs a constant B without corrections where none are needed", async () => {
    const gpu = await getGpu();
    webgpuOptions.int8Gemm = "auto";
    // uint8 activations at zero point 128 and int8 weights at 0: a' = a − 128 and b' = b exactly (no row sums, no correction words)
    const { g, ins } = matmulCase({ M: 16, K: 24, N: 16, da: "uint8", db: "int8", perCol: false, constB: true });
    const n = g.outputs[0]!;
    const g2 = buildGraph(g.inputs, [node("matmul", [n.inputs[0]!, n.inputs[1]!], { zeroA: 128, zeroB: [0] })]);
    const text = await check(g2, ins);
    const want = !gpu.packedDot ? "unpacked (WGSL here has no" : gpu.cpu ? "unpacked (" : "dot4 (dot4I8Packed)";
    expect(text).toContain(`int8 GEMM kernels: ${want}`);
    expect(text).toContain("dot4I8Packed(a0, b0)");
    expect(text).toContain("dot(a0, b0)");
    expect(text).not.toContain("rs0");
    // the packed copy of B alone: 24/4 words × 16 columns
    expect(text).toMatch(/generated constants \(packed int8 weights, zero-point tables\) 384 bytes/);
  });
});
