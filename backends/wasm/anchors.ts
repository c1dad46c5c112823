/**
 * Anchor ops in scalar WebAssembly: the value of matmul, conv, convTranspose, pool, gather,
 * gatherElements, argreduce and cumsum at one output coordinate (the kernel's epilogue then
 * consumes it), and scatterElements as a copy-then-scatter kernel. Floats accumulate in f64
 * like the reference. Bad indices store the kernel id in the error slot and read element 0.
 *
 * int8 GEMM nodes (matmul/conv with zero points) load each operand with its own dtype, subtract
 * the zero points and accumulate in wrapping i32, exactly like the reference.
 *
 * These are the general, always-correct paths; large float matmuls and convolutions take the
 * blocked SIMD kernels instead (see matmul.ts), int8 GEMMs the int8 kernels (qmatmul.ts, qconv.ts).
 */
import type { FunctionBuilder } from "./asm/index.js";
import type { Kernel, Operand } from "../../jit/kernel/index.js";
import { numel, stridesOf, type Node } from "../../jit/ir.js";
import { itemSize, isFloat, type DType } from "../../jit/dtype.js";
import { CompileError } from "../../jit/errors.js";
import { valType, emitLoad, emitStore, emitCast, scratch } from "./scalar.js";
import type { KernelCtx } from "./kernel.js";

/** An address term: local index times a byte stride, or a constant. */
type Term = { local: number; scale: number } | { imm: number };

function emitAddr(f: FunctionBuilder, base: number, terms: readonly Term[]): void {
  let imm = base;
  for (const t of terms) if ("imm" in t) imm += t.imm;
  f.i32_const(imm);
  for (const t of terms) if ("local" in t && t.scale !== 0) { f.local_get(t.local); if (t.scale !== 1) f.i32_const(t.scale).i32_mul(); f.i32_add(); }
}

/** Address terms of operand element at coordinate locals (one per operand dim; undefined = 0). */
function operandTerms(o: Operand, coords: readonly (number | undefined)[], size: number): Term[] {
  const t: Term[] = [{ imm: o.view.offset * size }];
  coords.forEach((c, i) => { if (c !== undefined && o.view.shape[i]! > 1 && o.view.strides[i] !== 0) t.push({ local: c, scale: o.view.strides[i]! * size }); });
  return t;
}

/**
 * Emits `for (l = from; l < to; l += step) body()`. `from`/`to` are constants or emitters
 * pushing an i32 (defaults: from 0, step 1).
 */
export function forRange(f: FunctionBuilder, l: number, to: number | (() => void), body: () => void,
  from: number | (() => void) = 0, step = 1): void {
  if (typeof from === "number") f.i32_const(from); else from();
  f.local_set(l);
  const exit = f.block();
  const top = f.loop();
  f.local_get(l);
  if (typeof to === "number") f.i32_const(to); else to();
  f.i32_ge_s().br_if(exit);
  body();
  f.local_get(l).i32_const(step).i32_add().local_set(l).br(top);
  f.end().end();
}

/** Accumulator type for a dtype: f64 for floats, i64 for integers. */
const accType = (d: DType) => (isFloat(d) ? "f64" : "i64");

function toAcc(f: FunctionBuilder, d: DType): void {
  const t = valType(d);
  if (t === "f32") f.f64_promote_f32(); else if (t === "i32") f.i64_extend_i32_s();
}
function fromAcc(f: FunctionBuilder, d: DType, ctx: KernelCtx): void {
  if (isFloat(d)) { f.f32_demote_f64(); if (d === "float16") ctx.callImport(f, "f16round"); }
  else if (d !== "int64") { f.i32_wrap_i64(); emitCast(f, "int32", d, ctx); }
}

