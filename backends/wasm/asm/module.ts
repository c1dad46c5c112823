/**
 * kiln's WebAssembly assembler: a module builder that writes the wasm binary format directly.
 *
 * Why hand-written: the CPU backend JIT-compiles many small kernels at run time, and each must
 * go from IR to a compiled `WebAssembly.Module` in microseconds. An external toolchain (wabt's
 * wat2wasm, binaryen, LLVM) would mean a 10 MB dependency, a text round trip and milliseconds
 * per kernel; the binary format is simple enough that emitting it directly costs a few typed-
 * array stores per instruction. V8's validator checks stack discipline and types, so the
 * builder only checks what V8 cannot report precisely: its own misuse (an undefined local or
 * global, an `end()` with no open block, a branch to a closed label, immediates out of range).
 *
 * What it builds: deduplicated function types, function and memory imports (memory with
 * min/max pages and the `shared` flag for threads), function definitions with i32/i64/f32/f64/
 * v128 params and locals, immutable or mutable globals, func/memory/global exports, active data
 * segments, and a "name" section so V8's stack traces and {@link disassemble} show function names.
 * No tables, element segments or start function.
 *
 * Instructions: control flow and variables have hand-written methods; every other opcode in
 * `opcodes.ts` (all MVP numeric ops, 0xFC saturating truncations, all SIMD128 ops, relaxed SIMD,
 * all 0xFE atomics) gets a generated method named after its text name with dots as underscores:
 * `i32.add` → `f.i32_add()`, `v128.load` → `f.v128_load(offset?, align?)`,
 * `f32x4.extract_lane` → `f.f32x4_extract_lane(lane)`. Memory offsets are bytes; `align` is in
 * bytes like the text format's `align=` and defaults to the natural alignment.
 *
 * Code is appended to a growable `Uint8Array` per function; `build()` writes the module into
 * one exactly sized buffer.
 *
 * @example
 * const m = new ModuleBuilder();
 * m.memory({ min: 1, max: 1 }, { export: "mem" });
 * const sum = m.func({ params: ["i32", "i32"], results: ["f32"] }, { export: "sum" }); // (ptr, n)
 * const acc = sum.local("f32"), end = sum.local("i32");
 * sum.local_get(0).local_get(1).i32_const(2).i32_shl().i32_add().local_set(end);
 * const exit = sum.block();
 * const top = sum.loop();
 * sum.local_get(0).local_get(end).i32_ge_u().br_if(exit);
 * sum.local_get(acc).local_get(0).f32_load().f32_add().local_set(acc);
 * sum.local_get(0).i32_const(4).i32_add().local_set(0).br(top);
 * sum.end().end();
 * sum.local_get(acc);
 * const bytes = m.build();           // Uint8Array, ready for new WebAssembly.Module(bytes)
 * console.log(m.toText());           // WAT-like listing
 */
import { ByteWriter, ulebSize } from "./bytes.js";
import { AsmError } from "./errors.js";
import {
  NUMERIC_OPS, FC_OPS, MEM_OPS, SIMD_MEM_OPS, SIMD_MEM_LANE_OPS, SIMD_LANE_OPS, SIMD_OPS, RELAXED_SIMD_OPS, ATOMIC_OPS,
  OP, PREFIX_FC, PREFIX_FD, PREFIX_FE, FC_MEMORY, FD_SPECIAL, FE_FENCE,
} from "./opcodes.js";
import { disassemble, disassembleCode, type DisasmContext } from "./disasm.js";

export { AsmError } from "./errors.js";

/** A WebAssembly value type. */
export type ValType = "i32" | "i64" | "f32" | "f64" | "v128";

/** Binary codes of the value types. */
export const VALTYPE_CODE: Readonly<Record<ValType, number>> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };

/** A function signature. */
export interface FuncType {
  readonly params?: readonly ValType[];
  readonly results?: readonly ValType[];
}

/**
 * A block's type: `"void"` (the default), one result type, or a full signature (block
 * parameters and/or several results; encoded as a type index).
 */
export type BlockType = "void" | ValType | FuncType;

/** Memory limits in 64 KiB pages. A shared memory (for threads) needs `max`. */
export interface MemoryLimits {
  readonly min: number;
  readonly max?: number;
  readonly shared?: boolean;
}

/** Anything that names a function: an import, a {@link FunctionBuilder}, or its index. */
export interface FuncRef {
  readonly index: number;
  readonly typeIndex: number;
  readonly name: string | undefined;
}

/** A global variable. */
export interface GlobalRef {
  readonly index: number;
  readonly type: ValType;
  readonly mutable: boolean;
}

const VALTYPES: ReadonlySet<string> = new Set(Object.keys(VALTYPE_CODE));
const I64_MIN = -(2n ** 63n), U64_MAX = 2n ** 64n - 1n;
const MAX_PAGES = 65536;

function checkValType(t: unknown, what: string): asserts t is ValType {
  if (typeof t !== "string" || !VALTYPES.has(t)) {
    throw new AsmError(`${what}: ${JSON.stringify(t)} is not a value type`, { hint: "use one of i32, i64, f32, f64, v128" });
  }
}

