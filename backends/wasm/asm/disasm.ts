/**
 * A small disassembler from the wasm binary format to WAT-like text: one instruction a line,
 * blocks indented, immediates as in the text format (`i32.load offset=16 align=1`,
 * `f32x4.extract_lane 2`, `call $name`). It reads everything the builder emits (types,
 * imports, functions, memory, globals, exports, data, the "name" section) and every opcode in
 * `opcodes.ts`; other sections are listed as comments. The compiler's `explain()` uses it to
 * show generated kernels.
 *
 * @example
 * console.log(disassemble(bytes));
 * // (module
 * //   (type $t0 (func (param i32 i32) (result i32)))
 * //   (func $add (type $t0) (param i32 i32) (result i32)
 * //     local.get 0
 * //     local.get 1
 * //     i32.add
 * //   )
 * //   (export "add" (func $add))
 * // )
 */
import { ByteReader } from "./bytes.js";
import { AsmError } from "./errors.js";
import { OPS_BY_CODE, OP, PREFIX_FC, PREFIX_FD, PREFIX_FE, FC_MEMORY, FD_SPECIAL, FE_FENCE } from "./opcodes.js";

/** What the instruction printer needs to know about the module. */
export interface DisasmContext {
  funcName(index: number): string | undefined;
  globalName(index: number): string | undefined;
  /** The ` (param ...) (result ...)` text of a type, for block types given as type indices. */
  typeText(index: number): string;
}

const VALTYPE_NAME: Record<number, string> = { 0x7f: "i32", 0x7e: "i64", 0x7d: "f32", 0x7c: "f64", 0x7b: "v128", 0x70: "funcref", 0x6f: "externref" };

function valType(code: number): string {
  return VALTYPE_NAME[code] ?? `<type 0x${code.toString(16)}>`;
}