/** Pushes an index value (int32/int64 element) as i32, normalized and bounds-checked. */
function emitIndex(f: FunctionBuilder, dt: DType, dim: number, ctx: KernelCtx, k: Kernel): void {
  const i = scratch(f, "i64", 11), orig = scratch(f, "i64", 18);
  if (dt === "int64") f.local_tee(orig).local_set(i); else f.i64_extend_i32_s().local_tee(orig).local_set(i);
  // negative counts from the end
  f.local_get(i).i64_const(BigInt(dim)).i64_add().local_get(i).local_get(i).i64_const(0n).i64_lt_s().select().local_tee(i);
  f.i64_const(BigInt(dim)).i64_ge_u();
  f.if();
  // report (kernel, index as given, dimension) and read element 0 instead
  f.i32_const(ctx.errorAddr).i32_const(k.id + 1).i32_store(0, 4);
  f.i32_const(ctx.errorAddr + 4).local_get(orig).i32_wrap_i64().i32_store(0, 4);
  f.i32_const(ctx.errorAddr + 8).i32_const(dim).i32_store(0, 4);
  f.i64_const(0n).local_set(i);
  f.end();
  f.local_get(i).i32_wrap_i64();
}

/** Pushes the anchor's value at the kernel's current coordinates (`coord`, one local per dim). */
/**
 * Work per output element of an anchor's scalar value form (loop iterations of its inner loop),
 * for the per-kernel cost estimate that decides whether threads are worth waking (index.ts).
 */
export function anchorWork(k: Kernel): number {
  const a = k.anchor;
  if (!a) return 0;
  switch (a.op) {
    case "matmul": return a.a.view.shape[a.a.view.shape.length - 1]!;
    case "conv": return numel(a.w.view.shape.slice(1));
    case "convTranspose": return numel(a.w.view.shape.slice(2)) * a.x.view.shape[1]! / (a.node.attrs.groups ?? 1);
    case "pool": return numel(a.node.attrs.kernel ?? [1]);
    case "argreduce": case "cumsum": return a.x.view.shape[a.node.attrs.axis!] ?? 1;
    default: return 1;
  }
}

export function emitAnchorValue(f: FunctionBuilder, k: Kernel, coord: readonly number[], ctx: KernelCtx): void {
  const a = k.anchor!;
  const n = a.node;
  switch (a.op) {
    case "matmul": return matmul(f, n, a.a, a.b, coord, ctx);
    case "conv": return conv(f, n, a.x, a.w, coord, ctx, false);
    case "convTranspose": return conv(f, n, a.x, a.w, coord, ctx, true);
    case "pool": return pool(f, n, a.x, coord, ctx);
    case "gather": return gather(f, k, n, a.x, a.index, coord, ctx);
    case "gatherElements": return gatherElements(f, k, n, a.x, a.index, coord, ctx);
    case "argreduce": return argreduce(f, n, a.x, coord, ctx);
    case "cumsum": return cumsum(f, n, a.x, coord, ctx);
  }
  throw new CompileError(`wasm: anchor ${a.op} has no value form`, { op: a.op });
}

/**
 * Zero points of an int8 GEMM operand: pushes `zero[idx]` (i32) where `idx` is the local holding
 * the column (matmul) or output channel (conv); one entry is a constant, more a table in memory.
 */
const zeroTables = new WeakMap<KernelCtx, Map<readonly number[], number>>();
function pushZero(f: FunctionBuilder, zero: readonly number[], idx: number, ctx: KernelCtx): void {
  if (zero.length === 1 || zero.every((z) => z === zero[0])) { f.i32_const(zero[0]! | 0); return; }
  let tables = zeroTables.get(ctx);
  if (!tables) zeroTables.set(ctx, (tables = new Map()));
  let addr = tables.get(zero);
  if (addr === undefined) {
    const t = Int32Array.from(zero);
    addr = ctx.alloc(t.byteLength, 4, new Uint8Array(t.buffer));
    tables.set(zero, addr);
  }
  f.local_get(idx).i32_const(2).i32_shl().i32_load(addr, 4);
}

/**
 * An int8 GEMM term: `acc += (x − zx) · (w − zw)` in wrapping i32 arithmetic (every product fits:
 * |x − zx|, |w − zw| ≤ 255), with the two addresses pushed by `xAddr`/`wAddr`, each operand
 * loaded with its own dtype.
 */
