/// <reference types="@webgpu/types" />
/**
 * The `webgpu` backend: lowers a graph to a Plan (fusion + memory plan, shared with wasm),
 * renders every kernel as a WGSL compute shader (kernel.ts), and runs them on a WebGPU device
 * (navigator.gpu, or the `webgpu` package in Node: device.ts).
 *
 * Memory: ONE storage buffer, `A: array<u32>`, bound once for every kernel (so no two
 * bindings alias), holding the constants and then the arena of inputs, intermediates and
 * outputs. Every element takes one 32-bit word whatever its dtype (WGSL cannot store a byte or
 * a half without races): bool/int8/uint8 are widened to i32 and float16 to the f32 of its value
 * on upload, and narrowed on readback. The arena is the shared memory plan re-run with every
 * buffer 4 bytes an element (jit/kernel/memory.ts: greedy reuse and in-place), so offsets are
 * word offsets. After the arena come constants the kernel generator makes (packed int8
 * weights, zero-point and correction tables; kernel.ts `constWords`), uploaded with the others.
 * A second tiny buffer holds the error words (an out-of-range index: kernel,
 * index, size), read back with the outputs. Buffers, the bind group and the readback buffer
 * are made on the first run and reused by every later run of the executable.
 *
 * int8 GEMMs (matmul/conv with zero points): exact i32 results in every kernel form; a tiled
 * int8 matmul is generated in three texts (matmul.ts: unpacked, packed with dot4I8Packed,
 * packed with the bytes unpacked in the shader), and the first run picks one for the device
 * (`int8Form`, `webgpuOptions.int8Gemm`); explain() names the choice.
 *
 * int64: WGSL has no 64-bit integers, so int64 is computed as i32. Inputs and constants must
 * fit int32 (a ValueError / CompileError says so); arithmetic that overflows int32 wraps at 32
 * bits (the reference wraps at 64). Outputs are sign-extended back to int64.
 *
 * Each run: write the inputs (queue.writeBuffer), encode every kernel in one command encoder
 * (one compute pass; one pass per kernel when profiling, with timestamps), copy the outputs
 * and error words into a mappable buffer, submit, map, read.
 *
 * @example
 * const f = jit(model, { backend: "webgpu" });
 */
import { registerBackend, type Backend, type Executable, type CompileOptions, type ExplainSection } from "../../jit/backend.js";
import type { Graph } from "../../jit/graph.js";
import { lower, printKernel, type Kernel } from "../../jit/kernel/index.js";
import { planMemory } from "../../jit/kernel/memory.js";
import { type HostBuffer, hostBuffer } from "../../jit/buffer.js";
import { allocStorage, fromHalfBits, toHalfBits, type DType } from "../../jit/dtype.js";
import { BackendError, CompileError, RuntimeError, ValueError } from "../../jit/errors.js";
import { generateKernel, WORKGROUP, type ArenaInfo } from "./kernel.js";
import { webgpuOptions } from "./options.js";
import { getGpu, pipelineFor, webgpuAvailable, USAGE, MAP_READ, type Gpu } from "./device.js";

export { webgpuOptions } from "./options.js";

interface Dispatch {
  readonly name: string;
  readonly kernel: number;
  readonly wgsl: string;
  readonly invocations: number;
  /** Workgroups to dispatch, and their size (default: ceil(invocations / WORKGROUP) of WORKGROUP). */
  readonly workgroups: number;
  readonly workgroupSize: number;
  readonly node?: { op: string; id: string; site?: string };
  /** Other texts of the shader, one of which may run instead (kernel.ts Phase.variants). */
  readonly variants?: { readonly dot4: string; readonly packed: string };
}

interface Artifact {
  /** Words of the one storage buffer (constants + arena). */
  readonly words: number;
  readonly constWords: number;
  /** Constants by word offset; `packedOnly`: generated for the packed int8 forms alone. */
  readonly consts: { base: number; value: HostBuffer; packedOnly?: boolean }[];
  readonly inputs: { base: number; dtype: DType; size: number }[];
  readonly outputs: ({ base: number; dtype: DType; shape: number[]; size: number } | { value: HostBuffer })[];
  readonly dispatches: Dispatch[];
  readonly explain: ExplainSection[];
}

const align4 = (n: number) => Math.ceil(n / 4) * 4;

