/**
 * The quantize pass: finds the matmuls and convolutions worth running in int8 (float32, a
 * constant weight, a computed activation) and rewrites each as dequantize(quantize(x)) →
 * op → dequantize(int8 weight), the form ONNX QDQ models have. The int8 lowering
 * (lower.ts) then turns every such op into an int8 GEMM with a fused requantize epilogue, so
 * imported QDQ models and kiln's own quantization compile to the same kernels.
 *
 * - static: activations asymmetric uint8 per tensor, from calibrated ranges;
 * - dynamic: activations symmetric int8, scale max|x|/127 computed per call (per row for
 *   matmul, per tensor for conv);
 * - weights: symmetric int8, per output channel (or per tensor).
 *
 * @example
 * const sites = findSites(graph, []);
 * const { graph: q } = quantizeGraph(graph, sites, { mode: "int8", perChannel: true, ranges });
 */
import { Node, node, constNode, hostValue, type Shape } from "../ir.js";
import { rebuild, type Graph } from "../graph.js";
import { hostBuffer, type HostBuffer } from "../buffer.js";
import type { DType } from "../dtype.js";
import { evaluate } from "./host.js";
import { activationParams, quantizeWeights } from "./params.js";

export type QuantMode = "int8" | "int8-dynamic";

/** A matmul/conv the pass may quantize. */
export interface QuantSite {
  /** Stable across traces of one function: the op, model node name and weight identity. */
  readonly key: string;
  /** For reports: the model node's name, or `matmul 3`. */
  readonly name: string;
  readonly op: "matmul" | "conv";
  /** The float op in the traced graph. */
  readonly anchor: Node;
  /** Its activation operand (calibration observes this). */
  readonly act: Node;
  /** The weight operand's value, in the op's operand layout. */
  readonly weight: HostBuffer;
}

const MOVES = new Set(["reshape", "permute", "expand", "slice"]);
const bufferIds = new WeakMap<object, number>();
let nextBufferId = 1;

/**
 * The weight's identity across traces: the constant under its movement ops (an imported
 * initializer), or the first computed node there (a captured lazy tensor is one node).
 */
function weightIdentity(n: Node): object {
  while (MOVES.has(n.op) || n.op === "cast") n = n.inputs[0]!;
  return hostValue(n) ?? n;
}

/**
 * The quantizable ops of a graph in topological order: float32 matmul and conv (groups 1) with
 * a constant weight and a non-constant activation. `exclude` names op kinds ("matmul", "conv"),
 * model node names, or site keys kept in float.
 */
export function findSites(g: Graph, exclude: readonly string[]): QuantSite[] {
  const sites: QuantSite[] = [];
  const seen = new Map<string, number>();
  let ordinal = 0;
  // nodes computed from constants only (one forward sweep; activations are the others)
  const constant = new Set<Node>();
  for (const n of g.nodes)
    if (n.op === "const" || (n.op !== "input" && n.op !== "external" && n.inputs.length && n.inputs.every((i) => constant.has(i)))) constant.add(n);
  for (const n of g.nodes) {
    if ((n.op !== "matmul" && n.op !== "conv") || n.dtype !== "float32" || n.attrs.zeroB) continue;
    if (n.op === "conv" && (n.attrs.groups ?? 1) !== 1) continue; // depthwise/grouped: float (memory-bound)
    const [act, w] = n.inputs as [Node, Node];
    if (constant.has(act) || !constant.has(w)) continue;
    const root = weightIdentity(w);
    const weight = evaluate(w);
    if (!weight) continue;
    let id = bufferIds.get(root);
    if (!id) { id = nextBufferId++; bufferIds.set(root, id); }
    const base = `${n.op}:${n.label ?? ""}:w${id}`;
    const dup = seen.get(base) ?? 0;
    seen.set(base, dup + 1);
    const key = dup ? `${base}#${dup}` : base;
    const name = n.label ?? `${n.op} ${ordinal}`;
    ordinal++;
    if (exclude.some((e) => e === n.op || e === n.label || e === key || e === name)) continue;
    sites.push({ key, name, op: n.op, anchor: n, act, weight });
  }
  return sites;
}

export interface QuantizeGraphOptions {
  mode: QuantMode;
  perChannel: boolean;
  /** Static mode: the activation range per site key. */
  ranges?: ReadonlyMap<string, { min: number; max: number }>;
}

