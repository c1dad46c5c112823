/**
 * Renders one Kernel IR kernel as WGSL compute shaders (one per phase; only scatterElements has
 * two). One invocation per outer coordinate: the kernel's non-reduced dims, decomposed from the
 * flat invocation index. A reduce kernel loops over its reduce axes once per stage inside that
 * invocation (then once more to store, when the output keeps the reduced axes). Expressions are
 * SSA `let`s; what does not depend on the reduce coordinates is computed once, outside the
 * loops. Views are index arithmetic over the arena, masks become selects (a masked-out load
 * reads element 0 and yields 0). Anchors are per-element loops (anchors.ts, matmul.ts), except
 * matmul, which is a workgroup-tiled kernel of its own with the epilogue as a function
 * (matmul.ts `tiledMatmul`; an int8 one also in packed variants, `Phase.variants`). A reduce kernel with few outer coordinates and a large reduced
 * size is a workgroup tree instead: one workgroup per outer coordinate, each invocation
 * reducing a strided share, the partials combined in workgroup memory, stage by stage (later
 * stages and the store read the totals), and the store shared out the same way.
 */
import type { Kernel, KExpr } from "../../jit/kernel/index.js";
import type { View } from "../../jit/kernel/index.js";
import type { DType } from "../../jit/dtype.js";
import type { HostBuffer } from "../../jit/buffer.js";
import { isFloat } from "../../jit/dtype.js";
import { literal, zero, loadWord, storeWord, narrow, unary, binary, cast, wtype, helperText } from "./wgsl.js";
import { emitAnchor, emitScatter } from "./anchors.js";
import { matmulPhases } from "./matmul.js";

/** Invocations per workgroup (1-D). */
export const WORKGROUP = 64;
/**
 * Reduce kernels reducing at least TREE_MIN elements per outer coordinate, with at most
 * TREE_MAX_OUTER outer coordinates (too few invocations to fill a device), use a workgroup of
 * TREE_WG invocations per outer coordinate (kernel.ts `tree`). With many outer coordinates one
 * invocation each is parallel enough, and on SwiftShader far faster (it emulates every
 * invocation of a workgroup with barriers: a [1024, 1024] softmax ran 3× slower as trees).
 */
export const TREE_MIN = 256;
export const TREE_MAX_OUTER = 256;
export const TREE_WG = 64;

/** What anchor emitters need from the kernel being generated. */
export interface GenCtx {
  readonly k: Kernel;
  /** Statements of the invocation's outer scope (anchors append their loops here). */
  readonly lines: string[];
  /** A fresh identifier with a prefix (generated: never model text). */
  fresh(prefix: string): string;
  /** Marks a helper function as used. */
  use(h: string): void;
  /** Word offset of a buffer in the arena. */
  base(buf: number): number;
  /** The i32 expression of kernel coordinate d. */
  coord(d: number): string;
  /** Element dtype of a buffer. */
  dtypeOf(buf: number): DType;
  /** Host data of a buffer when it is a constant (weights), else undefined. */
  constValue(buf: number): HostBuffer | undefined;
  /**
   * Word offset of a block of constant 32-bit words that the generator made (packed int8
   * weights, zero-point and correction tables): uploaded once with the constants, read-only.
   * `packedOnly`: read only by the packed variants (Phase.variants), so not uploaded where the
   * device runs the unpacked text.
   */
  constWords(words: Int32Array, packedOnly?: boolean): number;
}

/**
 * What the generator needs from the executable being built: word offset, dtype and host data
 * (constants) per buffer id, and a place for constant words the generator makes (returns their
 * word offset).
 */
export interface ArenaInfo {
  readonly bases: readonly number[];
  readonly dtypes: readonly DType[];
  readonly values: readonly (HostBuffer | undefined)[];
  addConst(words: Int32Array, packedOnly?: boolean): number;
}

/**
 * One compute shader of a kernel. `invocations`: the useful invocations (for explain); the
 * dispatch is `workgroups` workgroups when given (shaders with their own workgroup size and
 * mapping: the tiled matmul, tree reductions), else ceil(invocations / WORKGROUP).
 */
