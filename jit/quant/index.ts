/**
 * Post-training int8 quantization, the graph side: pick sites, calibrate activation ranges by
 * running the float graph, rewrite to QDQ form (lowered to int8 GEMMs by the pass pipeline),
 * and measure a quantized graph against its float self (per output and per layer), reverting
 * the worst layers to float while an accuracy budget is not met.
 *
 * lib/jit.ts drives this from `jit(f, { quantize })`; nothing here knows about Tensors.
 *
 * @example
 * const sites = findSites(graph, []);
 * const ranges = await calibrate(graph, sites, samples, { backend: "wasm", method: "minmax" });
 * const { graph: q } = quantizeGraph(graph, sites, { mode: "int8", perChannel: true, ranges });
 */
import { buildGraph, type Graph } from "../graph.js";
import type { Node } from "../ir.js";
import type { HostBuffer } from "../buffer.js";
import { readElement } from "../dtype.js";
import { compileGraph } from "../compile.js";
import type { OptLevel } from "../backend.js";
import { ValueError } from "../errors.js";
import { makeObserver, type CalibrationMethod, type Observer, type ObserverOptions } from "./calibrate.js";
import { findSites, quantizeGraph, type QuantSite, type QuantMode } from "./quantize.js";

export { findSites, quantizeGraph, type QuantSite, type QuantMode } from "./quantize.js";
export { lowerInt8 } from "./lower.js";
export { makeObserver, type CalibrationMethod, type Observer, type ObserverOptions } from "./calibrate.js";
export { activationParams, quantizeWeights, quantizeValue, dequantizeValue, roundHalfEven, type QParams } from "./params.js";

export type Range = { min: number; max: number };

export interface RunOptions { backend: string; threads?: number; opt?: OptLevel }

/** Runs `g` with `extra` nodes as additional outputs on each input set; yields every result. */
async function* runWith(g: Graph, extra: readonly Node[], samples: readonly (readonly HostBuffer[])[], o: RunOptions): AsyncGenerator<HostBuffer[]> {
  const probe = buildGraph(g.inputs, [...g.outputs, ...extra]);
  const c = compileGraph(probe, o.backend, { opt: o.opt ?? 2, threads: o.threads }, false);
  for (const s of samples) yield await c.exe.run(s);
}

const asF32 = (b: HostBuffer): Float32Array =>
  b.data instanceof Float32Array ? b.data : Float32Array.from({ length: b.data.length }, (_, i) => readElement(b.data, b.dtype, i));

/**
 * Observes each site's activation over the samples (the float graph, on `o.backend`) into
 * `observers` (one per site key, made on first use, so samples of several input shapes can
 * feed the same observers) and returns the clipping range per site key seen so far.
 */
export async function calibrate(g: Graph, sites: readonly QuantSite[], samples: readonly (readonly HostBuffer[])[],
  o: RunOptions & { method: CalibrationMethod; observer?: ObserverOptions }, observers = new Map<string, Observer>()): Promise<Map<string, Range>> {
  if (!samples.length) throw new ValueError("static int8 quantization needs calibration inputs", { op: "quantize", hint: "pass quantize.calibration (a list of sample inputs), or use mode \"int8-dynamic\"" });
  const acts = [...new Set(sites.map((s) => s.act))];
  // sites sharing an activation share its observations
  const obs = acts.map((a) => {
    const keys = sites.filter((s) => s.act === a).map((s) => s.key);
    const ob = observers.get(keys[0]!) ?? makeObserver(o.method, o.observer);
    for (const k of keys) observers.set(k, ob);
    return ob;
  });
  const nOut = g.outputs.length;
  for await (const outs of runWith(g, acts, samples, o)) acts.forEach((_, i) => obs[i]!.observe(asF32(outs[nOut + i]!)));
  return new Map([...observers].map(([k, ob]) => [k, ob.range()]));
}

/** How one output (or layer) of the quantized graph differs from the float graph. */
export interface ErrorStats {
  /** Largest |q − f|. */
  maxAbs: number;
  /** maxAbs / max|f| (0 when f is all zero). */
  maxRel: number;
  /** ‖q − f‖ / ‖f‖. */
  relL2: number;
  /** Cosine similarity of q and f as vectors (1 when both are zero). */
  cosine: number;
  /** Classifier outputs ([batch, classes] or [classes], classes ≥ 2): rows whose argmax agrees, as a fraction. */
  top1?: number;
}

