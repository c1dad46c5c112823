/**
 * The int8 lowering pass: a float matmul/conv whose operands are dequantized 8-bit integers
 * (`(cast(q) − zero) · scale`, the ONNX DequantizeLinear pattern, also what the quantize pass
 * inserts) becomes an int8 GEMM (a matmul/conv node with `zeroA/zeroB`, int32 out) followed
 * by one float rescale `cast(acc) · (scaleA ⊗ scaleB)`; an int32 matmul/conv of centered 8-bit
 * operands (MatMulInteger, ConvInteger, QLinear*) becomes the int8 GEMM directly. The rescale,
 * bias, activation and the next layer's quantize are elementwise, so fusion makes them the
 * GEMM kernel's epilogue: quantize → int8 GEMM → requantize with no float matmul left.
 *
 * A pattern is taken only when it is exact to do so: zero points are constants (one for the
 * activation, one per output column/channel for the weight), scales do not vary along the
 * reduction axes; otherwise the node is left as it is (still correct, just not int8).
 *
 * @example
 * // y = matmul(cast(xq)·sx, (cast(wq) − zw)·sw)  →  y = cast(int8matmul(xq, wq, zw))·(sx·sw)
 * const g2 = lowerInt8(g);
 */
import { Node, node, constNode, numel, type Shape } from "../ir.js";
import { hostBuffer } from "../buffer.js";
import { rebuild, type Graph } from "../graph.js";
import { readElement } from "../dtype.js";
import { evaluate } from "./host.js";

const MOVES = new Set(["reshape", "permute", "expand", "slice"]);
const is8 = (n: Node) => n.dtype === "int8" || n.dtype === "uint8";

/** An operand as `(q − zero) · scale`, each part in the operand's shape. */
interface Deq { q: Node; zero?: Node; scale?: Node }

/** Re-applies movement node `m` to a part (same op and attrs, the part's own dtype). */
const moved = (m: Node, part: Node | undefined): Node | undefined =>
  part && node(m.op, [part], m.attrs, m.shape);

/** Integer form: `cast_i32(q)` or `cast_i32(q) − zero`, through movement ops. */
function intForm(n: Node): Deq | undefined {
  if (MOVES.has(n.op)) {
    const d = intForm(n.inputs[0]!);
    return d && { q: moved(n, d.q)!, zero: moved(n, d.zero) };
  }
  if (n.op === "cast" && is8(n.inputs[0]!)) return { q: n.inputs[0]! };
  if (n.op === "sub" && n.dtype === "int32") {
    const x = n.inputs[0]!;
    const d = x.op === "cast" && is8(x.inputs[0]!) ? { q: x.inputs[0]! } : undefined;
    return d && { q: d.q, zero: n.inputs[1]! };
  }
  return undefined;
}

/** Float form: `cast_f32(intForm) · scale` (either operand order), through movement ops. */
function floatForm(n: Node): Deq | undefined {
  if (MOVES.has(n.op)) {
    const d = floatForm(n.inputs[0]!);
    return d && { q: moved(n, d.q)!, zero: moved(n, d.zero), scale: moved(n, d.scale) };
  }
  if (n.op !== "mul" || n.dtype !== "float32") return undefined;
  for (const [x, s] of [[n.inputs[0]!, n.inputs[1]!], [n.inputs[1]!, n.inputs[0]!]] as const) {
    if (x.op !== "cast") continue;
    const inner = x.inputs[0]!;
    const d = is8(inner) ? { q: inner } : intForm(inner);
    if (d) return { ...d, scale: s };
  }
  return undefined;
}

/**
 * The values of `n` along `axis` when it is constant along every other axis in `free`
 * (axes whose value may vary); undefined if not constant or not uniform.
 */
function uniformAlong(n: Node, vary: readonly number[]): number[] | undefined {
  const v = evaluate(n);
  if (!v) return undefined;
  const shape = n.shape, r = shape.length;
  const strides: number[] = new Array(r);
  for (let i = r - 1, s = 1; i >= 0; i--) { strides[i] = s; s *= shape[i]!; }
  // the value must equal the one at the same `vary` coordinates with all other axes at 0
  const size = numel(shape), out: number[] = [];
  for (let i = 0; i < size; i++) {
    let base = 0, rem = i;
    for (let ax = 0; ax < r; ax++) {
      const c = Math.floor(rem / strides[ax]!); rem -= c * strides[ax]!;
      if (vary.includes(ax)) base += c * strides[ax]!;
    }
    const x = readElement(v.data, v.dtype, i), y = readElement(v.data, v.dtype, base);
    if (x !== y) return undefined;
    if (i === base) out.push(x);
  }
  return out;
}

/** Whether float node `s` is the same along `axes` (a constant, or an expand from size 1 there). */
function independentOf(s: Node, axes: readonly number[]): boolean {
  if (axes.every((a) => s.shape[a] === 1)) return true;
  if (s.op === "expand") return axes.every((a) => s.inputs[0]!.shape[a] === 1 || independentOf(s.inputs[0]!, [a]));
  if (s.op === "reshape" && s.inputs[0]!.size === 1) return true;
  const keep = s.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  return uniformAlong(s, keep) !== undefined;
}