export interface Phase {
  readonly wgsl: string; readonly invocations: number; readonly workgroups?: number; readonly workgroupSize?: number;
  /**
   * Other texts of the same kernel (same workgroups and results) that the executable may run
   * instead of `wgsl`, chosen per device when it first runs (index.ts): an int8 GEMM's packed
   * forms (matmul.ts), `dot4` written with dot4I8Packed (needs the WGSL language feature
   * packed_4x8_integer_dot_product), `packed` unpacking the bytes itself.
   */
  readonly variants?: { readonly dot4: string; readonly packed: string };
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Index expression (i32) of a view at the given coordinate expressions (undefined: 0). */
export function viewIndex(base: number, v: View, coords: readonly (string | undefined)[]): string {
  const terms: string[] = [];
  let imm = base + v.offset;
  v.shape.forEach((ext, d) => {
    const st = v.strides[d]!, c = coords[d];
    if (ext <= 1 || st === 0 || c === undefined) return;
    if (/^-?\d+i$/.test(c)) { imm += st * parseInt(c, 10); return; }
    terms.push(st === 1 ? c : `${c} * ${st}i`);
  });
  if (imm !== 0 || !terms.length) terms.push(`${imm}i`);
  return terms.join(" + ");
}

class Scope {
  readonly lines: string[] = [];
  readonly memo = new Map<KExpr, string>();
  constructor(readonly parent?: Scope) {}
  lookup(e: KExpr): string | undefined { return this.memo.get(e) ?? this.parent?.lookup(e); }
}

class KernelGen implements GenCtx {
  readonly used = new Set<string>();
  private n = 0;
  readonly root = new Scope();
  get lines(): string[] { return this.root.lines; }
  /** Looped reduce dims (extent != 1). */
  readonly reduced: number[];
  readonly outer: number[];
  private readonly dep = new Map<KExpr, boolean>();
  anchorVar?: string;
  private readonly accVar: string[] = [];
  private readonly consts = new Map<string, string>();
  /** let-bound constants, placed before the body. */
  readonly constLines: string[] = [];
  /**
   * Tree mode (reduce kernels whose reduced size is at least TREE_MIN): one workgroup of `wg`
   * invocations per outer coordinate; invocation `li` takes the flat reduce indices li, li+wg, …
   * and the partials combine in workgroup memory (`redf` / `redi`, whichever types are used).
   */
  tree?: { readonly wg: number; readonly size: number };
  private readonly treeTypes = new Set<string>();

  private readonly bases: readonly number[];
  private readonly dtypes: readonly DType[];
  constructor(readonly k: Kernel, private readonly arena: ArenaInfo) {
    this.bases = arena.bases;
    this.dtypes = arena.dtypes;
    const R = new Set(k.reduceAxes);
    this.reduced = k.reduceAxes.filter((d) => k.shape[d] !== 1);
    this.outer = k.shape.map((_, d) => d).filter((d) => !R.has(d) && k.shape[d] !== 1);
  }

  fresh(p: string): string { return `${p}${this.n++}`; }
  use(h: string): void { this.used.add(h); }
  base(buf: number): number { return this.bases[buf]!; }
  coord(d: number): string { return this.k.shape[d] === 1 ? "0i" : `c${d}`; }
  dtypeOf(buf: number): DType { return this.dtypes[buf]!; }
  constValue(buf: number): HostBuffer | undefined { return this.arena.values[buf]; }
  constWords(words: Int32Array, packedOnly?: boolean): number { return this.arena.addConst(words, packedOnly); }

  /** Whether an expression depends on a looped reduce coordinate. */
  private reduceDep(e: KExpr): boolean {
    let r = this.dep.get(e);
    if (r !== undefined) return r;
    const R = this.reduced;
    switch (e.op) {
      case "const": case "acc": case "anchor": r = false; break;
      case "load": {
        const v = e.view;
        r = R.some((d) => v.shape[d]! > 1 && (v.strides[d] !== 0 || (!!v.mask && (v.mask[d]![0] > 0 || v.mask[d]![1] < v.shape[d]!))));
        break;
      }
      default:
        r = (e.op === "select" && R.some((d) => e.mask[d]![0] > 0 || e.mask[d]![1] < this.k.shape[d]!)) || e.args.some((a) => this.reduceDep(a));
    }
    this.dep.set(e, r);
    return r;
  }

  /** A condition (WGSL bool) that kernel coordinates lie inside `mask`, or true/false when known. */
  private maskCond(mask: readonly (readonly [number, number])[], shape: readonly number[]): string | boolean {
    const parts: string[] = [];
    for (let d = 0; d < mask.length; d++) {
      const [lo, hi] = mask[d]!, ext = this.k.shape[d] ?? shape[d]!;
      if (lo <= 0 && hi >= ext) continue;
      if (hi <= lo) return false;
      if (ext === 1) { if (!(lo <= 0 && 0 < hi)) return false; continue; }
      const c = this.coord(d);
      if (lo > 0) parts.push(`${c} >= ${lo}i`);
      if (hi < ext) parts.push(`${c} < ${hi}i`);
    }
    return parts.length ? parts.join(" && ") : true;
  }

