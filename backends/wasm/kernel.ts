/**
 * Renders one Kernel IR kernel as a WebAssembly function `(start, end)` that computes work
 * items [start, end) of its first loop (so threads can split it).
 *
 * Loop nest: the kernel's outer (non-reduced) dims, then per reduce stage and for the store the
 * reduced dims. Every expression is placed at the loop level of the deepest coordinate it
 * depends on (loop-invariant code motion), and kept in a local; values that depend on a reduce
 * stage are computed after that stage. Loads index their buffer through the view's strides
 * (+ a mask check for padded views).
 *
 * @example
 * const { func, workItems } = emitKernel(m, kernel, ctx);
 */
import type { FunctionBuilder, ModuleBuilder, FuncRef, ValType } from "./asm/index.js";
import type { Kernel, KExpr, Plan } from "../../jit/kernel/index.js";
import { View } from "../../jit/kernel/index.js";
import type { DType } from "../../jit/dtype.js";
import { itemSize, castValue } from "../../jit/dtype.js";
import { CompileError } from "../../jit/errors.js";
import { valType, emitLoad, emitStore, emitUnary, emitBinary, emitCast, emitConst, scratch, type ScalarEnv } from "./scalar.js";
import { emitAnchorValue, emitScatter } from "./anchors.js";

export interface KernelCtx extends ScalarEnv {
  readonly plan: Plan;
  /** Absolute byte address of a buffer. */
  addr(buf: number): number;
  /** Address of the i32 error slot: kernels store (kernel id + 1) there on a bad index. */
  readonly errorAddr: number;
}

type Scope = Map<KExpr, number>;

export interface EmittedKernel { readonly func: FuncRef; readonly workItems: number }

export function emitKernel(m: ModuleBuilder, k: Kernel, ctx: KernelCtx): EmittedKernel {
  const f = m.func({ params: ["i32", "i32"] }, { name: `k${k.id}` });
  if (k.anchor?.op === "scatterElements") {
    emitScatter(f, k, ctx);
    return { func: f, workItems: 1 };
  }
  const e = new LoopEmitter(f, k, ctx);
  e.emit();
  return { func: f, workItems: e.workItems };
}

class LoopEmitter {
  /** Loop dims: outer (non-reduced, extent > 1) then reduced (extent > 1). */
  readonly outer: number[];
  readonly reduced: number[];
  readonly coord: number[];
  private readonly levelOfDim = new Map<number, number>();
  private readonly levels = new Map<KExpr, { level: number; acc: boolean }>();
  private readonly scopes: Scope[] = [];
  private readonly accLocal: number[] = [];
  readonly workItems: number;

  constructor(readonly f: FunctionBuilder, readonly k: Kernel, readonly ctx: KernelCtx) {
    const R = new Set(k.reduceAxes);
    this.outer = k.shape.map((_, i) => i).filter((i) => !R.has(i) && k.shape[i]! > 1);
    // an empty reduced axis still loops (zero times), so stages keep their initial value
    this.reduced = k.reduceAxes.filter((i) => k.shape[i]! !== 1);
    [...this.outer, ...this.reduced].forEach((d, l) => this.levelOfDim.set(d, l));
    this.coord = k.shape.map(() => f.local("i32"));
    this.workItems = this.outer.length ? k.shape[this.outer[0]!]! : 1;
  }

  private get nOuter(): number { return this.outer.length; }

  /** Deepest loop level an expression depends on (-1: none), and whether it reads a stage. */
  private levelOf(e: KExpr): { level: number; acc: boolean } {
    let r = this.levels.get(e);
    if (r) return r;
    const dimsLevel = (v: View | undefined, dims: readonly (readonly [number, number])[] | undefined) => {
      let l = -1;
      this.k.shape.forEach((ext, d) => {
        if (ext <= 1) return;
        const uses = (v && v.shape[d]! > 1 && (v.strides[d] !== 0 || (v.mask && (v.mask[d]![0] > 0 || v.mask[d]![1] < v.shape[d]!))))
          || (dims && (dims[d]![0] > 0 || dims[d]![1] < ext));
        if (uses) l = Math.max(l, this.levelOfDim.get(d)!);
      });
      return l;
    };
    switch (e.op) {
      case "const": r = { level: -1, acc: false }; break;
      case "load": r = { level: dimsLevel(e.view, undefined), acc: false }; break;
      case "acc": r = { level: this.nOuter - 1, acc: true }; break;
      case "anchor": r = { level: this.nOuter + this.reduced.length - 1, acc: false }; break;
      default: {
        let level = e.op === "select" ? dimsLevel(undefined, e.mask) : -1, acc = false;
        for (const a of e.args) { const x = this.levelOf(a); level = Math.max(level, x.level); acc ||= x.acc; }
        r = { level, acc };
      }
    }
    this.levels.set(e, r);
    return r;
  }

  private cached(e: KExpr): number | undefined {
    for (let i = this.scopes.length - 1; i >= 0; i--) { const l = this.scopes[i]!.get(e); if (l !== undefined) return l; }
    return undefined;
  }

