/**
 * The `wasm` backend: lowers a graph to a Plan (fusion + memory plan), renders every kernel
 * as a WebAssembly function in one module over one linear memory (constants, then the arena),
 * and runs them in order. Buffer addresses are compile-time constants: kernels are
 * specialized to the shapes and the memory plan.
 *
 * @example
 * const f = jit(model, { backend: "wasm" });
 */
import { registerBackend, type Backend, type Executable, type CompileOptions, type ExplainSection } from "../../jit/backend.js";
import type { Graph } from "../../jit/graph.js";
import { lower, printKernel, type KExpr } from "../../jit/kernel/index.js";
import { type HostBuffer, hostBuffer, bufferBytes } from "../../jit/buffer.js";
import { allocStorage, itemSize, type DType } from "../../jit/dtype.js";
import { diskCache } from "../../jit/disk-cache.js";
import { BackendError, CompileError, RuntimeError } from "../../jit/errors.js";
import { ModuleBuilder, wasmFeatures, type FuncRef, type FunctionBuilder } from "./asm/index.js";
import type { JsImport } from "./scalar.js";
import { IMPORT_SIGS, IMPORTS_SOURCE, makeImports } from "./imports.js";
import { nodeBuiltin } from "../../jit/node-builtin.js";
import { createThreadedModule, threadsAvailable, defaultThreads, type ThreadedModule } from "./threads.js";
import { emitKernel, codegenOptions, MATH_OPS, type KernelCtx } from "./kernel.js";
import { emitMathLib, type MathFn } from "./mathlib.js";

// Relaxed SIMD (fused multiply-add, int8 dot products) is behind a flag in Node 20's V8; it can
// be turned on before any module using it is compiled. Kernels use it only when it validates.
try {
  const v8 = nodeBuiltin<{ setFlagsFromString(s: string): void }>("node:v8");
  v8?.setFlagsFromString("--experimental-wasm-relaxed-simd");
} catch { /* not Node, or flags are locked: relaxed SIMD stays off */ }

const ALIGN = 64;
const alignUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;
/** Addresses below this are reserved: the error slot lives at 16. */
const RESERVED = 64;
const ERROR_ADDR = 16;
const MAX_BYTES = 2 ** 31; // wasm32 addresses are i32 constants in kiln's kernels

/** Everything needed to run a compiled graph: what the disk cache stores. */
interface Artifact {
  readonly module: Uint8Array<ArrayBuffer>;
  readonly pages: number;
  /** Initial memory contents: constants and pre-packed weights. */
  readonly segments: { addr: number; bytes: Uint8Array }[];
  readonly inputs: { addr: number; dtype: DType; size: number }[];
  readonly outputs: { addr: number; dtype: DType; shape: number[]; size: number }[];
  /** Functions to run in order (a kernel may have several phases), with their work items and work estimate (kernel.ts, COST). */
  readonly kernels: { name: string; workItems: number; cost: number; kernel: number; describe?: string; node?: { op: string; id: string; site?: string } }[];
  readonly explain: ExplainSection[];
}