function checkInt64(data: BigInt64Array, what: string): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < -2147483648n || v > 2147483647n)
      throw new ValueError(`${what} holds the int64 value ${v} at element ${i}, which does not fit in 32 bits: the webgpu backend computes int64 as int32`, { hint: "keep int64 values within ±2^31, or use the wasm backend" });
  }
}

/** Writes a host buffer's values into 32-bit words (one per element). */
function widen(b: HostBuffer, out: Int32Array): void {
  const d = b.data;
  switch (b.dtype) {
    case "float32": out.set(new Int32Array(d.buffer, d.byteOffset, d.length)); return;
    case "float16": { const f = new Float32Array(out.buffer, out.byteOffset, out.length); for (let i = 0; i < d.length; i++) f[i] = fromHalfBits((d as Uint16Array)[i]!); return; }
    case "int64": { const s = d as BigInt64Array; for (let i = 0; i < s.length; i++) out[i] = Number(s[i]!); return; }
    default: out.set(d as Int32Array | Int8Array | Uint8Array);
  }
}

/** Reads words back into a host buffer of `dtype`. */
function narrowWords(words: Int32Array, dtype: DType, shape: number[]): HostBuffer {
  const data = allocStorage(dtype, words.length);
  switch (dtype) {
    case "float32": new Int32Array(data.buffer).set(words); break;
    case "float16": { const f = new Float32Array(words.buffer, words.byteOffset, words.length), o = data as Uint16Array; for (let i = 0; i < f.length; i++) o[i] = toHalfBits(f[i]!); break; }
    case "int64": { const o = data as BigInt64Array; for (let i = 0; i < words.length; i++) o[i] = BigInt(words[i]!); break; }
    default: (data as Int32Array | Int8Array | Uint8Array).set(words);
  }
  return hostBuffer(dtype, shape, data);
}

function build(graph: Graph, opts: CompileOptions): Artifact {
  const plan = lower(graph, { fuse: opts.opt > 0 });
  const bases: number[] = [];
  const dtypes = plan.buffers.map((b) => b.dtype);
  const consts: Artifact["consts"] = [];
  let cursor = 0;
  for (const b of plan.buffers) {
    if (b.kind !== "const") continue;
    if (b.dtype === "int64") {
      try { checkInt64(b.value!.data as BigInt64Array, "a constant"); }
      catch (e) { throw new CompileError((e as ValueError).what, { hint: "keep int64 constants within ±2^31, or use the wasm backend" }); }
    }
    bases[b.id] = cursor;
    consts.push({ base: cursor, value: b.value! });
    cursor += align4(b.size);
  }
  const constWords = cursor;
  // the shared memory plan, re-run with one 4-byte word per element: offsets / 4 are word offsets
  const wb = plan.buffers.map((b) => ({ ...b, dtype: "int32" as DType, offset: undefined as number | undefined }));
  const mem = planMemory({ buffers: wb, kernels: plan.kernels as Kernel[], inputs: [...plan.inputs], outputs: plan.outputs.map((o) => ({ ...o })) });
  for (const b of wb) if (b.kind !== "const") bases[b.id] = constWords + b.offset! / 4;
  // constant words the generator makes (packed int8 weights, zero-point tables) follow the arena
  let tail = constWords + mem.arenaBytes / 4;
  const made = new Map<string, number>();
  let madeWords = 0;
  const arena: ArenaInfo = {
    bases, dtypes, values: plan.buffers.map((b) => (b.kind === "const" ? b.value : undefined)),
    addConst(w: Int32Array, packedOnly = false): number {
      const key = w.length <= 4096 ? `${packedOnly}:${w.join(",")}` : undefined;
      const have = key === undefined ? undefined : made.get(key);
      if (have !== undefined) return have;
      const base = tail;
      consts.push({ base, value: hostBuffer("int32", [w.length], w), packedOnly });
      tail += align4(w.length);
      madeWords += w.length;
      if (key !== undefined) made.set(key, base);
      return base;
    },
  };
  const dispatches: Dispatch[] = [];
  for (const k of plan.kernels) {
    const n = k.anchor?.node ?? k.ops[k.ops.length - 1];
    const node = n ? { op: n.op, id: `%${n.id}`, site: n.site?.toString() } : undefined;
    const phases = generateKernel(k, arena);
    phases.forEach((p, i) => {
      if (p.invocations > 0) dispatches.push({ name: `k${k.id}${phases.length > 1 ? `_${i}` : ""}`, kernel: k.id, wgsl: p.wgsl, invocations: p.invocations,
        workgroups: p.workgroups ?? Math.ceil(p.invocations / WORKGROUP), workgroupSize: p.workgroupSize ?? WORKGROUP, node, variants: p.variants });
    });
  }
  const words = Math.max(4, tail);
  const bytes = words * 4;
  return {
    words, constWords, consts,
    inputs: plan.inputs.map((id) => ({ base: bases[id]!, dtype: plan.buffers[id]!.dtype, size: plan.buffers[id]!.size })),
    outputs: plan.outputs.map((o) => {
      const b = plan.buffers[o.buf]!;
      return b.kind === "const" ? { value: b.value! } : { base: bases[o.buf]!, dtype: o.dtype, shape: [...o.shape], size: b.size };
    }),
    dispatches,
    explain: [
      { title: `kernels (${plan.kernels.length})`, text: plan.kernels.map(printKernel).join("\n"), metrics: { kernels: plan.kernels.length } },
      {
        title: "memory plan",
        text: `one storage buffer of ${bytes} bytes (one 32-bit word per element): constants ${constWords * 4} bytes, arena ${mem.arenaBytes} bytes` +
          `${madeWords ? `, generated constants (packed int8 weights, zero-point tables) ${madeWords * 4} bytes` : ""} ` +
          `(no reuse: ${mem.noReuseBytes}, lower bound: ${mem.lowerBoundBytes}; ${mem.inPlace} in place)`,
        metrics: { kernels: plan.kernels.length, arenaBytes: mem.arenaBytes, constBytes: constWords * 4, generatedConstBytes: madeWords * 4, bufferBytes: bytes },
      },
      { title: `wgsl (${dispatches.length} shaders)`, text: dispatches.map((d) => `// ${d.name}: ${d.invocations} invocations${d.variants ? " (int8 GEMM, unpacked; its packed forms follow)" : ""}\n${d.wgsl}` +
        (d.variants ? `// ${d.name}, packed, with dot4I8Packed\n${d.variants.dot4}// ${d.name}, packed, bytes unpacked in the shader\n${d.variants.packed}` : "")).join("\n") },
    ],
  };
}

