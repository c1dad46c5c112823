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
import { lower, printKernel, type Plan } from "../../jit/kernel/index.js";
import { type HostBuffer, hostBuffer, bufferBytes } from "../../jit/buffer.js";
import { allocStorage, itemSize } from "../../jit/dtype.js";
import { CompileError, RuntimeError } from "../../jit/errors.js";
import { ModuleBuilder, type FuncRef, type FunctionBuilder } from "./asm/index.js";
import type { JsImport } from "./scalar.js";
import { IMPORT_SIGS, makeImports } from "./imports.js";
import { emitKernel, type KernelCtx } from "./kernel.js";

const ALIGN = 64;
const alignUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;
/** Addresses below this are reserved: the error slot lives at 16. */
const RESERVED = 64;
const ERROR_ADDR = 16;
const MAX_BYTES = 2 ** 31; // wasm32 addresses are i32 constants in kiln's kernels

class WasmExecutable implements Executable {
  readonly backend = "wasm";
  private readonly plan: Plan;
  private readonly addrs: number[] = [];
  private readonly memory: WebAssembly.Memory;
  private readonly runAll: () => void;
  private readonly text: () => string;
  private readonly codeBytes: number;

  constructor(graph: Graph, opts: CompileOptions) {
    const plan = (this.plan = lower(graph, { fuse: opts.opt > 0 }));
    // layout: reserved | constants | arena
    let cursor = RESERVED;
    for (const b of plan.buffers) {
      if (b.kind !== "const") continue;
      this.addrs[b.id] = cursor;
      cursor = alignUp(cursor + b.size * itemSize(b.dtype));
    }
    const arena = cursor;
    for (const b of plan.buffers) if (b.kind !== "const") this.addrs[b.id] = arena + b.offset!;
    const total = alignUp(arena + plan.memory.arenaBytes);
    if (total > MAX_BYTES) throw new CompileError(`the model needs ${total} bytes of memory, more than the wasm backend's ${MAX_BYTES}`, { hint: "use smaller inputs or another backend" });

    const m = new ModuleBuilder();
    const refs = new Map<JsImport, FuncRef>();
    for (const [name, s] of Object.entries(IMPORT_SIGS)) refs.set(name as JsImport, m.importFunc("env", name, { params: s.params, results: [s.result] }));
    const pages = Math.max(1, Math.ceil(total / 65536));
    m.memory({ min: pages, max: pages }, { export: "mem" });
    const ctx: KernelCtx = {
      plan,
      addr: (buf) => this.addrs[buf]!,
      errorAddr: ERROR_ADDR,
      callImport: (f: FunctionBuilder, name: JsImport) => { f.call(refs.get(name)!); },
    };
    const kernels = plan.kernels.map((k) => emitKernel(m, k, ctx));
    const run = m.func({}, { export: "run", name: "run" });
    for (const k of kernels) run.i32_const(0).i32_const(k.workItems).call(k.func);
    const bytes = m.build();
    this.codeBytes = bytes.length;
    this.text = () => m.toText();
    const env = makeImports();
    let inst: WebAssembly.Instance;
    try { inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env }); }
    catch (e) { throw new CompileError(`generated WebAssembly did not compile: ${(e as Error).message}`, { hint: "this is a kiln bug: please report the graph" }); }
    this.memory = inst.exports.mem as WebAssembly.Memory;
    this.runAll = inst.exports.run as () => void;
    const mem = new Uint8Array(this.memory.buffer);
    for (const b of plan.buffers) if (b.kind === "const") mem.set(bufferBytes(b.value!), this.addrs[b.id]!);
  }

  async run(inputs: readonly HostBuffer[]): Promise<HostBuffer[]> {
    const plan = this.plan;
    if (inputs.length !== plan.inputs.length) throw new RuntimeError(`expected ${plan.inputs.length} inputs, got ${inputs.length}`);
    const mem = new Uint8Array(this.memory.buffer);
    plan.inputs.forEach((id, i) => {
      const b = plan.buffers[id]!, x = inputs[i]!;
      if (x.dtype !== b.dtype || x.data.length !== b.size) throw new RuntimeError(`input ${i} is ${x.dtype}[${x.shape}], the graph was compiled for ${b.dtype} with ${b.size} elements`);
      mem.set(bufferBytes(x), this.addrs[id]!);
    });
    const err = new Int32Array(this.memory.buffer, ERROR_ADDR, 3);
    err[0] = 0;
    this.runAll();
    if (err[0]) {
      const k = plan.kernels[err[0] - 1]!, n = k.anchor?.node;
      throw new RuntimeError(`index ${err[1]} is out of range for a dimension of size ${err[2]}`, { op: n?.op, node: n ? `%${n.id}` : undefined, site: n?.site?.toString(), hint: "indices must lie in [-size, size) of the indexed axis" });
    }
    return plan.outputs.map((o) => {
      const b = plan.buffers[o.buf]!;
      if (b.kind === "const") return hostBuffer(o.dtype, o.shape, b.value!.data.slice());
      const data = allocStorage(o.dtype, b.size);
      const bytes = new Uint8Array(data.buffer);
      bytes.set(mem.subarray(this.addrs[o.buf]!, this.addrs[o.buf]! + bytes.length));
      return hostBuffer(o.dtype, o.shape, data);
    });
  }

  explain(): ExplainSection[] {
    const p = this.plan, m = p.memory;
    return [
      { title: `kernels (${p.kernels.length})`, text: p.kernels.map(printKernel).join("\n") },
      { title: "memory plan", text: `arena ${m.arenaBytes} bytes (no reuse: ${m.noReuseBytes}, lower bound: ${m.lowerBoundBytes}; ${m.inPlace} in place)` },
      { title: `webassembly (${this.codeBytes} bytes)`, text: this.text() },
    ];
  }
}

export const wasmBackend: Backend = {
  name: "wasm",
  available: () => (typeof WebAssembly === "object" ? true : "WebAssembly is not available in this runtime"),
  compile: (g: Graph, o: CompileOptions) => new WasmExecutable(g, o),
};

registerBackend(wasmBackend);
