/**
 * Float32 convolution through the blocked matmul: an im2col phase writes the input patches of
 * each image as a [C·k…, out…] matrix into scratch, then `out[b] = W[O, C·k…] @ col[b]` runs on
 * the SIMD matmul kernels with the kernel's epilogue (bias, activation, residual…) fused into
 * the tile stores. A 1×1 convolution with unit stride and no padding reads the input as the
 * matrix directly. Grouped and transposed convolutions take the scalar path (anchors.ts).
 */
import type { ModuleBuilder, FunctionBuilder, FuncRef } from "./asm/index.js";
import type { Kernel } from "../../jit/kernel/index.js";
import { reshapeExpr } from "../../jit/kernel/index.js";
import { numel } from "../../jit/ir.js";
import { matmulWithEpilogue, LoopEmitter, COST, type KernelCtx, type EmittedKernel } from "./kernel.js";
import type { MatmulSpec } from "./matmul.js";
import { forRange } from "./anchors.js";

/**
 * Emits a float32, ungrouped convolution as im2col + blocked matmul; undefined when the kernel
 * does not fit (the caller then uses the scalar path).
 */
export function emitConvAsMatmul(m: ModuleBuilder, k: Kernel, ctx: KernelCtx): EmittedKernel | undefined {
  const a = k.anchor;
  if (a?.op !== "conv" || a.node.dtype !== "float32" || a.node.attrs.groups !== 1) return undefined;
  const n = a.node, at = n.attrs, xs = a.x.view.shape, ws = a.w.view.shape, os = n.shape;
  const B = xs[0]!, C = xs[1]!, O = ws[0]!;
  const kernel = ws.slice(2), out = os.slice(2);
  const CK = C * numel(kernel), P = numel(out);
  const flatShape = [B, O, P];
  const value = reshapeExpr(k.value, flatShape);
  if (!value) return undefined;
  const flat: Kernel = { ...k, shape: flatShape, outShape: flatShape, value };
  const direct = kernel.every((d) => d === 1) && at.strides!.every((s) => s === 1) && at.pads!.every((p) => p === 0);
  const wAddr = ctx.addr(a.w.buf) + a.w.view.offset * 4, xAddr = ctx.addr(a.x.buf) + a.x.view.offset * 4;
  const A: MatmulSpec["a"] = { base: wAddr, sb: 0, sm: CK, sk: 1 };
  if (direct) {
    // 1×1: the image itself is the [C, P] right-hand matrix
    return matmulWithEpilogue(m, flat, ctx, A, { base: xAddr, sb: C * P, sk: P, sn: 1 }, { batch: B, M: O, N: P, K: CK });
  }
  const col = ctx.alloc(B * CK * P * 4, 64);
  const im2col = emitIm2col(m, k, ctx, col);
  const mm = matmulWithEpilogue(m, flat, ctx, A, { base: col, sb: CK * P, sk: P, sn: 1 }, { batch: B, M: O, N: P, K: CK });
  if (!mm) return undefined;
  return { phases: [im2col, ...mm.phases] };
}

/**
 * col[b][(c, k…)][(o…)] = x[b, c, o·s − p + k·d] (0 outside); work items are (b, c) planes.
 * 2-d: each output row of a (kh, kw) column reads one input row over a range known at compile
 * time (kernel offsets unrolled): unit stride copies it with `memory.copy`, larger strides
 * gather it without bounds checks, and the edges are zero-filled. Other ranks gather element
 * by element with checks.
 */
/** How im2col moves one element: float32 (padding 0), or a byte (padding `fill`: an int8 conv's zero point). */
export interface Im2colElem { readonly size: 1 | 4; readonly fill: number }

/**
 * im2col of a conv anchor's input into the column buffer at `col`: per (image, channel) work
 * item, the KK × P matrix of window taps, padded positions filled. 2-d convs copy contiguous
 * row runs inline (stride 2 through a shuffle), other ranks gather element by element.
 */