/** Names as `$id`: characters the text format does not allow in identifiers become `_`. */
export function watId(name: string): string {
  return "$" + name.replace(/[^0-9A-Za-z!#$%&'*+\-./:<=>?@\\^_`|~]/g, "_");
}

/** Shortest decimal that reads back as the same f32. */
export function formatF32(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  for (let p = 1; p <= 9; p++) {
    const n = Number(v.toPrecision(p));
    if (Math.fround(n) === v) return String(n);
  }
  return String(v);
}

/** Shortest decimal that reads back as the same f64. */
export function formatF64(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  return String(v);
}

function hex32(x: number): string {
  return "0x" + (x >>> 0).toString(16).padStart(8, "0");
}

function memargText(r: ByteReader, natural: number): string {
  const align = r.u32();
  let memidx = 0;
  let a = align;
  if (a >= 64) { a -= 64; memidx = r.u32(); }
  const offset = r.u32();
  let s = "";
  if (memidx !== 0) s += ` ${memidx}`;
  if (offset !== 0) s += ` offset=${offset}`;
  if (a !== natural) s += ` align=${2 ** a}`;
  return s;
}

function blockTypeText(r: ByteReader, ctx: DisasmContext): string {
  const b = r.bytes[r.pos];
  if (b === 0x40) { r.pos++; return ""; }
  if (b !== undefined && VALTYPE_NAME[b] !== undefined) { r.pos++; return ` (result ${valType(b)})`; }
  const idx = r.sN(33);
  return ` (type $t${idx})${ctx.typeText(idx)}`;
}

function funcRef(ctx: DisasmContext, i: number): string {
  const n = ctx.funcName(i);
  return n !== undefined ? watId(n) : String(i);
}

/**
 * Disassembles the instructions in `bytes[start, end)` into `out`, one line each, indented by
 * `indent` plus two spaces a block level. With `isBody`, the final `end` (which closes the
 * function) is not printed. Unknown opcodes end the listing with a comment.
 */
export function disassembleCode(bytes: Uint8Array, start: number, end: number, ctx: DisasmContext, out: string[], indent: string, isBody: boolean): void {
  const r = new ByteReader(bytes, start, end);
  let depth = 0;
  const pad = () => indent + "  ".repeat(depth);
  while (!r.done) {
    const at = r.pos;
    const op = r.u8();
    let line: string;
    switch (op) {
      case OP.block: case OP.loop: case OP.if: {
        const name = op === OP.block ? "block" : op === OP.loop ? "loop" : "if";
        out.push(pad() + name + blockTypeText(r, ctx));
        depth++;
        continue;
      }
      case OP.else:
        depth--;
        out.push(pad() + "else");
        depth++;
        continue;
      case OP.end:
        if (depth === 0) {
          if (isBody && r.done) return;
          out.push(pad() + "end ;; (closes nothing)");
          continue;
        }
        depth--;
        out.push(pad() + "end");
        continue;
      case OP.unreachable: line = "unreachable"; break;
      case OP.nop: line = "nop"; break;
      case OP.br: line = `br ${r.u32()}`; break;
      case OP.br_if: line = `br_if ${r.u32()}`; break;
      case OP.br_table: {
        const n = r.u32();
        const ts: number[] = [];
        for (let i = 0; i <= n; i++) ts.push(r.u32());
        line = `br_table ${ts.join(" ")}`;
        break;
      }
      case OP.return: line = "return"; break;
      case OP.call: line = `call ${funcRef(ctx, r.u32())}`; break;
      case OP.call_indirect: { const t = r.u32(); const tbl = r.u32(); line = `call_indirect ${tbl} (type $t${t})`; break; }
      case OP.drop: line = "drop"; break;
      case OP.select: line = "select"; break;
      case OP.select_t: {
        const n = r.u32();
        const ts: string[] = [];
        for (let i = 0; i < n; i++) ts.push(valType(r.u8()));
        line = `select (result ${ts.join(" ")})`;
        break;
      }
      case OP.local_get: line = `local.get ${r.u32()}`; break;
      case OP.local_set: line = `local.set ${r.u32()}`; break;
      case OP.local_tee: line = `local.tee ${r.u32()}`; break;
      case OP.global_get: case OP.global_set: {
        const i = r.u32(), n = ctx.globalName(i);
        line = `${op === OP.global_get ? "global.get" : "global.set"} ${n !== undefined ? watId(n) : i}`;
        break;
      }
      case OP.memory_size: r.u8(); line = "memory.size"; break;
      case OP.memory_grow: r.u8(); line = "memory.grow"; break;
      case OP.i32_const: line = `i32.const ${r.sN(32)}`; break;
      case OP.i64_const: line = `i64.const ${r.s64()}`; break;
      case OP.f32_const: line = `f32.const ${formatF32(r.f32())}`; break;
      case OP.f64_const: line = `f64.const ${formatF64(r.f64())}`; break;
      case PREFIX_FC: case PREFIX_FD: case PREFIX_FE: {
        const sub = r.u32();
        const special = prefixedSpecial(op, sub, r);
        if (special !== null) { line = special; break; }
        const info = OPS_BY_CODE.get(op * 0x10000 + sub);
        if (!info) {
          out.push(pad() + `;; unknown opcode 0x${op.toString(16)} ${sub} at byte ${at}; listing stops here`);
          return;
        }
        line = info.name;
        if (info.imm === "memarg" || info.imm === "memarg_lane") line += memargText(r, info.align);
        if (info.imm === "lane" || info.imm === "memarg_lane") line += ` ${r.u8()}`;
        break;
      }
      default: {
        const info = OPS_BY_CODE.get(op);
        if (!info) {
          out.push(pad() + `;; unknown opcode 0x${op.toString(16)} at byte ${at}; listing stops here`);
          return;
        }
        line = info.name;
        if (info.imm === "memarg") line += memargText(r, info.align);
      }
    }
    out.push(pad() + line);
  }
}

function prefixedSpecial(prefix: number, sub: number, r: ByteReader): string | null {
  if (prefix === PREFIX_FC) {
    switch (sub) {
      case FC_MEMORY.memory_init: { const d = r.u32(); r.u8(); return `memory.init ${d}`; }
      case FC_MEMORY.data_drop: return `data.drop ${r.u32()}`;
      case FC_MEMORY.memory_copy: r.u8(); r.u8(); return "memory.copy";
      case FC_MEMORY.memory_fill: r.u8(); return "memory.fill";
      default: return null;
    }
  }
  if (prefix === PREFIX_FD) {
    if (sub === FD_SPECIAL.v128_const) {
      const b = r.take(16);
      const lanes: string[] = [];
      for (let i = 0; i < 16; i += 4) lanes.push(hex32(b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)));
      return `v128.const i32x4 ${lanes.join(" ")}`;
    }
    if (sub === FD_SPECIAL.i8x16_shuffle) return `i8x16.shuffle ${Array.from(r.take(16)).join(" ")}`;
    return null;
  }
  if (prefix === PREFIX_FE && sub === FE_FENCE) { r.u8(); return "atomic.fence"; }
  return null;
}

function limitsText(r: ByteReader): string {
  const flags = r.u8();
  const min = r.u32();
  let s = `${min}`;
  if (flags & 1) s += ` ${r.u32()}`;
  if (flags & 2) s += " shared";
  return s;
}

function dataText(b: Uint8Array, max = 64): string {
  let s = "";
  const n = Math.min(b.length, max);
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c) s += String.fromCharCode(c);
    else s += "\\" + c.toString(16).padStart(2, "0");
  }
  return `"${s}"${b.length > max ? ` ;; ... ${b.length} bytes in all` : ""}`;
}