/**
 * The form of tiled int8 GEMM kernels on a device (`webgpuOptions.int8Gemm`; "auto": packed
 * with dot4I8Packed where WGSL has it and the adapter is a GPU, else unpacked). On SwiftShader
 * (a CPU; 128×768×768) dot4I8Packed ran 1.2–1.9× slower than the unpacked kernel and the
 * shader-unpacked packed form at best alike, so CPU adapters keep the unpacked one.
 */
function int8Form(gpu: Gpu): { form: "dot4" | "packed" | "unpacked"; why: string } {
  const o = webgpuOptions.int8Gemm;
  if (o !== "auto") return { form: o, why: `${o} (webgpuOptions.int8Gemm)` };
  if (!gpu.packedDot) return { form: "unpacked", why: "unpacked (WGSL here has no packed_4x8_integer_dot_product)" };
  if (gpu.cpu) return { form: "unpacked", why: `unpacked (${gpu.adapterName} is a CPU emulation, where dot4I8Packed is slower)` };
  return { form: "dot4", why: "dot4 (dot4I8Packed)" };
}

/** GPU objects of one executable, made on its first run. */
interface Resources {
  readonly gpu: Gpu;
  readonly arena: GPUBuffer;
  readonly err: GPUBuffer;
  readonly readback: GPUBuffer;
  readonly bindGroup: GPUBindGroup;
  readonly pipelines: GPUComputePipeline[];
  readonly groups: [number, number][];
  /** Readback offset (bytes) per output (-1: a constant). */
  readonly outOffsets: number[];
  /** Widening scratch per input (undefined: float32/int32 go up as they are). */
  readonly scratch: (Int32Array<ArrayBuffer> | undefined)[];
  readonly query?: { set: GPUQuerySet; resolve: GPUBuffer; offset: number };
}

class WebGPUExecutable implements Executable {
  readonly backend = "webgpu";
  private res?: Promise<Resources>;
  private turn: Promise<void> = Promise.resolve();
  private times?: number[];
  /** The form int8 GEMM kernels took on this executable's device, and why (after the first run). */
  private int8Form?: string;

  constructor(private readonly art: Artifact) {}

