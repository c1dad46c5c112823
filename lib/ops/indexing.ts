/**
 * Indexing ops. (Being written.)
 */
import type { Tensor } from "../tensor.js";

export const indexingMethods = {} satisfies Record<string, (this: Tensor, ...args: never[]) => unknown>;
export type IndexingMethods = typeof indexingMethods;
