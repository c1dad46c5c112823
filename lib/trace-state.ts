/**
 * Whether a jit trace is running, and the check that values are not read while tracing.
 */
import type { Node } from "../jit/ir.js";
import { hostValue } from "../jit/ir.js";
import { TraceError } from "../jit/errors.js";
import { userSite } from "../jit/site.js";

let depth = 0;
export const tracing = (): boolean => depth > 0;
export function enterTrace(): void { depth++; }
export function exitTrace(): void { depth--; }

/** Throws (synchronously) if `n` depends on a jit placeholder. */
export function assertNotTraced(n: Node, what: string): void {
  if (!depth) return;
  const seen = new Set<Node>(), stack = [n];
  while (stack.length) {
    const x = stack.pop()!;
    if (seen.has(x) || hostValue(x)) continue;
    seen.add(x);
    if (x.op === "input")
      throw new TraceError(`cannot read the values of a traced tensor inside a jit function (${what})`, {
        op: what, site: userSite(),
        hint: "inside jit, tensors are placeholders with shapes but no values yet: return the tensor and read it after the call",
      });
    stack.push(...x.inputs);
  }
}