  private async setup(): Promise<Resources> {
    const gpu = await getGpu();
    const art = this.art, dev = gpu.device, bytes = art.words * 4;
    if (bytes > gpu.limits.storageBinding || bytes > gpu.limits.bufferSize)
      throw new BackendError(`the model needs a storage buffer of ${bytes} bytes, more than this adapter allows (${Math.min(gpu.limits.storageBinding, gpu.limits.bufferSize)} bytes)`, { hint: "use smaller inputs, or the wasm backend" });
    const groups = art.dispatches.map((d): [number, number] => {
      const wg = d.workgroups, max = gpu.limits.workgroupsPerDim;
      const x = Math.min(wg, max), y = Math.ceil(wg / x);
      if (y > max) throw new BackendError(`kernel ${d.name} needs ${wg} workgroups, more than this adapter can dispatch`, { hint: "use smaller inputs" });
      return [x, y];
    });
    const form = int8Form(gpu);
    this.int8Form = form.why;
    const pipelines = await Promise.all(art.dispatches.map((d) => pipelineFor(gpu, d.variants && form.form !== "unpacked" ? d.variants[form.form] : d.wgsl)));
    dev.pushErrorScope("out-of-memory");
    dev.pushErrorScope("validation");
    const arena = dev.createBuffer({ size: bytes, usage: USAGE.STORAGE | USAGE.COPY_DST | USAGE.COPY_SRC });
    const err = dev.createBuffer({ size: 16, usage: USAGE.STORAGE | USAGE.COPY_DST | USAGE.COPY_SRC });
    const outOffsets: number[] = [];
    let rb = 16;
    for (const o of art.outputs) { if ("value" in o) outOffsets.push(-1); else { outOffsets.push(rb); rb += o.size * 4; } }
    const profile = webgpuOptions.profile && gpu.timestamps && art.dispatches.length > 0;
    let query: Resources["query"];
    if (profile) {
      const n = art.dispatches.length * 2;
      query = { set: dev.createQuerySet({ type: "timestamp", count: n }), resolve: dev.createBuffer({ size: n * 8, usage: USAGE.QUERY_RESOLVE | USAGE.COPY_SRC }), offset: rb };
      rb += n * 8;
    }
    const readback = dev.createBuffer({ size: rb, usage: USAGE.MAP_READ | USAGE.COPY_DST });
    const bindGroup = dev.createBindGroup({ layout: gpu.layout, entries: [{ binding: 0, resource: { buffer: arena } }, { binding: 1, resource: { buffer: err } }] });
    // constants go up once
    for (const c of art.consts) {
      if (!c.value.data.length || (c.packedOnly && form.form === "unpacked")) continue;
      const w = new Int32Array(c.value.data.length);
      widen(c.value, w);
      dev.queue.writeBuffer(arena, c.base * 4, w);
    }
    const v = await dev.popErrorScope(), m = await dev.popErrorScope();
    if (v || m) throw new BackendError(`WebGPU could not allocate the executable's buffers: ${(v ?? m)!.message}`);
    const scratch = art.inputs.map((i) => (i.dtype === "float32" || i.dtype === "int32" ? undefined : new Int32Array(i.size)));
    return { gpu, arena, err, readback, bindGroup, pipelines, groups, outOffsets, scratch, query };
  }

  async run(inputs: readonly HostBuffer[]): Promise<HostBuffer[]> {
    const art = this.art;
    if (inputs.length !== art.inputs.length) throw new RuntimeError(`expected ${art.inputs.length} inputs, got ${inputs.length}`);
    art.inputs.forEach((b, i) => {
      const x = inputs[i]!;
      if (x.dtype !== b.dtype || x.data.length !== b.size) throw new RuntimeError(`input ${i} is ${x.dtype}[${x.shape}], the graph was compiled for ${b.dtype} with ${b.size} elements`);
      if (x.dtype === "int64") checkInt64(x.data as BigInt64Array, `input ${i}`);
    });
    // runs of one executable take turns (they share its buffers)
    const prev = this.turn;
    let done!: () => void;
    this.turn = new Promise<void>((r) => { done = r; });
    await prev;
    try {
      this.res ??= this.setup();
      let res: Resources;
      try { res = await this.res; } catch (e) { this.res = undefined; throw e; }
      return await this.runOnce(res, inputs);
    } finally { done(); }
  }

