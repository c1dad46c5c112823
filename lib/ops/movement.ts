/**
 * Movement ops. (Being written.)
 */
import type { Tensor } from "../tensor.js";

export const movementMethods = {} satisfies Record<string, (this: Tensor, ...args: never[]) => unknown>;
export type MovementMethods = typeof movementMethods;
