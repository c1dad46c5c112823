/**
 * A float ONNX model → the QDQ model that onnxruntime's `quantize_static(QuantFormat.QDQ,
 * activation_type=QUInt8, weight_type=QInt8, per_channel=True, calibrate_method=MinMax)` would
 * write after its `quant_pre_process` (which folds BatchNormalization into Conv), so kiln and
 * onnxruntime-web can be compared on the same int8 model. Used by bench/quant.ts.
 *
 * For every Conv, MatMul and Gemm whose weight (input 1) is an initializer:
 *  - the weight becomes int8, symmetric (range ±127), per output channel (Conv: axis 0; MatMul
 *    [K, N]: axis 1; Gemm: axis 0 with transB=1, else 1), followed by DequantizeLinear(axis);
 *  - a Conv/Gemm bias becomes int32 with scale = input scale × weight scale (ORT fuses the group
 *    into QLinearConv / QGemm only when every input comes from a DequantizeLinear);
 *  - the activation input and the output get QuantizeLinear→DequantizeLinear, uint8 asymmetric,
 *    from the min/max (widened to include 0) over the calibration feeds. Where the output's only
 *    consumer is Relu/Clip, the Relu's output is quantized instead (ORT then drops the Relu as
 *    made redundant by the Q). Every consumer of a quantized tensor reads the dequantized value.
 * Ranges come from running the float model in onnxruntime-web with those tensors added as graph
 * outputs (elem type only; ORT infers the shapes).
 *
 * @example
 * const qdq = await toQDQ(floatBytes, [{ input: { dtype: "float32", shape: [1, 3, 32, 32], data } }]);
 */
import * as ort from "onnxruntime-web";
import { onnx } from "kiln";
import { onnx as proto, toNum, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from "../lib/onnx/proto.js";
import type { HostBuffer } from "../jit/buffer.js";

/**
 * One calibration sample: graph input name → host data (kiln's HostBuffer: `{ dtype, shape, data }`
 * with a typed array, which is also exactly what `new ort.Tensor(dtype, data, shape)` takes).
 */
export type Feeds = Record<string, HostBuffer>;

export interface QDQOptions {
  /** Per-output-channel weight scales (default true); false: one scale per weight tensor. */
  perChannel?: boolean;
  /** Fold Conv→BatchNormalization into the Conv first, as ORT's quant_pre_process does (default true). */
  foldBatchNorm?: boolean;
}

const FLOAT = 1, UINT8 = 2, INT8 = 3, INT32 = 6;
const A = proto.AttributeProto.AttributeType;
const QUANTIZED_OPS = new Set(["Conv", "MatMul", "Gemm"]);

/** Rounds half to even, as numpy (and so ORT's quantizer) does. */
const rne = (x: number) => { const r = Math.round(x); return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r; };
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
/** Scales below the smallest normal float become 1, as ORT's compute_scale_zp does. */
const safeScale = (s: number) => (s < 1.1754944e-38 ? 1 : Math.fround(s));

const attr = (n: NodeProto, name: string) => n.attribute?.find((a) => a.name === name);
const attrInt = (n: NodeProto, name: string, d: number) => { const a = attr(n, name); return a ? toNum(a.i as number) : d; };
const attrFloat = (n: NodeProto, name: string, d: number) => attr(n, name)?.f ?? d;

function floatInit(name: string, dims: number[], values: Float32Array): TensorProto {
  return proto.TensorProto.create({ name, dataType: FLOAT, dims, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) });
}
function intInit(name: string, dataType: number, dims: number[], values: Int8Array | Uint8Array | Int32Array): TensorProto {
  return proto.TensorProto.create({ name, dataType, dims, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) });
}
const floats = (t: TensorProto) => Float32Array.from(onnx.decodeTensor(t).buffer.data as ArrayLike<number>);
const dimsOf = (t: TensorProto) => (t.dims ?? []).map((d) => toNum(d as number));
const node = (opType: string, input: string[], output: string[], axis?: number) =>
  proto.NodeProto.create({ opType, input, output, name: output[0], attribute: axis === undefined ? [] : [proto.AttributeProto.create({ name: "axis", type: A.INT, i: axis })] });

