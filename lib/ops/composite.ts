/**
 * Composite ops written in elementwise, reduce, movement and matmul ops, so the compiler sees
 * (and fuses) everything inside them. Integer/bool inputs give float32 results; float16 inputs
 * are computed in float32 and the result is rounded back to float16 once.
 *
 * @example
 * softmax(logits)                                   // over the last axis
 * layerNorm(x, [512], gamma, beta)
 * attention(q, k, v, { causal: true })              // [..., L, D] inputs
 */
import { Tensor } from "../tensor.js";
import { castTo, normAxis, shapeError, valueError } from "../core.js";
import { fmtShape } from "../../jit/ir.js";
import { isFloat, type DType } from "../../jit/dtype.js";
import { tensor } from "../creation.js";
import { matmul } from "./linalg.js";

// ---------------------------------------------------------------- dtype helpers

function checkTensor(op: string, t: unknown, what: string): Tensor {
  if (!(t instanceof Tensor)) valueError(op, `${what} must be a Tensor, got ${t === null ? "null" : typeof t}`);
  return t;
}
/** The result dtype of a float composite: floats keep theirs, the rest become float32. */
const outDType = (d: DType): DType => (isFloat(d) ? d : "float32");
/** The working copy: everything is computed in float32 (float16 and integers are widened). */
const work = (t: Tensor): Tensor => castTo(t, "float32");

/** Checks that an optional per-feature parameter has exactly `shape`. */
function checkParam(op: string, name: string, p: Tensor | undefined, shape: readonly number[], hint: string): Tensor | undefined {
  if (p === undefined || p === null) return undefined;
  checkTensor(op, p, name);
  if (p.ndim !== shape.length || p.shape.some((d, i) => d !== shape[i]))
    shapeError(op, `${name} has shape ${fmtShape(p.shape)}, expected ${fmtShape(shape)}`, hint);
  return p;
}

function checkEps(op: string, eps: unknown): number {
  if (typeof eps !== "number" || !(eps >= 0) || !Number.isFinite(eps)) valueError(op, `eps must be a non-negative number, got ${JSON.stringify(eps)}`);
  return eps;
}

// ---------------------------------------------------------------- softmax family

/**
 * exp(x) / sum(exp(x)) along `axis`, computed as exp(x - max) for stability.
 * A row of all -Infinity gives NaN (as in PyTorch).
 * @example softmax(tensor([1, 2, 3])) // [0.090, 0.245, 0.665]
 */
export function softmax(a: Tensor, axis = -1): Tensor {
  checkTensor("softmax", a, "the input");
  const ax = normAxis("softmax", axis, a.ndim);
  const x = work(a);
  const e = x.sub(x.max(ax, true)).exp();
  return castTo(e.div(e.sum(ax, true)), outDType(a.dtype));
}

/**
 * log(softmax(x)) along `axis`, computed as (x - max) - log(sum(exp(x - max))).
 * @example logSoftmax(tensor([0, 0])) // [-0.693, -0.693]
 */
export function logSoftmax(a: Tensor, axis = -1): Tensor {
  checkTensor("logSoftmax", a, "the input");
  const ax = normAxis("logSoftmax", axis, a.ndim);
  const x = work(a);
  const s = x.sub(x.max(ax, true));
  return castTo(s.sub(s.exp().sum(ax, true).log()), outDType(a.dtype));
}

// ---------------------------------------------------------------- normalizations

/** (x - mean) / sqrt(var + eps) over `axes` (biased variance), in float32. */
function normalize(x: Tensor, axes: number[], eps: number): Tensor {
  const d = x.sub(x.mean(axes, true));
  return d.mul(d.mul(d).mean(axes, true).add(eps).rsqrt());
}

/**
 * Layer normalization over the trailing axes given by `normalizedShape`, with optional
 * elementwise `weight` and `bias` of that shape.
 * @example layerNorm(x, [x.shape.at(-1)!], gamma, beta)
 */