  /** The WGSL value of `e` in `scope` (a name or a literal). */
  value(e: KExpr, scope: Scope): string {
    // constants are let-bound: WGSL const-expressions that overflow (127i + 1i, 1i << 31u) are shader errors
    if (e.op === "const") {
      const lit = literal(e.value, e.dtype, (h) => this.use(h));
      const key = `${wtype(e.dtype)}:${lit}`;
      let name = this.consts.get(key);
      if (!name) { name = this.fresh("q"); this.consts.set(key, name); this.constLines.push(`let ${name} = ${lit};`); }
      return name;
    }
    const target = this.reduceDep(e) ? scope : this.root;
    const have = target.lookup(e);
    if (have) return have;
    const code = this.code(e, target);
    if (/^[a-z]\w*$/.test(code)) { target.memo.set(e, code); return code; }
    const name = this.fresh("v");
    target.lines.push(`let ${name} = ${code};`);
    target.memo.set(e, name);
    return name;
  }

  private code(e: KExpr, scope: Scope): string {
    const use = (h: string) => this.use(h);
    switch (e.op) {
      case "const": return literal(e.value, e.dtype, use);
      case "acc": return this.accVar[e.stage]!;
      case "anchor": return this.anchorVar!;
      case "load": {
        const v = e.view;
        const idx = viewIndex(this.base(e.buf), v, v.shape.map((_, d) => this.coord(d)));
        if (!v.mask) return loadWord(e.dtype, idx);
        const m = this.maskCond(v.mask, v.shape);
        if (m === true) return loadWord(e.dtype, idx);
        if (m === false) return zero(e.dtype);
        return `select(${zero(e.dtype)}, ${loadWord(e.dtype, `select(0i, ${idx}, ${m})`)}, ${m})`;
      }
      case "select": {
        const m = this.maskCond(e.mask, this.k.shape);
        if (m === true) return this.value(e.args[0], scope);
        if (m === false) return this.value(e.args[1], scope);
        return `select(${this.value(e.args[1], scope)}, ${this.value(e.args[0], scope)}, ${m})`;
      }
      case "where": return `select(${this.value(e.args[2]!, scope)}, ${this.value(e.args[1]!, scope)}, ${this.value(e.args[0]!, scope)} != 0i)`;
      case "cast": return cast(this.value(e.args[0]!, scope), e.args[0]!.dtype, e.dtype, use);
    }
    if (e.args.length === 1) return unary(e.op, this.value(e.args[0]!, scope), e.args[0]!.dtype, use);
    return binary(e.op, this.value(e.args[0]!, scope), this.value(e.args[1]!, scope), e.args[0]!.dtype, use);
  }

  /** Wraps `body` lines in loops over the looped reduce dims (tree mode: this invocation's share of them). */
  private loops(body: string[]): string[] {
    if (this.tree) {
      const { wg, size } = this.tree, dec: string[] = [];
      let inner = 1;
      for (let i = this.reduced.length - 1; i >= 0; i--) {
        const d = this.reduced[i]!, ext = this.k.shape[d]!;
        const q = inner === 1 ? "f" : `(f / ${inner}i)`;
        dec.unshift(`  let c${d} = ${i === 0 ? q : `${q} % ${ext}i`};`);
        inner *= ext;
      }
      return [`for (var f: i32 = li; f < ${size}i; f = f + ${wg}i) {`, ...dec, ...body.map((l) => `  ${l}`), "}"];
    }
    let lines = body.map((l) => `  ${l}`);
    for (let i = this.reduced.length - 1; i >= 0; i--) {
      const d = this.reduced[i]!;
      lines = [`for (var c${d}: i32 = 0i; c${d} < ${this.k.shape[d]}i; c${d} = c${d} + 1i) {`, ...lines, "}"];
      if (i > 0) lines = lines.map((l) => `  ${l}`);
    }
    return lines;
  }