/** Accumulates error statistics over several samples. */
class ErrorAcc {
  private maxAbs = 0; private maxF = 0; private dd = 0; private ff = 0; private qq = 0; private qf = 0;
  private rows = 0; private agree = 0;
  add(f: Float32Array, q: Float32Array, shape: readonly number[]): void {
    for (let i = 0; i < f.length; i++) {
      const a = f[i]!, b = q[i]!, d = b - a;
      this.maxAbs = Math.max(this.maxAbs, Math.abs(d)); this.maxF = Math.max(this.maxF, Math.abs(a));
      this.dd += d * d; this.ff += a * a; this.qq += b * b; this.qf += a * b;
    }
    const n = shape[shape.length - 1] ?? 1;
    if (n < 2 || shape.length > 2) return;
    for (let r = 0; r + n <= f.length; r += n) {
      let fi = 0, qi = 0;
      for (let j = 1; j < n; j++) { if (f[r + j]! > f[r + fi]!) fi = j; if (q[r + j]! > q[r + qi]!) qi = j; }
      this.rows++; if (fi === qi) this.agree++;
    }
  }
  stats(): ErrorStats {
    const cos = this.ff === 0 && this.qq === 0 ? 1 : this.qf / Math.sqrt(this.ff * this.qq || 1);
    return {
      maxAbs: this.maxAbs, maxRel: this.maxF ? this.maxAbs / this.maxF : 0,
      relL2: this.ff ? Math.sqrt(this.dd / this.ff) : Math.sqrt(this.dd), cosine: cos,
      ...(this.rows ? { top1: this.agree / this.rows } : {}),
    };
  }
}

export interface LayerError extends ErrorStats { name: string; key: string; op: string }

export interface QuantReport {
  mode: QuantMode;
  /** Per graph output. */
  outputs: ErrorStats[];
  /** Per quantized layer, in graph order: its output's error (accumulated from the layers before). */
  layers: LayerError[];
  /** The layer whose error grows the most over the layer before it (the one that hurts most). */
  worst?: string;
  samples: number;
}

/** Compares the quantized graph `q` (site outputs in `qSites`) with the float graph on samples. */
export async function compare(f: Graph, q: Graph, sites: readonly QuantSite[], qSites: ReadonlyMap<string, Node>,
  samples: readonly (readonly HostBuffer[])[], mode: QuantMode, o: RunOptions): Promise<QuantReport> {
  const live = sites.filter((s) => qSites.has(s.key));
  const fRuns = runWith(f, live.map((s) => s.anchor), samples, o);
  const qRuns = runWith(q, live.map((s) => qSites.get(s.key)!), samples, o);
  const nOut = f.outputs.length;
  const outAcc = f.outputs.map(() => new ErrorAcc()), layerAcc = live.map(() => new ErrorAcc());
  for (let i = 0; i < samples.length; i++) {
    const fo = (await fRuns.next()).value as HostBuffer[], qo = (await qRuns.next()).value as HostBuffer[];
    f.outputs.forEach((n, j) => { if (n.dtype.startsWith("float")) outAcc[j]!.add(asF32(fo[j]!), asF32(qo[j]!), n.shape); });
    live.forEach((s, j) => layerAcc[j]!.add(asF32(fo[nOut + j]!), asF32(qo[nOut + j]!), s.anchor.shape));
  }
  const layers = live.map((s, j) => ({ name: s.name, key: s.key, op: s.op, ...layerAcc[j]!.stats() }));
  let worst: string | undefined, grow = -Infinity, prev = 0;
  for (const l of layers) { if (l.relL2 - prev > grow) { grow = l.relL2 - prev; worst = l.name; } prev = Math.max(prev, l.relL2); }
  return { mode, outputs: outAcc.map((a) => a.stats()), layers, ...(worst ? { worst } : {}), samples: samples.length };
}

/** An accuracy budget: the quantized outputs must stay within it on the calibration inputs. */
export interface Budget { maxError?: number; minTop1?: number }

/** Whether a report meets the budget (maxError bounds every output's relative L2 error). */
export function meets(r: QuantReport, b: Budget): boolean {
  return r.outputs.every((o) => (b.maxError === undefined || o.relL2 <= b.maxError) && (b.minTop1 === undefined || o.top1 === undefined || o.top1 >= b.minTop1));
}

export interface QuantizedGraph {
  graph: Graph;
  sites: QuantSite[];
  outputs: Map<string, Node>;
  /** Sites the budget sent back to float, in the order they were reverted. */
  reverted: string[];
}

export interface QuantizeOptions {
  mode: QuantMode;
  perChannel: boolean;
  exclude: readonly string[];
  ranges?: ReadonlyMap<string, Range>;
  budget?: Budget;
  /** Inputs the budget is checked on (the calibration samples). */
  samples?: readonly (readonly HostBuffer[])[];
}

/**
 * Quantizes `g`; with a budget, reverts the layer that hurts most to float, one at a time,
 * until the outputs meet it (or nothing is left to revert).
 */
export async function quantize(g: Graph, o: QuantizeOptions, run: RunOptions): Promise<QuantizedGraph> {
  let sites = findSites(g, o.exclude);
  const reverted: string[] = [];
  for (;;) {
    const { graph, outputs } = quantizeGraph(g, sites, { mode: o.mode, perChannel: o.perChannel, ranges: o.ranges });
    const budget = o.budget;
    if (!budget || (budget.maxError === undefined && budget.minTop1 === undefined) || !sites.length || !o.samples?.length)
      return { graph, sites, outputs, reverted };
    const r = await compare(g, graph, sites, outputs, o.samples, o.mode, run);
    if (meets(r, budget)) return { graph, sites, outputs, reverted };
    const worst = sites.find((s) => s.name === r.worst) ?? sites[sites.length - 1]!;
    reverted.push(worst.name);
    sites = sites.filter((s) => s !== worst);
  }
}
