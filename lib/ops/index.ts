/**
 * Installs every op module's methods on Tensor.prototype. Imported once by lib/index.ts.
 */
import { Tensor } from "../tensor.js";
import { elementwiseMethods } from "./elementwise.js";
import { reduceMethods } from "./reduce.js";
import { movementMethods } from "./movement.js";
import { indexingMethods } from "./indexing.js";
import { linalgMethods } from "./linalg.js";
import { convMethods } from "./conv.js";
import { compositeMethods } from "./composite.js";

for (const m of [elementwiseMethods, reduceMethods, movementMethods, indexingMethods, linalgMethods, convMethods, compositeMethods])
  for (const [k, f] of Object.entries(m)) Object.defineProperty(Tensor.prototype, k, { value: f, writable: true, configurable: true });

export * from "./elementwise.js";
export * from "./reduce.js";
export * from "./movement.js";
export * from "./indexing.js";
export * from "./linalg.js";
export * from "./conv.js";
export * from "./composite.js";
