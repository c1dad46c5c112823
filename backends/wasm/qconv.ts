/**
 * int8 convolution (a conv node with zero points: the ONNX ConvInteger / QLinearConv core) through
 * the int8 GEMM (qmatmul.ts): per image and group, `out[b, g·Og + o, p] = Σ_ck (W[g·Og + o, ck] −
 * zw[o]) · (col[b, g, ck, p] − zx)` with the weights as the constant, pre-packed A (zero points
 * per output channel) and the input patches as B. An im2col phase writes the patches of each
 * (image, channel) plane as bytes into scratch, padding with the input's zero point so that padded
 * taps contribute exactly 0; a 1×1 convolution with unit stride and no padding reads the input
 * itself as B. Groups (depthwise included) are batches of the GEMM: batch t = b·G + g uses the
 * weights of group t mod G, and the epilogue sees the real (image, channel) coordinates.
 * Runtime weights take the GEMM's runtime A when ungrouped with one zero point, else the scalar
 * path (anchors.ts).
 */
import type { ModuleBuilder, FunctionBuilder, FuncRef } from "./asm/index.js";
import type { Kernel } from "../../jit/kernel/index.js";
import { reshapeExpr } from "../../jit/kernel/index.js";
import { numel } from "../../jit/ir.js";
import { qgemmWithEpilogue, const8ThroughView, COST, type KernelCtx, type EmittedKernel } from "./kernel.js";
import type { QGemmSpec } from "./qmatmul.js";
import { forRange } from "./anchors.js";

/** The int8 GEMM form of an int8 conv kernel; undefined when it does not fit (the scalar path then takes it). */
export function emitInt8Conv(m: ModuleBuilder, k: Kernel, ctx: KernelCtx): EmittedKernel | undefined {
  const a = k.anchor;
  if (a?.op !== "conv" || !a.node.attrs.zeroB) return undefined;
  const n = a.node, at = n.attrs, xs = a.x.view.shape, ws = a.w.view.shape, os = n.shape;
  const B = xs[0]!, C = xs[1]!, O = ws[0]!, G = at.groups!, Cg = C / G, Og = O / G;
  const kernel = ws.slice(2), out = os.slice(2);
  const KK = numel(kernel), CK = Cg * KK, P = numel(out);
  const zx = at.zeroA ?? 0, zw = at.zeroB!;
  const dx = ctx.plan.buffers[a.x.buf]!.dtype, dw = ctx.plan.buffers[a.w.buf]!.dtype;
  // (fusion gives conv operands as whole contiguous buffers; im2col and the 1×1 path rely on it)
  if (!a.x.view.isContiguous) return undefined;
  const flatShape = [B, O, P];
  const value = reshapeExpr(k.value, flatShape);
  if (!value) return undefined;
  const flat: Kernel = { ...k, shape: flatShape, outShape: flatShape, value };
  // A: the weights [G][Og][CK]
  const wConst = const8ThroughView(ctx, a.w.buf, a.w.view);
  let A: QGemmSpec["a"];
  if (wConst) A = { constant: wConst, batched: G > 1, zero: zw };
  else if (G === 1 && zw.every((z) => z === zw[0]) && a.w.view.isContiguous) {
    A = { base: ctx.addr(a.w.buf), sb: 0, sm: CK, sk: 1, signed: dw === "int8", zero: zw[0]! };
  } else return undefined;
  const direct = kernel.every((d) => d === 1) && at.strides!.every((s) => s === 1) && at.pads!.every((p) => p === 0);
  const xAddr = ctx.addr(a.x.buf) + a.x.view.offset;
  const signedX = dx === "int8";
  let Bspec: QGemmSpec["b"];
  let im2col: { func: FuncRef; workItems: number; cost: number } | undefined;
  if (direct) Bspec = { base: xAddr, sb: CK * P, sk: P, sn: 1, signed: signedX, zero: [zx] };
  else {
    const col = ctx.alloc(B * C * KK * P, 64);
    im2col = emitIm2col8(m, k, ctx, col, zx);
    Bspec = { base: col, sb: CK * P, sk: P, sn: 1, signed: signedX, zero: [zx] };
  }
  // grouped: GEMM batch t = b·G + g uses group t mod G's weights (zero points per output
  // channel, i.e. per row of all groups' stacked A)
  const mm = qgemmWithEpilogue(m, flat, ctx, A, Bspec, { batch: B * G, M: Og, N: P, K: CK }, undefined, G > 1 ? G : undefined);
  if (!mm) return undefined;
  return { phases: im2col ? [im2col, ...mm.phases] : mm.phases };
}

