/**
 * Fusion: groups op-level nodes into kernels of the Kernel IR.
 *
 * Some nodes are "materialized" (their value is stored in a buffer): graph outputs, anchors
 * that cannot sit at a consumer kernel's base, reductions used by several kernels, and costly
 * values needed in several places. Every materialized node roots one kernel, which inlines
 * every non-materialized producer:
 * - elementwise ops become expression nodes;
 * - movement ops are pushed to the loads and composed into their views (no copies);
 * - pad and concat become `select`s between parts;
 * - a reduction becomes a reduce stage when its consumers read it at the reduced shape or
 *   broadcast back over the reduced axes (softmax and layer norm are one kernel);
 * - an anchor (matmul, conv, …) whose only consumer chain is elementwise at its output shape
 *   becomes the kernel's base, and the chain its epilogue (matmul-bias-gelu is one kernel).
 * When a node cannot be inlined where it is met (a reshape no view can express, a second
 * anchor, a reduction over other axes), it is materialized and the kernels are rebuilt.
 *
 * @example
 * const plan = fuse(graph, { fuse: true });   // kernels + buffers (memory is planned after)
 */
import { Node, node as mkNode, UNARY_OPS, BINARY_OPS, numel, hostValue, sameShape, type Shape } from "../ir.js";
import type { Graph } from "../graph.js";
import { toF64 } from "../buffer.js";
import { CompileError } from "../errors.js";
import { View } from "./view.js";
import { reshapeExpr, type Anchor, type KBuffer, type KExpr, type Kernel, type Operand, type ReduceStage } from "./ir.js";

const ELEMENTWISE = new Set<string>([...UNARY_OPS, ...BINARY_OPS, "where", "cast"]);
const MOVEMENT = new Set<string>(["reshape", "permute", "expand", "slice", "pad", "concat"]);
const ANCHORS = new Set<string>(["matmul", "conv", "convTranspose", "pool", "gather", "gatherElements", "scatterElements", "argreduce", "cumsum"]);
const TRANSCENDENTAL = new Set<string>(["exp", "log", "sin", "cos", "tan", "tanh", "asin", "acos", "atan", "sinh", "cosh", "erf", "pow", "sqrt", "div", "recip"]);

export interface FuseOptions {
  /** false: every compute node is its own kernel (movement ops are still views). */
  readonly fuse: boolean;
}

export interface Fused {
  readonly buffers: KBuffer[];
  readonly kernels: Kernel[];
  readonly inputs: number[];
  readonly outputs: { buf: number; shape: readonly number[]; dtype: KBuffer["dtype"] }[];
}

/** A movement applied to a view on the way from a buffer up to the kernel's coordinates. */
interface Move {
  readonly apply: (v: View) => View | undefined;
  /** The node to materialize if this move cannot be expressed. */
  readonly blame: Node;
  readonly key: string;
}

class Refuse { constructor(readonly node: Node) {} }

/** The value of a constant node if all its elements are equal (so it can be an immediate). */
function uniformConst(n: Node): number | undefined {
  const v = hostValue(n);
  if (!v) return undefined;
  if (v.data.length === 0) return 0;
  const f = toF64(v);
  for (let i = 1; i < f.length; i++) if (!Object.is(f[i], f[0])) return undefined;
  return f[0];
}

function moveOf(n: Node): Move[] {
  const x = n.inputs[0]!, a = n.attrs;
  switch (n.op) {
    case "reshape": return [{ apply: (v) => v.reshape(n.shape), blame: x, key: `r${n.shape}` }];
    case "permute": return [{ apply: (v) => v.permute(a.perm!), blame: x, key: `p${a.perm}` }];
    case "expand": return [{ apply: (v) => v.expand(n.shape), blame: x, key: `e${n.shape}` }];
    case "slice": return [{ apply: (v) => v.slice(a.starts!, a.steps!, n.shape), blame: x, key: `s${a.starts}/${a.steps}/${n.shape}` }];
  }
  throw new Error(`internal: not a view move: ${n.op}`);
}

const padMove = (before: number[], after: number[], blame: Node): Move => ({
  apply: (v) => v.pad(before, after), blame, key: `d${before}/${after}`,
});