function sigKey(params: readonly ValType[], results: readonly ValType[]): string {
  return `${params.join(",")}>${results.join(",")}`;
}

/** A branch target: returned by `block()`, `loop()` and `if()`, accepted by `br`, `br_if`, `br_table`. */
export class Label {
  /** @internal */ open = true;
  /** @internal */ sawElse = false;
  /** @internal */
  constructor(
    readonly kind: "block" | "loop" | "if",
    /** Position in the function's control stack (0 = outermost block). */
    readonly height: number,
    /** @internal */ readonly owner: FunctionBuilder,
  ) {}
}

interface ImportEntry {
  readonly module: string;
  readonly field: string;
  readonly kind: "func" | "memory";
  readonly typeIndex: number;
  limits: MemoryLimits | null;
}

interface GlobalEntry extends GlobalRef {
  readonly init: number | bigint;
  readonly name: string | undefined;
}

/**
 * Builds one WebAssembly module. Add imports first (function indices count imports before
 * definitions), then memory, globals and functions; emit code through each function's
 * {@link FunctionBuilder}; call {@link build} for the bytes.
 */
export class ModuleBuilder {
  private readonly types: { params: readonly ValType[]; results: readonly ValType[] }[] = [];
  private readonly typeIndex = new Map<string, number>();
  private readonly imports: ImportEntry[] = [];
  private readonly importNames: (string | undefined)[] = [];
  private readonly funcs: FunctionBuilder[] = [];
  private readonly globals: GlobalEntry[] = [];
  private readonly exports: { name: string; kind: 0 | 2 | 3; index: number }[] = [];
  private readonly exportNames = new Set<string>();
  private readonly dataSegments: { offset: number; bytes: Uint8Array }[] = [];
  private mem: { limits: MemoryLimits; imported: boolean } | null = null;
  private numImportedFuncs = 0;

  /** Interns a function type; returns its index (equal signatures share one index). */
  type(sig: FuncType): number {
    const params = sig.params ?? [], results = sig.results ?? [];
    for (const t of params) checkValType(t, "function type parameter");
    for (const t of results) checkValType(t, "function type result");
    const key = sigKey(params, results);
    let idx = this.typeIndex.get(key);
    if (idx === undefined) {
      idx = this.types.length;
      this.types.push({ params: params.slice(), results: results.slice() });
      this.typeIndex.set(key, idx);
    }
    return idx;
  }

  /** Number of distinct function types so far. */
  get typeCount(): number { return this.types.length; }

  /** The signature of type `index`. */
  typeAt(index: number): { readonly params: readonly ValType[]; readonly results: readonly ValType[] } {
    const t = this.types[index];
    if (!t) throw new AsmError(`type index ${index} is not defined (the module has ${this.types.length} types)`);
    return t;
  }

  /**
   * Imports a function. Must come before the first `func()`: imported functions take the
   * lowest function indices.
   */
  importFunc(module: string, field: string, sig: FuncType, opts: { name?: string } = {}): FuncRef {
    if (this.funcs.length > 0) {
      throw new AsmError(`importFunc("${module}", "${field}") after a function was defined`, {
        hint: "add all function imports before the first func(): imports take the lowest function indices",
      });
    }
    const typeIndex = this.type(sig);
    const index = this.numImportedFuncs++;
    const name = opts.name ?? `${module}.${field}`;
    this.imports.push({ module, field, kind: "func", typeIndex, limits: null });
    this.importNames.push(name);
    return { index, typeIndex, name };
  }

  /** Imports the module's memory (e.g. a shared `WebAssembly.Memory` for a thread pool). */
  importMemory(module: string, field: string, limits: MemoryLimits): void {
    this.setMemory(limits, true);
    this.imports.push({ module, field, kind: "memory", typeIndex: -1, limits: { ...limits } });
  }

  /**
   * Changes the limits of the imported memory (a JIT knows how much memory it needs only after
   * emitting its code, which may allocate scratch space).
   */
  setImportedMemoryLimits(limits: MemoryLimits): void {
    const imp = this.imports.find((i) => i.kind === "memory");
    if (!imp || !this.mem?.imported) throw new AsmError("setImportedMemoryLimits: the module imports no memory", { hint: "call importMemory() first" });
    const old = this.mem;
    this.mem = null;
    try { this.setMemory(limits, true); } catch (e) { this.mem = old; throw e; }
    imp.limits = { ...limits };
  }

  /** Defines the module's memory; `export` names an export of it. */
  memory(limits: MemoryLimits, opts: { export?: string } = {}): void {
    this.setMemory(limits, false);
    if (opts.export !== undefined) this.exportMemory(opts.export);
  }

  /** Whether a memory was defined or imported. */
  get hasMemory(): boolean { return this.mem !== null; }

  private setMemory(limits: MemoryLimits, imported: boolean): void {
    if (this.mem) throw new AsmError("the module already has a memory (only one memory is supported)");
    const { min, max, shared } = limits;
    if (!Number.isInteger(min) || min < 0 || min > MAX_PAGES) throw new AsmError(`memory min ${min} pages is not an integer in [0, ${MAX_PAGES}]`);
    if (max !== undefined) {
      if (!Number.isInteger(max) || max < 0 || max > MAX_PAGES) throw new AsmError(`memory max ${max} pages is not an integer in [0, ${MAX_PAGES}]`);
      if (max < min) throw new AsmError(`memory max ${max} is below min ${min}`);
    }
    if (shared && max === undefined) {
      throw new AsmError("a shared memory needs a max", { hint: "pass { min, max, shared: true }" });
    }
    this.mem = { limits: { ...limits }, imported };
  }

