/**
 * Seeded parameter initialization matching PyTorch's default schemes (the distributions and
 * bounds, not PyTorch's random streams). With a seed, the same construction gives the same
 * numbers; without one, values come from kiln's global stream (see `manualSeed`).
 */
import type { Tensor } from "../tensor.js";
import { rand, randn, full } from "../creation.js";

/** The i-th derived seed of a layer (undefined stays undefined: the global stream). */
export function subSeed(seed: number | undefined, i: number): number | undefined {
  if (seed === undefined) return undefined;
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35);
  h ^= h >>> 16; h = Math.imul(h, 0x7feb352d); h ^= h >>> 15;
  return h >>> 0;
}

/** U(-bound, bound). */
export const uniform = (shape: number[], bound: number, seed: number | undefined): Tensor =>
  rand(shape, { seed, low: -bound, high: bound });

/** PyTorch's default for Linear/Conv weights: kaiming_uniform(a = sqrt(5)), i.e. U(±1/sqrt(fanIn)). */
export const kaimingUniform = (shape: number[], fanIn: number, seed: number | undefined): Tensor =>
  uniform(shape, fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0, seed);

/** Xavier/Glorot uniform: U(±sqrt(6 / (fanIn + fanOut))). */
export const xavierUniform = (shape: number[], fanIn: number, fanOut: number, seed: number | undefined): Tensor =>
  uniform(shape, fanIn + fanOut > 0 ? Math.sqrt(6 / (fanIn + fanOut)) : 0, seed);

/** N(0, 1). */
export const normal = (shape: number[], seed: number | undefined): Tensor => randn(shape, { seed });

export const constant = (shape: number[], v: number): Tensor => full(shape, v);