function applyMoves(v: View, moves: readonly Move[]): View {
  for (const m of moves) {
    const r = m.apply(v);
    if (!r) throw new Refuse(m.blame);
    v = r;
  }
  return v;
}

/** Builds one kernel rooted at a materialized node. */
class KernelBuilder {
  shape?: readonly number[];
  reduceAxes?: readonly number[];
  readonly stages: ReduceStage[] = [];
  anchor?: Anchor;
  anchorNode?: Node;
  readonly ops = new Set<Node>();
  private readonly memo = new Map<string, KExpr>();
  private readonly accOf = new Map<Node, number>();
  private stageDepth = 0;

  constructor(private readonly f: Fuser, readonly root: Node) {}

  build(n: Node, moves: readonly Move[]): KExpr {
    const key = `${n.id}|${moves.map((m) => m.key).join(";")}`;
    let e = this.memo.get(key);
    if (!e) { e = this.make(n, moves); this.memo.set(key, e); }
    return e;
  }

  private make(n: Node, moves: readonly Move[]): KExpr {
    const f = this.f;
    if (n !== this.root && (f.isBuffer(n))) {
      const c = uniformConst(n);
      if (c !== undefined) return { op: "const", value: c, dtype: n.dtype };
      return { op: "load", buf: f.bufferOf(n), view: applyMoves(View.contiguous(n.shape), moves), dtype: n.dtype };
    }
    this.ops.add(n);
    f.noteUse(n, this.root);
    if (ELEMENTWISE.has(n.op))
      return { op: n.op as never, args: n.inputs.map((i) => this.build(i, moves)), dtype: n.dtype } as KExpr;
    switch (n.op) {
      case "reshape": case "permute": case "expand": case "slice":
        return this.build(n.inputs[0]!, [...moveOf(n), ...moves]);
      case "pad": return this.pad(n, moves);
      case "concat": return this.concat(n, moves);
      case "reduce": return this.reduce(n, moves);
    }
    if (ANCHORS.has(n.op)) return this.anchorBase(n, moves);
    throw new CompileError(`fusion has no rule for op "${n.op}"`, { op: n.op, node: `%${n.id}` });
  }

  /** The mask, in kernel coordinates, of positions of `n`'s output where `valid` holds. */
  private predicate(n: Node, valid: [number, number][], moves: readonly Move[]): [number, number][] {
    // strides do not matter for a predicate: only the mask is read
    const v = applyMoves(new View(n.shape, n.shape.map(() => 0), 0, valid), moves);
    return (v.mask ?? v.shape.map((d) => [0, d] as const)).map(([a, b]) => [a, b]);
  }

  private pad(n: Node, moves: readonly Move[]): KExpr {
    const x = n.inputs[0]!, r = x.shape.length, p = n.attrs.pads!;
    const mode = n.attrs.mode ?? "constant";
    if (p.every((v) => v === 0)) return this.build(x, moves);
    if (mode !== "constant") return this.build(edgePadAsConcat(n), moves);
    const before = p.slice(0, r), after = p.slice(r);
    const mask = this.predicate(n, x.shape.map((d, i) => [before[i]!, before[i]! + d]), moves);
    const inner = this.build(x, [padMove(before, after, x), ...moves]);
    return { op: "select", mask, args: [inner, { op: "const", value: n.attrs.padValue ?? 0, dtype: n.dtype }], dtype: n.dtype };
  }

  private concat(n: Node, moves: readonly Move[]): KExpr {
    const ax = n.attrs.axis!, total = n.shape[ax]!;
    const parts = n.inputs.filter((i) => i.shape[ax]! > 0);
    let off = 0;
    const built: { mask: [number, number][]; e: KExpr }[] = [];
    for (const part of parts) {
      const len = part.shape[ax]!;
      const before = n.shape.map((_, i) => (i === ax ? off : 0)), after = n.shape.map((_, i) => (i === ax ? total - off - len : 0));
      const mask = this.predicate(n, n.shape.map((d, i) => (i === ax ? [off, off + len] : [0, d])), moves);
      built.push({ mask, e: this.build(part, [padMove(before, after, part), ...moves]) });
      off += len;
    }
    // an empty concat is only ever read under a pad's mask: any value will do
    if (!built.length) return { op: "const", value: 0, dtype: n.dtype };
    let e = built[built.length - 1]!.e;
    for (let i = built.length - 2; i >= 0; i--) e = { op: "select", mask: built[i]!.mask, args: [built[i]!.e, e], dtype: n.dtype };
    return e;
  }