  /** Defines a global initialised to a constant. Globals must be declared before code uses them. */
  global(type: ValType, init: number | bigint, opts: { mutable?: boolean; export?: string; name?: string } = {}): GlobalRef {
    checkValType(type, "global type");
    if (type === "v128") throw new AsmError("v128 globals are not supported by the builder");
    if (type === "i64") {
      if (typeof init === "number" && !Number.isSafeInteger(init)) throw new AsmError(`global i64 init ${init} is not a safe integer (pass a bigint)`);
    } else if (typeof init !== "number") {
      throw new AsmError(`global ${type} init must be a number, got a ${typeof init}`);
    } else if (type === "i32" && !((init | 0) === init || (init >>> 0) === init)) {
      throw new AsmError(`global i32 init ${init} is not a 32-bit integer`);
    }
    const g: GlobalEntry = { index: this.globals.length, type, mutable: !!opts.mutable, init, name: opts.name };
    this.globals.push(g);
    if (opts.export !== undefined) this.addExport(opts.export, 3, g.index);
    return { index: g.index, type: g.type, mutable: g.mutable };
  }

  /** Number of globals declared so far. */
  get globalCount(): number { return this.globals.length; }

  /** @internal */
  globalAt(index: number): GlobalRef | undefined { return this.globals[index]; }

  /**
   * Defines a function and returns its body builder. Parameters are locals `0..params.length-1`.
   * `name` shows in stack traces and disassembly; `export` exports it under that name (and
   * names it, if `name` is absent).
   */
  func(sig: FuncType, opts: { name?: string; export?: string } = {}): FunctionBuilder {
    const typeIndex = this.type(sig);
    const index = this.numImportedFuncs + this.funcs.length;
    const t = this.types[typeIndex]!;
    const f = new FunctionBuilder(this, index, typeIndex, t.params, t.results, opts.name ?? opts.export);
    this.funcs.push(f);
    if (opts.export !== undefined) this.addExport(opts.export, 0, index);
    return f;
  }

  /** Number of functions (imported and defined) so far. */
  get funcCount(): number { return this.numImportedFuncs + this.funcs.length; }

  /** Exports a function. */
  exportFunc(name: string, f: FuncRef | number): void {
    const index = typeof f === "number" ? f : f.index;
    if (!Number.isInteger(index) || index < 0) throw new AsmError(`exportFunc("${name}"): ${index} is not a function index`);
    this.addExport(name, 0, index);
  }

  /** Exports the memory (defined or imported; checked at build). */
  exportMemory(name: string): void {
    this.addExport(name, 2, 0);
  }

  /** Exports a global. */
  exportGlobal(name: string, g: GlobalRef): void {
    this.addExport(name, 3, g.index);
  }

  private addExport(name: string, kind: 0 | 2 | 3, index: number): void {
    if (this.exportNames.has(name)) throw new AsmError(`duplicate export name "${name}"`);
    this.exportNames.add(name);
    this.exports.push({ name, kind, index });
  }

  /** An active data segment: copies `bytes` to memory offset `offset` at instantiation. */
  data(offset: number, bytes: Uint8Array | ArrayLike<number>): void {
    if (!Number.isInteger(offset) || offset < 0 || offset >= 2 ** 32) throw new AsmError(`data offset ${offset} is not an integer in [0, 2^32)`);
    const copy = bytes instanceof Uint8Array ? bytes.slice() : Uint8Array.from(bytes);
    this.dataSegments.push({ offset, bytes: copy });
  }

  /** @internal The text name of function `index`, if it has one. */
  funcName(index: number): string | undefined {
    if (index < this.numImportedFuncs) return this.importNames[index];
    return this.funcs[index - this.numImportedFuncs]?.name;
  }