const SECTION_NAMES: Record<number, string> = { 4: "table", 8: "start", 9: "element", 12: "data count", 13: "tag" };

/**
 * The whole module as WAT-like text. Throws {@link AsmError} if the bytes are not a wasm
 * module (bad magic or version, truncated sections).
 */
export function disassemble(bytes: Uint8Array): string {
  const r = new ByteReader(bytes);
  const magic = r.take(4), version = r.take(4);
  if (magic[0] !== 0 || magic[1] !== 0x61 || magic[2] !== 0x73 || magic[3] !== 0x6d) throw new AsmError("not a wasm module (bad magic)");
  if (version[0] !== 1 || version[1] !== 0 || version[2] !== 0 || version[3] !== 0) throw new AsmError("unsupported wasm version");

  // First pass: find sections, and read the name section (it comes last but names everything).
  const sections: { id: number; start: number; end: number }[] = [];
  const funcNames = new Map<number, string>(), globalNames = new Map<number, string>();
  while (!r.done) {
    const id = r.u8(), size = r.u32(), start = r.pos, end = start + size;
    if (end > bytes.length) throw new AsmError(`section ${id} runs past the end of the module`);
    sections.push({ id, start, end });
    if (id === 0) {
      const s = new ByteReader(bytes, start, end);
      if (s.name() === "name") {
        while (!s.done) {
          const sub = s.u8(), len = s.u32(), subEnd = s.pos + len;
          if (sub === 1 || sub === 7) {
            const map = sub === 1 ? funcNames : globalNames;
            for (let n = s.u32(); n > 0; n--) { const i = s.u32(); map.set(i, s.name()); }
          }
          s.pos = subEnd;
        }
      }
    }
    r.pos = end;
  }

  const types: { params: string[]; results: string[] }[] = [];
  const funcTypes: number[] = []; // type index per function index (imports first)
  let numImportedFuncs = 0, numImportedGlobals = 0;
  const exportLines: string[] = [];
  const body: string[] = [];
  const exportNameOf = new Map<number, string>();

  const sigText = (t: { params: string[]; results: string[] } | undefined) =>
    t ? (t.params.length ? ` (param ${t.params.join(" ")})` : "") + (t.results.length ? ` (result ${t.results.join(" ")})` : "") : "";

  const ctx: DisasmContext = {
    funcName: (i) => funcNames.get(i) ?? exportNameOf.get(i),
    globalName: (i) => globalNames.get(i),
    typeText: (i) => sigText(types[i]),
  };
  const fname = (i: number) => { const n = ctx.funcName(i); return n !== undefined ? watId(n) : `$f${i}`; };

  // Exports are needed to name unnamed functions: read them before the code.
  for (const sec of sections) {
    if (sec.id !== 7) continue;
    const s = new ByteReader(bytes, sec.start, sec.end);
    for (let n = s.u32(); n > 0; n--) {
      const name = s.name(), kind = s.u8(), index = s.u32();
      if (kind === 0 && !exportNameOf.has(index)) exportNameOf.set(index, name);
    }
  }

  for (const sec of sections) {
    const s = new ByteReader(bytes, sec.start, sec.end);
    switch (sec.id) {
      case 0: break;
      case 1:
        for (let n = s.u32(), i = 0; i < n; i++) {
          const form = s.u8();
          if (form !== 0x60) throw new AsmError(`type ${i}: unsupported type form 0x${form.toString(16)}`);
          const params: string[] = [], results: string[] = [];
          for (let k = s.u32(); k > 0; k--) params.push(valType(s.u8()));
          for (let k = s.u32(); k > 0; k--) results.push(valType(s.u8()));
          types.push({ params, results });
          body.push(`  (type $t${i} (func${sigText({ params, results })}))`);
        }
        break;
      case 2:
        for (let n = s.u32(); n > 0; n--) {
          const mod = s.name(), field = s.name(), kind = s.u8();
          const head = `  (import ${JSON.stringify(mod)} ${JSON.stringify(field)}`;
          if (kind === 0) {
            const t = s.u32();
            const idx = numImportedFuncs++;
            funcTypes.push(t);
            body.push(`${head} (func ${fname(idx)} (type $t${t})${sigText(types[t])}))`);
          } else if (kind === 2) {
            body.push(`${head} (memory ${limitsText(s)}))`);
          } else if (kind === 3) {
            const t = valType(s.u8()), mut = s.u8();
            numImportedGlobals++;
            body.push(`${head} (global ${mut ? `(mut ${t})` : t}))`);
          } else if (kind === 1) {
            const rt = valType(s.u8());
            body.push(`${head} (table ${limitsText(s)} ${rt}))`);
          } else {
            throw new AsmError(`import ${mod}.${field}: unknown kind ${kind}`);
          }
        }
        break;
      case 3:
        for (let n = s.u32(); n > 0; n--) funcTypes.push(s.u32());
        break;
      case 5:
        for (let n = s.u32(); n > 0; n--) body.push(`  (memory ${limitsText(s)})`);
        break;
      case 6:
        for (let n = s.u32(), i = numImportedGlobals; n > 0; n--, i++) {
          const t = valType(s.u8()), mut = s.u8();
          const initStart = s.pos;
          while (s.u8() !== OP.end) { /* constant expressions are short: skip to their end */ s.pos = skipConst(s, s.pos - 1); }
          const init: string[] = [];
          disassembleCode(bytes, initStart, s.pos - 1, ctx, init, "", false);
          const gn = globalNames.get(i);
          body.push(`  (global ${gn !== undefined ? watId(gn) : `$g${i}`} ${mut ? `(mut ${t})` : t} (${init.map((l) => l.trim()).join(") (")}))`);
        }
        break;
      case 7:
        for (let n = s.u32(); n > 0; n--) {
          const name = s.name(), kind = s.u8(), index = s.u32();
          const what = kind === 0 ? `func ${fname(index)}` : kind === 2 ? `memory ${index}` : kind === 3 ? `global ${index}` : `table ${index}`;
          exportLines.push(`  (export ${JSON.stringify(name)} (${what}))`);
        }
        break;
      case 10:
        for (let n = s.u32(), k = 0; k < n; k++) {
          const size = s.u32(), end = s.pos + size;
          const idx = numImportedFuncs + k;
          const t = funcTypes[idx];
          body.push(`  (func ${fname(idx)} (type $t${t ?? "?"})${sigText(t === undefined ? undefined : types[t])}`);
          const locals: string[] = [];
          for (let runs = s.u32(); runs > 0; runs--) {
            const count = s.u32(), ty = valType(s.u8());
            for (let i = 0; i < count; i++) locals.push(ty);
          }
          if (locals.length) body.push(`    (local ${locals.join(" ")})`);
          disassembleCode(bytes, s.pos, end, ctx, body, "    ", true);
          body.push("  )");
          s.pos = end;
        }
        break;
      case 11:
        for (let n = s.u32(); n > 0; n--) {
          const flags = s.u32();
          let where = "";
          if (flags === 0 || flags === 2) {
            if (flags === 2) s.u32();
            const initStart = s.pos;
            while (s.u8() !== OP.end) s.pos = skipConst(s, s.pos - 1);
            const init: string[] = [];
            disassembleCode(bytes, initStart, s.pos - 1, ctx, init, "", false);
            where = ` (${init.map((l) => l.trim()).join(") (")})`;
          }
          const len = s.u32();
          body.push(`  (data${where} ${dataText(s.take(len))})`);
        }
        break;
      default:
        body.push(`  ;; ${SECTION_NAMES[sec.id] ?? "unknown"} section (id ${sec.id}, ${sec.end - sec.start} bytes) not shown`);
    }
  }
  return ["(module", ...body, ...exportLines, ")"].join("\n");
}

/** Skips one constant-expression instruction starting at `at`; returns the position after it. */
function skipConst(r: ByteReader, at: number): number {
  r.pos = at;
  const op = r.u8();
  switch (op) {
    case OP.i32_const: r.sN(32); break;
    case OP.i64_const: r.s64(); break;
    case OP.f32_const: r.take(4); break;
    case OP.f64_const: r.take(8); break;
    case OP.global_get: r.u32(); break;
    case PREFIX_FD: r.u32(); r.take(16); break; // v128.const
    default: throw new AsmError(`unsupported constant-expression opcode 0x${op.toString(16)} at byte ${at}`);
  }
  return r.pos;
}
