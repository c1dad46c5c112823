/**
 * Conv ops. (Being written.)
 */
import type { Tensor } from "../tensor.js";

export const convMethods = {} satisfies Record<string, (this: Tensor, ...args: never[]) => unknown>;
export type ConvMethods = typeof convMethods;
