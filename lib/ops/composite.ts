/**
 * Composite ops. (Being written.)
 */
import type { Tensor } from "../tensor.js";

export const compositeMethods = {} satisfies Record<string, (this: Tensor, ...args: never[]) => unknown>;
export type CompositeMethods = typeof compositeMethods;
