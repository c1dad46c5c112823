/**
 * Eager realization: computes the values of lazy nodes through the same compiler as `jit`.
 * Pending results of compiled calls are awaited first; a graph that still needs a jit
 * placeholder means values were read while tracing, which is an error.
 */
import { Node, hostValue } from "../jit/ir.js";
import type { HostBuffer } from "../jit/buffer.js";
import { buildGraph } from "../jit/graph.js";
import { compileGraph } from "../jit/compile.js";
import { getDefaultBackend, type OptLevel } from "../jit/backend.js";
import { TraceError } from "../jit/errors.js";
import { userSite } from "../jit/site.js";

let eagerOpt: OptLevel = 2;
/** Optimization level for eager (non-jit) realization. */
export function setEagerOpt(o: OptLevel): void { eagerOpt = o; }

/** Finds the external (pending) nodes that `roots` depend on, stopping at known values. */
function pendingExternals(roots: readonly Node[]): Node[] {
  const out: Node[] = [], seen = new Set<Node>(), stack = [...roots];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n) || hostValue(n)) continue;
    seen.add(n);
    if (n.op === "external") out.push(n);
    else stack.push(...n.inputs);
  }
  return out;
}

/** Realizes nodes, returning their host buffers and remembering them on the nodes. */
export async function realize(nodes: readonly Node[], backend = getDefaultBackend()): Promise<HostBuffer[]> {
  if (nodes.every((n) => hostValue(n))) return nodes.map((n) => hostValue(n)!);
  const ext = pendingExternals(nodes);
  await Promise.all(ext.map(async (e) => { e.realized = await e.attrs.thunk!(); }));
  const todo = nodes.filter((n) => !hostValue(n));
  if (todo.length) {
    const g = buildGraph([], todo);
    const ph = g.nodes.find((n) => n.op === "input");
    if (ph) throw new TraceError("cannot read the values of a traced tensor inside a jit function", {
      op: "data", site: userSite(),
      hint: "values exist only when the compiled function runs: return the tensor from the function and read it outside",
    });
    // eager graphs change with every value, so they skip the compile cache
    const c = compileGraph(g, backend, { opt: eagerOpt }, false);
    const outs = await c.exe.run([]);
    todo.forEach((n, i) => { n.realized = outs[i]; });
  }
  return nodes.map((n) => hostValue(n)!);
}