  private stage(i: number): void {
    const s = this.k.stages[i]!, dt = s.dtype, t = wtype(dt), use = (h: string) => this.use(h);
    const acc = this.fresh("a");
    const empty = this.reduced.some((d) => this.k.shape[d] === 0);
    let init: string;
    if (s.fn === "sum") init = zero(dt);
    else if (s.fn === "prod") init = t === "f32" ? "1.0f" : "1i";
    else if (t === "f32") init = literal(s.fn === "max" ? -Infinity : Infinity, "float32", use);
    else if (empty) init = dt === "bool" ? "1i" : "0i"; // the reference's cast of ∓inf (to bool: true)
    else init = s.fn === "max" ? "bitcast<i32>(0x80000000u)" : "2147483647i";
    this.lines.push(`var ${acc}: ${t} = ${init};`);
    const body = new Scope(this.root);
    const v = this.value(s.expr, body);
    if (s.fn === "sum") body.lines.push(`${acc} = ${acc} + ${v};`);
    else if (s.fn === "prod") body.lines.push(`${acc} = ${acc} * ${v};`);
    else if (t === "f32") { use("k_isnan"); body.lines.push(`if (k_isnan(${v}) || ${v} ${s.fn === "max" ? ">" : "<"} ${acc}) { ${acc} = ${v}; }`); }
    else body.lines.push(`${acc} = ${s.fn}(${acc}, ${v});`);
    this.lines.push(...this.loops(body.lines));
    const out = this.fresh("s");
    let res = acc;
    if (this.tree) {
      // the partials combine pairwise in workgroup memory; every invocation then reads the total
      const red = t === "f32" ? "redf" : "redi", o = this.fresh("o");
      if (this.tree.wg !== Math.round(Math.sqrt(this.tree.wg)) ** 2) throw new Error("internal: tree workgroup size must be a square");
      this.treeTypes.add(red);
      let comb: string;
      if (s.fn === "sum") comb = `${acc} = ${acc} + ${o};`;
      else if (s.fn === "prod") comb = `${acc} = ${acc} * ${o};`;
      else if (t === "f32") comb = `if (k_isnan(${o}) || ${o} ${s.fn === "max" ? ">" : "<"} ${acc}) { ${acc} = ${o}; }`;
      else comb = `${acc} = ${s.fn}(${acc}, ${o});`;
      // two levels of fan-in √wg (three barriers, not log2(wg)+1: barriers cost most where
      // invocations are emulated): invocations i < √wg fold partials i·√wg…, then every
      // invocation folds those √wg in the same order, so all hold the same total
      const w = this.tree.wg, q = Math.round(Math.sqrt(w)), j = this.fresh("j");
      this.lines.push(`${red}[li] = ${acc};`, "workgroupBarrier();");
      this.lines.push(`if (li < ${q}i) {`, `  ${acc} = ${red}[li * ${q}i];`,
        `  for (var ${j}: i32 = 1i; ${j} < ${q}i; ${j} = ${j} + 1i) { let ${o} = ${red}[li * ${q}i + ${j}]; ${comb} }`,
        `  ${red}[li * ${q}i] = ${acc};`, "}", "workgroupBarrier();");
      this.lines.push(`${acc} = ${red}[0];`,
        `for (var ${j}: i32 = 1i; ${j} < ${q}i; ${j} = ${j} + 1i) { let ${o} = ${red}[${j} * ${q}i]; ${comb} }`,
        "workgroupBarrier();"); // all read before the next stage reuses the array
    }
    // sums and products of narrow types wrap like the reference's store; float16 rounds once
    this.lines.push(`let ${out} = ${narrow(res, dt, use)};`);
    this.accVar[i] = out;
  }

  /**
   * The kernel's value and store as a WGSL function `name(c<d>…, av)` of the coordinates of its
   * dims of extent > 1 (in order) and the anchor's value `av`: the epilogue of a tiled anchor,
   * called once per output element (anchor kernels have no reduce stages).
   */
  epilogue(name: string): string {
    const k = this.k, a = k.anchor!;
    this.anchorVar = "av";
    const store = this.storeLines(this.root);
    const params = k.shape.map((e, d) => (e === 1 ? "" : `c${d}: i32`)).filter(Boolean);
    return [`fn ${name}(${[...params, `av: ${wtype(a.node.dtype)}`].join(", ")}) {`,
      ...[...this.constLines, ...this.lines, ...store].map((l) => `  ${l}`), "}"].join("\n");
  }

  /** The stored value at the current coordinates: its lets go to `scope`, the store is returned. */
  private storeLines(scope: Scope): string[] {
    const k = this.k, outBuf = k.out, outDt = this.dtypeOf(outBuf);
    let v = this.value(k.value, scope);
    if (k.value.dtype !== outDt) v = cast(v, k.value.dtype, outDt, (h) => this.use(h));
    const ost: number[] = [];
    let acc = 1;
    for (let d = k.outShape.length - 1; d >= 0; d--) { ost[d] = k.outShape[d] === 1 ? 0 : acc; acc *= k.outShape[d]!; }
    const idx = viewIndex(this.base(outBuf), { shape: k.outShape, strides: ost, offset: 0 } as unknown as View, k.outShape.map((_, d) => this.coord(d)));
    return [storeWord(idx, v)];
  }