/** Folds Conv→BatchNormalization (inference mode, constant parameters) into the Conv's weight and bias. */
function foldBatchNorm(g: GraphProto): void {
  const inits = new Map(g.initializer!.map((t) => [t.name!, t]));
  const outputs = new Set(g.output!.map((o) => o.name));
  const consumers = (name: string) => g.node!.filter((n) => n.input!.includes(name));
  const uses = (name: string) => consumers(name).length;
  for (const bn of [...g.node!]) {
    if (bn.opType !== "BatchNormalization" || bn.output!.length !== 1 || attrInt(bn, "training_mode", 0)) continue;
    const conv = g.node!.find((n) => n.output![0] === bn.input![0]);
    const params = bn.input!.slice(1, 5).map((p) => inits.get(p));
    if (!conv || conv.opType !== "Conv" || outputs.has(conv.output![0]) || uses(conv.output![0]!) !== 1 || params.some((p) => !p)) continue;
    const w = inits.get(conv.input![1]!);
    if (!w || uses(w.name!) !== 1 || (conv.input![2] && (!inits.has(conv.input![2]) || uses(conv.input![2]) !== 1))) continue;
    const [scale, bias, mean, variance] = params.map((p) => floats(p!)) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const eps = attrFloat(bn, "epsilon", 1e-5), wd = dimsOf(w), cout = wd[0]!, per = wd.slice(1).reduce((a, b) => a * b, 1);
    const wv = floats(w), b0 = conv.input![2] ? floats(inits.get(conv.input![2])!) : new Float32Array(cout);
    const bv = new Float32Array(cout);
    for (let c = 0; c < cout; c++) {
      const s = scale[c]! / Math.sqrt(variance[c]! + eps);
      for (let i = 0; i < per; i++) wv[c * per + i]! *= s;
      bv[c] = (b0[c]! - mean[c]!) * s + bias[c]!;
    }
    const bname = conv.input![2] || `${conv.output![0]}.folded_bias`;
    g.initializer = g.initializer!.filter((t) => t.name !== w.name && t.name !== bname);
    g.initializer.push(floatInit(w.name!, wd, wv), floatInit(bname, [cout], bv));
    conv.input = [conv.input![0]!, w.name!, bname];
    conv.output = [bn.output![0]!];
    g.node = g.node!.filter((n) => n !== bn);
  }
  // BN parameters nothing reads any more
  const read = new Set(g.node!.flatMap((n) => n.input!));
  g.initializer = g.initializer!.filter((t) => read.has(t.name!) || outputs.has(t.name!));
}

/** min/max of each named tensor over the calibration feeds (graph inputs from the feeds, the rest from ORT). */
async function calibrate(model: ModelProto, names: string[], calibration: Feeds[]): Promise<Map<string, [number, number]>> {
  const g = model.graph!;
  const inputs = new Set(g.input!.map((i) => i.name!));
  const have = new Set(g.output!.map((o) => o.name!));
  const aug = proto.ModelProto.decode(proto.ModelProto.encode(model).finish());
  for (const n of names) if (!inputs.has(n) && !have.has(n)) aug.graph!.output!.push(proto.ValueInfoProto.create({ name: n, type: { tensorType: { elemType: FLOAT } } }));
  const sess = await ort.InferenceSession.create(proto.ModelProto.encode(aug).finish(), { executionProviders: ["wasm"] });
  const ranges = new Map<string, [number, number]>(names.map((n) => [n, [Infinity, -Infinity]]));
  const widen = (name: string, data: ArrayLike<number>) => {
    const r = ranges.get(name)!;
    for (let i = 0; i < data.length; i++) { const v = data[i]!; if (v < r[0]) r[0] = v; if (v > r[1]) r[1] = v; }
  };
  try {
    for (const feeds of calibration) {
      const of = Object.fromEntries(Object.entries(feeds).map(([k, b]) => [k, new ort.Tensor(b.dtype as "float32", b.data as Float32Array, [...b.shape])]));
      const out = await sess.run(of);
      for (const n of names) widen(n, (inputs.has(n) ? feeds[n]!.data : out[n]!.data) as ArrayLike<number>);
    }
  } finally { await sess.release(); }
  return ranges;
}

/**
 * The QDQ model (ONNX bytes) for `floatModel`, calibrated on `calibration` (one feeds object per
 * sample). Needs opset ≥ 13 (per-axis DequantizeLinear).
 */
