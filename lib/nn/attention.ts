/**
 * Multi-head attention (PyTorch's nn.MultiheadAttention with batch_first=True): packed
 * input projection [3E, E] (Xavier uniform) with zero bias, output projection Linear(E, E)
 * with zero bias.
 *
 * @example
 * const mha = new MultiheadAttention(64, 8, { seed: 0 });
 * const y = mha.forward(x, x, x, { causal: true });   // x [N, L, 64] → [N, L, 64]
 */
import { Tensor } from "../tensor.js";
import { shapeError, valueError } from "../core.js";
import { fmtShape } from "../../jit/ir.js";
import { matmul } from "../ops/linalg.js";
import { attention } from "../ops/composite.js";
import { Module } from "./module.js";
import { Linear } from "./layers.js";
import { subSeed, xavierUniform, constant } from "./init.js";

export interface MultiheadAttentionOptions { bias?: boolean; seed?: number }
export interface MultiheadAttentionCallOptions {
  /** bool (true = attend) or float (added to scores); broadcasts against [N, heads, L, S]. */
  mask?: Tensor;
  causal?: boolean;
}

export class MultiheadAttention extends Module {
  inProjWeight: Tensor;
  inProjBias?: Tensor;
  outProj: Linear;
  readonly embedDim: number;
  readonly numHeads: number;
  readonly headDim: number;
  constructor(embedDim: number, numHeads: number, opts: MultiheadAttentionOptions = {}) {
    super();
    const op = "MultiheadAttention";
    if (!Number.isInteger(embedDim) || embedDim < 1) valueError(op, `embedDim must be a positive integer, got ${JSON.stringify(embedDim)}`);
    if (!Number.isInteger(numHeads) || numHeads < 1) valueError(op, `numHeads must be a positive integer, got ${JSON.stringify(numHeads)}`);
    if (embedDim % numHeads !== 0) valueError(op, `embedDim ${embedDim} is not divisible by numHeads ${numHeads}`);
    this.embedDim = embedDim;
    this.numHeads = numHeads;
    this.headDim = embedDim / numHeads;
    const bias = opts.bias ?? true;
    this.inProjWeight = xavierUniform([3 * embedDim, embedDim], embedDim, 3 * embedDim, subSeed(opts.seed, 0));
    if (bias) this.inProjBias = constant([3 * embedDim], 0);
    this.outProj = new Linear(embedDim, embedDim, { bias, seed: subSeed(opts.seed, 1) });
    if (bias) this.outProj.bias = constant([embedDim], 0);
  }

  /** x [N, T, E] (or [T, E]) → [N, heads, T, headDim] after the i-th input projection. */
  private project(x: Tensor, i: number, name: string): Tensor {
    const E = this.embedDim;
    if (!(x instanceof Tensor)) valueError("MultiheadAttention", `${name} must be a Tensor`);
    if ((x.ndim !== 3 && x.ndim !== 2) || x.shape[x.ndim - 1] !== E)
      shapeError("MultiheadAttention", `${name} must have shape [N, length, ${E}] or [length, ${E}], got ${fmtShape(x.shape)}`);
    const w = this.inProjWeight.slice([i * E], [(i + 1) * E], [0]);
    let y = matmul(x, w.transpose());
    if (this.inProjBias) y = y.add(this.inProjBias.slice([i * E], [(i + 1) * E], [0]));
    const x3 = x.ndim === 3 ? y : y.reshape([1, ...y.shape]);
    const [N, T] = [x3.shape[0]!, x3.shape[1]!];
    return x3.reshape([N, T, this.numHeads, this.headDim]).permute([0, 2, 1, 3]);
  }

  /**
   * Attends queries q [N, L, E] to keys k [N, S, E] and values v [N, S, E] (k, v default to
   * q; unbatched [L, E] inputs work too). Returns [N, L, E].
   */
  forward(q: Tensor, k?: Tensor, v?: Tensor, opts: MultiheadAttentionCallOptions = {}): Tensor {
    const kk = k ?? q, vv = v ?? kk;
    const batched = q.ndim === 3;
    if ((kk.ndim === 3) !== batched || (vv.ndim === 3) !== batched)
      shapeError("MultiheadAttention", `q ${fmtShape(q.shape)}, k ${fmtShape(kk.shape)} and v ${fmtShape(vv.shape)} must all be batched or all unbatched`);
    const Q = this.project(q, 0, "q"), K = this.project(kk, 1, "k"), V = this.project(vv, 2, "v");
    if (K.shape[0] !== Q.shape[0] || V.shape[0] !== Q.shape[0])
      shapeError("MultiheadAttention", `batch sizes differ: q ${fmtShape(q.shape)}, k ${fmtShape(kk.shape)}, v ${fmtShape(vv.shape)}`);
    if (K.shape[2] !== V.shape[2])
      shapeError("MultiheadAttention", `k ${fmtShape(kk.shape)} and v ${fmtShape(vv.shape)} have different lengths`);
    const o = attention(Q, K, V, { mask: opts.mask, causal: opts.causal }); // [N, H, L, Dh]
    const [N, L] = [o.shape[0]!, o.shape[2]!];
    const merged = o.permute([0, 2, 1, 3]).reshape([N, L, this.embedDim]);
    const out = this.outProj.forward(merged);
    return batched ? out : out.reshape([L, this.embedDim]);
  }
}
