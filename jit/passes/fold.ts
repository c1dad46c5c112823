/**
 * Constant folding: a node whose inputs are all constants is evaluated on the host at compile
 * time and replaced by a constant holding its value.
 *
 * jit/ never imports a backend, so the evaluation itself is registered from outside: the js
 * reference backend calls `setConstEvaluator(evalNodeOnHost)` when it loads. Without an
 * evaluator, `fold` leaves graphs unchanged. `makeFoldPass(evaluate)` builds a fold pass with
 * an explicit evaluator (tests, tools).
 *
 * Broadcasts stay lazy:
 * - an `expand` is never folded itself, and `expand(const)` counts as a constant input;
 * - an elementwise op whose inputs are all expands of constants of one shape is evaluated on
 *   the small constants and expanded again: `expand(2) * expand(3)` → `expand(6)`;
 * - any other node folds only if its output is at most {@link FoldLimits.smallElements}
 *   elements, or at most {@link FoldLimits.maxGrowth} times the bytes of the constants it
 *   reads (an expanded input counts with its unexpanded bytes).
 *
 * Folding is also skipped when the host work is large (more than {@link FoldLimits.maxWork}
 * multiply-adds or element visits: big matmuls/convolutions of constants are left to the
 * backend), and when the evaluator throws (e.g. a gather index out of range): the error then
 * happens at run time, as it does without optimization.
 *
 * @example
 * setConstEvaluator((n, ins) => myHostKernel(n, ins));
 * const g2 = fold(g);                     // exp(const) → const
 */
import { Node, node, constNode, numel, sameShape, UNARY_OPS, BINARY_OPS } from "../ir.js";
import type { HostBuffer } from "../buffer.js";
import { itemSize } from "../dtype.js";
import { rebuild, type Graph } from "../graph.js";

/**
 * Evaluates one node given the values of its inputs (in order); returns a buffer of the node's
 * dtype and shape holding exactly what the reference backend would compute.
 */
export type ConstEvaluator = (n: Node, inputs: readonly HostBuffer[]) => HostBuffer;

export interface FoldLimits {
  /** Outputs with at most this many elements may always fold (default 4096). */
  readonly smallElements: number;
  /** Larger outputs fold only if their bytes are at most this many times the inputs' (default 2). */
  readonly maxGrowth: number;
  /** Most host work (multiply-adds / element visits) one fold may take (default 2^22). */
  readonly maxWork: number;
}

export const DEFAULT_FOLD_LIMITS: FoldLimits = { smallElements: 4096, maxGrowth: 2, maxWork: 1 << 22 };

let registered: ConstEvaluator | undefined;

/** Registers (or, with undefined, removes) the evaluator the default `fold` pass uses. */
export function setConstEvaluator(evaluate: ConstEvaluator | undefined): void {
  registered = evaluate;
}

/** The evaluator the default `fold` pass uses, if one is registered. */
export function getConstEvaluator(): ConstEvaluator | undefined {
  return registered;
}

const NEVER_FOLD: ReadonlySet<string> = new Set(["const", "input", "external"]);

const prod = (s: readonly number[]): number => numel(s);

/** Rough host cost of evaluating `n`: multiply-adds for anchors, element visits otherwise. */
export function foldWork(n: Node): number {
  const ins = n.inputs, a = n.attrs;
  switch (n.op) {
    case "matmul": { const x = ins[0]!.shape; return n.size * x[x.length - 1]!; }
    case "conv": return n.size * prod(ins[1]!.shape.slice(1));
    case "convTranspose": return ins[0]!.size * prod(ins[1]!.shape.slice(1));
    case "pool": return n.size * prod(a.kernel!);
    default: return n.size + ins.reduce((s, i) => s + i.size, 0);
  }
}

/**
 * Whether folding `n` stays within `limits`, given the bytes of the constants it reads
 * (`inBytes`, unexpanded) and the host work of materializing expanded inputs (`extraWork`).
 */