  private reduce(n: Node, moves: readonly Move[]): KExpr {
    const full = n.inputs[0]!.shape, axes = n.attrs.axes!;
    // consumers must read the result at the reduced shape or broadcast over the reduced axes
    const v = applyMovesOrNull(View.contiguous(n.shape), moves);
    const atReduced = v && sameView(v, View.contiguous(n.shape));
    const broadcast = v && sameView(v, View.contiguous(n.shape).expand(full));
    if (!atReduced && !broadcast) throw new Refuse(n);
    // a reduction is worth more inside this kernel than an anchor at its base: store the anchor
    if (this.anchorNode) throw new Refuse(this.anchorNode);
    if (this.shape === undefined) { this.shape = full; this.reduceAxes = axes; }
    else if (!sameShape(this.shape, full) || this.reduceAxes!.join() !== axes.join()) throw new Refuse(n);
    let s = this.accOf.get(n);
    if (s === undefined) {
      this.stageDepth++;
      const expr = this.build(n.inputs[0]!, []);
      this.stageDepth--;
      s = this.stages.length;
      this.stages.push({ fn: n.attrs.fn as ReduceStage["fn"], expr, dtype: n.dtype });
      this.accOf.set(n, s);
    }
    return { op: "acc", stage: s, dtype: n.dtype };
  }

  private anchorBase(n: Node, moves: readonly Move[]): KExpr {
    // reshapes between an anchor and its epilogue (a batched linear's [B·T, D] → [B, T, D]) keep
    // the bytes in place: the kernel is re-expressed in the anchor's shape once built
    const reshapesOnly = moves.every((m) => m.key.startsWith("r"));
    if (!reshapesOnly || this.anchor || this.stageDepth || this.reduceAxes) throw new Refuse(n);
    const f = this.f, ins = n.inputs;
    const contiguous = n.op !== "matmul";
    const operand = (i: number) => f.operand(ins[i]!, contiguous);
    switch (n.op) {
      case "matmul": this.anchor = { op: "matmul", a: operand(0), b: operand(1), node: n }; break;
      case "conv": case "convTranspose": this.anchor = { op: n.op, x: operand(0), w: operand(1), node: n }; break;
      case "pool": case "argreduce": case "cumsum": this.anchor = { op: n.op, x: operand(0), node: n }; break;
      case "gather": case "gatherElements": this.anchor = { op: n.op, x: operand(0), index: operand(1), node: n }; break;
      case "scatterElements": this.anchor = { op: n.op, x: operand(0), index: operand(1), updates: operand(2), node: n }; break;
    }
    this.anchorNode = n;
    if (!moves.length) this.shape = n.shape;
    return { op: "anchor", dtype: n.dtype };
  }
}

function applyMovesOrNull(v: View, moves: readonly Move[]): View | undefined {
  for (const m of moves) { const r = m.apply(v); if (!r) return undefined; v = r; }
  return v;
}

function sameView(a: View, b: View): boolean {
  return sameShape(a.shape, b.shape) && a.offset === b.offset && !a.mask && !b.mask &&
    a.strides.every((s, i) => s === b.strides[i] || a.shape[i] === 1);
}

