/**
 * Linalg ops. (Being written.)
 */
import type { Tensor } from "../tensor.js";

export const linalgMethods = {} satisfies Record<string, (this: Tensor, ...args: never[]) => unknown>;
export type LinalgMethods = typeof linalgMethods;