  /** Pushes e's value, computing (and caching in the current scope) what is not cached. */
  private value(e: KExpr): void {
    const f = this.f;
    const c = this.cached(e);
    if (c !== undefined) { f.local_get(c); return; }
    if (e.op === "const") { emitConst(f, e.value, e.dtype); return; }
    this.compute(e);
    const l = f.local(valType(e.dtype));
    f.local_tee(l);
    this.scopes[this.scopes.length - 1]!.set(e, l);
  }

  private compute(e: KExpr): void {
    const f = this.f, ctx = this.ctx;
    switch (e.op) {
      case "load": this.load(e.buf, e.view, e.dtype); return;
      case "acc": f.local_get(this.accLocal[e.stage]!); return;
      case "anchor": emitAnchorValue(f, this.k, this.coord, ctx); return;
      case "select": {
        this.value(e.args[0]); this.value(e.args[1]);
        this.inMask(e.mask);
        f.select();
        return;
      }
      case "where": this.value(e.args[1]!); this.value(e.args[2]!); this.value(e.args[0]!); f.select(); return;
      case "cast": this.value(e.args[0]!); emitCast(f, e.args[0]!.dtype, e.dtype, ctx); return;
      case "const": emitConst(f, e.value, e.dtype); return;
    }
    if (e.args.length === 1) { this.value(e.args[0]!); emitUnary(f, e.op, e.args[0]!.dtype, ctx); return; }
    this.value(e.args[0]!); this.value(e.args[1]!);
    emitBinary(f, e.op, e.args[0]!.dtype, ctx);
  }

  /** Pushes an i32: 1 when every coordinate is inside the ranges. */
  private inMask(mask: readonly (readonly [number, number])[]): void {
    const f = this.f;
    let any = false;
    mask.forEach(([lo, hi], d) => {
      const ext = this.k.shape[d]!;
      if (lo <= 0 && hi >= ext) return;
      // (c - lo) <u (hi - lo) tests lo <= c < hi in one comparison
      if (ext <= 1) f.i32_const(0 >= lo && 0 < hi ? 1 : 0);
      else f.local_get(this.coord[d]!).i32_const(lo).i32_sub().i32_const(Math.max(hi - lo, 0)).i32_lt_u();
      if (any) f.i32_and();
      any = true;
    });
    if (!any) f.i32_const(1);
  }

  /** Pushes the element of `buf` the view maps the current coordinates to (0 outside its mask). */
  load(buf: number, v: View, d: DType): void {
    const f = this.f;
    const base = this.ctx.addr(buf), size = itemSize(d);
    const terms: [number, number][] = [];
    v.shape.forEach((ext, i) => { if (ext > 1 && v.strides[i] !== 0 && this.k.shape[i]! > 1) terms.push([this.coord[i]!, v.strides[i]! * size]); });
    const emitAddr = () => {
      f.i32_const(base + v.offset * size);
      for (const [c, s] of terms) { f.local_get(c); if (s !== 1) f.i32_const(s).i32_mul(); f.i32_add(); }
    };
    if (!v.mask) { emitAddr(); emitLoad(f, d, this.ctx); return; }
    const mask = v.mask.map(([lo, hi], i) => (v.shape[i] === 1 && this.k.shape[i]! > 1 ? [lo, hi === 0 ? 0 : this.k.shape[i]!] as const : [lo, hi] as const));
    // masked: read address `base` (always valid) when outside, then select 0
    const ok = scratch(f, "i32", 7);
    this.inMask(mask);
    f.local_set(ok);
    emitAddr();
    f.i32_const(base).local_get(ok).select();
    emitLoad(f, d, this.ctx);
    emitConst(f, 0, d);
    f.local_get(ok).select();
  }

  /** Computes and caches every expression reachable from roots whose level is `level`. */
  private hoist(roots: readonly KExpr[], level: number, withAcc: boolean): void {
    const seen = new Set<KExpr>();
    const visit = (e: KExpr) => {
      if (seen.has(e)) return;
      seen.add(e);
      const l = this.levelOf(e);
      if (l.level > level || (l.acc && !withAcc)) {
        if ("args" in e) e.args.forEach(visit);
        return;
      }
      if (l.level === level && e.op !== "const" && this.cached(e) === undefined) { this.value(e); this.f.drop(); }
    };
    roots.forEach(visit);
  }

  emit(): void {
    const f = this.f, k = this.k;
    this.scopes.push(new Map());
    // dims of extent 1 (or not looped) sit at coordinate 0
    this.coord.forEach((c) => f.i32_const(0).local_set(c));
    const roots = [...k.stages.map((s) => s.expr), k.value];
    this.hoist(roots, -1, false);
    this.outerLoop(0, roots);
  }

  private loop(dim: number, from: "start" | 0, to: number | "end", body: () => void): void {
    const f = this.f, c = this.coord[dim]!;
    if (from === "start") f.local_get(0).local_set(c); else f.i32_const(0).local_set(c);
    const exit = f.block();
    const top = f.loop();
    f.local_get(c);
    if (to === "end") f.local_get(1); else f.i32_const(to);
    f.i32_ge_s().br_if(exit);
    this.scopes.push(new Map());
    body();
    this.scopes.pop();
    f.local_get(c).i32_const(1).i32_add().local_set(c).br(top);
    f.end().end();
  }