/** Rewrites a reflect/edge pad on its first padded axis as a concat of slices (views). */
function edgePadAsConcat(n: Node): Node {
  const x = n.inputs[0]!, r = x.shape.length, p = n.attrs.pads!, reflect = n.attrs.mode === "reflect";
  const ax = x.shape.findIndex((_, i) => p[i]! > 0 || p[i + r]! > 0);
  const rest = p.map((v, i) => (i === ax || i === ax + r ? 0 : v));
  const inner = rest.some((v) => v > 0) ? mkNode("pad", [x], { ...n.attrs, pads: rest }) : x;
  const d = x.shape[ax]!, pb = p[ax]!, pa = p[ax + r]!;
  const sl = (start: number, step: number, len: number) => {
    const shape = inner.shape.map((s, i) => (i === ax ? len : s));
    return mkNode("slice", [inner], { starts: inner.shape.map((_, i) => (i === ax ? start : 0)), steps: inner.shape.map((_, i) => (i === ax ? step : 1)) }, shape);
  };
  const edge = (start: number, len: number) => mkNode("expand", [sl(start, 1, 1)], {}, inner.shape.map((s, i) => (i === ax ? len : s)));
  const parts: Node[] = [];
  if (pb) parts.push(reflect ? sl(pb, -1, pb) : edge(0, pb));
  parts.push(inner);
  if (pa) parts.push(reflect ? sl(d - 2, -1, pa) : edge(d - 1, pa));
  return mkNode("concat", parts, { axis: ax });
}

/** Decides what is materialized and builds the kernels. */
class Fuser {
  readonly materialized = new Set<Node>();
  private readonly buffers: KBuffer[] = [];
  private readonly bufOf = new Map<Node, number>();
  /**
   * Which kernel roots include each inlined node. A value read through a broadcast is not
   * stored for that reason: renderers hoist expressions out of the loops they do not depend on.
   */
  private readonly includedIn = new Map<Node, Set<Node>>();
  private readonly outputSet: Set<Node>;

  constructor(private readonly g: Graph, private readonly opts: FuseOptions, private readonly uses: Map<Node, Node[]>) {
    this.outputSet = new Set(g.outputs);
  }

  isBuffer(n: Node): boolean {
    return n.op === "input" || n.op === "const" || this.materialized.has(n);
  }

  bufferOf(n: Node): number {
    let id = this.bufOf.get(n);
    if (id === undefined) {
      id = this.buffers.length;
      const kind = n.op === "input" ? "input" : n.op === "const" ? "const" : this.outputSet.has(n) ? "output" : "temp";
      this.buffers.push({
        id, dtype: n.dtype, size: numel(n.shape), kind,
        index: kind === "input" ? n.attrs.index : kind === "output" ? this.g.outputs.indexOf(n) : undefined,
        value: kind === "const" ? hostValue(n) : undefined,
      });
      this.bufOf.set(n, id);
    }
    return id;
  }

  noteUse(n: Node, root: Node): void {
    let s = this.includedIn.get(n);
    if (!s) this.includedIn.set(n, (s = new Set()));
    s.add(root);
  }

  /** An anchor operand: a view of a buffer, following movement ops down to it. */
  operand(n: Node, contiguous: boolean): Operand {
    const moves: Move[] = [];
    let x = n;
    while (!this.isBuffer(x) && (x.op === "reshape" || x.op === "permute" || x.op === "expand" || x.op === "slice")) {
      moves.unshift(...moveOf(x));
      x = x.inputs[0]!;
    }
    if (!this.isBuffer(x)) throw new Refuse(x);
    const view = applyMoves(View.contiguous(x.shape), moves);
    if (contiguous && !view.isContiguous) throw new Refuse(n);
    return { buf: this.bufferOf(x), view };
  }