/** Lowers, lays out memory and generates the module. */
function build(graph: Graph, opts: CompileOptions): Artifact {
  const plan = lower(graph, { fuse: opts.opt > 0 });
  const addrs: number[] = [];
  // layout: reserved | constants | arena | packed data and scratch (allocated while emitting)
  let cursor = RESERVED;
  for (const b of plan.buffers) {
    if (b.kind !== "const") continue;
    addrs[b.id] = cursor;
    cursor = alignUp(cursor + b.size * itemSize(b.dtype));
  }
  const arena = cursor;
  for (const b of plan.buffers) if (b.kind !== "const") addrs[b.id] = arena + b.offset!;
  let top = alignUp(arena + plan.memory.arenaBytes);
  const segments: { addr: number; bytes: Uint8Array }[] = [];
  for (const b of plan.buffers) if (b.kind === "const" && b.size) segments.push({ addr: addrs[b.id]!, bytes: bufferBytes(b.value!) });

  const m = new ModuleBuilder();
  const refs = new Map<JsImport, FuncRef>();
  for (const [name, sig] of Object.entries(IMPORT_SIGS)) refs.set(name as JsImport, m.importFunc("env", name, { params: sig.params, results: [sig.result] }));
  // the memory is imported so worker threads can share it; its size is known once code is emitted
  m.importMemory("env", "mem", { min: 1, max: 1, shared: true }); // limits patched below
  // the wasm math library, for the functions these kernels use (after imports, before kernels)
  const needed = new Set<string>();
  const scanned = new Set<KExpr>();
  const scan = (e: KExpr) => { if ("args" in e && !scanned.has(e)) { scanned.add(e); if (MATH_OPS.has(e.op)) needed.add(e.op); e.args.forEach(scan); } };
  for (const k of plan.kernels) { k.stages.forEach((st) => scan(st.expr)); scan(k.value); }
  const math = needed.size && !codegenOptions.exactMath ? emitMathLib(m, needed as Set<MathFn>) as Record<string, { f32: FuncRef; f32x4: FuncRef }> : undefined;
  const ctx: KernelCtx = {
    plan,
    addr: (buf) => addrs[buf]!,
    errorAddr: ERROR_ADDR,
    relaxedSimd: wasmFeatures().relaxedSimd,
    callImport: (f: FunctionBuilder, name: JsImport) => { f.call(refs.get(name)!); },
    callMath: math ? (f: FunctionBuilder, fn: string, vector: boolean) => {
      const r = math[fn];
      if (!r) return false;
      f.call(vector ? r.f32x4 : r.f32);
      return true;
    } : undefined,
    alloc: (bytes: number, align: number, init?: Uint8Array) => {
      const a = Math.ceil(top / Math.max(align, 1)) * Math.max(align, 1);
      top = alignUp(a + bytes);
      if (init) segments.push({ addr: a, bytes: init });
      return a;
    },
  };
  const kernels = plan.kernels.flatMap((k) => {
    const e = emitKernel(m, k, ctx);
    const n = k.anchor?.node;
    return e.phases.map((p, i) => {
      const name = `k${k.id}${e.phases.length > 1 ? `_${i}` : ""}`;
      m.exportFunc(name, p.func);
      return { name, workItems: p.workItems, cost: Math.round(p.cost), kernel: k.id, describe: p.describe, node: n ? { op: n.op, id: `%${n.id}`, site: n.site?.toString() } : undefined };
    });
  });
  if (top > MAX_BYTES) throw new CompileError(`the model needs ${top} bytes of memory, more than the wasm backend's ${MAX_BYTES}`, { hint: "use smaller inputs or another backend" });
  const pages = Math.max(1, Math.ceil(top / 65536));
  m.setImportedMemoryLimits({ min: pages, max: pages, shared: true });
  const module = m.build();
  const mem = plan.memory;
  return {
    module, pages: pages, segments,
    inputs: plan.inputs.map((id) => ({ addr: addrs[id]!, dtype: plan.buffers[id]!.dtype, size: plan.buffers[id]!.size })),
    outputs: plan.outputs.map((o) => ({ addr: addrs[o.buf]!, dtype: o.dtype, shape: [...o.shape], size: plan.buffers[o.buf]!.size })),
    kernels,
    explain: [
      { title: `kernels (${plan.kernels.length})`, text: plan.kernels.map(printKernel).join("\n"), metrics: { kernels: plan.kernels.length } },
      { title: "memory plan", text: `arena ${mem.arenaBytes} bytes (no reuse: ${mem.noReuseBytes}, lower bound: ${mem.lowerBoundBytes}; ${mem.inPlace} in place); linear memory ${pages * 64} KiB`, metrics: { arenaBytes: mem.arenaBytes, noReuseBytes: mem.noReuseBytes, lowerBoundBytes: mem.lowerBoundBytes } },
      { title: `webassembly (${module.length} bytes)`, text: m.toText() },
    ],
  };
}

// ---------------------------------------------------------------- artifact bytes (disk cache)

const enc = new TextEncoder(), dec = new TextDecoder();

function serialize(a: Artifact): Uint8Array {
  const { module, segments, ...meta } = a;
  const json = enc.encode(JSON.stringify({ ...meta, segments: segments.map((s) => ({ addr: s.addr, length: s.bytes.length })) }));
  const parts = [json, module, ...segments.map((s) => s.bytes)];
  const out = new Uint8Array(8 + parts.reduce((n, p) => n + p.length, 0));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, json.length, true); dv.setUint32(4, module.length, true);
  let o = 8;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function deserialize(b: Uint8Array): Artifact | undefined {
  try {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const jl = dv.getUint32(0, true), ml = dv.getUint32(4, true);
    const meta = JSON.parse(dec.decode(b.subarray(8, 8 + jl))) as Omit<Artifact, "module" | "segments"> & { segments: { addr: number; length: number }[] };
    let o = 8 + jl;
    const module = b.slice(o, o + ml); o += ml;
    const segments = meta.segments.map((s) => { const bytes = b.slice(o, o + s.length); o += s.length; return { addr: s.addr, bytes }; });
    // entries written before kernels had a cost are recompiled
    if (o !== b.length || !meta.kernels.every((k) => typeof k.cost === "number") || !WebAssembly.validate(module)) return undefined;
    return { ...meta, module, segments };
  } catch {
    return undefined;
  }
}