  /**
   * A module with its own main: `decls` (workgroup variables), `fns` (functions), and main's
   * body, which gets the builtins wid, nwg (uniform) and lid.
   */
  module(decls: readonly string[], fns: readonly string[], wgSize: number, body: readonly string[]): string {
    return [
      `// kernel k${this.k.id}`,
      "@group(0) @binding(0) var<storage, read_write> A: array<u32>;",
      "@group(0) @binding(1) var<storage, read_write> E: array<atomic<i32>, 4>;",
      ...decls,
      helperText(this.used),
      ...fns,
      `@compute @workgroup_size(${wgSize})`,
      "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {",
      ...body.map((l) => `  ${l}`),
      "}",
      "",
    ].filter((l) => l !== "").join("\n");
  }

  /** Shader text of the kernel's phases (not scatterElements). */
  generate(): Phase[] {
    const k = this.k;
    if (k.anchor?.op === "matmul") {
      const t = matmulPhases(this, k.anchor.a, k.anchor.b, k.anchor.node);
      if (t) return t;
    }
    if (k.anchor) this.anchorVar = emitAnchor(this);
    const rsize = numel(this.reduced.map((d) => k.shape[d]!));
    const outerSize = numel(this.outer.map((d) => k.shape[d]!));
    if (!k.anchor && k.stages.length && rsize >= TREE_MIN && outerSize <= TREE_MAX_OUTER) this.tree = { wg: TREE_WG, size: rsize };
    k.stages.forEach((_, i) => this.stage(i));
    const storeLoop = this.reduced.length > 0 && k.outShape.every((d, i) => d === k.shape[i]);
    const scope = storeLoop ? new Scope(this.root) : this.root;
    const store = this.storeLines(scope);
    // tree mode: one store per workgroup, or the stored elements shared out like the reduce
    scope.lines.push(...(this.tree && !storeLoop ? [`if (li == 0i) { ${store.join(" ")} }`] : store));
    if (storeLoop) this.lines.push(...this.loops(scope.lines));
    const invocations = numel(this.outer.map((d) => k.shape[d]!));
    if (this.tree) {
      const wg = this.tree.wg;
      return [{ wgsl: this.shader(this.lines), invocations: invocations * wg, workgroups: invocations, workgroupSize: wg }];
    }
    return [{ wgsl: this.shader(this.lines), invocations }];
  }

  /**
   * The module: bindings, used helpers, and main decomposing the invocation index `gi` over
   * `dims` of the kernel's shape (default: the outer dims) into coordinates c<dim>.
   */
  shader(body: readonly string[], dims: readonly number[] = this.outer): string {
    const total = numel(dims.map((d) => this.k.shape[d]!));
    const dec: string[] = [];
    let inner = 1;
    for (let i = dims.length - 1; i >= 0; i--) {
      const d = dims[i]!, ext = this.k.shape[d]!;
      const q = inner === 1 ? "gi" : `(gi / ${inner}u)`;
      dec.unshift(i === 0 ? `let c${d} = i32(${q});` : `let c${d} = i32(${q} % ${ext}u);`);
      inner *= ext;
    }
    const tree = this.tree;
    return [
      `// kernel k${this.k.id}`,
      "@group(0) @binding(0) var<storage, read_write> A: array<u32>;",
      "@group(0) @binding(1) var<storage, read_write> E: array<atomic<i32>, 4>;",
      ...[...this.treeTypes].map((r) => `var<workgroup> ${r}: array<${r === "redf" ? "f32" : "i32"}, ${tree!.wg}>;`),
      helperText(this.used),
      `@compute @workgroup_size(${tree ? tree.wg : WORKGROUP})`,
      "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {",
      // tree mode: the outer coordinate is the workgroup's (uniform, so the early return is too)
      ...(tree ? ["  let gi = wid.y * nwg.x + wid.x;", "  let li = i32(lid);"] : [`  let gi = (wid.y * nwg.x + wid.x) * ${WORKGROUP}u + lid;`]),
      `  if (gi >= ${total}u) { return; }`,
      ...dec.map((l) => `  ${l}`),
      ...this.constLines.map((l) => `  ${l}`),
      ...body.map((l) => `  ${l}`),
      "}",
      "",
    ].filter((l) => l !== "").join("\n");
  }
}

/** WGSL phases of a kernel, in dispatch order. */
export function generateKernel(k: Kernel, arena: ArenaInfo): Phase[] {
  if (k.anchor?.op === "scatterElements") return emitScatter(k, () => new KernelGen(k, arena));
  return new KernelGen(k, arena).generate();
}

export type { KernelGen };
export { isFloat };