function int8Term(f: FunctionBuilder, acc: number, xAddr: () => void, xd: DType, zx: number, wAddr: () => void, wd: DType, zw: number, ctx: KernelCtx): void {
  f.local_get(acc);
  xAddr(); emitLoad(f, xd, ctx);
  if (zx) f.i32_const(zx).i32_sub();
  wAddr(); emitLoad(f, wd, ctx);
  f.local_get(zw).i32_sub();
  f.i32_mul().i32_add().local_set(acc);
}

/** Dtype of an operand's buffer (an int8 GEMM's operands each have their own). */
const operandDtype = (o: Operand, ctx: KernelCtx): DType => ctx.plan.buffers[o.buf]!.dtype;

function matmul(f: FunctionBuilder, n: Node, A: Operand, B: Operand, coord: readonly number[], ctx: KernelCtx): void {
  if (n.attrs.zeroB) return int8Matmul(f, n, A, B, coord, ctx);
  const r = n.shape.length, d = n.dtype, size = itemSize(d), K = A.view.shape[r - 1]!;
  const kk = scratch(f, "i32", 12), acc = f.local(accType(d));
  accType(d) === "f64" ? f.f64_const(0) : f.i64_const(0n);
  f.local_set(acc);
  const ac = [...coord.slice(0, r - 1), kk], bc = [...coord.slice(0, r - 2), kk, coord[r - 1]!];
  forRange(f, kk, K, () => {
    emitAddr(f, ctx.addr(A.buf), operandTerms(A, ac, size)); emitLoad(f, d, ctx); toAcc(f, d);
    emitAddr(f, ctx.addr(B.buf), operandTerms(B, bc, size)); emitLoad(f, d, ctx); toAcc(f, d);
    accType(d) === "f64" ? f.f64_mul() : f.i64_mul();
    f.local_get(acc);
    accType(d) === "f64" ? f.f64_add() : f.i64_add();
    f.local_set(acc);
  });
  f.local_get(acc);
  fromAcc(f, d, ctx);
}

/** int8 GEMM matmul (zero points set): Σ_k (A[…, m, k] − zeroA)(B[…, k, n] − zeroB[n]) in i32. */
function int8Matmul(f: FunctionBuilder, n: Node, A: Operand, B: Operand, coord: readonly number[], ctx: KernelCtx): void {
  const r = n.shape.length, K = A.view.shape[r - 1]!;
  const da = operandDtype(A, ctx), db = operandDtype(B, ctx), sa = itemSize(da), sb = itemSize(db);
  const kk = scratch(f, "i32", 12), acc = f.local("i32"), zb = f.local("i32");
  pushZero(f, n.attrs.zeroB!, coord[r - 1]!, ctx);
  f.local_set(zb);
  f.i32_const(0).local_set(acc);
  const ac = [...coord.slice(0, r - 1), kk], bc = [...coord.slice(0, r - 2), kk, coord[r - 1]!];
  forRange(f, kk, K, () => int8Term(f, acc,
    () => emitAddr(f, ctx.addr(A.buf), operandTerms(A, ac, sa)), da, n.attrs.zeroA ?? 0,
    () => emitAddr(f, ctx.addr(B.buf), operandTerms(B, bc, sb)), db, zb, ctx));
  f.local_get(acc);
}

/**
 * conv: out[b, oc, o…] = Σ_{ic<Cg, k…} x[b, g·Cg+ic, o·s + k·d − p] · w[oc, ic, k…]
 * convTranspose (gather form): out[b, oc, o…] = Σ_{ic<Cg, k…} x[b, g·Cg+ic, (o + p − k·d)/s] · w[g·Cg+ic, oc mod Og, k…]
 * over the terms where the division is exact and in range.
 */