export async function toQDQ(floatModel: Uint8Array, calibration: Feeds[], opts: QDQOptions = {}): Promise<Uint8Array> {
  const perChannel = opts.perChannel ?? true;
  if (!calibration.length) throw new Error("toQDQ needs at least one calibration sample");
  const m = proto.ModelProto.decode(floatModel), g = m.graph!;
  const opset = toNum((m.opsetImport ?? []).find((o) => !o.domain || o.domain === "ai.onnx")?.version as number);
  if (opset < 13) throw new Error(`toQDQ needs opset ≥ 13 (per-axis DequantizeLinear); the model has ${opset}`);
  if (opts.foldBatchNorm ?? true) foldBatchNorm(g);

  const inits = new Map(g.initializer!.map((t) => [t.name!, t]));
  const graphOutputs = new Set(g.output!.map((o) => o.name!));
  const consumers = (name: string) => g.node!.filter((n) => n.input!.includes(name));
  const targets = g.node!.filter((n) => QUANTIZED_OPS.has(n.opType!) && inits.has(n.input![1]!) && !inits.has(n.input![0]!)
    && inits.get(n.input![1]!)!.dataType === FLOAT && !(n.opType === "Gemm" && attrInt(n, "transA", 0)));

  // Which activation tensors get Q→DQ: each target's input 0 and its output (or the Relu/Clip after it).
  const quantOut = (n: NodeProto) => {
    const y = n.output![0]!, c = consumers(y);
    return c.length === 1 && !graphOutputs.has(y) && (c[0]!.opType === "Relu" || c[0]!.opType === "Clip") ? c[0]!.output![0]! : y;
  };
  const acts = [...new Set(targets.flatMap((n) => [n.input![0]!, quantOut(n)]))];
  const ranges = await calibrate(m, acts, calibration);
  const act = new Map<string, { scale: number; zp: number }>();
  for (const [name, [lo0, hi0]] of ranges) {
    const lo = Math.min(lo0, 0), hi = Math.max(hi0, 0), scale = safeScale((hi - lo) / 255);
    act.set(name, { scale, zp: clamp(rne(-lo / scale), 0, 255) });
  }

  const newInits: TensorProto[] = [], head: NodeProto[] = [], after = new Map<NodeProto, NodeProto[]>();
  const xName = new Map(targets.map((n) => [n, n.input![0]!])); // before consumers are rewired
  const dropped = new Set<string>();
  // Activations: Q/DQ pairs, emitted right after the producer (graph inputs: at the top).
  const producer = new Map(g.node!.flatMap((n) => n.output!.map((o) => [o, n] as const)));
  for (const t of acts) {
    const { scale, zp } = act.get(t)!;
    newInits.push(floatInit(`${t}_scale`, [], Float32Array.of(scale)), intInit(`${t}_zero_point`, UINT8, [], Uint8Array.of(zp)));
    // Graph outputs keep their name on the DQ's output; otherwise consumers are rewired to the DQ's output.
    let src = t, dst = `${t}_DequantizeLinear_Output`;
    const p = producer.get(t);
    if (p && graphOutputs.has(t)) { src = `${t}_QuantizeLinear_Input`; dst = t; p.output = p.output!.map((o) => (o === t ? src : o)); }
    else for (const n of g.node!) n.input = n.input!.map((i) => (i === t ? dst : i));
    const pair = [node("QuantizeLinear", [src, `${t}_scale`, `${t}_zero_point`], [`${t}_QuantizeLinear_Output`]),
      node("DequantizeLinear", [`${t}_QuantizeLinear_Output`, `${t}_scale`, `${t}_zero_point`], [dst])];
    if (p) after.set(p, [...(after.get(p) ?? []), ...pair]); else head.push(...pair);
  }

  // Weights (int8, symmetric, per output channel) and biases (int32), each with its DequantizeLinear.
  const weightScales = new Map<string, { scale: Float32Array; axis: number | undefined }>();
  for (const n of targets) {
    const wname = n.input![1]!, w = inits.get(wname)!, wd = dimsOf(w);
    const axis = !perChannel ? undefined
      : n.opType === "Conv" ? 0
      : n.opType === "Gemm" ? (attrInt(n, "transB", 0) ? 0 : 1)
      : wd.length === 2 ? 1 : undefined;
    if (!weightScales.has(wname)) {
      const wv = floats(w), channels = axis === undefined ? 1 : wd[axis]!, inner = axis === undefined ? wv.length : wd.slice(axis + 1).reduce((a, b) => a * b, 1);
      const chan = (i: number) => (axis === undefined ? 0 : Math.floor(i / inner) % channels);
      const absmax = new Float32Array(channels);
      for (let i = 0; i < wv.length; i++) absmax[chan(i)] = Math.max(absmax[chan(i)]!, Math.abs(wv[i]!));
      const scale = absmax.map((a) => safeScale(a / 127));
      const q = new Int8Array(wv.length);
      for (let i = 0; i < wv.length; i++) q[i] = clamp(rne(wv[i]! / scale[chan(i)]!), -127, 127);
      const sdims = axis === undefined ? [] : [channels];
      newInits.push(intInit(`${wname}_quantized`, INT8, wd, q), floatInit(`${wname}_scale`, sdims, scale), intInit(`${wname}_zero_point`, INT8, sdims, new Int8Array(channels)));
      head.push(node("DequantizeLinear", [`${wname}_quantized`, `${wname}_scale`, `${wname}_zero_point`], [`${wname}_DequantizeLinear_Output`], axis));
      weightScales.set(wname, { scale, axis });
      dropped.add(wname);
    }
    n.input![1] = `${wname}_DequantizeLinear_Output`;

    // Bias: only where it is a 1-D initializer added as-is (Conv; Gemm with alpha = beta = 1).
    const bname = n.input![2];
    const plainGemm = n.opType !== "Gemm" || (attrFloat(n, "alpha", 1) === 1 && attrFloat(n, "beta", 1) === 1);
    const b = bname ? inits.get(bname) : undefined;
    if (!b || !plainGemm || dimsOf(b).length !== 1) continue;
    const bv = floats(b), ws = weightScales.get(wname)!, xs = act.get(xName.get(n)!)!.scale;
    const scale = Float32Array.from(ws.scale, (s) => safeScale(xs * s));
    const q = Int32Array.from(bv, (v, i) => clamp(rne(v / scale[ws.axis === undefined ? 0 : i]!), -(2 ** 31), 2 ** 31 - 1));
    const qname = `${bname}_${n.name || n.output![0]}_quantized`, sdims = ws.axis === undefined ? [] : [bv.length];
    newInits.push(intInit(qname, INT32, [bv.length], q), floatInit(`${qname}_scale`, sdims, scale), intInit(`${qname}_zero_point`, INT32, sdims, new Int32Array(scale.length)));
    head.push(node("DequantizeLinear", [qname, `${qname}_scale`, `${qname}_zero_point`], [`${qname}_DequantizeLinear_Output`], ws.axis === undefined ? undefined : 0));
    n.input![2] = `${qname}_DequantizeLinear_Output`;
    dropped.add(bname!);
  }

  // Topological order: weight DQs and graph-input Q/DQ first, then each node followed by its outputs' Q/DQ.
  g.node = [...head, ...g.node!.flatMap((n) => [n, ...(after.get(n) ?? [])])];
  const read = new Set(g.node.flatMap((n) => n.input!));
  g.initializer = [...g.initializer!.filter((t) => !dropped.has(t.name!) || read.has(t.name!)), ...newInits];
  return proto.ModelProto.encode(m).finish();
}