  private async runOnce(r: Resources, inputs: readonly HostBuffer[]): Promise<HostBuffer[]> {
    const art = this.art, dev = r.gpu.device, q = dev.queue;
    dev.pushErrorScope("validation");
    art.inputs.forEach((b, i) => {
      const x = inputs[i]!;
      if (!b.size) return;
      const s = r.scratch[i];
      if (s) { widen(x, s); q.writeBuffer(r.arena, b.base * 4, s.buffer as ArrayBuffer, s.byteOffset, s.byteLength); }
      else q.writeBuffer(r.arena, b.base * 4, x.data.buffer, x.data.byteOffset, x.data.byteLength);
    });
    q.writeBuffer(r.err, 0, new Int32Array(4));
    const enc = dev.createCommandEncoder();
    if (r.query) {
      art.dispatches.forEach((_, i) => {
        const pass = enc.beginComputePass({ timestampWrites: { querySet: r.query!.set, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
        pass.setPipeline(r.pipelines[i]!); pass.setBindGroup(0, r.bindGroup);
        pass.dispatchWorkgroups(r.groups[i]![0], r.groups[i]![1]);
        pass.end();
      });
      enc.resolveQuerySet(r.query.set, 0, art.dispatches.length * 2, r.query.resolve, 0);
      enc.copyBufferToBuffer(r.query.resolve, 0, r.readback, r.query.offset, art.dispatches.length * 16);
    } else if (art.dispatches.length) {
      const pass = enc.beginComputePass();
      pass.setBindGroup(0, r.bindGroup);
      art.dispatches.forEach((_, i) => { pass.setPipeline(r.pipelines[i]!); pass.dispatchWorkgroups(r.groups[i]![0], r.groups[i]![1]); });
      pass.end();
    }
    enc.copyBufferToBuffer(r.err, 0, r.readback, 0, 16);
    art.outputs.forEach((o, i) => { if (!("value" in o) && o.size) enc.copyBufferToBuffer(r.arena, o.base * 4, r.readback, r.outOffsets[i]!, o.size * 4); });
    q.submit([enc.finish()]);
    const verr = await dev.popErrorScope();
    if (verr) throw new BackendError(`WebGPU rejected the commands: ${verr.message}`, { hint: "this is a kiln bug: please report the graph" });
    await r.readback.mapAsync(MAP_READ);
    let outs: HostBuffer[];
    let errWords: Int32Array;
    try {
      const mapped = r.readback.getMappedRange();
      errWords = new Int32Array(mapped.slice(0, 16));
      outs = art.outputs.map((o, i) => {
        if ("value" in o) return hostBuffer(o.value.dtype, o.value.shape, o.value.data.slice());
        const w = new Int32Array(mapped, r.outOffsets[i]!, o.size);
        return narrowWords(w, o.dtype, o.shape);
      });
      if (r.query) {
        const t = new BigInt64Array(mapped.slice(r.query.offset, r.query.offset + art.dispatches.length * 16));
        this.times = art.dispatches.map((_, i) => Number(t[2 * i + 1]! - t[2 * i]!));
      }
    } finally { r.readback.unmap(); }
    const ew = errWords!;
    if (ew[0] || ew[3]) {
      const kid = (ew[0] || ew[3]!) - 1;
      const n = art.dispatches.find((d) => d.kernel === kid)?.node;
      const what = ew[0] ? `index ${ew[1]} is out of range for a dimension of size ${ew[2]}` : "an index is out of range";
      throw new RuntimeError(what, { op: n?.op, node: n?.id, site: n?.site, hint: "indices must lie in [-size, size) of the indexed axis" });
    }
    return outs;
  }

  explain(): ExplainSection[] {
    const d = this.art.dispatches;
    const lines = d.map((x, i) => `${x.name}: ${x.invocations} invocations, ${x.workgroups} workgroups of ${x.workgroupSize}${this.times ? `, ${(this.times[i]! / 1000).toFixed(1)} µs` : ""}`);
    if (this.int8Form && d.some((x) => x.variants)) lines.push(`int8 GEMM kernels: ${this.int8Form}`);
    const sections: ExplainSection[] = [...this.art.explain, { title: `dispatches (${d.length})`, text: lines.join("\n"), metrics: { dispatches: d.length } }];
    if (this.times) sections.push({ title: "gpu times (last run, timestamp queries)", text: `${(this.times.reduce((a, b) => a + b, 0) / 1000).toFixed(1)} µs in all`, metrics: { gpuNs: this.times.reduce((a, b) => a + b, 0) } });
    return sections;
  }
}

export const webgpuBackend: Backend = {
  name: "webgpu",
  available: webgpuAvailable,
  compile: (g: Graph, o: CompileOptions) => new WebGPUExecutable(build(g, o)),
};

registerBackend(webgpuBackend);