function conv(f: FunctionBuilder, n: Node, X: Operand, W: Operand, coord: readonly number[], ctx: KernelCtx, transposed: boolean): void {
  const a = n.attrs, d = n.dtype;
  // int8 GEMM (conv with zero points): each operand in its own dtype, i32 accumulation; a
  // padded position is skipped, which is what padding with the zero point contributes
  const q = !transposed && !!a.zeroB;
  const xd = q ? operandDtype(X, ctx) : d, wd = q ? operandDtype(W, ctx) : d;
  const xsz = itemSize(xd), wsz = itemSize(wd);
  const xs = X.view.shape, ws = W.view.shape, sp = xs.length - 2, G = a.groups!;
  const Cg = transposed ? xs[1]! / G : ws[1]!, Og = transposed ? ws[1]! : ws[0]! / G;
  const xst = stridesOf(xs), wst = stridesOf(ws);
  const acc = f.local(q ? "i32" : accType(d)), ic = f.local("i32"), g = f.local("i32"), ocl = f.local("i32");
  const kl = Array.from({ length: sp }, () => f.local("i32")), pos = Array.from({ length: sp }, () => f.local("i32"));
  const zw = q ? f.local("i32") : -1;
  if (q) { pushZero(f, a.zeroB!, coord[1]!, ctx); f.local_set(zw); f.i32_const(0); }
  else accType(d) === "f64" ? f.f64_const(0) : f.i64_const(0n);
  f.local_set(acc);
  f.local_get(coord[1]!).i32_const(Og).i32_div_s().local_set(g);
  f.local_get(coord[1]!).i32_const(Og).i32_rem_s().local_set(ocl);
  forRange(f, ic, Cg, () => {
    const window = (dim: number): void => {
      if (dim === sp) {
        // x[b, g*Cg+ic, pos…]
        const xAddr = () => {
          f.i32_const(ctx.addr(X.buf) + X.view.offset * xsz);
          f.local_get(coord[0]!).i32_const(xst[0]! * xsz).i32_mul().i32_add();
          f.local_get(g).i32_const(Cg).i32_mul().local_get(ic).i32_add().i32_const(xst[1]! * xsz).i32_mul().i32_add();
          for (let i = 0; i < sp; i++) f.local_get(pos[i]!).i32_const(xst[i + 2]! * xsz).i32_mul().i32_add();
        };
        const wAddr = () => {
          f.i32_const(ctx.addr(W.buf) + W.view.offset * wsz);
          if (transposed) {
            f.local_get(g).i32_const(Cg).i32_mul().local_get(ic).i32_add().i32_const(wst[0]! * wsz).i32_mul().i32_add();
            f.local_get(ocl).i32_const(wst[1]! * wsz).i32_mul().i32_add();
          } else {
            f.local_get(coord[1]!).i32_const(wst[0]! * wsz).i32_mul().i32_add();
            f.local_get(ic).i32_const(wst[1]! * wsz).i32_mul().i32_add();
          }
          for (let i = 0; i < sp; i++) f.local_get(kl[i]!).i32_const(wst[i + 2]! * wsz).i32_mul().i32_add();
        };
        if (q) { int8Term(f, acc, xAddr, xd, a.zeroA ?? 0, wAddr, wd, zw, ctx); return; }
        xAddr(); emitLoad(f, d, ctx); toAcc(f, d);
        wAddr(); emitLoad(f, d, ctx); toAcc(f, d);
        accType(d) === "f64" ? f.f64_mul() : f.i64_mul();
        f.local_get(acc);
        accType(d) === "f64" ? f.f64_add() : f.i64_add();
        f.local_set(acc);
        return;
      }
      forRange(f, kl[dim]!, ws[dim + 2]!, () => {
        const s = a.strides![dim]!, dl = a.dilations![dim]!, p = a.pads![dim]!;
        if (!transposed) {
          f.local_get(coord[dim + 2]!).i32_const(s).i32_mul().local_get(kl[dim]!).i32_const(dl).i32_mul().i32_add().i32_const(p).i32_sub().local_tee(pos[dim]!);
        } else {
          // t = o + p - k*d must be a multiple of s, and t/s in range
          const t = scratch(f, "i32", 13);
          f.local_get(coord[dim + 2]!).i32_const(p).i32_add().local_get(kl[dim]!).i32_const(dl).i32_mul().i32_sub().local_tee(t);
          f.i32_const(s).i32_rem_s().if(); f.else();
          f.local_get(t).i32_const(s).i32_div_s().local_set(pos[dim]!);
          f.end();
          // a remainder makes the position invalid: force it out of range
          f.local_get(t).i32_const(s).i32_rem_s().if(); f.i32_const(-1).local_set(pos[dim]!); f.end();
          f.local_get(pos[dim]!);
        }
        f.i32_const(xs[dim + 2]!).i32_lt_u();
        f.if();
        window(dim + 1);
        f.end();
      });
    };
    window(0);
  });
  f.local_get(acc);
  if (!q) fromAcc(f, d, ctx);
}