  /** Encodes the module. Throws {@link AsmError} for open blocks or references to undefined things. */
  build(): Uint8Array<ArrayBuffer> {
    const total = this.funcCount;
    for (const f of this.funcs) f.checkComplete(total);
    if (!this.mem) {
      if (this.dataSegments.length) throw new AsmError("data segments need a memory", { hint: "call memory() or importMemory()" });
      if (this.exports.some((e) => e.kind === 2)) throw new AsmError("exportMemory() but the module has no memory");
    }
    for (const e of this.exports) {
      if (e.kind === 0 && e.index >= total) throw new AsmError(`export "${e.name}" names function ${e.index}, but the module has ${total} functions`);
    }

    let codeEstimate = 0;
    for (const f of this.funcs) codeEstimate += f.byteLength + 16;
    const w = new ByteWriter(256 + codeEstimate + this.dataSegments.reduce((s, d) => s + d.bytes.length + 8, 0));
    w.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    const s = new ByteWriter(256);

    // 1: types
    if (this.types.length) {
      s.length = 0;
      s.u32(this.types.length);
      for (const t of this.types) {
        s.u8(0x60).u32(t.params.length);
        for (const p of t.params) s.u8(VALTYPE_CODE[p]);
        s.u32(t.results.length);
        for (const r of t.results) s.u8(VALTYPE_CODE[r]);
      }
      section(w, 1, s);
    }
    // 2: imports
    if (this.imports.length) {
      s.length = 0;
      s.u32(this.imports.length);
      for (const im of this.imports) {
        s.name(im.module).name(im.field);
        if (im.kind === "func") s.u8(0x00).u32(im.typeIndex);
        else { s.u8(0x02); limits(s, im.limits!); }
      }
      section(w, 2, s);
    }
    // 3: function declarations
    if (this.funcs.length) {
      s.length = 0;
      s.u32(this.funcs.length);
      for (const f of this.funcs) s.u32(f.typeIndex);
      section(w, 3, s);
    }
    // 5: memory
    if (this.mem && !this.mem.imported) {
      s.length = 0;
      s.u32(1);
      limits(s, this.mem.limits);
      section(w, 5, s);
    }
    // 6: globals
    if (this.globals.length) {
      s.length = 0;
      s.u32(this.globals.length);
      for (const g of this.globals) {
        s.u8(VALTYPE_CODE[g.type]).u8(g.mutable ? 1 : 0);
        switch (g.type) {
          case "i32": s.u8(OP.i32_const).s32(g.init as number); break;
          case "i64": s.u8(OP.i64_const).s64(g.init); break;
          case "f32": s.u8(OP.f32_const).f32(g.init as number); break;
          case "f64": s.u8(OP.f64_const).f64(g.init as number); break;
          default: throw new AsmError(`global type ${g.type} unsupported`);
        }
        s.u8(OP.end);
      }
      section(w, 6, s);
    }
    // 7: exports
    if (this.exports.length) {
      s.length = 0;
      s.u32(this.exports.length);
      for (const e of this.exports) s.name(e.name).u8(e.kind).u32(e.index);
      section(w, 7, s);
    }
    // 10: code (sizes computed up front so bodies are copied once)
    if (this.funcs.length) {
      const locals: Uint8Array[] = [];
      let size = ulebSize(this.funcs.length);
      for (const f of this.funcs) {
        const l = f.encodeLocals();
        locals.push(l);
        const body = l.length + f.byteLength + 1;
        size += ulebSize(body) + body;
      }
      w.u8(10).u32(size).u32(this.funcs.length);
      for (let i = 0; i < this.funcs.length; i++) {
        const f = this.funcs[i]!, l = locals[i]!;
        w.u32(l.length + f.byteLength + 1).bytes(l).bytes(f.code.written()).u8(OP.end);
      }
    }
    // 11: data
    if (this.dataSegments.length) {
      s.length = 0;
      s.u32(this.dataSegments.length);
      for (const d of this.dataSegments) {
        s.u8(0x00).u8(OP.i32_const).s32(d.offset >>> 0).u8(OP.end).u32(d.bytes.length).bytes(d.bytes);
      }
      section(w, 11, s);
    }
    // custom "name" section: function names (and global names) for stack traces and disassembly
    const named: [number, string][] = [];
    for (let i = 0; i < total; i++) {
      const n = this.funcName(i);
      if (n !== undefined) named.push([i, n]);
    }
    const namedGlobals = this.globals.filter((g) => g.name !== undefined);
    if (named.length || namedGlobals.length) {
      s.length = 0;
      s.name("name");
      const sub = new ByteWriter(64);
      if (named.length) {
        sub.u32(named.length);
        for (const [i, n] of named) sub.u32(i).name(n);
        s.u8(1).u32(sub.length).bytes(sub.written());
      }
      if (namedGlobals.length) {
        sub.length = 0;
        sub.u32(namedGlobals.length);
        for (const g of namedGlobals) sub.u32(g.index).name(g.name!);
        s.u8(7).u32(sub.length).bytes(sub.written());
      }
      section(w, 0, s);
    }
    return w.finish();
  }

  /** The module as WAT-like text (builds it first). */
  toText(): string {
    return disassemble(this.build());
  }
}

function section(w: ByteWriter, id: number, body: ByteWriter): void {
  w.u8(id).u32(body.length).bytes(body.written());
}

function limits(s: ByteWriter, l: MemoryLimits): void {
  if (l.max === undefined) s.u8(0x00).u32(l.min);
  else s.u8(l.shared ? 0x03 : 0x01).u32(l.min).u32(l.max);
}

/** `i32.add` → `i32_add`, at the type level. */
type Snake<S extends string> = S extends `${infer A}.${infer B}` ? `${A}_${Snake<B>}` : S;
type NamesOf<T extends readonly (readonly [string, ...unknown[]])[]> = T[number][0];

type PlainName = Snake<NamesOf<typeof NUMERIC_OPS> | NamesOf<typeof FC_OPS> | NamesOf<typeof SIMD_OPS> | NamesOf<typeof RELAXED_SIMD_OPS>>;
type MemName = Snake<NamesOf<typeof MEM_OPS> | NamesOf<typeof SIMD_MEM_OPS>>;
type AtomicName = Snake<NamesOf<typeof ATOMIC_OPS>>;
type LaneName = Snake<NamesOf<typeof SIMD_LANE_OPS>>;
type MemLaneName = Snake<NamesOf<typeof SIMD_MEM_LANE_OPS>>;