/** A constant of `shape` holding `values` laid out along `axis` (one value: a scalar), broadcast to `to`. */
function broadcastConst(values: ArrayLike<number>, dtype: DType, to: Shape, axis?: number): Node {
  const shape = to.map((d, i) => (values.length > 1 && i === axis ? d : 1));
  const buf = hostBuffer(dtype, shape);
  for (let i = 0; i < values.length; i++) (buf.data as Float32Array)[i] = values[i]!;
  const c = constNode(buf);
  return shape.every((d, i) => d === to[i]) ? c : node("expand", [c], {}, to);
}

const f32 = (x: Node) => node("cast", [x], { to: "float32" });

/** round(x / s) + zp, saturated to [lo, hi], as `to` (ONNX QuantizeLinear). */
function quantizeNode(x: Node, s: Node, zp: number, lo: number, hi: number, to: DType): Node {
  let q = node("round", [node("div", [x, s])]);
  if (zp) q = node("add", [q, broadcastConst([zp], "float32", x.shape)]);
  q = node("min", [node("max", [q, broadcastConst([lo], "float32", x.shape)]), broadcastConst([hi], "float32", x.shape)]);
  return node("cast", [q], { to });
}

/** (q − zp) · s (ONNX DequantizeLinear). */
function dequantizeNode(q: Node, s: Node, zp: number): Node {
  const v = zp ? node("sub", [node("cast", [q], { to: "int32" }), broadcastConst([zp], "int32", q.shape)]) : q;
  return node("mul", [f32(v), s]);
}

/** The activation, quantized and dequantized (static: calibrated uint8; dynamic: per-call int8). */
function fakeQuantActivation(x: Node, site: QuantSite, o: QuantizeGraphOptions): Node {
  if (o.mode === "int8-dynamic") {
    // symmetric int8; matmul rows (tokens) get their own scale, conv one per tensor
    const r = x.shape.length;
    const axes = site.op === "matmul" ? [r - 1] : x.shape.map((_, i) => i);
    const amax = node("reduce", [node("abs", [x])], { fn: "max", axes });
    const tiny = broadcastConst([1e-30], "float32", amax.shape);
    const s = node("div", [node("max", [amax, tiny]), broadcastConst([127], "float32", amax.shape)]);
    const sx = node("expand", [s], {}, x.shape);
    return dequantizeNode(quantizeNode(x, sx, 0, -127, 127, "int8"), sx, 0);
  }
  const range = o.ranges?.get(site.key);
  if (!range) throw new Error(`internal: no calibrated range for ${site.key}`);
  const p = activationParams(range, "uint8");
  const s = broadcastConst([p.scale], "float32", x.shape);
  return dequantizeNode(quantizeNode(x, s, p.zeroPoint, 0, 255, "uint8"), s, p.zeroPoint);
}

/** The weight as int8 constants times per-channel (or per-tensor) scales. */
function fakeQuantWeight(site: QuantSite, perChannel: boolean): Node {
  const w = site.weight, shape = w.shape;
  const axis = perChannel ? (site.op === "matmul" ? shape.length - 1 : 0) : undefined;
  const { q, scales } = quantizeWeights(w.data as Float32Array, shape, axis);
  const qc = constNode(hostBuffer("int8", shape, q));
  return node("mul", [f32(qc), broadcastConst(scales, "float32", shape, axis)]);
}

/**
 * Rewrites each site as a dequantize → op pattern. Returns the graph and, per site key, the
 * node now standing for the site's output (what reports compare against the float op).
 */
export function quantizeGraph(g: Graph, sites: readonly QuantSite[], o: QuantizeGraphOptions): { graph: Graph; outputs: Map<string, Node> } {
  const byAnchor = new Map(sites.map((s) => [s.anchor, s]));
  const acts = new Map<string, Node>(); // one quantized copy per activation and scale
  const outputs = new Map<string, Node>();
  const graph = rebuild(g, (n, ins) => {
    const site = byAnchor.get(n);
    if (!site) return undefined;
    const x = ins[0]!;
    // sites reading one activation with the same parameters (Q, K, V projections) share its copy
    const range = o.ranges?.get(site.key);
    const actKey = `${x.id}:${o.mode === "int8" ? `${range?.min}:${range?.max}` : site.op}`;
    let dq = acts.get(actKey);
    if (!dq) { dq = fakeQuantActivation(x, site, o); acts.set(actKey, dq); }
    const y = node(n.op, [dq, fakeQuantWeight(site, o.perChannel)], n.attrs, undefined, n.site);
    outputs.set(site.key, y);
    return y;
  });
  return { graph, outputs };
}