function pool(f: FunctionBuilder, n: Node, X: Operand, coord: readonly number[], ctx: KernelCtx): void {
  const a = n.attrs, d = n.dtype, size = itemSize(d), xs = X.view.shape, sp = xs.length - 2, xst = stridesOf(xs);
  const isMax = a.fn === "maxpool";
  const acc = f.local("f64"), cnt = f.local("i32"), padCnt = f.local("i32");
  const kl = Array.from({ length: sp }, () => f.local("i32")), pos = Array.from({ length: sp }, () => f.local("i32"));
  f.f64_const(isMax ? -Infinity : 0).local_set(acc).i32_const(0).local_set(cnt).i32_const(0).local_set(padCnt);
  const window = (dim: number): void => {
    if (dim === sp) {
      f.local_get(padCnt).i32_const(1).i32_add().local_set(padCnt);
      // inside the input?
      let any = false;
      for (let i = 0; i < sp; i++) { f.local_get(pos[i]!).i32_const(xs[i + 2]!).i32_lt_u(); if (any) f.i32_and(); any = true; }
      f.if();
      f.i32_const(ctx.addr(X.buf) + X.view.offset * size);
      f.local_get(coord[0]!).i32_const(xst[0]! * size).i32_mul().i32_add();
      f.local_get(coord[1]!).i32_const(xst[1]! * size).i32_mul().i32_add();
      for (let i = 0; i < sp; i++) f.local_get(pos[i]!).i32_const(xst[i + 2]! * size).i32_mul().i32_add();
      emitLoad(f, d, ctx); toAcc(f, d);
      if (!isFloat(d)) f.f64_convert_i64_s(); // pools accumulate in f64: exact for int32, int64 to 2^53
      if (isMax) {
        const v = scratch(f, "f64", 14);
        f.local_tee(v).local_get(acc);
        f.local_get(v).local_get(acc).f64_gt().local_get(v).local_get(v).f64_ne().i32_or().select().local_set(acc);
      } else f.local_get(acc).f64_add().local_set(acc);
      f.local_get(cnt).i32_const(1).i32_add().local_set(cnt);
      f.end();
      return;
    }
    forRange(f, kl[dim]!, a.kernel![dim]!, () => {
      f.local_get(coord[dim + 2]!).i32_const(a.strides![dim]!).i32_mul().local_get(kl[dim]!).i32_const(a.dilations![dim]!).i32_mul().i32_add().i32_const(a.pads![dim]!).i32_sub().local_tee(pos[dim]!);
      // within the padded extent (for count_include_pad)?
      f.i32_const(a.pads![dim]!).i32_add().i32_const(xs[dim + 2]! + a.pads![dim]! + a.pads![dim + sp]!).i32_lt_u();
      f.if();
      window(dim + 1);
      f.end();
    });
  };
  // Interior windows (every tap inside the input, the common case) take an unrolled path with
  // constant tap offsets and no bounds checks; border windows take the checked loops above.
  const taps = a.kernel!.reduce((x, y) => x * y, 1);
  const interior = taps <= 64 && d !== "float16" && a.kernel!.every((k, i) => xs[i + 2]! - (k - 1) * a.dilations![i]! > 0);
  if (interior) {
    const base = scratch(f, "i32", 13);
    for (let i = 0; i < sp; i++) {
      // 0 <= c·s − p  and  c·s − p + (k−1)·dil < size
      f.local_get(coord[i + 2]!).i32_const(a.strides![i]!).i32_mul().i32_const(a.pads![i]!).i32_sub().local_tee(pos[i]!);
      f.i32_const(xs[i + 2]! - (a.kernel![i]! - 1) * a.dilations![i]!).i32_lt_u(); // unsigned: also checks >= 0
      if (i) f.i32_and();
    }
    f.if();
    f.i32_const(ctx.addr(X.buf) + X.view.offset * size);
    f.local_get(coord[0]!).i32_const(xst[0]! * size).i32_mul().i32_add();
    f.local_get(coord[1]!).i32_const(xst[1]! * size).i32_mul().i32_add();
    for (let i = 0; i < sp; i++) f.local_get(pos[i]!).i32_const(xst[i + 2]! * size).i32_mul().i32_add();
    f.local_set(base);
    const tapOffset = (t: number): number => {
      let off = 0, r = t;
      for (let i = sp - 1; i >= 0; i--) { off += (r % a.kernel![i]!) * a.dilations![i]! * xst[i + 2]! * size; r = Math.floor(r / a.kernel![i]!); }
      return off;
    };
    if (isMax && d === "float32") {
      // max over float32 bit patterns mapped to order-preserving i32 keys: i32 compare+select
      // lowers to a conditional move, where f64 compare+select (and f64.max) branch; NaN is
      // tracked on the side so it still wins
      const key = scratch(f, "i32", 16), best = scratch(f, "i32", 17), nan = scratch(f, "i32", 19);
      f.i32_const(-2147483648).local_set(best).i32_const(0).local_set(nan);
      for (let t = 0; t < taps; t++) {
        f.local_get(base).i32_load(tapOffset(t), 4).local_tee(key);
        f.i32_const(0x7fffffff).i32_and().i32_const(0x7f800000).i32_gt_u().local_get(nan).i32_or().local_set(nan);
        f.local_get(key).local_get(key).i32_const(31).i32_shr_s().i32_const(0x7fffffff).i32_and().i32_xor().local_tee(key);
        f.local_get(best).local_get(key).local_get(best).i32_gt_s().select().local_set(best);
      }
      f.local_get(best).local_get(best).i32_const(31).i32_shr_s().i32_const(0x7fffffff).i32_and().i32_xor().f32_reinterpret_i32().f64_promote_f32();
      f.f64_const(NaN).local_get(nan).i32_eqz().select().local_set(acc);
    } else for (let t = 0; t < taps; t++) {
      f.local_get(base).i32_const(tapOffset(t)).i32_add();
      emitLoad(f, d, ctx); toAcc(f, d);
      if (!isFloat(d)) f.f64_convert_i64_s();
      if (isMax) {
        const v = scratch(f, "f64", 14);
        f.local_tee(v).local_get(acc);
        f.local_get(v).local_get(acc).f64_gt().local_get(v).local_get(v).f64_ne().i32_or().select().local_set(acc);
      } else f.local_get(acc).f64_add().local_set(acc);
    }
    f.i32_const(taps).local_tee(cnt).local_set(padCnt);
    f.else();
  }
  window(0);
  if (interior) f.end();
  f.local_get(acc);
  if (!isMax) { f.local_get(a.countIncludePad ? padCnt : cnt).f64_convert_i32_s().f64_div(); }
  if (!isFloat(d)) f.i64_trunc_sat_f64_s(); // truncates, as the reference's cast does
  fromAcc(f, d, ctx);
}