/** `s` sliced to index 0 on `axes`, then broadcast to `to` (a scale's value per output element). */
function collapse(s: Node, axes: readonly number[], to: Shape, reshapeTo?: Shape): Node {
  let x = s;
  if (axes.some((a) => s.shape[a] !== 1)) {
    const shape = s.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    x = node("slice", [s], { starts: s.shape.map(() => 0), steps: s.shape.map(() => 1) }, shape);
  }
  if (reshapeTo) x = node("reshape", [x], {}, reshapeTo);
  return node("expand", [x], {}, to);
}

function zeroScalar(d: Deq): number | undefined {
  if (!d.zero) return 0;
  const v = uniformAlong(d.zero, []);
  return v && v[0];
}

function zeroPerAxis(d: Deq, axis: number): number[] | undefined {
  if (!d.zero) return [0];
  const v = uniformAlong(d.zero, [axis]);
  return v && (v.every((z) => z === v[0]) ? [v[0]!] : v);
}

/**
 * For a matmul whose activation zero point is a runtime scalar and whose weight is constant:
 * zeroA · colsum(b − zeroB), broadcast to the output (int32), or undefined.
 */
function runtimeZeroCorrection(n: Node, a: Deq, b: Deq, zeroB: readonly number[]): Node | undefined {
  if (n.op !== "matmul" || !a.zero || !independentOf(a.zero, a.zero.shape.map((_, i) => i))) return undefined;
  const w = evaluate(b.q);
  if (!w) return undefined;
  const r = w.shape.length, K = w.shape[r - 2]!, N = w.shape[r - 1]!, batches = numel(w.shape.slice(0, r - 2));
  const sums = new Int32Array(batches * N);
  for (let t = 0; t < batches; t++)
    for (let k = 0; k < K; k++)
      for (let j = 0; j < N; j++) sums[t * N + j]! += readElement(w.data, w.dtype, (t * K + k) * N + j) - zeroB[zeroB.length === 1 ? 0 : j]!;
  const colsum = constNode(hostBuffer("int32", [...w.shape.slice(0, r - 2), 1, N], sums));
  const za = collapse(a.zero, a.zero.shape.map((_, i) => i), n.shape);
  return node("mul", [za, node("expand", [colsum], {}, n.shape)]);
}

/** The replacement of one float32/int32 matmul or conv, or undefined to keep it. */
function lowerNode(n: Node, ins: readonly Node[]): Node | undefined {
  if ((n.op !== "matmul" && n.op !== "conv") || n.attrs.zeroB) return undefined;
  const float = n.dtype === "float32";
  if (!float && n.dtype !== "int32") return undefined;
  const form = float ? floatForm : intForm;
  const a = form(ins[0]!), b = form(ins[1]!);
  if (!a || !b) return undefined;
  const r = n.shape.length;
  // reduction axes of each operand, and the axis the weight's zero point may vary along
  const [aRed, bRed, bVary] = n.op === "matmul"
    ? [[r - 1], [r - 2], r - 1]
    : [ins[0]!.shape.map((_, i) => i).slice(1), ins[1]!.shape.map((_, i) => i).slice(1), 0];
  let zeroA = zeroScalar(a);
  const zeroB = zeroPerAxis(b, bVary);
  if (!zeroB) return undefined;
  // a zero point computed per call (DynamicQuantizeLinear → MatMulInteger): the GEMM runs with
  // zero 0 and subtracts zeroA·Σ_k(b − zeroB) after, exact, when B is constant
  let correction: Node | undefined;
  if (zeroA === undefined) {
    correction = runtimeZeroCorrection(n, a, b, zeroB);
    if (!correction) return undefined;
    zeroA = 0;
  }
  let gemm: Node;
  try { gemm = node(n.op, [a.q, b.q], { ...n.attrs, zeroA, zeroB }, undefined, n.site); }
  catch { return undefined; } // zero points outside the 8-bit range: not an int8 GEMM
  if (correction) gemm = node("sub", [gemm, correction], {}, undefined, n.site);
  if (!float) return gemm;
  if (!independentOf(a.scale!, aRed) || !independentOf(b.scale!, bRed)) return undefined;
  const acc = node("cast", [gemm], { to: "float32" }, undefined, n.site);
  let sa: Node, sb: Node;
  if (n.op === "matmul") {
    sa = collapse(a.scale!, aRed, n.shape);
    sb = collapse(b.scale!, bRed, n.shape);
  } else {
    // conv: the activation scale per batch ([N,1,1,…]), the weight's per output channel
    const ones = n.shape.map(() => 1);
    sa = collapse(a.scale!, aRed, n.shape);
    const w = b.scale!;
    const perO = [1, w.shape[0]!, ...ones.slice(2)];
    sb = collapse(w, bRed, n.shape, perO);
  }
  return node("mul", [acc, node("mul", [sa, sb], {}, undefined, n.site)], {}, undefined, n.site);
}

/**
 * Rewrites every dequantize→matmul/conv (and centered-integer matmul/conv) into an int8 GEMM
 * with a float rescale. Runs at opt ≥ 2, after simplify (which merges cast chains).
 */
export function lowerInt8(g: Graph): Graph {
  return rebuild(g, lowerNode);
}