export function emitIm2col(m: ModuleBuilder, k: Kernel, ctx: KernelCtx, col: number, el: Im2colElem = { size: 4, fill: 0 }): { func: FuncRef; workItems: number; cost: number } {
  const a = k.anchor!;
  if (a.op !== "conv") throw new Error("internal");
  const n = a.node, at = n.attrs, xs = a.x.view.shape, ws = a.w.view.shape, os = n.shape;
  const sp = xs.length - 2, C = xs[1]!, sz = el.size, fill = el.fill & 0xff;
  const kernel = ws.slice(2), out = os.slice(2), inSp = xs.slice(2);
  const KK = numel(kernel), P = numel(out), plane = numel(inSp);
  const xAddr = ctx.addr(a.x.buf) + a.x.view.offset * sz;
  const f = m.func({ params: ["i32", "i32"] }, { name: `k${k.id}_im2col${sz === 1 ? "8" : ""}` });
  const item = f.local("i32"), src = f.local("i32"), dst = f.local("i32");
  const loop = (l: number, n: number, body: () => void) => forRange(f, l, n, body);
  const loadEl = () => (sz === 4 ? f.f32_load(0, 4) : f.i32_load8_u(0, 1));
  const storeEl = () => (sz === 4 ? f.f32_store(0, 4) : f.i32_store8(0, 1));
  f.local_get(0).local_set(item);
  const exit = f.block(), top = f.loop();
  f.local_get(item).local_get(1).i32_ge_s().br_if(exit);
  f.i32_const(xAddr).local_get(item).i32_const(plane * sz).i32_mul().i32_add().local_set(src);
  f.i32_const(col).local_get(item).i32_const(KK * P * sz).i32_mul().i32_add().local_set(dst);
  if (sp === 2) {
    const [H, W] = inSp as [number, number], [KH, KW] = kernel as [number, number], [OH, OW] = out as [number, number];
    const [sh, sw] = at.strides as [number, number], [dh, dw] = at.dilations as [number, number], [pt, pl] = [at.pads![0]!, at.pads![1]!];
    const oh = f.local("i32"), ih = f.local("i32"), s0 = f.local("i32"), d0 = f.local("i32"), e0 = f.local("i32");
    const copy = (elems: number) => (sz === 4 ? inlineCopy(f, d0, s0, elems * 4, true, e0) : copyBytes(f, d0, s0, elems, 0, e0));
    const pad = (elems: number) => (sz === 4 ? inlineCopy(f, d0, d0, elems * 4, false, e0) : copyBytes(f, d0, -1, elems, fill, e0));
    // stride 2: a group of outputs from vector loads and an even-lane shuffle (float: 4 from two
    // loads; bytes: 8 from one), while the loads stay within the row's valid sources
    const per = sz === 4 ? 4 : 8;
    for (let kh = 0; kh < KH; kh++)
      for (let kw = 0; kw < KW; kw++) {
        // valid output columns: 0 <= ow*sw + kw*dw - pl < W
        const lo = Math.min(OW, Math.max(0, Math.ceil((pl - kw * dw) / sw))), hi = Math.max(lo, Math.min(OW, Math.ceil((W + pl - kw * dw) / sw)));
        loop(oh, OH, () => {
          f.local_get(oh).i32_const(sh).i32_mul().i32_const(kh * dh - pt).i32_add().local_tee(ih);
          f.i32_const(H).i32_lt_u();
          f.if();
          if (lo > 0) { f.local_get(dst).local_set(d0); pad(lo); }
          if (hi > lo && sw === 1) {
            f.local_get(dst).i32_const(lo * sz).i32_add().local_set(d0);
            f.local_get(src).local_get(ih).i32_const(W * sz).i32_mul().i32_add().i32_const((lo + kw * dw - pl) * sz).i32_add().local_set(s0);
            copy(hi - lo);
          } else if (hi > lo) {
            // strided: a branch-free gather over the valid columns
            f.local_get(src).local_get(ih).i32_const(W * sz).i32_mul().i32_add().i32_const((lo * sw + kw * dw - pl) * sz).i32_add().local_set(s0);
            f.local_get(dst).i32_const(lo * sz).i32_add().local_set(d0);
            const groups = sw === 2 ? Math.floor((hi - lo - 1) / per) : 0;
            if (groups > 0) {
              f.local_get(d0).i32_const(groups * per * sz).i32_add().local_set(e0);
              const tv = f.loop();
              f.local_get(d0);
              if (sz === 4) {
                f.local_get(s0).v128_load(0, 4).local_get(s0).v128_load(16, 4);
                f.i8x16_shuffle([0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27]).v128_store(0, 4);
              } else {
                f.local_get(s0).v128_load(0, 1).local_get(s0).v128_load(0, 1);
                f.i8x16_shuffle([0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14]).v128_store64_lane(0, 0, 1);
              }
              f.local_get(s0).i32_const(2 * per * sz).i32_add().local_set(s0);
              f.local_get(d0).i32_const(per * sz).i32_add().local_tee(d0).local_get(e0).i32_ne().br_if(tv);
              f.end();
            }
            f.local_get(d0).i32_const((hi - lo - per * groups) * sz).i32_add().local_set(e0);
            const ex = f.block(), tp = f.loop();
            f.local_get(d0).local_get(e0).i32_ge_u().br_if(ex);
            f.local_get(d0).local_get(s0); loadEl(); storeEl();
            f.local_get(s0).i32_const(sw * sz).i32_add().local_set(s0);
            f.local_get(d0).i32_const(sz).i32_add().local_set(d0).br(tp);
            f.end().end();
          }
          if (hi < OW) { f.local_get(dst).i32_const(hi * sz).i32_add().local_set(d0); pad(OW - hi); }
          f.else();
          f.local_get(dst).local_set(d0);
          pad(OW);
          f.end();
          f.local_get(dst).i32_const(OW * sz).i32_add().local_set(dst);
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
        f.if(sz === 4 ? "f32" : "i32");
        f.local_get(src);
        for (let i = 0; i < sp; i++) f.local_get(pos[i]!).i32_const(inStr[i]! * sz).i32_mul().i32_add();
        loadEl();
        f.else();
        if (sz === 4) f.f32_const(0); else f.i32_const(fill);
        f.end();
        storeEl();
        f.local_get(dst).i32_const(sz).i32_add().local_set(dst);
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
  return { func: f, workItems: xs[0]! * C, cost: xs[0]! * C * KK * P * COST.copy * (sz / 4) };
}

/**
 * Depthwise convolution (groups = channels, one filter per channel), 2-d, float32: each work
 * item is one (image, channel) plane, copied into a zero-padded scratch plane so the window
 * loads need no bounds checks; with stride 1 four outputs of a row are computed at once with
 * f32x4 loads. The kernel's epilogue is applied as each output is stored.
 */
export function emitDepthwise(m: ModuleBuilder, k: Kernel, ctx: KernelCtx): EmittedKernel | undefined {
  const a = k.anchor;
  if (a?.op !== "conv" || a.node.dtype !== "float32") return undefined;
  const n = a.node, at = n.attrs, xs = a.x.view.shape, ws = a.w.view.shape, os = n.shape;
  if (xs.length !== 4 || at.groups !== xs[1] || ws[0] !== xs[1] || ws[1] !== 1) return undefined;
  const [B, C, H, W] = xs as [number, number, number, number];
  const [KH, KW] = [ws[2]!, ws[3]!], [OH, OW] = [os[2]!, os[3]!];
  const [sh, sw] = at.strides as [number, number], [dh, dw] = at.dilations as [number, number];
  const [pt, pl] = [at.pads![0]!, at.pads![1]!];
  const PH = Math.max(H + pt, (OH - 1) * sh + (KH - 1) * dh + 1), PW = Math.max(W + pl, (OW - 1) * sw + (KW - 1) * dw + 1) + 4;
  const flatShape = [B, C, OH * OW];
  const value = reshapeExpr(k.value, flatShape);
  if (!value) return undefined;
  const flat: Kernel = { ...k, shape: flatShape, outShape: flatShape, value };
  const vectorOk = sw === 1 && OW >= 4 && (k.value.op === "anchor" || new LoopEmitter(undefined, flat, ctx).epilogueVectorizable());
  // one padded plane per call (a thread's chunk of items), picked from the chunk's start so
  // balanced chunks of up to 64 threads never share one
  const planeBytes = PH * PW * 4, slots = Math.min(B * C, 64);
  const scratch = ctx.alloc(planeBytes * slots, 64);
  const xAddr = ctx.addr(a.x.buf) + a.x.view.offset * 4, wAddr = ctx.addr(a.w.buf) + a.w.view.offset * 4, out = ctx.addr(k.out);
  const f = m.func({ params: ["i32", "i32"] }, { name: `k${k.id}_dw` });
  const item = f.local("i32"), plane = f.local("i32"), i = f.local("i32"), oh = f.local("i32"), ow = f.local("i32");
  // the vector path: NV vectors of 4 outputs per step, stride 1 (independent accumulators hide
  // the add latency); weights splatted into locals once per plane when the kernel is small
  const KK = KH * KW, NV = 2, hoistW = vectorOk && KK <= 9;
  const b = f.local("i32"), c = f.local("i32"), p = f.local("i32"), acc = f.local("f32"), vacc = f.local("v128", NV), row = f.local("i32"), wp = f.local("i32");
  const xo = f.local("i32"), rows = f.local("i32", KH), wv = hoistW ? f.local("v128", KK) : 0;
  const cd = f.local("i32"), cs = f.local("i32"), ce = f.local("i32");
  const dwEpi = k.value.op !== "anchor" ? new LoopEmitter(f, flat, ctx) : undefined;
  const loop = (l: number, from: () => void, n: number | (() => void), step: number, body: () => void) => forRange(f, l, n, body, from, step);
  f.i32_const(scratch).local_get(0).i32_const(slots).i32_mul().i32_const(B * C).i32_div_u().i32_const(planeBytes).i32_mul().i32_add().local_set(plane);
  loop(item, () => f.local_get(0), () => f.local_get(1), 1, () => {
    f.local_get(plane).i32_const(0).i32_const(planeBytes).memory_fill();
    loop(i, () => f.i32_const(0), H, 1, () => {
      // copy input row i into padded row i + pt at column pl
      f.local_get(plane).local_get(i).i32_const(pt).i32_add().i32_const(PW * 4).i32_mul().i32_add().i32_const(pl * 4).i32_add().local_set(cd);
      f.i32_const(xAddr).local_get(item).i32_const(H * W * 4).i32_mul().i32_add().local_get(i).i32_const(W * 4).i32_mul().i32_add().local_set(cs);
      inlineCopy(f, cd, cs, W * 4, true, ce);
    });
    f.local_get(item).i32_const(C).i32_div_u().local_set(b);
    f.local_get(item).i32_const(C).i32_rem_u().local_set(c);
    f.i32_const(wAddr).local_get(c).i32_const(KH * KW * 4).i32_mul().i32_add().local_set(wp);
    // what the epilogue reads per channel (a bias) is loaded once per plane
    dwEpi?.epilogueRow(vectorOk, b, c);
    // the channel's weights, splatted once per plane (small kernels: they stay in registers)
    if (hoistW) for (let t = 0; t < KK; t++) f.local_get(wp).v128_load32_splat(t * 4, 4).local_set(wv + t);
    loop(oh, () => f.i32_const(0), OH, 1, () => {
      // row pointers of the window's rows at ow = 0: plane + (oh*sh + kh*dh) * PW * 4
      for (let kh = 0; kh < KH; kh++) {
        f.local_get(plane).local_get(oh).i32_const(sh * PW * 4).i32_mul().i32_add();
        if (kh) f.i32_const(kh * dh * PW * 4).i32_add();
        f.local_set(rows + kh);
      }
      const outRow = () => f.i32_const(out).local_get(item).i32_const(OH * OW * 4).i32_mul().i32_add().local_get(oh).i32_const(OW * 4).i32_mul().i32_add();
      const store = (vector: boolean, j: number, accL: number) => {
        // out address, then the epilogue over the accumulated value
        outRow(); f.local_get(ow).i32_const(4).i32_mul().i32_add();
        f.local_get(accL);
        if (k.value.op !== "anchor") {
          f.local_get(oh).i32_const(OW).i32_mul().local_get(ow).i32_add();
          if (j) f.i32_const(j * 4).i32_add();
          f.local_set(p);
          dwEpi!.epilogue(vector, b, c, p);
        }
        vector ? f.v128_store(j * 16, 4) : f.f32_store(0, 4);
      };
      // `nvec` vectors of 4 outputs (independent accumulators), or one output (nvec 0)
      const window = (nvec: number) => {
        const vector = nvec > 0, n = Math.max(1, nvec);
        for (let j = 0; j < n; j++) vector ? f.v128_const_i32x4(0, 0, 0, 0).local_set(vacc + j) : f.f32_const(0).local_set(acc);
        // x offset of this ow: ow * sw * 4
        f.local_get(ow).i32_const(sw * 4).i32_mul().local_set(xo);
        for (let kh = 0; kh < KH; kh++) {
          f.local_get(rows + kh).local_get(xo).i32_add().local_set(row);
          for (let kw = 0; kw < KW; kw++) {
            const t = kh * KW + kw, wo = t * 4, off = kw * dw * 4;
            for (let j = 0; j < n; j++) {
              if (vector) {
                const madd = () => { if (ctx.relaxedSimd) f.f32x4_relaxed_madd(); else f.f32x4_mul().f32x4_add(); };
                if (ctx.relaxedSimd) {
                  f.local_get(row).v128_load(off + j * 16, 4);
                  hoistW ? f.local_get(wv + t) : f.local_get(wp).v128_load32_splat(wo, 4);
                  f.local_get(vacc + j);
                } else {
                  f.local_get(vacc + j).local_get(row).v128_load(off + j * 16, 4);
                  hoistW ? f.local_get(wv + t) : f.local_get(wp).v128_load32_splat(wo, 4);
                }
                madd();
                f.local_set(vacc + j);
              } else f.local_get(acc).local_get(row).f32_load(off, 4).local_get(wp).f32_load(wo, 4).f32_mul().f32_add().local_set(acc);
            }
          }
        }
        for (let j = 0; j < n; j++) store(vector, j, vector ? vacc + j : acc);
      };
      f.i32_const(0).local_set(ow);
      if (vectorOk) {
        if (OW >= 4 * NV) loop(ow, () => f.i32_const(0), () => f.i32_const(OW - 4 * NV + 1), 4 * NV, () => window(NV));
        loop(ow, () => f.local_get(ow), () => f.i32_const(OW - 3), 4, () => window(1));
      }
      loop(ow, () => f.local_get(ow), OW, 1, () => window(0));
    });
  });
  return { phases: [{ func: f, workItems: B * C, cost: B * C * OH * OW * KH * KW * COST.depthwiseMac }] };
}

/**
 * Inline copy of `bytes` (a compile-time multiple of 4) from the address in local `s` to the one
 * in local `d` with v128 loads/stores: the rows that im2col and the depthwise padding copy are
 * short, and `memory.copy` / `memory.fill` are calls into the engine (tens of ns each), which
 * cost more than the copy itself. Unrolled up to 16 vectors, else a loop that advances `s`
 * and `d` (clobbered). `src` false: stores zeros instead (s unused).
 */
function inlineCopy(f: FunctionBuilder, d: number, s: number, bytes: number, src = true, end = -1): void {
  const nv = Math.floor(bytes / 16), rem = bytes - nv * 16;
  const zero = () => f.v128_const_i32x4(0, 0, 0, 0);
  let base = 0;
  if (nv <= 16) {
    for (let i = 0; i < nv; i++) { f.local_get(d); if (src) f.local_get(s).v128_load(i * 16, 4); else zero(); f.v128_store(i * 16, 4); }
    base = nv * 16;
  } else {
    if (end < 0) throw new Error("internal: inlineCopy needs an end local for long rows");
    f.local_get(d).i32_const(nv * 16).i32_add().local_set(end);
    const top = f.loop();
    f.local_get(d); if (src) f.local_get(s).v128_load(0, 4); else zero(); f.v128_store(0, 4);
    if (src) f.local_get(s).i32_const(16).i32_add().local_set(s);
    f.local_get(d).i32_const(16).i32_add().local_tee(d).local_get(end).i32_ne().br_if(top);
    f.end();
  }
  if (rem >= 8) { f.local_get(d); if (src) f.local_get(s).i64_load(base, 4); else f.i64_const(0n); f.i64_store(base, 4); base += 8; }
  if (rem % 8) { f.local_get(d); if (src) f.local_get(s).i32_load(base, 4); else f.i32_const(0); f.i32_store(base, 4); }
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
