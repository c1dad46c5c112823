/**
 * The `js` reference backend: interprets the op-level IR node by node over float64 arrays,
 * rounding every result to its node's dtype. It is the oracle every other backend and every
 * optimization level is tested against, so it stays plain: no fusion, no views, no tricks.
 *
 * @example
 * const exe = getBackend("js").compile(graph, { opt: 0 });
 * const [y] = await exe.run([xBuffer]);
 */
import { registerBackend, type Backend, type Executable, type CompileOptions } from "../../jit/backend.js";
import type { Graph } from "../../jit/graph.js";
import { Node, UNARY_OPS, BINARY_OPS, numel, hostValue } from "../../jit/ir.js";
import { type HostBuffer, fromF64, toF64 } from "../../jit/buffer.js";
import { castValue, isInt, itemSize } from "../../jit/dtype.js";
import { CompileError, RuntimeError, KilnError } from "../../jit/errors.js";
import * as K from "./kernels.js";
import { setConstEvaluator } from "../../jit/passes/fold.js";

const UNARY = new Set<string>(UNARY_OPS), BINARY = new Set<string>(BINARY_OPS);

/** Integer width a node's result wraps at (0 for floats and bool). */
const intBits = (n: Node): number => (n.dtype === "int64" ? 64 : isInt(n.dtype) ? 32 : 0);

/** Evaluates one node given its inputs' values (unrounded math; the caller rounds). */
function evalNode(n: Node, v: Float64Array[]): Float64Array {
  const x = v[0]!, xs = n.inputs[0]?.shape ?? [], a = n.attrs;
  const intIn = n.inputs.length > 0 && isInt(n.inputs[0]!.dtype);
  if (UNARY.has(n.op)) {
    const f = K.unaryFn(n.op, intIn);
    return x.map(f);
  }
  if (BINARY.has(n.op)) {
    const f = K.binaryFn(n.op, intIn, n.inputs[0]!.dtype === "int64"), y = v[1]!, out = new Float64Array(x.length);
    for (let i = 0; i < out.length; i++) out[i] = f(x[i]!, y[i]!);
    return out;
  }
  if (a.zeroB) return int8Gemm(n, x, v[1]!);
  switch (n.op) {
    case "where": { const out = new Float64Array(x.length); for (let i = 0; i < out.length; i++) out[i] = x[i] !== 0 ? v[1]![i]! : v[2]![i]!; return out; }
    case "cast": return Float64Array.from(x); // rounded in place next: never alias the input
    case "reduce": return K.reduce(x, xs, a.axes!, a.fn!, intBits(n));
    case "argreduce": return K.argreduce(x, xs, a.axis!, a.fn!, !!a.selectLast);
    case "cumsum": return K.cumsum(x, xs, a.axis!, !!a.exclusive, !!a.reverse);
    case "reshape": return x;
    case "permute": return K.permute(x, xs, a.perm!);
    case "expand": return K.expand(x, xs, n.shape);
    case "slice": return K.slice(x, xs, n.shape, a.starts!, a.steps!);
    case "pad": return K.pad(x, xs, a.pads!, a.mode ?? "constant", a.padValue ?? 0);
    case "concat": return K.concat(v, n.inputs.map((i) => i.shape), a.axis!);
    case "matmul": return K.matmul(x, v[1]!, xs, n.inputs[1]!.shape, intBits(n));
    case "conv": return K.conv(x, v[1]!, n);
    case "convTranspose": return K.convTranspose(x, v[1]!, n);
    case "pool": return K.pool(x, n);
    case "gather": return K.gather(x, v[1]!, n);
    case "gatherElements": return K.gatherElements(x, v[1]!, n);
    case "scatterElements": return K.scatterElements(x, v[1]!, v[2]!, n);
  }
  throw new CompileError(`the js backend has no rule for op "${n.op}"`, { op: n.op, node: `%${n.id}` });
}

/**
 * An int8 GEMM (matmul or conv with zero points): operands minus their zero points, then the
 * float path, which is exact here (|Σ| ≤ K·255² stays far below 2^53); the int32 result wraps.
 */
