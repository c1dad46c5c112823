/**
 * Reduce ops. (Being written.)
 */
import type { Tensor } from "../tensor.js";

export const reduceMethods = {} satisfies Record<string, (this: Tensor, ...args: never[]) => unknown>;
export type ReduceMethods = typeof reduceMethods;