  private outerLoop(level: number, roots: readonly KExpr[]): void {
    if (level === this.nOuter) { this.phases(); return; }
    const d = this.outer[level]!;
    this.loop(d, level === 0 ? "start" : 0, level === 0 ? "end" : this.k.shape[d]!, () => {
      this.hoist(roots, level, false);
      this.outerLoop(level + 1, roots);
    });
  }

  private phases(): void {
    const f = this.f, k = this.k;
    const last = this.nOuter - 1;
    k.stages.forEach((s, i) => {
      this.hoist([s.expr], last, true);
      // accumulate in f64 (floats) like the reference, then round to the stage's dtype
      const t: ValType = valType(s.dtype) === "f32" ? "f64" : valType(s.dtype);
      const acc = f.local(t);
      const init = s.fn === "sum" ? 0 : s.fn === "prod" ? 1 : s.fn === "max" ? -Infinity : Infinity;
      // over an empty axis an integer max/min is the reference's cast of ∓inf: 0
      const empty = k.reduceAxes.some((d) => k.shape[d] === 0);
      if (t === "f64") f.f64_const(init);
      else if (empty || Number.isFinite(init)) emitConst(f, castValue(init, s.dtype), t === "i64" ? "int64" : "int32");
      else if (t === "i64") f.i64_const(s.fn === "max" ? -(2n ** 63n) : 2n ** 63n - 1n);
      else f.i32_const(s.fn === "max" ? -(2 ** 31) : 2 ** 31 - 1);
      f.local_set(acc);
      this.reducedLoop(0, [s.expr], () => {
        this.value(s.expr);
        if (t === "f64") f.f64_promote_f32();
        this.combine(s.fn, t, acc);
      });
      const out = f.local(valType(s.dtype));
      f.local_get(acc);
      if (t === "f64") {
        f.f32_demote_f64();
        if (s.dtype === "float16") this.ctx.callImport(f, "f16round");
      } else if (t === "i32" && s.dtype !== "int32") {
        // wrap narrow ints like the reference's store
        emitCast(f, "int32", s.dtype, this.ctx);
      }
      f.local_set(out);
      this.accLocal[i] = out;
    });
    this.hoist([k.value], last, true);
    const storeLoops = k.reduceAxes.length > 0 && k.outShape.every((d, i) => d === k.shape[i]);
    const store = () => {
      const size = itemSize(k.outShape.length ? this.ctx.plan.buffers[k.out]!.dtype : this.ctx.plan.buffers[k.out]!.dtype);
      const dt = this.ctx.plan.buffers[k.out]!.dtype;
      f.i32_const(this.ctx.addr(k.out));
      let st = 1;
      for (let d = k.outShape.length - 1; d >= 0; d--) {
        if (k.outShape[d]! > 1) { f.local_get(this.coord[d]!); if (st * size !== 1) f.i32_const(st * size).i32_mul(); f.i32_add(); }
        st *= k.outShape[d]!;
      }
      this.value(k.value);
      if (k.value.dtype !== dt) emitCast(f, k.value.dtype, dt, this.ctx);
      emitStore(f, dt, this.ctx);
    };
    if (storeLoops) this.reducedLoop(0, [k.value], store);
    else store();
  }

  private reducedLoop(j: number, roots: readonly KExpr[], body: () => void): void {
    if (j === this.reduced.length) { body(); return; }
    const d = this.reduced[j]!;
    this.loop(d, 0, this.k.shape[d]!, () => {
      this.hoist(roots, this.nOuter + j, true);
      this.reducedLoop(j + 1, roots, body);
    });
    this.f.i32_const(0).local_set(this.coord[d]!);
  }

  private combine(fn: string, t: ValType, acc: number): void {
    const f = this.f;
    if (fn === "sum" || fn === "prod") {
      f.local_get(acc);
      if (t === "f64") fn === "sum" ? f.f64_add() : f.f64_mul();
      else if (t === "i64") fn === "sum" ? f.i64_add() : f.i64_mul();
      else fn === "sum" ? f.i32_add() : f.i32_mul();
      f.local_set(acc);
      return;
    }
    // max/min: the first NaN sticks (v != v), else a strictly better value replaces acc
    const v = scratch(f, t, 8);
    f.local_set(v).local_get(v).local_get(acc);
    if (t === "f64") {
      f.local_get(v).local_get(acc); fn === "max" ? f.f64_gt() : f.f64_lt();
      f.local_get(v).local_get(v).f64_ne().i32_or();
    } else if (t === "i64") { f.local_get(v).local_get(acc); fn === "max" ? f.i64_gt_s() : f.i64_lt_s(); }
    else { f.local_get(v).local_get(acc); fn === "max" ? f.i32_gt_s() : f.i32_lt_s(); }
    f.select().local_set(acc);
  }
}

export function kernelError(k: Kernel): string {
  return `kernel k${k.id}`;
}

export { CompileError };
