/**
 * Benchmark of kiln's int8 GEMM (backends/wasm/qmatmul.ts) against the f32 blocked matmul
 * (backends/wasm/matmul.ts) on the same shapes, one thread, in the same process.
 *
 *   npx tsx bench/qmatmul.ts                      # all shapes, prints JSON
 *   npx tsx bench/qmatmul.ts --quick              # fewer rounds
 *   npx tsx bench/qmatmul.ts --shapes 512x512x512 --no-conv
 *   npx tsx bench/qmatmul.ts --no-matmul            # convolutions only
 *   npx tsx bench/qmatmul.ts --tuning '{"mr":5,"nv":2}'
 *
 * Matmuls (M×N×K, C[M,N] = A[M,K] @ B[K,N]) are timed at the kernel level, B constant (weights,
 * pre-packed at compile time) for both: f32 (x f32 @ W f32 → f32) against int8 (x uint8 @ W int8,
 * a scalar and a per-column zero point → int32), and the int8 GEMM with a requantizing epilogue
 * (cast · per-column scale + bias → relu → round → clip → uint8, fused: what a quantized layer
 * runs). Convolutions are timed end to end through the wasm backend (`run` of a compiled graph:
 * input copy-in, im2col, GEMM with the epilogue, output copy-out), f32 (conv + bias + relu) against
 * int8 (the int8 conv + requantize to uint8). GOP/s = 2·MACs / median time; runners are
 * interleaved over several rounds after warm-up, so load from other processes hits all alike.
 */
import { median } from "./stats.js";
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { ModuleBuilder, wasmFeatures, type FunctionBuilder } from "../backends/wasm/asm/index.js";
import { emitMatmul } from "../backends/wasm/matmul.js";
import { emitQGemm, type QGemmTuning, type QGemmSpec } from "../backends/wasm/qmatmul.js";
import "../backends/js/index.js";
import "../backends/wasm/index.js";
import { getBackend } from "../jit/backend.js";
import { buildGraph } from "../jit/graph.js";
import { node, constNode, numel, type Node } from "../jit/ir.js";
import { runPasses } from "../jit/passes/index.js";
import { fromF64, type HostBuffer } from "../jit/buffer.js";

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const opt = (name: string) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
const quick = flag("--quick");
const tuning: QGemmTuning | undefined = opt("--tuning") ? JSON.parse(opt("--tuning")!) as QGemmTuning : undefined;
const rounds = Number(opt("--rounds") ?? (quick ? 5 : 9));

const SHAPES: [number, number, number][] = flag("--no-matmul") ? [] : opt("--shapes")
  ? opt("--shapes")!.split(",").map((s) => s.split("x").map(Number) as [number, number, number])
  : [[32, 768, 3072], [128, 768, 768], [64, 3072, 768], [512, 512, 512], [1024, 1024, 1024]];
const CONVS: { name: string; C: number; O: number; H: number; W: number; k: number; p: number; s?: number }[] = flag("--no-conv") ? [] : [
  { name: "1×64×56×56 3×3 → 64", C: 64, O: 64, H: 56, W: 56, k: 3, p: 1 },
  { name: "1×128×28×28 1×1 → 256", C: 128, O: 256, H: 28, W: 28, k: 1, p: 0 },
  { name: "1×256×14×14 3×3 → 256", C: 256, O: 256, H: 14, W: 14, k: 3, p: 1 },
  { name: "1×32×28×28 3×3 → 32", C: 32, O: 32, H: 28, W: 28, k: 3, p: 1 },
  { name: "1×3×112×112 3×3 /2 → 32 (stem)", C: 3, O: 32, H: 112, W: 112, k: 3, p: 1, s: 2 },
];

const features = wasmFeatures(true);
let seed = 1;
const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32; };

interface Runner { call: () => unknown; describe?: string }