/**
 * The table-driven instruction methods (see `opcodes.ts`):
 * - no immediates: `f.i32_add()`, `f.f32x4_mul()`, `f.i32_trunc_sat_f32_s()`, `f.f32x4_relaxed_madd()`
 * - memory: `f.f32_load(offset = 0, align = natural)`, `f.v128_store(16)`; align in bytes
 * - atomics: `f.i32_atomic_rmw_add(offset = 0)` (alignment is always natural)
 * - lanes: `f.f32x4_extract_lane(lane)`
 * - lane memory: `f.v128_load32_lane(lane, offset = 0, align = natural)`
 */
export type GeneratedOps =
  & { [K in PlainName]: () => FunctionBuilder }
  & { [K in MemName]: (offset?: number, align?: number) => FunctionBuilder }
  & { [K in AtomicName]: (offset?: number) => FunctionBuilder }
  & { [K in LaneName]: (lane: number) => FunctionBuilder }
  & { [K in MemLaneName]: (lane: number, offset?: number, align?: number) => FunctionBuilder };

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface FunctionBuilder extends GeneratedOps {}

/**
 * Emits one function's body. Every instruction method returns `this` (so calls chain), except
 * `block`, `loop` and `if`, which return the {@link Label} to branch to. The function's final
 * `end` is added by `build()`; every block opened must be closed with `end()`.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class FunctionBuilder implements FuncRef {
  /** @internal The body bytes (without locals and the final `end`). */
  readonly code = new ByteWriter(128);
  private readonly localTypes: ValType[];
  private readonly ctrl: Label[] = [];
  private maxCall = -1;

  /** @internal Use {@link ModuleBuilder.func}. */
  constructor(
    readonly module: ModuleBuilder,
    readonly index: number,
    readonly typeIndex: number,
    readonly params: readonly ValType[],
    readonly results: readonly ValType[],
    readonly name: string | undefined,
  ) {
    this.localTypes = params.slice();
  }

  private where(): string {
    return this.name !== undefined ? `function "${this.name}"` : `function ${this.index}`;
  }

  private fail(op: string, what: string, hint?: string): never {
    throw new AsmError(`${this.where()}: ${what}`, { op, hint });
  }

  // ---- locals ----

  /** Declares `count` locals of `type`; returns the index of the first. */
  local(type: ValType, count = 1): number {
    checkValType(type, `${this.where()}: local type`);
    if (!Number.isInteger(count) || count < 1) this.fail("local", `local count ${count} must be a positive integer`);
    const first = this.localTypes.length;
    for (let i = 0; i < count; i++) this.localTypes.push(type);
    return first;
  }

  /** Number of locals, parameters included. */
  get localCount(): number { return this.localTypes.length; }

  /** The type of local `index`. */
  localType(index: number): ValType {
    this.checkLocal("localType", index);
    return this.localTypes[index]!;
  }

  private checkLocal(op: string, index: number): void {
    if (!(Number.isInteger(index) && index >= 0 && index < this.localTypes.length)) {
      this.fail(op, `local ${index} is not defined (the function has ${this.localTypes.length} locals: ${this.params.length} params + ${this.localTypes.length - this.params.length} declared)`,
        "declare locals with f.local(type) before using them");
    }
  }

  /** @internal The code section's local declarations (runs of equal types). */
  encodeLocals(): Uint8Array {
    const w = new ByteWriter(32);
    const ts = this.localTypes, start = this.params.length;
    let runs = 0;
    for (let i = start; i < ts.length; i++) if (i === start || ts[i] !== ts[i - 1]) runs++;
    w.u32(runs);
    for (let i = start; i < ts.length;) {
      let j = i + 1;
      while (j < ts.length && ts[j] === ts[i]) j++;
      w.u32(j - i).u8(VALTYPE_CODE[ts[i]!]);
      i = j;
    }
    return w.finish();
  }

  /** Body size in bytes so far (without locals and the final `end`). */
  get byteLength(): number { return this.code.length; }

  /** Number of blocks open now. */
  get depth(): number { return this.ctrl.length; }

  /** @internal Called by `build()`. */
  checkComplete(funcCount: number): void {
    if (this.ctrl.length) {
      const kinds = this.ctrl.map((l) => l.kind).join(", ");
      this.fail("end", `${this.ctrl.length} block(s) still open at build (${kinds})`, "close every block(), loop() and if() with end()");
    }
    if (this.maxCall >= funcCount) this.fail("call", `calls function ${this.maxCall}, but the module has ${funcCount} functions`);
  }

  // ---- control flow ----

  private blockType(op: string, bt: BlockType | undefined): void {
    const w = this.code;
    if (bt === undefined || bt === "void") { w.u8(0x40); return; }
    if (typeof bt === "string") {
      checkValType(bt, `${this.where()}: ${op} result type`);
      w.u8(VALTYPE_CODE[bt]);
      return;
    }
    const params = bt.params ?? [], results = bt.results ?? [];
    if (params.length === 0 && results.length === 0) { w.u8(0x40); return; }
    if (params.length === 0 && results.length === 1) { w.u8(VALTYPE_CODE[results[0]!]); return; }
    w.sleb(this.module.type(bt));
  }

  private open(kind: "block" | "loop" | "if", opcode: number, bt: BlockType | undefined): Label {
    this.code.u8(opcode);
    this.blockType(kind, bt);
    const l = new Label(kind, this.ctrl.length, this);
    this.ctrl.push(l);
    return l;
  }

  /** `block`: a forward branch to its label goes to its `end`. */
  block(type?: BlockType): Label { return this.open("block", OP.block, type); }

  /** `loop`: a branch to its label goes back to its start. */
  loop(type?: BlockType): Label { return this.open("loop", OP.loop, type); }

  /** `if`: pops an i32 condition. Close with `end()`, optionally after `else()`. */
  if(type?: BlockType): Label { return this.open("if", OP.if, type); }

  /** `else` of the innermost open `if`. */
  else(): this {
    const l = this.ctrl[this.ctrl.length - 1];
    if (!l || l.kind !== "if") this.fail("else", l ? `else() inside a ${l.kind}, not an if` : "else() without an open if");
    if (l.sawElse) this.fail("else", "a second else() for the same if");
    l.sawElse = true;
    this.code.u8(OP.else);
    return this;
  }

  /** `end` of the innermost open block, loop or if. */
  end(): this {
    const l = this.ctrl.pop();
    if (!l) this.fail("end", "end() without an open block", "the function's own end is added by build(); do not close it");
    l.open = false;
    this.code.u8(OP.end);
    return this;
  }

  private depthOf(op: string, target: Label | number): number {
    if (typeof target === "number") {
      if (!(Number.isInteger(target) && target >= 0 && target <= this.ctrl.length)) {
        this.fail(op, `branch depth ${target} is out of range (${this.ctrl.length} blocks open; depth ${this.ctrl.length} is the function body)`);
      }
      return target;
    }
    if (target.owner !== this) this.fail(op, "branch to a label of another function");
    if (!target.open) this.fail(op, `branch to a ${target.kind} that was already closed by end()`);
    return this.ctrl.length - 1 - target.height;
  }

  /** `br`: unconditional branch to a label (or relative depth). */
  br(target: Label | number): this {
    const d = this.depthOf("br", target);
    this.code.u8(OP.br).u32(d);
    return this;
  }

  /** `br_if`: pops an i32; branches if it is non-zero. */
  br_if(target: Label | number): this {
    const d = this.depthOf("br_if", target);
    this.code.u8(OP.br_if).u32(d);
    return this;
  }

  /** `br_table`: pops an i32 index into `targets`; out-of-range indices go to `fallback`. */
  br_table(targets: readonly (Label | number)[], fallback: Label | number): this {
    const ds = targets.map((t) => this.depthOf("br_table", t));
    const df = this.depthOf("br_table", fallback);
    const w = this.code.u8(OP.br_table).u32(ds.length);
    for (const d of ds) w.u32(d);
    w.u32(df);
    return this;
  }

  /** `return`. */
  return(): this { this.code.u8(OP.return); return this; }
  /** `unreachable`: traps. */
  unreachable(): this { this.code.u8(OP.unreachable); return this; }
  /** `nop`. */
  nop(): this { this.code.u8(OP.nop); return this; }
  /** `drop`: pops one value. */
  drop(): this { this.code.u8(OP.drop); return this; }

  /**
   * `select`: pops a condition and two values; pushes the first if the condition is non-zero.
   * Pass `type` for the typed form (`select (result t)`); the untyped form works for all
   * number and vector types.
   */
  select(type?: ValType): this {
    if (type === undefined) { this.code.u8(OP.select); return this; }
    checkValType(type, `${this.where()}: select type`);
    this.code.u8(OP.select_t).u8(1).u8(VALTYPE_CODE[type]);
    return this;
  }

  /** `call` a function (an import, a FunctionBuilder, or an index). */
  call(f: FuncRef | number): this {
    const index = typeof f === "number" ? f : f.index;
    if (!(Number.isInteger(index) && index >= 0)) this.fail("call", `${index} is not a function index`);
    if (index > this.maxCall) this.maxCall = index;
    this.code.u8(OP.call).u32(index);
    return this;
  }

  // ---- variables ----

  /** `local.get`. */
  local_get(index: number): this {
    this.checkLocal("local.get", index);
    this.code.u8(OP.local_get).u32(index);
    return this;
  }

  /** `local.set`. */
  local_set(index: number): this {
    this.checkLocal("local.set", index);
    this.code.u8(OP.local_set).u32(index);
    return this;
  }

  /** `local.tee`: sets the local and keeps the value on the stack. */
  local_tee(index: number): this {
    this.checkLocal("local.tee", index);
    this.code.u8(OP.local_tee).u32(index);
    return this;
  }

  private globalIndex(op: string, g: GlobalRef | number, write: boolean): number {
    const index = typeof g === "number" ? g : g.index;
    const info = Number.isInteger(index) ? this.module.globalAt(index) : undefined;
    if (!info) this.fail(op, `global ${index} is not defined (the module has ${this.module.globalCount} globals)`);
    if (write && !info.mutable) this.fail(op, `global ${index} is immutable`, "declare it with { mutable: true }");
    return index;
  }

  /** `global.get`. */
  global_get(g: GlobalRef | number): this {
    this.code.u8(OP.global_get).u32(this.globalIndex("global.get", g, false));
    return this;
  }

  /** `global.set` (the global must be mutable). */
  global_set(g: GlobalRef | number): this {
    this.code.u8(OP.global_set).u32(this.globalIndex("global.set", g, true));
    return this;
  }

  // ---- constants ----

  /** `i32.const`: an integer in [-2^31, 2^32) (unsigned values wrap to their i32 bit pattern). */
  i32_const(n: number): this {
    if (!((n | 0) === n || (n >>> 0) === n)) this.fail("i32.const", `${n} is not a 32-bit integer`);
    this.code.u8(OP.i32_const).s32(n);
    return this;
  }

  /** `i64.const`: a safe-integer number, or a bigint in [-2^63, 2^64). */
  i64_const(n: number | bigint): this {
    if (typeof n === "number" ? !Number.isSafeInteger(n) : n < I64_MIN || n > U64_MAX) {
      this.fail("i64.const", `${n} is out of range`, "numbers must be safe integers; use a bigint for larger values");
    }
    this.code.u8(OP.i64_const).s64(n);
    return this;
  }

  /** `f32.const` (the value is rounded to f32). */
  f32_const(x: number): this { this.code.u8(OP.f32_const).f32(x); return this; }

  /** `f64.const`. */
  f64_const(x: number): this { this.code.u8(OP.f64_const).f64(x); return this; }

  /** `v128.const` from 16 bytes (lane 0 first). */
  v128_const(bytes: ArrayLike<number>): this {
    if (bytes.length !== 16) this.fail("v128.const", `needs 16 bytes, got ${bytes.length}`);
    for (let i = 0; i < 16; i++) {
      const b = bytes[i]!;
      if (!(Number.isInteger(b) && b >= -128 && b <= 255)) this.fail("v128.const", `byte ${i} is ${b}, not in [-128, 255]`);
    }
    this.code.u8(PREFIX_FD).u32(FD_SPECIAL.v128_const).bytes(bytes);
    return this;
  }

  /** `v128.const i32x4 a b c d`. */
  v128_const_i32x4(a: number, b: number, c: number, d: number): this {
    const v = new Int32Array(4);
    const lanes = [a, b, c, d];
    for (let i = 0; i < 4; i++) {
      const x = lanes[i]!;
      if (!((x | 0) === x || (x >>> 0) === x)) this.fail("v128.const", `i32x4 lane ${i} = ${x} is not a 32-bit integer`);
      v[i] = x;
    }
    return this.v128_const(new Uint8Array(v.buffer));
  }

  /** `v128.const f32x4 a b c d`. */
  v128_const_f32x4(a: number, b: number, c: number, d: number): this {
    return this.v128_const(new Uint8Array(Float32Array.of(a, b, c, d).buffer));
  }

  /** `i8x16.shuffle`: 16 lane indices in [0, 32) selecting bytes from the two operands. */
  i8x16_shuffle(lanes: ArrayLike<number>): this {
    if (lanes.length !== 16) this.fail("i8x16.shuffle", `needs 16 lane indices, got ${lanes.length}`);
    for (let i = 0; i < 16; i++) {
      const l = lanes[i]!;
      if (!(Number.isInteger(l) && l >= 0 && l < 32)) this.fail("i8x16.shuffle", `lane index ${i} is ${l}, not in [0, 32)`);
    }
    this.code.u8(PREFIX_FD).u32(FD_SPECIAL.i8x16_shuffle).bytes(lanes);
    return this;
  }

  // ---- memory (special immediates) ----

  private needMemory(op: string): void {
    if (!this.module.hasMemory) this.fail(op, "the module has no memory", "call memory() or importMemory() before emitting memory instructions");
  }

  /** `memory.size`: current size in pages. */
  memory_size(): this { this.needMemory("memory.size"); this.code.u8(OP.memory_size).u8(0); return this; }
  /** `memory.grow`: pops a page count; pushes the old size or -1. */
  memory_grow(): this { this.needMemory("memory.grow"); this.code.u8(OP.memory_grow).u8(0); return this; }
  /** `memory.copy`: pops dst, src, n (bulk memory). */
  memory_copy(): this { this.needMemory("memory.copy"); this.code.u8(PREFIX_FC).u32(FC_MEMORY.memory_copy).u8(0).u8(0); return this; }
  /** `memory.fill`: pops dst, byte value, n (bulk memory). */
  memory_fill(): this { this.needMemory("memory.fill"); this.code.u8(PREFIX_FC).u32(FC_MEMORY.memory_fill).u8(0); return this; }
  /** `atomic.fence`. */
  atomic_fence(): this { this.code.u8(PREFIX_FE).u32(FE_FENCE).u8(0); return this; }

  /**
   * @internal Checks a memarg; returns the alignment as log2 bytes. Called before anything is
   * written, so a failed check leaves the body unchanged.
   */
  checkMemarg(op: string, natural: number, offset: number | undefined, align: number | undefined, exact: boolean): number {
    this.needMemory(op);
    let a = natural;
    if (align !== undefined) {
      if (!(Number.isInteger(align) && align > 0 && (align & (align - 1)) === 0)) this.fail(op, `align ${align} is not a power of two (align is in bytes)`);
      a = 31 - Math.clz32(align);
      if (exact ? a !== natural : a > natural) {
        this.fail(op, `align ${align} ${exact ? "must equal" : "exceeds"} the natural alignment ${1 << natural}`);
      }
    }
    if (offset !== undefined && !(Number.isInteger(offset) && offset >= 0 && offset < 2 ** 32)) {
      this.fail(op, `offset ${offset} is not an integer in [0, 2^32)`);
    }
    return a;
  }

  /** @internal Checks a lane-index immediate. */
  checkLane(op: string, lanes: number, lane: number): void {
    if (!(Number.isInteger(lane) && lane >= 0 && lane < lanes)) this.fail(op, `lane ${lane} is out of range [0, ${lanes})`);
  }

  /** This function's body as WAT-like text (one instruction a line, blocks indented). */
  toText(): string {
    const ctx: DisasmContext = {
      funcName: (i) => this.module.funcName(i),
      globalName: () => undefined,
      typeText: (i) => typeText(this.module.typeAt(i)),
    };
    const lines: string[] = [];
    disassembleCode(this.code.written(), 0, this.code.length, ctx, lines, "", false);
    return lines.join("\n");
  }
}

