/**
 * Constant folding: a node whose inputs are all constants is evaluated on the host at compile
 * time and replaced by a constant holding its value.
 *
 * jit/ never imports a backend, so the evaluation itself is registered from outside: the js
 * reference backend calls `setConstEvaluator(evalNodeOnHost)` when it loads. Without an
 * evaluator, `fold` leaves graphs unchanged. `makeFoldPass(evaluate)` builds a fold pass with
 * an explicit evaluator (tests, tools).
 *
 * Folding is skipped where it would not pay:
 * - the output is much larger than the inputs (more than {@link FoldLimits.maxGrowth} times
 *   their bytes and more than {@link FoldLimits.smallElements} elements): a broadcast of a
 *   scalar stays a lazy `expand` instead of becoming a big array;
 * - the host work is large (more than {@link FoldLimits.maxWork} multiply-adds or element
 *   visits): big matmuls/convolutions of constants are left to the backend;
 * - the evaluator throws (e.g. a gather index out of range): the error then happens at run
 *   time, as it does without optimization.
 *
 * @example
 * setConstEvaluator((n, ins) => myHostKernel(n, ins));
 * const g2 = fold(g);                     // exp(const) → const
 */
import { Node, constNode, numel } from "../ir.js";
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

/** Whether folding `n` (whose inputs are constants) stays within `limits`. */
export function worthFolding(n: Node, limits: FoldLimits = DEFAULT_FOLD_LIMITS): boolean {
  if (foldWork(n) > limits.maxWork) return false;
  if (n.size <= limits.smallElements) return true;
  const outBytes = n.size * itemSize(n.dtype);
  const inBytes = n.inputs.reduce((s, i) => s + i.size * itemSize(i.dtype), 0);
  return outBytes <= limits.maxGrowth * inBytes;
}

/** Folds every foldable node of `g` with `evaluate`, bottom-up (chains of constants fold in one run). */
export function foldWith(g: Graph, evaluate: ConstEvaluator, limits: FoldLimits = DEFAULT_FOLD_LIMITS): Graph {
  return rebuild(g, (n, ins) => {
    if (NEVER_FOLD.has(n.op) || ins.length === 0 || !ins.every((i) => i.op === "const")) return undefined;
    const m = ins.every((x, i) => x === n.inputs[i]) ? n : new Node(n.op, ins, n.attrs, n.shape, n.dtype, n.site);
    if (!worthFolding(m, limits)) return undefined;
    let v: HostBuffer;
    try { v = evaluate(m, ins.map((i) => i.attrs.value!)); }
    catch { return undefined; } // let it fail at run time, where the error is reported as without folding
    if (v.dtype !== n.dtype || v.shape.length !== n.shape.length || v.shape.some((d, i) => d !== n.shape[i]) || v.data.length !== n.size)
      throw new Error(`internal: constant evaluator returned ${v.dtype}[${v.shape}] for ${n.op} of ${n.dtype}[${n.shape}]`);
    return constNode(v, n.site);
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
