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
import type { ModuleBuilder, FuncRef } from "./asm/index.js";
import type { Kernel } from "../../jit/kernel/index.js";
import { reshapeExpr } from "../../jit/kernel/index.js";
import { numel } from "../../jit/ir.js";
import { qgemmWithEpilogue, const8ThroughView, COST, type KernelCtx, type EmittedKernel } from "./kernel.js";
import type { QGemmSpec } from "./qmatmul.js";
import { emitIm2col } from "./conv.js";

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
    im2col = emitIm2col(m, k, ctx, col, { size: 1, fill: zx });
    Bspec = { base: col, sb: CK * P, sk: P, sn: 1, signed: signedX, zero: [zx] };
  }
  // grouped: GEMM batch t = b·G + g uses group t mod G's weights (zero points per output
  // channel, i.e. per row of all groups' stacked A)
  const mm = qgemmWithEpilogue(m, flat, ctx, A, Bspec, { batch: B * G, M: Og, N: P, K: CK }, undefined, G > 1 ? G : undefined);
  if (!mm) return undefined;
  return { phases: im2col ? [im2col, ...mm.phases] : mm.phases };
}

