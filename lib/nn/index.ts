/**
 * kiln.nn: modules with parameters, PyTorch layouts and seeded initialization.
 *
 * @example
 * import { nn, randn } from "kiln";
 * const model = new nn.Sequential(new nn.Linear(4, 8, { seed: 0 }), (x) => x.relu(), new nn.Linear(8, 2, { seed: 1 }));
 * model.forward(randn([3, 4])).shape // [3, 2]
 * model.parameters().length          // 4
 */
export { Module, Sequential, type Layer } from "./module.js";
export {
  Linear, Conv2d, LayerNorm, Embedding,
  type LinearOptions, type Conv2dOptions, type LayerNormOptions, type EmbeddingOptions,
} from "./layers.js";
export { MultiheadAttention, type MultiheadAttentionOptions, type MultiheadAttentionCallOptions } from "./attention.js";
export { kaimingUniform, xavierUniform } from "./init.js";