function typeText(t: { readonly params: readonly ValType[]; readonly results: readonly ValType[] }): string {
  let s = "";
  if (t.params.length) s += ` (param ${t.params.join(" ")})`;
  if (t.results.length) s += ` (result ${t.results.join(" ")})`;
  return s;
}

// ---- generated methods ----

function installOps(): void {
  const proto = FunctionBuilder.prototype as unknown as Record<string, unknown>;
  const define = (textName: string, fn: (this: FunctionBuilder, ...args: never[]) => FunctionBuilder) => {
    const method = textName.replace(/\./g, "_");
    if (Object.prototype.hasOwnProperty.call(proto, method)) throw new Error(`assembler: duplicate method ${method}`);
    Object.defineProperty(proto, method, { value: fn, writable: true, configurable: true, enumerable: false });
  };
  const single = (code: number) => function (this: FunctionBuilder) { this.code.u8(code); return this; };
  const prefixed = (prefix: number, code: number) => {
    if (code < 0x80) {
      return function (this: FunctionBuilder) {
        const w = this.code;
        w.reserve(2);
        w.buf[w.length] = prefix; w.buf[w.length + 1] = code; w.length += 2;
        return this;
      };
    }
    const b0 = (code & 0x7f) | 0x80, b1 = code >>> 7;
    return function (this: FunctionBuilder) {
      const w = this.code;
      w.reserve(3);
      w.buf[w.length] = prefix; w.buf[w.length + 1] = b0; w.buf[w.length + 2] = b1; w.length += 3;
      return this;
    };
  };
  for (const [n, c] of NUMERIC_OPS) define(n, single(c));
  for (const [n, c] of FC_OPS) define(n, prefixed(PREFIX_FC, c));
  for (const [n, c] of SIMD_OPS) define(n, prefixed(PREFIX_FD, c));
  for (const [n, c] of RELAXED_SIMD_OPS) define(n, prefixed(PREFIX_FD, c));
  for (const [n, c, a] of MEM_OPS) {
    define(n, function (this: FunctionBuilder, offset?: number, align?: number) {
      const al = this.checkMemarg(n, a, offset, align, false);
      this.code.u8(c).u8(al).u32(offset ?? 0);
      return this;
    });
  }
  for (const [n, c, a] of SIMD_MEM_OPS) {
    define(n, function (this: FunctionBuilder, offset?: number, align?: number) {
      const al = this.checkMemarg(n, a, offset, align, false);
      this.code.u8(PREFIX_FD).u32(c).u8(al).u32(offset ?? 0);
      return this;
    });
  }
  for (const [n, c, a] of SIMD_MEM_LANE_OPS) {
    const lanes = 16 >> a;
    define(n, function (this: FunctionBuilder, lane: number, offset?: number, align?: number) {
      const al = this.checkMemarg(n, a, offset, align, false);
      this.checkLane(n, lanes, lane);
      this.code.u8(PREFIX_FD).u32(c).u8(al).u32(offset ?? 0).u8(lane);
      return this;
    });
  }
  for (const [n, c, lanes] of SIMD_LANE_OPS) {
    define(n, function (this: FunctionBuilder, lane: number) {
      this.checkLane(n, lanes, lane);
      this.code.u8(PREFIX_FD).u32(c).u8(lane);
      return this;
    });
  }
  for (const [n, c, a] of ATOMIC_OPS) {
    define(n, function (this: FunctionBuilder, offset?: number) {
      const al = this.checkMemarg(n, a, offset, undefined, true);
      this.code.u8(PREFIX_FE).u32(c).u8(al).u32(offset ?? 0);
      return this;
    });
  }
}
installOps();
