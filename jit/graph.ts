/**
 * A Graph is the op-level IR of one traced function: placeholders in, nodes in topological
 * order, outputs. Passes are functions Graph → Graph.
 *
 * @example
 * const g = buildGraph([inputNode], [outNode]);
 * console.log(printGraph(g));
 */
import { Node, constNode, hostValue, fmtShape } from "./ir.js";
import { hashBytes, bufferBytes } from "./buffer.js";

export interface Graph {
  /** Placeholders, in argument order (op "input"). */
  readonly inputs: readonly Node[];
  /** Every node reachable from the outputs, in topological order (inputs first). */
  readonly nodes: readonly Node[];
  readonly outputs: readonly Node[];
}

/**
 * Collects the nodes the outputs need, in topological order. Realized nodes become constant
 * leaves (their inputs are not visited).
 */
export function buildGraph(inputs: readonly Node[], outputs: readonly Node[]): Graph {
  const swap = new Map<Node, Node>();
  const leaf = (n: Node): Node => {
    if (n.op === "const" || !n.realized) return n;
    let c = swap.get(n);
    if (!c) { c = constNode(n.realized, n.site); swap.set(n, c); }
    return c;
  };
  const order: Node[] = [];
  const seen = new Set<Node>();
  // iterative DFS: model graphs can be deeper than the JS stack
  const stack: [Node, number][] = [];
  const roots = outputs.map(leaf);
  for (const r of roots) {
    if (seen.has(r)) continue;
    stack.push([r, 0]);
    seen.add(r);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const [n, i] = top;
      if (n.realized && n.op !== "const") throw new Error("internal: realized node not swapped");
      if (i < n.inputs.length) {
        top[1]++;
        const c = leaf(n.inputs[i]!);
        if (!seen.has(c)) { seen.add(c); stack.push([c, 0]); }
      } else {
        order.push(n);
        stack.pop();
      }
    }
  }
  if (swap.size) return rebuild({ inputs, nodes: order, outputs: roots }, () => undefined, swap);
  return { inputs, nodes: order, outputs: roots };
}

/**
 * Rebuilds a graph bottom-up. `rewrite(node, newInputs)` returns a replacement node or
 * undefined to keep it (copied with new inputs if they changed). The base of every pass.
 */
export function rebuild(
  g: Graph,
  rewrite: (n: Node, inputs: Node[]) => Node | undefined,
  seed?: Map<Node, Node>,
): Graph {
  const map = new Map<Node, Node>(seed);
  const get = (n: Node) => map.get(n) ?? n;
  const nodes: Node[] = [];
  const added = new Set<Node>();
  const add = (n: Node) => {
    // new nodes made by a rewrite may bring new inputs of their own: add those first
    const st: [Node, number][] = [[n, 0]];
    while (st.length) {
      const top = st[st.length - 1]!;
      if (added.has(top[0])) { st.pop(); continue; }
      if (top[1] < top[0].inputs.length) { const c = top[0].inputs[top[1]++]!; if (!added.has(c)) st.push([c, 0]); continue; }
      added.add(top[0]); nodes.push(top[0]); st.pop();
    }
  };
  for (const n of g.nodes) {
    const ins = n.inputs.map(get);
    let out = rewrite(n, ins);
    if (!out) out = ins.some((x, i) => x !== n.inputs[i]) ? new Node(n.op, ins, n.attrs, n.shape, n.dtype, n.site) : n;
    map.set(n, out);
  }
  // nodes no output needs are dropped here (unused inputs stay in `inputs`)
  for (const o of g.outputs) add(get(o));
  return { inputs: g.inputs.map(get), nodes, outputs: g.outputs.map(get) };
}

/** Number of uses of each node inside the graph (outputs count as a use). */
export function useCounts(g: Graph): Map<Node, number> {
  const c = new Map<Node, number>();
  for (const n of g.nodes) for (const i of n.inputs) c.set(i, (c.get(i) ?? 0) + 1);
  for (const o of g.outputs) c.set(o, (c.get(o) ?? 0) + 1);
  return c;
}

function attrText(n: Node, constHash: (n: Node) => string): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(n.attrs)) {
    if (v === undefined) continue;
    if (k === "value") parts.push(`value=#${constHash(n)}`);
    else if (k === "thunk") parts.push(`thunk`);
    // -0 must not print (and hash) like 0: a pad value of -0 is a different graph
    else parts.push(`${k}=${Array.isArray(v) ? `[${v.join(",")}]` : Object.is(v, -0) ? "-0" : String(v)}`);
  }
  return parts.join(" ");
}

/** A structural hash of the graph: ops, attrs, shapes, dtypes, wiring and constant contents. */
export function hashGraph(g: Graph): string {
  const idx = new Map<Node, number>();
  g.nodes.forEach((n, i) => idx.set(n, i));
  const ch = (n: Node) => hashBytes(bufferBytes(hostValue(n)!));
  const lines = g.nodes.map((n) => `${n.op}(${n.inputs.map((i) => idx.get(i)).join(",")}) ${n.dtype}${fmtShape(n.shape)} ${attrText(n, ch)}`);
  lines.push(`in ${g.inputs.map((i) => idx.get(i) ?? -1).join(",")} out ${g.outputs.map((o) => idx.get(o)).join(",")}`);
  return hashBytes(new TextEncoder().encode(lines.join("\n")));
}

/** Readable listing of a graph, one node a line, e.g. `%3 = add(%1, %2) : float32[2, 3]`. */
export function printGraph(g: Graph): string {
  const name = new Map<Node, string>();
  g.nodes.forEach((n, i) => name.set(n, `%${i}`));
  const lines = g.nodes.map((n) => {
    const a = attrText(n, (c) => {
      const v = hostValue(c)!;
      return v.data.length <= 4 ? `{${Array.from(v.data as ArrayLike<number | bigint>).join(",")}}` : hashBytes(bufferBytes(v));
    });
    return `${name.get(n)} = ${n.op}(${n.inputs.map((i) => name.get(i)).join(", ")})${a ? " " + a : ""} : ${n.dtype}${fmtShape(n.shape)}`;
  });
  lines.push(`return ${g.outputs.map((o) => name.get(o)).join(", ")}`);
  return lines.join("\n");
}