/**
 * Self-check, run directly (`npx tsx --conditions=kiln-source bench/qdq.ts`): each zoo model's QDQ
 * version runs in onnxruntime-web and its output stays close (cosine ≥ 0.99) to the float model's
 * on an input that calibration did not see.
 */
async function selfCheck(): Promise<void> {
  const { resnetish, gptBlock, mobilenetBlock } = await import("../test/onnx/zoo.js");
  const { rng } = await import("../lib/creation.js");
  const normal = (shape: number[], seed: number): Feeds[string] => {
    const r = rng(seed), n = shape.reduce((a, b) => a * b, 1), data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    return { dtype: "float32", shape, data };
  };
  const cases: [string, Uint8Array, string, number[]][] = [
    ["resnetish(32) 1×3×112×112", resnetish(32), "input", [1, 3, 112, 112]],
    ["mobilenetBlock(24, 56)", mobilenetBlock(24, 56, 6), "input", [1, 24, 56, 56]],
    ["gptBlock(256, 8) 64 tokens", gptBlock(256, 8), "x", [1, 64, 256]],
  ];
  let ok = true;
  for (const [name, bytes, input, shape] of cases) {
    for (const perChannel of [true, false]) {
      const qdq = await toQDQ(bytes, Array.from({ length: 8 }, (_, i) => ({ [input]: normal(shape, 100 + i) })), { perChannel });
      const x = normal(shape, 999), feeds = { [input]: new ort.Tensor("float32", x.data as Float32Array, shape) };
      const run = async (b: Uint8Array) => { const s = await ort.InferenceSession.create(b); const o = await s.run(feeds); await s.release(); return o[s.outputNames[0]!]!.data as Float32Array; };
      const [a, q] = [await run(bytes), await run(qdq)];
      let dot = 0, na = 0, nq = 0;
      for (let i = 0; i < a.length; i++) { dot += a[i]! * q[i]!; na += a[i]! ** 2; nq += q[i]! ** 2; }
      const cos = dot / Math.sqrt(na * nq), nodes = proto.ModelProto.decode(qdq).graph!.node!;
      const count = (op: string) => nodes.filter((n) => n.opType === op).length;
      ok &&= cos >= 0.99;
      console.log(`${cos >= 0.99 ? "ok  " : "FAIL"} ${name}, ${perChannel ? "per-channel" : "per-tensor"}: cosine ${cos.toFixed(5)} (${count("QuantizeLinear")} Q, ${count("DequantizeLinear")} DQ, ${nodes.length} nodes)`);
    }
  }
  if (!ok) process.exitCode = 1;
}
if (process.argv[1] && import.meta.url === (await import("node:url")).pathToFileURL(process.argv[1]).href) await selfCheck();