export function layerNorm(a: Tensor, normalizedShape: number | number[], weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
  const op = "layerNorm";
  checkTensor(op, a, "the input");
  const ns = typeof normalizedShape === "number" ? [normalizedShape] : normalizedShape;
  if (!Array.isArray(ns) || !ns.every((d) => Number.isInteger(d) && d >= 0))
    valueError(op, `normalizedShape must be a list of sizes, got ${JSON.stringify(normalizedShape)}`);
  const k = ns.length, r = a.ndim;
  if (k > r || ns.some((d, i) => d !== a.shape[r - k + i]))
    shapeError(op, `input ${fmtShape(a.shape)} does not end with normalizedShape ${fmtShape(ns)}`, "normalizedShape lists the trailing axes to normalize over");
  const hint = `weight and bias have the normalized shape ${fmtShape(ns)}`;
  const w = checkParam(op, "weight", weight, ns, hint), b = checkParam(op, "bias", bias, ns, hint);
  checkEps(op, eps);
  const axes = Array.from({ length: k }, (_, i) => r - k + i);
  let y = normalize(work(a), axes, eps);
  if (w) y = y.mul(work(w));
  if (b) y = y.add(work(b));
  return castTo(y, outDType(a.dtype));
}

/** Reshapes a per-channel [C] parameter to broadcast against [N, C, ...spatial] of rank r. */
const perChannel = (p: Tensor, r: number): Tensor => work(p).reshape([p.shape[0]!, ...new Array<number>(Math.max(r - 2, 0)).fill(1)]);

/**
 * Inference batch normalization with running statistics; channels on axis 1.
 * y = (x - mean) / sqrt(variance + eps) * weight + bias, the per-channel factors computed once.
 * @example batchNorm(x, runningMean, runningVar, gamma, beta)
 */
export function batchNorm(x: Tensor, mean: Tensor, variance: Tensor, weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
  const op = "batchNorm";
  checkTensor(op, x, "the input");
  if (x.ndim < 2) shapeError(op, `expected an input [N, C, ...] of rank >= 2, got shape ${fmtShape(x.shape)}`);
  const C = x.shape[1]!, hint = `the statistics and parameters are per channel: shape [${C}]`;
  const m = checkParam(op, "mean", checkTensor(op, mean, "mean"), [C], hint)!;
  const v = checkParam(op, "variance", checkTensor(op, variance, "variance"), [C], hint)!;
  const w = checkParam(op, "weight", weight, [C], hint), b = checkParam(op, "bias", bias, [C], hint);
  checkEps(op, eps);
  const r = x.ndim;
  let scale = perChannel(v, r).add(eps).rsqrt();
  if (w) scale = scale.mul(perChannel(w, r));
  let y = work(x).sub(perChannel(m, r)).mul(scale);
  if (b) y = y.add(perChannel(b, r));
  return castTo(y, outDType(x.dtype));
}

/**
 * Group normalization: channels (axis 1) split into `groups`, each normalized over its
 * channels and all spatial positions; optional per-channel `weight` and `bias` [C].
 * @example groupNorm(x, 32, gamma, beta)
 */
export function groupNorm(x: Tensor, groups: number, weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
  const op = "groupNorm";
  checkTensor(op, x, "the input");
  if (x.ndim < 2) shapeError(op, `expected an input [N, C, ...] of rank >= 2, got shape ${fmtShape(x.shape)}`);
  if (!Number.isInteger(groups) || groups < 1) valueError(op, `groups must be a positive integer, got ${JSON.stringify(groups)}`);
  const N = x.shape[0]!, C = x.shape[1]!;
  if (C % groups !== 0) shapeError(op, `${C} channels of ${fmtShape(x.shape)} cannot be split into ${groups} groups`, "groups must divide the channel count");
  const hint = `weight and bias are per channel: shape [${C}]`;
  const w = checkParam(op, "weight", weight, [C], hint), b = checkParam(op, "bias", bias, [C], hint);
  checkEps(op, eps);
  const per = x.size / Math.max(N * groups, 1);
  let y = normalize(work(x).reshape([N, groups, per]), [2], eps).reshape(x.shape);
  if (w) y = y.mul(perChannel(w, x.ndim));
  if (b) y = y.add(perChannel(b, x.ndim));
  return castTo(y, outDType(x.dtype));
}

// ---------------------------------------------------------------- attention