/** A kernel in a module of its own over its own memory; `alloc` hands out addresses. */
function kernelRunner(emit: (m: ModuleBuilder, alloc: (bytes: number, align: number, init?: Uint8Array) => number) => { func: unknown; workItems: number; describe: string }): Runner {
  let top = 64;
  const inits: [number, Uint8Array][] = [];
  const alloc = (bytes: number, align: number, init?: Uint8Array) => {
    top = Math.ceil(top / align) * align;
    const p = top;
    top += bytes;
    if (init) inits.push([p, init]);
    return p;
  };
  const m = new ModuleBuilder();
  m.importMemory("env", "mem", { min: 1 });
  const r = emit(m, alloc);
  m.exportFunc("f", r.func as never);
  const mem = new WebAssembly.Memory({ initial: Math.ceil(top / 65536) + 1 });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(m.build()), { env: { mem } });
  const u8 = new Uint8Array(mem.buffer);
  for (const [p, b] of inits) u8.set(b, p);
  // operands: random bytes everywhere else (finite f32s: small exponents)
  for (let i = 0; i < u8.length; i += 4) { u8[i] = (rnd() * 256) | 0; u8[i + 1] = (rnd() * 256) | 0; u8[i + 2] = 0x20; u8[i + 3] = 0x3c; }
  for (const [p, b] of inits) u8.set(b, p);
  const f = inst.exports.f as (s: number, e: number) => void;
  return { call: () => f(0, r.workItems), describe: r.describe };
}

/** Interleaved rounds after warm-up; returns the median ms of each runner. */
async function measure(runners: Runner[], estMs: number): Promise<number[]> {
  const warm = Math.max(3, Math.min(40, Math.ceil(300 / estMs)));
  const per = Math.max(2, Math.min(30, Math.ceil((quick ? 60 : 150) / estMs)));
  for (const r of runners) for (let i = 0; i < warm; i++) await r.call();
  const times: number[][] = runners.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < runners.length; j++) {
      for (let i = 0; i < per; i++) {
        const t0 = performance.now();
        await runners[j]!.call();
        times[j]!.push(performance.now() - t0);
      }
    }
  }
  return times.map(median);
}

const gops = (macs: number, ms: number) => +(2 * macs / (ms * 1e6)).toFixed(1);
const results: Record<string, unknown>[] = [];

for (const [M, N, K] of SHAPES) {
  const macs = M * N * K;
  const Bf = new Float32Array(K * N).map(() => rnd() - 0.5);
  const Bq = Array.from({ length: K * N }, () => ((rnd() * 256) | 0) - 128);
  const zb = Array.from({ length: N }, () => ((rnd() * 16) | 0) - 8);
  const f32 = kernelRunner((m, alloc) => {
    const a = alloc(M * K * 4, 64), c = alloc(M * N * 4, 64);
    return emitMatmul(m, { batch: 1, M, N, K, a: { base: a, sb: 0, sm: K, sk: 1 }, b: { constant: Bf, batched: false }, c, epilogue: null, alloc, features: { relaxedSimd: features.relaxedSimd } }, "mm");
  });
  const q = (requant: boolean) => kernelRunner((m, alloc) => {
    const a = alloc(M * K, 64), c = alloc(M * N * 4, 64), scale = alloc(N * 4, 64), bias = alloc(N * 4, 64);
    const epilogue: QGemmSpec["epilogue"] = !requant ? null : {
      vectorizable: true,
      emit(f: FunctionBuilder, vector: boolean, _b: number, _m: number, n: number) {
        // cast · scale[n] + bias[n] → relu → round → clip 255 → uint8 (vector form; the lane form mirrors it)
        if (!vector) {
          f.f32_convert_i32_s().local_get(n).i32_const(2).i32_shl().f32_load(scale).f32_mul().local_get(n).i32_const(2).i32_shl().f32_load(bias).f32_add()
            .f32_const(0).f32_max().f32_nearest().f32_const(255).f32_min().i32_trunc_sat_f32_s();
          return;
        }
        f.f32x4_convert_i32x4_s().local_get(n).i32_const(2).i32_shl().v128_load(scale, 4).f32x4_mul().local_get(n).i32_const(2).i32_shl().v128_load(bias, 4).f32x4_add()
          .f32_const(0).f32x4_splat().f32x4_pmax().f32x4_nearest().f32_const(255).f32x4_splat().f32x4_pmin().i32x4_trunc_sat_f32x4_s();
      },
    };
    return emitQGemm(m, {
      batch: 1, M, N, K, a: { base: a, sb: 0, sm: K, sk: 1, signed: false, zero: 128 }, b: { constant: Bq, batched: false, zero: zb },
      c, cDtype: requant ? "uint8" : "int32", epilogue, alloc, tuning,
    }, "q");
  });
  const runners = [f32, q(false), q(true)];
  const est = (2 * macs) / 50e6;
  const [tf, tq, tr] = await measure(runners, est);
  results.push({
    kind: "matmul", shape: `${M}x${N}x${K}`,
    f32GOPs: gops(macs, tf!), int8GOPs: gops(macs, tq!), int8RequantGOPs: gops(macs, tr!),
    ratio: +(tf! / tq!).toFixed(2), ratioRequant: +(tf! / tr!).toFixed(2),
    int8: runners[1]!.describe, f32: runners[0]!.describe,
  });
  console.error(JSON.stringify(results[results.length - 1]));
}