function gather(f: FunctionBuilder, k: Kernel, n: Node, X: Operand, I: Operand, coord: readonly number[], ctx: KernelCtx): void {
  const ax = n.attrs.axis!, xs = X.view.shape, is = I.view.shape, d = n.dtype, size = itemSize(d);
  const idt = n.inputs[1]!.dtype, isz = itemSize(idt);
  const xst = stridesOf(xs), ist = stridesOf(is);
  const j = scratch(f, "i32", 15);
  // index element at out coords [ax, ax + rank(indices))
  f.i32_const(ctx.addr(I.buf) + I.view.offset * isz);
  is.forEach((_, t) => { f.local_get(coord[ax + t]!).i32_const(ist[t]! * isz).i32_mul().i32_add(); });
  emitLoad(f, idt, ctx);
  emitIndex(f, idt, xs[ax]!, ctx, k);
  f.local_set(j);
  f.i32_const(ctx.addr(X.buf) + X.view.offset * size);
  for (let t = 0; t < xs.length; t++) {
    const c = t < ax ? coord[t]! : t === ax ? j : coord[t - 1 + is.length]!;
    f.local_get(c).i32_const(xst[t]! * size).i32_mul().i32_add();
  }
  emitLoad(f, d, ctx);
}

function gatherElements(f: FunctionBuilder, k: Kernel, n: Node, X: Operand, I: Operand, coord: readonly number[], ctx: KernelCtx): void {
  const ax = n.attrs.axis!, xs = X.view.shape, d = n.dtype, size = itemSize(d), idt = n.inputs[1]!.dtype, isz = itemSize(idt);
  const xst = stridesOf(xs), ist = stridesOf(I.view.shape);
  const j = scratch(f, "i32", 15);
  f.i32_const(ctx.addr(I.buf) + I.view.offset * isz);
  coord.forEach((c, t) => { f.local_get(c).i32_const(ist[t]! * isz).i32_mul().i32_add(); });
  emitLoad(f, idt, ctx);
  emitIndex(f, idt, xs[ax]!, ctx, k);
  f.local_set(j);
  f.i32_const(ctx.addr(X.buf) + X.view.offset * size);
  coord.forEach((c, t) => { f.local_get(t === ax ? j : c).i32_const(xst[t]! * size).i32_mul().i32_add(); });
  emitLoad(f, d, ctx);
}