export interface AttentionOptions {
  /** bool: true = may attend; float: added to the scores. Broadcasts against [..., L, S]. */
  mask?: Tensor;
  /** Query i attends to keys j <= i (top-left aligned, like PyTorch's is_causal). */
  causal?: boolean;
  /** Multiplies q·k; default 1/sqrt(D). */
  scale?: number;
}

/** The [L, S] bool matrix with true where j <= i. */
function causalMask(L: number, S: number): Tensor {
  const m = new Uint8Array(L * S);
  for (let i = 0; i < L; i++) for (let j = 0; j <= Math.min(i, S - 1); j++) m[i * S + j] = 1;
  return tensor(m, { dtype: "bool", shape: [L, S] });
}

/**
 * Scaled dot-product attention: softmax(q kᵀ · scale + mask) v, with q [..., L, D],
 * k [..., S, D], v [..., S, Dv] (batch axes broadcast). A query whose keys are all masked
 * gives NaN, as in PyTorch.
 * @example attention(q, k, v, { causal: true })
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const op = "attention";
  checkTensor(op, q, "q"); checkTensor(op, k, "k"); checkTensor(op, v, "v");
  for (const [t, n] of [[q, "q"], [k, "k"], [v, "v"]] as const)
    if (t.ndim < 2) shapeError(op, `${n} must have shape [..., length, features], got ${fmtShape(t.shape)}`);
  const D = q.shape[q.ndim - 1]!, L = q.shape[q.ndim - 2]!, S = k.shape[k.ndim - 2]!;
  if (k.shape[k.ndim - 1] !== D)
    shapeError(op, `q ${fmtShape(q.shape)} and k ${fmtShape(k.shape)} have different feature sizes (${D} vs ${k.shape[k.ndim - 1]})`);
  if (v.shape[v.ndim - 2] !== S)
    shapeError(op, `k ${fmtShape(k.shape)} and v ${fmtShape(v.shape)} have different lengths (${S} vs ${v.shape[v.ndim - 2]})`);
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  if (typeof scale !== "number" || !Number.isFinite(scale)) valueError(op, `scale must be a finite number, got ${JSON.stringify(opts.scale)}`);
  const fl = (t: Tensor) => (isFloat(t.dtype) ? t : castTo(t, "float32"));
  const kT = fl(k).transpose([...Array(k.ndim - 2).keys(), k.ndim - 1, k.ndim - 2]);
  let s = matmul(fl(q), kT).mul(scale);
  const mask = opts.mask;
  if (mask !== undefined && mask !== null) {
    checkTensor(op, mask, "mask");
    const ms = mask.shape, r = ms.length;
    if ((r >= 1 && ms[r - 1] !== S && ms[r - 1] !== 1) || (r >= 2 && ms[r - 2] !== L && ms[r - 2] !== 1))
      shapeError(op, `mask ${fmtShape(ms)} does not broadcast to the scores [..., ${L}, ${S}]`);
    if (mask.dtype === "bool") s = s.where(mask, -Infinity);
    else if (isFloat(mask.dtype)) s = s.add(mask);
    else valueError(op, `mask must be bool (true = attend) or float (added to the scores), got ${mask.dtype}`);
  }
  if (opts.causal) s = s.where(causalMask(L, S), -Infinity);
  return matmul(softmax(s, -1), fl(v));
}

/** Methods installed on Tensor (see lib/ops/index.ts). */
export const compositeMethods = {
  /** Example: `logits.softmax(-1)`. */
  softmax(this: Tensor, axis = -1): Tensor { return softmax(this, axis); },
  logSoftmax(this: Tensor, axis = -1): Tensor { return logSoftmax(this, axis); },
  layerNorm(this: Tensor, normalizedShape: number | number[], weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
    return layerNorm(this, normalizedShape, weight, bias, eps);
  },
  batchNorm(this: Tensor, mean: Tensor, variance: Tensor, weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
    return batchNorm(this, mean, variance, weight, bias, eps);
  },
  groupNorm(this: Tensor, groups: number, weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
    return groupNorm(this, groups, weight, bias, eps);
  },
  /** `q.attention(k, v, opts)`. */
  attention(this: Tensor, k: Tensor, v: Tensor, opts?: AttentionOptions): Tensor { return attention(this, k, v, opts); },
};
export type CompositeMethods = typeof compositeMethods;