/**
 * col[b][(c, k…)][(o…)] = x[b, c, o·s − p + k·d] (the zero point outside), as bytes; work items
 * are (b, c) planes. 2-d: each output row of a (kh, kw) column reads one input row over a range
 * known at compile time: unit stride copies it, larger strides gather it, and the edges are
 * filled with the zero point. Other ranks gather element by element with checks.
 */
function emitIm2col8(m: ModuleBuilder, k: Kernel, ctx: KernelCtx, col: number, zp: number): { func: FuncRef; workItems: number; cost: number } {
  const a = k.anchor!;
  if (a.op !== "conv") throw new Error("internal");
  const n = a.node, at = n.attrs, xs = a.x.view.shape, ws = a.w.view.shape, os = n.shape;
  const sp = xs.length - 2, C = xs[1]!;
  const kernel = ws.slice(2), out = os.slice(2), inSp = xs.slice(2);
  const KK = numel(kernel), P = numel(out), plane = numel(inSp);
  const xAddr = ctx.addr(a.x.buf) + a.x.view.offset;
  const fillByte = zp & 0xff;
  const f = m.func({ params: ["i32", "i32"] }, { name: `k${k.id}_im2col8` });
  const item = f.local("i32"), src = f.local("i32"), dst = f.local("i32");
  const loop = (l: number, cnt: number, body: () => void) => forRange(f, l, cnt, body);
  f.local_get(0).local_set(item);
  const exit = f.block(), top = f.loop();
  f.local_get(item).local_get(1).i32_ge_s().br_if(exit);
  f.i32_const(xAddr).local_get(item).i32_const(plane).i32_mul().i32_add().local_set(src);
  f.i32_const(col).local_get(item).i32_const(KK * P).i32_mul().i32_add().local_set(dst);
  if (sp === 2) {
    const [H, W] = inSp as [number, number], [KH, KW] = kernel as [number, number], [OH, OW] = out as [number, number];
    const [sh, sw] = at.strides as [number, number], [dh, dw] = at.dilations as [number, number], [pt, pl] = [at.pads![0]!, at.pads![1]!];
    const oh = f.local("i32"), ih = f.local("i32"), s0 = f.local("i32"), d0 = f.local("i32"), e0 = f.local("i32");
    for (let kh = 0; kh < KH; kh++)
      for (let kw = 0; kw < KW; kw++) {
        // valid output columns: 0 <= ow*sw + kw*dw - pl < W
        const lo = Math.min(OW, Math.max(0, Math.ceil((pl - kw * dw) / sw))), hi = Math.max(lo, Math.min(OW, Math.ceil((W + pl - kw * dw) / sw)));
        loop(oh, OH, () => {
          f.local_get(oh).i32_const(sh).i32_mul().i32_const(kh * dh - pt).i32_add().local_tee(ih);
          f.i32_const(H).i32_lt_u();
          f.if();
          if (lo > 0) { f.local_get(dst).local_set(d0); copyBytes(f, d0, -1, lo, fillByte, e0); }
          if (hi > lo && sw === 1) {
            f.local_get(dst).i32_const(lo).i32_add().local_set(d0);
            f.local_get(src).local_get(ih).i32_const(W).i32_mul().i32_add().i32_const(lo + kw * dw - pl).i32_add().local_set(s0);
            copyBytes(f, d0, s0, hi - lo, 0, e0);
          } else if (hi > lo) {
            // strided: a gather over the valid columns
            f.local_get(src).local_get(ih).i32_const(W).i32_mul().i32_add().i32_const(lo * sw + kw * dw - pl).i32_add().local_set(s0);
            f.local_get(dst).i32_const(lo).i32_add().local_set(d0);
            // stride 2: eight outputs from one 16-byte load and an even-byte shuffle, while the
            // load stays within the row's valid sources (2·(n−1) is the last one read)
            const groups = sw === 2 ? Math.floor((hi - lo - 1) / 8) : 0;
            if (groups > 0) {
              f.local_get(d0).i32_const(groups * 8).i32_add().local_set(e0);
              const tv = f.loop();
              f.local_get(d0);
              f.local_get(s0).v128_load(0, 1).local_get(s0).v128_load(0, 1);
              f.i8x16_shuffle([0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14]).v128_store64_lane(0, 0, 1);
              f.local_get(s0).i32_const(16).i32_add().local_set(s0);
              f.local_get(d0).i32_const(8).i32_add().local_tee(d0).local_get(e0).i32_ne().br_if(tv);
              f.end();
            }
            f.local_get(d0).i32_const(hi - lo - 8 * groups).i32_add().local_set(e0);
            const ex = f.block(), tp = f.loop();
            f.local_get(d0).local_get(e0).i32_ge_u().br_if(ex);
            f.local_get(d0).local_get(s0).i32_load8_u(0, 1).i32_store8(0, 1);
            f.local_get(s0).i32_const(sw).i32_add().local_set(s0);
            f.local_get(d0).i32_const(1).i32_add().local_set(d0).br(tp);
            f.end().end();
          }
          if (hi < OW) { f.local_get(dst).i32_const(hi).i32_add().local_set(d0); copyBytes(f, d0, -1, OW - hi, fillByte, e0); }
          f.else();
          f.local_get(dst).local_set(d0);
          copyBytes(f, d0, -1, OW, fillByte, e0);
          f.end();
          f.local_get(dst).i32_const(OW).i32_add().local_set(dst);
        });
      }
  } else {
    const kl = kernel.map(() => f.local("i32")), ol = out.map(() => f.local("i32")), pos = out.map(() => f.local("i32"));
    const inStr = inSp.map((_, i) => numel(inSp.slice(i + 1)));
    const kernelLoops = (d: number): void => {
      if (d === sp) { outLoops(0); return; }
      loop(kl[d]!, kernel[d]!, () => kernelLoops(d + 1));
    };
    const outLoops = (d: number): void => {
      if (d === sp) {
        f.local_get(dst);
        let any = false;
        for (let i = 0; i < sp; i++) { f.local_get(pos[i]!).i32_const(inSp[i]!).i32_lt_u(); if (any) f.i32_and(); any = true; }
        f.if("i32");
        f.local_get(src);
        for (let i = 0; i < sp; i++) f.local_get(pos[i]!).i32_const(inStr[i]!).i32_mul().i32_add();
        f.i32_load8_u(0, 1);
        f.else().i32_const(fillByte).end();
        f.i32_store8(0, 1);
        f.local_get(dst).i32_const(1).i32_add().local_set(dst);
        return;
      }
      loop(ol[d]!, out[d]!, () => {
        f.local_get(ol[d]!).i32_const(at.strides![d]!).i32_mul().local_get(kl[d]!).i32_const(at.dilations![d]!).i32_mul().i32_add().i32_const(at.pads![d]!).i32_sub().local_set(pos[d]!);
        outLoops(d + 1);
      });
    };
    kernelLoops(0);
  }
  f.local_get(item).i32_const(1).i32_add().local_set(item).br(top);
  f.end().end();
  return { func: f, workItems: xs[0]! * C, cost: xs[0]! * C * KK * P * COST.copy / 4 };
}