export function worthFolding(n: Node, inBytes: number, extraWork = 0, limits: FoldLimits = DEFAULT_FOLD_LIMITS): boolean {
  if (foldWork(n) + extraWork > limits.maxWork) return false;
  if (n.size <= limits.smallElements) return true;
  return n.size * itemSize(n.dtype) <= limits.maxGrowth * inBytes;
}

const ELEMENTWISE: ReadonlySet<string> = new Set<string>([...UNARY_OPS, ...BINARY_OPS, "where", "cast"]);

/** The constant under `n` when `n` is a constant or an expanded constant. */
const constSource = (n: Node): Node | undefined =>
  n.op === "const" ? n : n.op === "expand" && n.inputs[0]!.op === "const" ? n.inputs[0] : undefined;

const bytesOf = (n: Node): number => n.size * itemSize(n.dtype);

/** Folds every foldable node of `g` with `evaluate`, bottom-up (chains of constants fold in one run). */
export function foldWith(g: Graph, evaluate: ConstEvaluator, limits: FoldLimits = DEFAULT_FOLD_LIMITS): Graph {
  const run = (m: Node, values: HostBuffer[]): HostBuffer | undefined => {
    let v: HostBuffer;
    try { v = evaluate(m, values); }
    catch { return undefined; } // let it fail at run time, where the error is reported as without folding
    if (v.dtype !== m.dtype || v.shape.length !== m.shape.length || v.shape.some((d, i) => d !== m.shape[i]) || v.data.length !== m.size)
      throw new Error(`internal: constant evaluator returned ${v.dtype}[${v.shape}] for ${m.op} of ${m.dtype}[${m.shape}]`);
    return v;
  };
  return rebuild(g, (n, ins) => {
    if (NEVER_FOLD.has(n.op) || ins.length === 0) return undefined;
    const srcs = ins.map(constSource);
    if (!srcs.every((s) => s)) return undefined;
    const src = srcs as Node[];
    const expanded = ins.filter((i) => i.op === "expand");
    // elementwise over broadcasts of one shape: compute on the small constants, expand the result
    if (ELEMENTWISE.has(n.op) && expanded.length === ins.length && src.every((s) => sameShape(s.shape, src[0]!.shape))) {
      const small = new Node(n.op, src, n.attrs, src[0]!.shape, n.dtype, n.site);
      if (!worthFolding(small, src.reduce((b, s) => b + bytesOf(s), 0), 0, limits)) return undefined;
      const v = run(small, src.map((s) => s.attrs.value!));
      if (!v) return undefined;
      return sameShape(small.shape, n.shape) ? constNode(v, n.site) : node("expand", [constNode(v, n.site)], {}, n.shape, n.site);
    }
    if (n.op === "expand") return undefined; // a broadcast stays lazy
    const m = ins.every((x, i) => x === n.inputs[i]) ? n : new Node(n.op, ins, n.attrs, n.shape, n.dtype, n.site);
    const extra = expanded.reduce((w, e) => w + e.size, 0);
    if (!worthFolding(m, src.reduce((b, s) => b + bytesOf(s), 0), extra, limits)) return undefined;
    const values: HostBuffer[] = [];
    for (let i = 0; i < ins.length; i++) {
      const x = ins[i]!;
      const b = x.op === "const" ? x.attrs.value! : run(x, [src[i]!.attrs.value!]);
      if (!b) return undefined;
      values.push(b);
    }
    const v = run(m, values);
    return v && constNode(v, n.site);
  });
}

/** A fold pass with an explicit evaluator. */
export function makeFoldPass(evaluate: ConstEvaluator, limits: FoldLimits = DEFAULT_FOLD_LIMITS): (g: Graph) => Graph {
  return (g) => foldWith(g, evaluate, limits);
}

/** Constant folding with the registered evaluator (identity when none is registered). */
export function fold(g: Graph): Graph {
  return registered ? foldWith(g, registered) : g;
}