  run(): Fused {
    const g = this.g;
    // initial choice: outputs, anchors not at a consumer's base, and (unfused) every compute node
    for (const n of g.nodes) {
      if (n.op === "input" || n.op === "const") continue;
      if (this.outputSet.has(n)) this.materialized.add(n);
      else if (!this.opts.fuse && !MOVEMENT.has(n.op)) this.materialized.add(n);
      else if (ANCHORS.has(n.op)) {
        const u = this.uses.get(n) ?? [];
        // scatter writes scattered positions, so it cannot hand a value to an epilogue
        // (through reshapes: a consumer that sees the same bytes in another shape)
        let c = u[0];
        while (c && c.op === "reshape" && (this.uses.get(c) ?? []).length === 1 && !this.outputSet.has(c)) c = this.uses.get(c)![0];
        if (n.op === "scatterElements" || u.length !== 1 || !c || !ELEMENTWISE.has(c.op) || c.size !== n.size) this.materialized.add(n);
      }
    }
    for (let round = 0; ; round++) {
      if (round > g.nodes.length + 2) throw new CompileError("fusion did not converge", { hint: "please report this graph" });
      const r = this.tryBuild();
      if (r instanceof Refuse) { this.materialized.add(r.node); continue; }
      // a reduction or a costly value included in several kernels is computed once
      let changed = false;
      for (const [n, roots] of this.includedIn) {
        // movement nodes are views: their compute input is the one to store
        if (this.materialized.has(n) || MOVEMENT.has(n.op)) continue;
        const costly = n.op === "reduce" || ANCHORS.has(n.op) || cost(n, this) > 6;
        if (roots.size > 1 && costly) { this.materialized.add(n); changed = true; }
      }
      if (!changed) return r;
    }
  }

  private tryBuild(): Fused | Refuse {
    this.includedIn.clear();
    this.buffers.length = 0;
    this.bufOf.clear();
    const g = this.g;
    const inputs = g.inputs.map((i) => this.bufferOf(i));
    const kernels: Kernel[] = [];
    try {
      for (const n of g.nodes) {
        if (!this.materialized.has(n) || n.size === 0) continue;
        // a root reached only through trailing reshapes stores the same bytes: peel them
        let base = n;
        while (base.op === "reshape" && !this.isBuffer(base.inputs[0]!) && (this.uses.get(base.inputs[0]!) ?? []).length === 1) base = base.inputs[0]!;
        const b = new KernelBuilder(this, base);
        let value = b.build(base, []);
        if (b.shape === undefined) b.shape = base.shape;
        const reduceAxes = b.reduceAxes ?? [];
        let outShape = base.shape;
        if (b.anchorNode && !sameShape(b.anchorNode.shape, base.shape)) {
          // an anchor reached through reshapes: the kernel runs in the anchor's shape
          const v = reshapeExpr(value, b.anchorNode.shape);
          if (!v) throw new Refuse(b.anchorNode);
          value = v;
          b.shape = outShape = b.anchorNode.shape;
        }
        if (!sameShape(outShape, b.shape) && !sameShape(outShape, b.shape.map((d, i) => (reduceAxes.includes(i) ? 1 : d))))
          throw new Refuse(b.stages.length ? firstReduce(b.ops) : base);
        kernels.push({
          id: kernels.length, shape: b.shape, reduceAxes, stages: b.stages, anchor: b.anchor, value,
          out: this.bufferOf(n), outShape, ops: [...b.ops],
        });
      }
    } catch (e) {
      if (e instanceof Refuse) return e;
      throw e;
    }
    const outputs = g.outputs.map((o) => ({ buf: this.bufferOf(o), shape: o.shape, dtype: o.dtype }));
    return { buffers: [...this.buffers], kernels, inputs, outputs };
  }
}

function firstReduce(ops: Iterable<Node>): Node {
  for (const n of ops) if (n.op === "reduce") return n;
  throw new Error("internal: no reduce");
}

/** Rough cost of recomputing a node's inlined subtree (transcendentals count more). */
function cost(n: Node, f: Fuser, seen = new Set<Node>()): number {
  if (seen.has(n) || f.isBuffer(n)) return 0;
  seen.add(n);
  let c = MOVEMENT.has(n.op) ? 0 : TRANSCENDENTAL.has(n.op) ? 4 : 1;
  for (const i of n.inputs) c += cost(i, f, seen);
  return c;
}

/** Groups a graph's nodes into kernels. */
export function fuse(g: Graph, opts: FuseOptions): Fused {
  const uses = new Map<Node, Node[]>();
  for (const n of g.nodes) for (const i of n.inputs) { let u = uses.get(i); if (!u) uses.set(i, (u = [])); if (!u.includes(n)) u.push(n); }
  for (const o of g.outputs) { let u = uses.get(o); if (!u) uses.set(o, (u = [])); }
  return new Fuser(g, opts, uses).run();
}

export type { Shape };