const input = (i: number, dtype: "float32" | "uint8", shape: number[]) => node("input", [], { index: i, to: dtype }, shape);
const bcast = (values: number[], shape: number[]) => node("expand", [constNode(fromF64("float32", [1, values.length, 1, 1], values))], {}, shape);
const splat = (v: number, shape: number[]) => node("expand", [node("reshape", [constNode(fromF64("float32", [], [v]))], {}, shape.map(() => 1))], {}, shape);
for (const c of CONVS) {
  const xs = [1, c.C, c.H, c.W], wsh = [c.O, c.C, c.k, c.k];
  const attrs = { strides: [c.s ?? 1, c.s ?? 1], dilations: [1, 1], pads: [c.p, c.p, c.p, c.p], groups: 1 };
  const bias = Array.from({ length: c.O }, () => rnd() - 0.5), scale = Array.from({ length: c.O }, () => 1e-3 * (1 + rnd()));
  // f32: conv + bias + relu
  const xf = input(0, "float32", xs);
  const cf = node("conv", [xf, constNode(fromF64("float32", wsh, Array.from({ length: numel(wsh) }, () => rnd() - 0.5)))], attrs);
  const os = cf.shape as number[];
  const yf = node("max", [node("add", [cf, bcast(bias, os)]), splat(0, os)]);
  // int8: conv → cast · scale + bias → relu → round → clip → uint8
  const xq = input(0, "uint8", xs);
  const cq = node("conv", [xq, constNode(fromF64("int8", wsh, Array.from({ length: numel(wsh) }, () => ((rnd() * 256) | 0) - 128)))], { ...attrs, zeroA: 128, zeroB: [0] });
  const yq0: Node = node("max", [node("add", [node("mul", [node("cast", [cq], { to: "float32" }), bcast(scale, os)]), bcast(bias, os)]), splat(0, os)]);
  const yq = node("cast", [node("min", [node("round", [yq0]), splat(255, os)])], { to: "uint8" });
  const compile = (x: Node, y: Node) => {
    const g = runPasses(buildGraph([x], [y]), 2).graph;
    return getBackend("wasm").compile(g, { opt: 2, threads: 1 });
  };
  const ef = compile(xf, yf), eq = compile(xq, yq);
  const inF: HostBuffer[] = [fromF64("float32", xs, Array.from({ length: numel(xs) }, () => rnd() - 0.5))];
  const inQ: HostBuffer[] = [fromF64("uint8", xs, Array.from({ length: numel(xs) }, () => (rnd() * 256) | 0))];
  const macs = numel(os) * c.C * c.k * c.k;
  const describe = eq.explain().map((s) => s.text).join("\n").includes("int8gemm") ? "int8 GEMM (qconv.ts)" : "scalar";
  const [tf, tq] = await measure([{ call: () => ef.run(inF) }, { call: () => eq.run(inQ) }], (2 * macs) / 40e6);
  results.push({ kind: "conv", shape: c.name, f32GOPs: gops(macs, tf!), int8GOPs: gops(macs, tq!), ratio: +(tf! / tq!).toFixed(2), int8: describe });
  console.error(JSON.stringify(results[results.length - 1]));
}

console.log(JSON.stringify({ threads: 1, relaxedSimd: features.relaxedSimd, rounds, results }, null, 1));