/**
 * `minCost`: a phase whose estimated cost (kernel.ts, COST: about ns on one core) is below this runs
 * on the calling thread alone. Waking a worker costs 1–50 µs (threads.ts) and a split phase gains
 * at most half its time on 2 threads, so splitting pays from a few tens of µs of work; a worker
 * that wakes late is not waited for, which bounds the loss of a split that did not pay to the
 * wake itself. bench/threshold.ts measures 1 thread against every phase split.
 */
export const threading = {
  minCost: 40_000,
  /** Each chunk of a split phase carries at least this much work (so a wake is paid for by its chunk). */
  chunkCost: 15_000,
};

/** Chunks a phase is split into (1: it runs on the calling thread alone); read when an executable is created. */
function partsOf(k: { workItems: number; cost: number }, threads: number): number {
  if (threads < 2 || k.workItems < 2 || k.cost < threading.minCost) return 1;
  // 4 chunks per thread balance uneven items and a thread that starts late
  return Math.max(1, Math.min(threads * 4, k.workItems, Math.floor(k.cost / Math.max(1, threading.chunkCost))));
}

class WasmExecutable implements Executable {
  readonly backend = "wasm";
  private readonly memory: WebAssembly.Memory;
  private readonly module: WebAssembly.Module;
  private readonly exports: Record<string, (start: number, end: number) => void>;
  /** Chunks per phase, in `art.kernels` order (1: on the calling thread). */
  private readonly parts: number[];

  /** The module on the shared worker pool (threads > 1 and some phase is worth splitting), loaded on the first run; undefined inside when that failed. */
  private pool?: Promise<ThreadedModule | undefined>;

  constructor(private readonly art: Artifact, readonly fromDisk: boolean, private readonly threads = 1) {
    this.memory = new WebAssembly.Memory({ initial: art.pages, maximum: art.pages, shared: true });
    let inst: WebAssembly.Instance;
    try {
      this.module = new WebAssembly.Module(art.module);
      inst = new WebAssembly.Instance(this.module, { env: { ...makeImports(), mem: this.memory } });
    } catch (e) { throw new CompileError(`generated WebAssembly did not compile: ${(e as Error).message}`, { hint: "this is a kiln bug: please report the graph" }); }
    this.exports = inst.exports as unknown as Record<string, (start: number, end: number) => void>;
    const mem = new Uint8Array(this.memory.buffer);
    for (const s of art.segments) mem.set(s.bytes, s.addr);
    this.parts = art.kernels.map((k) => partsOf(k, threads));
    this.profile = profiling() ? new Float64Array(art.kernels.length) : undefined;
  }

  async run(inputs: readonly HostBuffer[]): Promise<HostBuffer[]> {
    const art = this.art;
    if (inputs.length !== art.inputs.length) throw new RuntimeError(`expected ${art.inputs.length} inputs, got ${inputs.length}`);
    // phases with enough work are split across the shared pool; the calling thread takes a share
    if (this.parts.some((p) => p > 1)) {
      this.pool ??= createThreadedModule(this.module, this.memory, IMPORTS_SOURCE, this.threads).catch((e: unknown) => {
        // e.g. a Content-Security-Policy that forbids the workers' `new Function`: one thread still works
        warnOnce(`kiln: the wasm backend runs on one thread: the worker pool failed: ${(e as Error).message}`);
        return undefined;
      });
    }
    // (awaited before the inputs are written: runs of this executable must not interleave in its memory)
    const pool = this.pool && await this.pool;
    const blocking = typeof (globalThis as { process?: unknown }).process === "object";
    if (pool && !blocking) {
      // runAsync awaits between kernels: a browser's concurrent runs of this executable take turns
      const turn = this.turn;
      let done!: () => void;
      this.turn = new Promise<void>((r) => { done = r; });
      await turn;
      try { return await this.runOnce(inputs, pool, false); } finally { done(); }
    }
    return this.runOnce(inputs, pool, true);
  }

  /** KILN_WASM_PROFILE=1: milliseconds spent per phase over `profiledRuns` runs (explain prints them). */
  private readonly profile: Float64Array | undefined;
  private profiledRuns = 0;

  /** The previous non-blocking run of this executable (they take turns). */
  private turn: Promise<void> = Promise.resolve();