function int8Gemm(n: Node, x: Float64Array, w: Float64Array): Float64Array {
  const za = n.attrs.zeroA ?? 0, zb = n.attrs.zeroB!, ws = n.inputs[1]!.shape;
  const a = x.map((e) => e - za);
  // zeroB runs along B's last axis (matmul columns) or the weight's first (conv channels)
  const inner = n.op === "matmul" ? 1 : numel(ws.slice(1)), cols = n.op === "matmul" ? ws[ws.length - 1]! : ws[0]!;
  const b = w.map((e, i) => e - zb[zb.length === 1 ? 0 : Math.floor(i / inner) % cols]!);
  return n.op === "matmul" ? K.matmul(a, b, n.inputs[0]!.shape, ws) : K.conv(a, b, n);
}

function roundTo(out: Float64Array, n: Node): Float64Array {
  const d = n.dtype;
  if (d === "float32") { for (let i = 0; i < out.length; i++) out[i] = Math.fround(out[i]!); }
  else for (let i = 0; i < out.length; i++) out[i] = castValue(out[i]!, d);
  return out;
}

/**
 * Evaluates one node on host values with the reference semantics: what constant folding uses,
 * so a folded constant is exactly what the interpreter would have computed.
 */
export function evalNodeOnHost(n: Node, inputs: readonly HostBuffer[]): HostBuffer {
  return fromF64(n.dtype, n.shape, roundTo(evalNode(n, inputs.map(toF64)), n));
}

class Interpreter implements Executable {
  readonly backend = "js";
  constructor(private readonly g: Graph) {
    for (const n of g.nodes) if (n.op === "external") throw new CompileError("a graph to compile still holds a pending result", { op: n.op });
  }
  async run(inputs: readonly HostBuffer[]): Promise<HostBuffer[]> {
    const g = this.g;
    if (inputs.length !== g.inputs.length) throw new RuntimeError(`expected ${g.inputs.length} inputs, got ${inputs.length}`);
    const vals = new Map<Node, Float64Array>();
    g.inputs.forEach((p, i) => {
      const b = inputs[i]!;
      if (b.dtype !== p.dtype || b.shape.length !== p.shape.length || b.shape.some((d, k) => d !== p.shape[k]))
        throw new RuntimeError(`input ${i} is ${b.dtype}[${b.shape}], the graph was compiled for ${p.dtype}[${p.shape}]`);
      vals.set(p, toF64(b));
    });
    // free each value after its last use, so the oracle's memory stays bounded by live values
    const last = new Map<Node, number>();
    g.nodes.forEach((n, i) => n.inputs.forEach((x) => last.set(x, i)));
    const keep = new Set(g.outputs);
    g.nodes.forEach((n, i) => {
      if (!vals.has(n)) {
        const c = hostValue(n);
        if (c) vals.set(n, toF64(c));
        else if (n.op === "input") throw new RuntimeError("graph uses a placeholder that is not among its inputs", { op: "input" });
        else {
          try { vals.set(n, roundTo(evalNode(n, n.inputs.map((x) => vals.get(x)!)), n)); }
          catch (e) {
            if (e instanceof KilnError) throw e;
            throw new RuntimeError(`failed: ${(e as Error).message}`, { op: n.op, node: `%${n.id}`, site: n.site?.toString() });
          }
        }
      }
      for (const x of n.inputs) if (last.get(x) === i && !keep.has(x)) vals.delete(x);
    });
    return g.outputs.map((o) => fromF64(o.dtype, o.shape, vals.get(o)!));
  }
  explain() {
    const bytes = this.g.nodes.filter((n) => n.op !== "input" && n.op !== "const").reduce((s, n) => s + numel(n.shape) * itemSize(n.dtype), 0);
    return [
      { title: "kernels", text: `${this.g.nodes.length} nodes, interpreted one at a time (the js backend does not fuse)`, metrics: { kernels: this.g.nodes.filter((n) => n.op !== "input" && n.op !== "const").length } },
      { title: "memory", text: `${bytes} bytes of intermediates, each freed after its last use` },
    ];
  }
}

export const jsBackend: Backend = {
  name: "js",
  available: () => true,
  compile: (g: Graph, _o: CompileOptions) => new Interpreter(g),
};

registerBackend(jsBackend);
setConstEvaluator(evalNodeOnHost);
