/**
 * Basic layers with PyTorch's parameter layouts and default initializations.
 *
 * @example
 * const fc = new Linear(784, 128, { seed: 0 });     // weight [128, 784], bias [128]
 * const y = fc.forward(x);                          // x [..., 784] → [..., 128]
 */
import { Tensor } from "../tensor.js";
import { shapeError, valueError } from "../core.js";
import { fmtShape } from "../../jit/ir.js";
import { matmul } from "../ops/linalg.js";
import { conv2d, type Padding } from "../ops/conv.js";
import { layerNorm } from "../ops/composite.js";
import { gather, type IndexLike } from "../ops/indexing.js";
import { Module } from "./module.js";
import { subSeed, kaimingUniform, normal, constant } from "./init.js";

function checkSize(op: string, name: string, v: unknown, min = 1): number {
  if (!Number.isInteger(v) || (v as number) < min)
    valueError(op, `${name} must be ${min === 0 ? "a non-negative" : "a positive"} integer, got ${JSON.stringify(v)}`);
  return v as number;
}

/** Checks the last axis of a layer input. */
function checkFeatures(op: string, x: unknown, n: number, what: string): Tensor {
  if (!(x instanceof Tensor)) valueError(op, "the input must be a Tensor");
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== n)
    shapeError(op, `input ${fmtShape(x.shape)} has ${x.ndim ? x.shape[x.ndim - 1] : 0} ${what} on its last axis, the layer expects ${n}`);
  return x;
}

export interface LinearOptions { bias?: boolean; seed?: number }

/**
 * y = x Wᵀ + b with weight [out, in] and bias [out], both U(±1/sqrt(in)) like PyTorch.
 * @example new Linear(4, 2, { seed: 0 }).forward(randn([3, 4])) // [3, 2]
 */
export class Linear extends Module {
  weight: Tensor;
  bias?: Tensor;
  readonly inFeatures: number;
  readonly outFeatures: number;
  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    this.inFeatures = checkSize("Linear", "inFeatures", inFeatures, 0);
    this.outFeatures = checkSize("Linear", "outFeatures", outFeatures, 0);
    this.weight = kaimingUniform([outFeatures, inFeatures], inFeatures, subSeed(opts.seed, 0));
    if (opts.bias ?? true) this.bias = kaimingUniform([outFeatures], inFeatures, subSeed(opts.seed, 1));
  }
  forward(x: Tensor): Tensor {
    checkFeatures("Linear", x, this.inFeatures, "features");
    const y = matmul(x, this.weight.transpose());
    return this.bias ? y.add(this.bias) : y;
  }
}

export interface Conv2dOptions {
  stride?: number | number[];
  padding?: Padding;
  dilation?: number | number[];
  groups?: number;
  bias?: boolean;
  seed?: number;
}

/**
 * 2-d convolution layer: weight [out, in/groups, kH, kW], bias [out], both
 * U(±1/sqrt(in/groups·kH·kW)) like PyTorch.
 * @example new Conv2d(3, 16, 3, { padding: 1, seed: 0 }).forward(randn([1, 3, 32, 32])) // [1, 16, 32, 32]
 */
export class Conv2d extends Module {
  weight: Tensor;
  bias?: Tensor;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: number | number[];
  readonly padding: Padding;
  readonly dilation: number | number[];
  readonly groups: number;
  constructor(inChannels: number, outChannels: number, kernelSize: number | [number, number], opts: Conv2dOptions = {}) {
    super();
    const op = "Conv2d";
    this.inChannels = checkSize(op, "inChannels", inChannels);
    this.outChannels = checkSize(op, "outChannels", outChannels);
    const k = typeof kernelSize === "number" ? [kernelSize, kernelSize] : kernelSize;
    if (!Array.isArray(k) || k.length !== 2) valueError(op, `kernelSize must be a number or two numbers, got ${JSON.stringify(kernelSize)}`);
    k.forEach((d) => checkSize(op, "kernelSize", d));
    this.kernelSize = [k[0]!, k[1]!];
    this.groups = checkSize(op, "groups", opts.groups ?? 1);
    if (inChannels % this.groups || outChannels % this.groups)
      valueError(op, `inChannels ${inChannels} and outChannels ${outChannels} must both be divisible by groups ${this.groups}`);
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    this.dilation = opts.dilation ?? 1;
    const fanIn = (inChannels / this.groups) * k[0]! * k[1]!;
    this.weight = kaimingUniform([outChannels, inChannels / this.groups, k[0]!, k[1]!], fanIn, subSeed(opts.seed, 0));
    if (opts.bias ?? true) this.bias = kaimingUniform([outChannels], fanIn, subSeed(opts.seed, 1));
  }
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, { bias: this.bias, stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }
}

export interface LayerNormOptions { eps?: number; elementwiseAffine?: boolean; bias?: boolean }

/**
 * Layer normalization over the trailing `normalizedShape`; weight ones, bias zeros.
 * @example new LayerNorm(512).forward(x)
 */
export class LayerNorm extends Module {
  weight?: Tensor;
  bias?: Tensor;
  readonly normalizedShape: number[];
  readonly eps: number;
  constructor(normalizedShape: number | number[], opts: LayerNormOptions = {}) {
    super();
    const s = typeof normalizedShape === "number" ? [normalizedShape] : normalizedShape;
    if (!Array.isArray(s)) valueError("LayerNorm", `normalizedShape must be a size or a list of sizes, got ${JSON.stringify(normalizedShape)}`);
    s.forEach((d) => checkSize("LayerNorm", "normalizedShape", d));
    this.normalizedShape = [...s];
    this.eps = opts.eps ?? 1e-5;
    if (opts.elementwiseAffine ?? true) {
      this.weight = constant(this.normalizedShape, 1);
      if (opts.bias ?? true) this.bias = constant(this.normalizedShape, 0);
    }
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}

export interface EmbeddingOptions { seed?: number }

/**
 * A lookup table [num, dim] initialized N(0, 1): indices of any shape → [...indices, dim].
 * @example new Embedding(1000, 64, { seed: 0 }).forward(tensor([[1, 2]], { dtype: "int32" })) // [1, 2, 64]
 */
export class Embedding extends Module {
  weight: Tensor;
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  constructor(numEmbeddings: number, embeddingDim: number, opts: EmbeddingOptions = {}) {
    super();
    this.numEmbeddings = checkSize("Embedding", "numEmbeddings", numEmbeddings);
    this.embeddingDim = checkSize("Embedding", "embeddingDim", embeddingDim);
    this.weight = normal([numEmbeddings, embeddingDim], subSeed(opts.seed, 0));
  }
  forward(indices: IndexLike): Tensor {
    return gather(this.weight, indices, 0);
  }
}