  private async runOnce(inputs: readonly HostBuffer[], pool: ThreadedModule | undefined, blocking: boolean): Promise<HostBuffer[]> {
    const art = this.art;
    const mem = new Uint8Array(this.memory.buffer);
    art.inputs.forEach((b, i) => {
      const x = inputs[i]!;
      if (x.dtype !== b.dtype || x.data.length !== b.size) throw new RuntimeError(`input ${i} is ${x.dtype}[${x.shape}], the graph was compiled for ${b.dtype} with ${b.size} elements`);
      mem.set(bufferBytes(x), b.addr);
    });
    const err = new Int32Array(this.memory.buffer, ERROR_ADDR, 3);
    err[0] = 0;
    const prof = this.profile;
    for (let i = 0; i < art.kernels.length; i++) {
      const k = art.kernels[i]!, parts = pool ? this.parts[i]! : 1;
      const t0 = prof ? performance.now() : 0;
      if (parts < 2) this.exports[k.name]!(0, k.workItems);
      else if (blocking) pool!.run(k.name, k.workItems, parts);
      else await pool!.runAsync(k.name, k.workItems, parts);
      if (prof) prof[i]! += performance.now() - t0;
    }
    if (prof) this.profiledRuns++;
    if (err[0]) {
      const n = art.kernels.find((k) => k.kernel === err[0]! - 1)?.node;
      throw new RuntimeError(`index ${err[1]} is out of range for a dimension of size ${err[2]}`, { op: n?.op, node: n?.id, site: n?.site, hint: "indices must lie in [-size, size) of the indexed axis" });
    }
    return art.outputs.map((o) => {
      const data = allocStorage(o.dtype, o.size);
      const bytes = new Uint8Array(data.buffer);
      bytes.set(mem.subarray(o.addr, o.addr + bytes.length));
      return hostBuffer(o.dtype, o.shape, data);
    });
  }

  explain(): ExplainSection[] {
    const runs = this.profiledRuns, prof = this.profile;
    const split = this.art.kernels.map((k, i) => `${k.name}: ${k.workItems} work items, cost ${k.cost}: ${this.parts[i]! > 1 ? `${this.parts[i]} chunks` : "calling thread"}` +
      (prof && runs ? `, ${(prof[i]! / runs).toFixed(3)} ms/run` : "") + (k.describe ? ` (${k.describe})` : ""));
    if (prof && runs) split.push(`total ${(prof.reduce((a, b) => a + b, 0) / runs).toFixed(3)} ms/run over ${runs} runs (KILN_WASM_PROFILE)`);
    return [
      ...this.art.explain,
      { title: `threads (${this.threads})`, text: split.join("\n"), metrics: { threads: this.threads } },
      ...(this.fromDisk ? [{ title: "cache", text: "loaded from the disk cache (KILN_CACHE_DIR)" }] : []),
    ];
  }
}

/** Per-phase timing, for finding what a model spends its time on (KILN_WASM_PROFILE=1). */
function profiling(): boolean {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.KILN_WASM_PROFILE === "1";
}

let warned = false;
/** One warning per process about running on one thread (the first reason). */
function warnOnce(message: string): void {
  if (warned) return;
  warned = true;
  console.warn(message);
}

/** Threads for an executable: the option, else the available cores; 1 (warning once per process) where threads cannot run. */
function threadCount(option: number | undefined): number {
  if (option !== undefined && Number.isNaN(option)) throw new BackendError("threads must be a number >= 1, got NaN");
  const threads = option === undefined ? defaultThreads() : Math.max(1, Math.min(Math.floor(option), 256));
  if (threads < 2) return 1;
  const why = threadsAvailable();
  if (why === true) return threads;
  warnOnce(`kiln: the wasm backend runs on one thread: ${why}`);
  return 1;
}

export const wasmBackend: Backend = {
  name: "wasm",
  available: () => (typeof WebAssembly === "object" ? true : "WebAssembly is not available in this runtime"),
  compile: (g: Graph, o: CompileOptions) => {
    const store = o.cacheKey ? diskCache() : undefined;
    const hit = store?.get(o.cacheKey!);
    const cached = hit && deserialize(hit);
    const threads = threadCount(o.threads);
    if (cached) return new WasmExecutable(cached, true, threads);
    const art = build(g, o);
    const exe = new WasmExecutable(art, false, threads); // instantiate first: never store a module that fails
    store?.put(o.cacheKey!, serialize(art));
    return exe;
  },
};

registerBackend(wasmBackend);