/**
 * Inline copy of `bytes` (a compile-time count) from the address in local `s` to the one in local
 * `d` (s < 0: fills with the byte `fill` instead): v128 chunks unrolled up to 8, else a loop that
 * advances `s` and `d` (clobbered; `end` is a scratch local), then 8/4/2/1-byte tails.
 */
function copyBytes(f: FunctionBuilder, d: number, s: number, bytes: number, fill: number, end: number): void {
  const src = s >= 0;
  const nv = Math.floor(bytes / 16);
  const splat = () => f.i32_const(fill).i8x16_splat();
  let base = 0;
  if (nv <= 8) {
    for (let i = 0; i < nv; i++) { f.local_get(d); if (src) f.local_get(s).v128_load(i * 16, 1); else splat(); f.v128_store(i * 16, 1); }
    base = nv * 16;
  } else {
    f.local_get(d).i32_const(nv * 16).i32_add().local_set(end);
    const top = f.loop();
    f.local_get(d); if (src) f.local_get(s).v128_load(0, 1); else splat(); f.v128_store(0, 1);
    if (src) f.local_get(s).i32_const(16).i32_add().local_set(s);
    f.local_get(d).i32_const(16).i32_add().local_tee(d).local_get(end).i32_ne().br_if(top);
    f.end();
  }
  let rem = bytes - nv * 16;
  const word = (size: 8 | 4 | 2 | 1) => {
    f.local_get(d);
    if (size === 8) { if (src) f.local_get(s).i64_load(base, 1); else f.i64_const(BigInt.asIntN(64, BigInt(fill) * 0x0101010101010101n)); f.i64_store(base, 1); }
    else if (size === 4) { if (src) f.local_get(s).i32_load(base, 1); else f.i32_const((fill * 0x01010101) | 0); f.i32_store(base, 1); }
    else if (size === 2) { if (src) f.local_get(s).i32_load16_u(base, 1); else f.i32_const(fill * 0x0101); f.i32_store16(base, 1); }
    else { if (src) f.local_get(s).i32_load8_u(base, 1); else f.i32_const(fill); f.i32_store8(base, 1); }
    base += size; rem -= size;
  };
  for (const size of [8, 4, 2, 1] as const) if (rem >= size) word(size);
}