function argreduce(f: FunctionBuilder, n: Node, X: Operand, coord: readonly number[], ctx: KernelCtx): void {
  const ax = n.attrs.axis!, xs = X.view.shape, xd = n.inputs[0]!.dtype, size = itemSize(xd), xst = stridesOf(xs);
  const isMax = n.attrs.fn === "argmax", last = !!n.attrs.selectLast;
  const t = valType(xd) === "f32" ? "f64" : valType(xd) === "i64" ? "i64" : "i64";
  const best = f.local(t), bi = f.local("i32"), kk = f.local("i32"), v = f.local(t);
  const addr = () => {
    f.i32_const(ctx.addr(X.buf) + X.view.offset * size);
    coord.forEach((c, i) => { f.local_get(i === ax ? kk : c).i32_const(xst[i]! * size).i32_mul().i32_add(); });
    emitLoad(f, xd, ctx); toAcc(f, xd);
  };
  f.i32_const(0).local_set(kk); addr(); f.local_set(best); f.i32_const(0).local_set(bi);
  const exit = f.block();
  forRange(f, kk, xs[ax]!, () => {
    if (t === "f64") { f.local_get(best).local_get(best).f64_ne().br_if(exit); } // the first NaN wins
    addr(); f.local_set(v);
    f.local_get(v).local_get(best);
    if (t === "f64") {
      if (isMax) last ? f.f64_ge() : f.f64_gt(); else last ? f.f64_le() : f.f64_lt();
      f.local_get(v).local_get(v).f64_ne().i32_or();
    } else if (isMax) last ? f.i64_ge_s() : f.i64_gt_s(); else last ? f.i64_le_s() : f.i64_lt_s();
    f.if(); f.local_get(v).local_set(best).local_get(kk).local_set(bi); f.end();
  });
  f.end();
  f.local_get(bi).i64_extend_i32_u();
}

function cumsum(f: FunctionBuilder, n: Node, X: Operand, coord: readonly number[], ctx: KernelCtx): void {
  const ax = n.attrs.axis!, xs = X.view.shape, d = n.dtype, size = itemSize(d), xst = stridesOf(xs), len = xs[ax]!;
  const ex = !!n.attrs.exclusive, rev = !!n.attrs.reverse;
  const acc = f.local(accType(d)), kk = f.local("i32");
  accType(d) === "f64" ? f.f64_const(0) : f.i64_const(0n);
  f.local_set(acc);
  // forward: k from 0 to c (exclusive: < c); reverse: from c (exclusive: c+1) to len-1
  forRange(f, kk, len, () => {
    f.local_get(kk).local_get(coord[ax]!);
    if (!rev) ex ? f.i32_lt_s() : f.i32_le_s(); else ex ? f.i32_gt_s() : f.i32_ge_s();
    f.if();
    f.i32_const(ctx.addr(X.buf) + X.view.offset * size);
    coord.forEach((c, i) => { f.local_get(i === ax ? kk : c).i32_const(xst[i]! * size).i32_mul().i32_add(); });
    emitLoad(f, d, ctx); toAcc(f, d);
    f.local_get(acc);
    accType(d) === "f64" ? f.f64_add() : f.i64_add();
    f.local_set(acc);
    f.end();
  });
  f.local_get(acc);
  fromAcc(f, d, ctx);
}

/** scatterElements: copy the data, then write (or combine) each update at its index. */
export function emitScatter(f: FunctionBuilder, k: Kernel, ctx: KernelCtx): void {
  const a = k.anchor!;
  if (a.op !== "scatterElements") throw new Error("internal");
  const n = a.node, d = n.dtype, size = itemSize(d), ax = n.attrs.axis!, red = n.attrs.reduction ?? "none";
  const xs = n.shape, is = a.index.view.shape, idt = n.inputs[1]!.dtype, isz = itemSize(idt);
  const xst = stridesOf(xs), ist = stridesOf(is);
  const out = ctx.addr(k.out), total = numel(xs);
  const i = f.local("i32");
  forRange(f, i, total, () => {
    f.i32_const(out).local_get(i).i32_const(size).i32_mul().i32_add();
    f.i32_const(ctx.addr(a.x.buf) + a.x.view.offset * size).local_get(i).i32_const(size).i32_mul().i32_add();
    emitLoad(f, d, ctx);
    emitStore(f, d, ctx);
  });
  const c = is.map(() => f.local("i32")), j = f.local("i32"), flat = f.local("i32");
  const body = (dim: number): void => {
    if (dim === is.length) {
      f.i32_const(ctx.addr(a.index.buf) + a.index.view.offset * isz);
      c.forEach((cl, t) => { f.local_get(cl).i32_const(ist[t]! * isz).i32_mul().i32_add(); });
      emitLoad(f, idt, ctx);
      emitIndex(f, idt, xs[ax]!, ctx, k);
      f.local_set(j);
      // address of the target element
      f.i32_const(out);
      c.forEach((cl, t) => { f.local_get(t === ax ? j : cl).i32_const(xst[t]! * size).i32_mul().i32_add(); });
      f.local_tee(flat);
      if (red !== "none") { f.local_get(flat); emitLoad(f, d, ctx); }
      f.i32_const(ctx.addr(a.updates.buf) + a.updates.view.offset * size);
      c.forEach((cl, t) => { f.local_get(cl).i32_const(ist[t]! * size).i32_mul().i32_add(); });
      emitLoad(f, d, ctx);
      if (red !== "none") {
        const t = valType(d);
        const op = red === "add" ? "add" : red === "mul" ? "mul" : red;
        if (t === "f32") ({ add: () => f.f32_add(), mul: () => f.f32_mul(), max: () => f.f32_max(), min: () => f.f32_min() } as Record<string, () => void>)[op]!();
        else {
          const y = scratch(f, t, 16), x = scratch(f, t, 17);
          f.local_set(y).local_set(x).local_get(x).local_get(y);
          if (op === "add") t === "i64" ? f.i64_add() : f.i32_add();
          else if (op === "mul") t === "i64" ? f.i64_mul() : f.i32_mul();
          else { f.local_get(x).local_get(y); op === "max" ? (t === "i64" ? f.i64_gt_s() : f.i32_gt_s()) : (t === "i64" ? f.i64_lt_s() : f.i32_lt_s()); f.select(); }
          if (t === "i32") emitCast(f, "int32", d, ctx);
        }
        if (d === "float16") ctx.callImport(f, "f16round");
      }
      emitStore(f, d, ctx);
      return;
    }
    forRange(f, c[dim]!, is[dim]!, () => body(dim + 1));
  };
  body(0);
}
