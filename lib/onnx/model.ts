/**
 * `load(bytesOrPath)`: decodes an ONNX model and returns a callable that traces it into kiln
 * ops. `model({ x })` returns `{ y }` as lazy tensors; `jit(model)` compiles it once per input
 * shape, like any kiln function, so imported models get the same passes, fusion and caches.
 *
 * @example
 * const model = onnx.load("resnet18.onnx");
 * console.log(model.inputs);                  // [{ name: "input", shape: ["N", 3, 224, 224], … }]
 * const f = jit(model);
 * const { output } = f({ input: randn([1, 3, 224, 224]) });
 * console.log(await output.data());
 */
import { Tensor } from "../tensor.js";
import { cast } from "../ops/elementwise.js";
import { constNode } from "../../jit/ir.js";
import type { DType } from "../../jit/dtype.js";
import type { HostBuffer } from "../../jit/buffer.js";
import { KilnError, ShapeError, DTypeError, ValueError, relocated } from "../../jit/errors.js";
import { withLabel } from "../../jit/ir.js";
import { nodeBuiltin } from "../../jit/node-builtin.js";
import { onnx, toNum, type GraphProto, type NodeProto, type FunctionProto, type AttributeProto, type ValueInfoProto, type ModelProto } from "./proto.js";
import { decodeTensor, type ExternalReader } from "./tensor-proto.js";
import { onnxType, typeOfDType, typeByName, type OnnxType } from "./types.js";
import { OpContext, type OnnxValue } from "./context.js";
import { TensorSequence, OptionalValue } from "./sequence-value.js";
import { findOp, canonicalDomain } from "./registry.js";
import { UnsupportedError } from "./errors.js";
import "./ops/index.js";

/** A graph input or output: its name, ONNX element type, kiln dtype and shape (symbols as strings, unknown as null). */
export interface ValueInfo {
  readonly name: string;
  /**
   * "tensor"; "sequence" (fed and returned as an array of tensors); "optional" (a tensor, an
   * array for an optional sequence, or null when empty; see `optionalOf`).
   */
  readonly kind: "tensor" | "sequence" | "optional" | "map" | "unknown";
  readonly optionalOf?: "tensor" | "sequence";
  /** The ONNX element type name, e.g. "FLOAT". */
  readonly type: string;
  /** The kiln dtype that carries it (see lib/onnx/types.ts). */
  readonly dtype: DType | undefined;
  readonly shape: readonly (number | string | null)[] | undefined;
}

/** Feeds by input name: a tensor, an array of tensors for a sequence input, null for an empty optional. */
export type OnnxFeeds = Record<string, Tensor | Tensor[] | null>;

/**
 * An imported model: call it with `{ name: Tensor }` feeds, get `{ name: Tensor }` back.
 * Sequence outputs (`outputs[i].kind === "sequence"`) come back as arrays of tensors.
 */
export interface OnnxModel {
  (feeds: OnnxFeeds): Record<string, Tensor>;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  /** Opset version per domain ("" is ai.onnx). */
  readonly opsets: Readonly<Record<string, number>>;
  readonly irVersion: number;
  readonly producer: string;
  /** Nodes of the main graph. */
  readonly nodeCount: number;
  /** Things the importer wants the user to know (lossy element types). */
  readonly warnings: readonly string[];
}

export interface LoadOptions {
  /** Folder external data files are read from (default: the model's folder when loaded from a path). */
  readonly baseDir?: string;
}

type Fs = { readFileSync(p: string): Uint8Array; openSync(p: string, f: string): number; readSync(fd: number, b: Uint8Array, o: number, l: number, p: number): number; closeSync(fd: number): void; fstatSync(fd: number): { size: number }; realpathSync(p: string): string };
type PathMod = { dirname(p: string): string; resolve(...p: string[]): string; sep: string; isAbsolute(p: string): boolean };

/** Reads external data only from files inside `dir` (no absolute paths, no "..", no symlinks out). */
function externalReader(dir: string): ExternalReader {
  const fs = nodeBuiltin<Fs>("node:fs"), path = nodeBuiltin<PathMod>("node:path");
  if (!fs || !path) return () => { throw new ValueError("external tensor data needs a file system (Node)"); };
  const root = fs.realpathSync(dir);
  return (loc, offset, length) => {
    if (path.isAbsolute(loc) || loc.split(/[\\/]/).includes("..")) throw new ValueError(`external data location "${loc}" leaves the model's folder`, { hint: "external data must be a relative path inside the model's folder" });
    let real: string;
    try { real = fs.realpathSync(path.resolve(root, loc)); }
    catch { throw new ValueError(`external data file "${loc}" does not exist in ${root}`); }
    if (!real.startsWith(root + path.sep)) throw new ValueError(`external data location "${loc}" resolves outside the model's folder`);
    const fd = fs.openSync(real, "r");
    try {
      const size = fs.fstatSync(fd).size;
      if (!(offset >= 0) || offset > size) throw new ValueError(`external data offset ${offset} is past the end of "${loc}" (${size} bytes)`);
      const n = length < 0 ? size - offset : length;
      if (offset + n > size) throw new ValueError(`external data "${loc}" has ${size} bytes, the model reads [${offset}, ${offset + n})`);
      const buf = new Uint8Array(n);
      let got = 0;
      while (got < n) { const r = fs.readSync(fd, buf, got, n - got, offset + got); if (r <= 0) break; got += r; }
      return buf;
    } finally { fs.closeSync(fd); }
  };
}

function valueInfo(v: ValueInfoProto): ValueInfo {
  const opt = v.type?.optionalType?.elemType;
  const outer = opt ?? v.type;
  const seq = outer?.sequenceType?.elemType;
  const tt = outer?.tensorType ?? seq?.tensorType;
  const t = tt ? onnxType(tt.elemType ?? 0) : undefined;
  const kind = opt ? "optional" : v.type?.tensorType ? "tensor" : seq ? "sequence" : v.type?.mapType ? "map" : "unknown";
  return {
    name: v.name ?? "",
    kind,
    ...(opt ? { optionalOf: outer?.tensorType ? "tensor" as const : "sequence" as const } : {}),
    type: t?.name ?? kind.toUpperCase(),
    dtype: t?.carrier,
    shape: tt?.shape ? (tt.shape.dim ?? []).map((d) => ((d as { value?: string }).value === "dimValue" ? toNum(d.dimValue as number) : d.dimParam ? d.dimParam : null)) : undefined,
  };
}

/** A value in scope while tracing: the tensor (or sequence) and its ONNX element type. */
interface Value { readonly t: OnnxValue; readonly type: OnnxType }

/** The ONNX type of a value computed by kiln ops (an empty sequence defaults to FLOAT). */
const typeOfValue = (v: OnnxValue): OnnxType =>
  v instanceof Tensor ? typeOfDType(v.dtype)
    : v instanceof TensorSequence ? v.elemType ?? typeOfDType(v.items[0]?.dtype ?? "float32")
    : v.elemType ?? (v.value ? typeOfValue(v.value) : typeOfDType("float32"));

class Scope {
  private readonly vars = new Map<string, Value>();
  constructor(private readonly parent?: Scope) {}
  get(name: string): Value | undefined { return this.vars.get(name) ?? this.parent?.get(name); }
  /** Set in this scope itself (not inherited): a fed graph input. */
  hasOwn(name: string): boolean { return this.vars.has(name); }
  set(name: string, v: Value): void { this.vars.set(name, v); }
}

/** Everything about a model that does not change between calls. */
class Importer {
  readonly opsets = new Map<string, number>();
  readonly functions = new Map<string, FunctionProto>();
  private readonly initCache = new WeakMap<object, { buffer: HostBuffer; type: OnnxType }>();

  constructor(readonly model: ModelProto, private readonly external?: ExternalReader) {
    for (const o of model.opsetImport ?? []) this.opsets.set(canonicalDomain(o.domain ?? ""), toNum(o.version as number));
    if (!this.opsets.has("")) this.opsets.set("", 1); // IR v2 models import no opset: the first
    for (const f of model.functions ?? []) this.functions.set(`${canonicalDomain(f.domain ?? "")}:${f.name}`, f);
  }

  /** Every op of the model (subgraphs and used functions included) that no importer handles. */
  unsupportedOps(): string[] {
    const missing = new Map<string, string[]>();
    const seenFns = new Set<string>();
    const walk = (nodes: readonly NodeProto[], opsets: Map<string, number>) => {
      for (const n of nodes) {
        const dom = canonicalDomain(n.domain ?? ""), key = `${dom}:${n.opType}`;
        const fn = this.functions.get(key);
        if (fn) {
          if (!seenFns.has(key)) { seenFns.add(key); walk(fn.node ?? [], this.fnOpsets(fn)); }
        } else if (!findOp(dom, n.opType ?? "")) {
          const label = `${n.opType} (domain ${dom || "ai.onnx"}, opset ${opsets.get(dom) ?? "?"})`;
          const list = missing.get(label) ?? [];
          list.push(n.name || (n.output ?? []).join(","));
          missing.set(label, list);
        }
        for (const a of n.attribute ?? []) {
          if (a.g) walk(a.g.node ?? [], opsets);
          for (const g of a.graphs ?? []) walk(g.node ?? [], opsets);
        }
      }
    };
    walk(this.model.graph?.node ?? [], this.opsets);
    return [...missing].map(([op, nodes]) => `${op}: ${nodes.length} node${nodes.length > 1 ? "s" : ""} (${nodes.slice(0, 3).map((s) => `"${s}"`).join(", ")}${nodes.length > 3 ? ", …" : ""})`);
  }

  fnOpsets(fn: FunctionProto): Map<string, number> {
    const m = new Map(this.opsets);
    for (const o of fn.opsetImport ?? []) m.set(canonicalDomain(o.domain ?? ""), toNum(o.version as number));
    return m;
  }

  initializer(t: import("./proto.js").TensorProto): { buffer: HostBuffer; type: OnnxType } {
    let v = this.initCache.get(t);
    if (!v) { v = decodeTensor(t, `initializer "${t.name}"`, this.external); this.initCache.set(t, v); }
    return v;
  }

  /** Runs a graph's nodes in `scope`; returns its outputs. */
  runGraph(g: GraphProto, scope: Scope, opsets: Map<string, number>): Value[] {
    for (const t of g.initializer ?? []) {
      const name = t.name ?? "";
      if (scope.hasOwn(name) && (g.input ?? []).some((i) => i.name === name)) continue; // fed overrides a default
      const { buffer, type } = this.initializer(t);
      scope.set(name, { t: new Tensor(constNode(buffer)), type });
    }
    if ((g.sparseInitializer ?? []).length) throw new UnsupportedError("sparse initializers are not supported", { hint: "densify the model's initializers" });
    this.runNodes(g.node ?? [], scope, opsets);
    return (g.output ?? []).map((o) => {
      const v = scope.get(o.name ?? "");
      if (!v) throw new ValueError(`graph output "${o.name}" is never produced`, { hint: "the model is malformed" });
      return v;
    });
  }


  runNodes(nodes: readonly NodeProto[], scope: Scope, opsets: Map<string, number>): void {
    nodes.forEach((n, idx) => this.runNode(n, idx, scope, opsets));
  }

  private runNode(n: NodeProto, idx: number, scope: Scope, opsets: Map<string, number>): void {
    const dom = canonicalDomain(n.domain ?? ""), opType = n.opType ?? "";
    const label = n.name || `#${idx} ${opType}`;
    const ins: (Value | undefined)[] = (n.input ?? []).map((name, i) => {
      if (!name) return undefined;
      const v = scope.get(name);
      if (!v) throw new ValueError(`input ${i} ("${name}") is not produced by any earlier node, initializer or graph input`, { op: opType, node: label, hint: "nodes must be in topological order" });
      return v;
    });
    const fn = this.functions.get(`${dom}:${opType}`);
    let outs: Value[] | (Value | undefined)[];
    if (fn) outs = this.callFunction(fn, n, ins);
    else {
      const h = findOp(dom, opType);
      if (!h) throw new UnsupportedError(`op type ${opType} (domain ${dom || "ai.onnx"}, opset ${opsets.get(dom) ?? "?"}) is not supported`, { op: opType, node: label });
      const ctx = new OpContext(n, opsets.get(dom) ?? 1, ins.map((v) => v?.t), ins.map((v) => v?.type),
        (g, feeds, feedTypes) => {
          const sub = new Scope(scope);
          (g.input ?? []).forEach((vi, i) => {
            const t = feeds[i];
            if (t) sub.set(vi.name ?? "", { t, type: feedTypes?.[i] ?? typeOfValue(t) });
          });
          const vals = this.runGraph(g, sub, opsets);
          return { outputs: vals.map((v) => v.t), types: vals.map((v) => v.type) };
        }, this.external);
      let r: ReturnType<typeof h>;
      // nodes made for this ONNX node carry its name (quantize's `exclude`, reports)
      try { r = withLabel(label, () => h(ctx)); }
      catch (e) { throw withNode(e, opType, label); }
      const arr = r instanceof Tensor || r instanceof TensorSequence || r instanceof OptionalValue ? [r] : r;
      const firstType = ins[0]?.type;
      outs = arr.map((t, i) => {
        if (!t) return undefined;
        const dtype = t instanceof Tensor ? t.dtype : t instanceof TensorSequence ? t.items[0]?.dtype : undefined;
        const type = ctx.outputTypes[i] ?? (t instanceof Tensor ? undefined : t.elemType) ?? (firstType && firstType.carrier === dtype ? firstType : typeOfValue(t));
        return { t, type };
      });
    }
    (n.output ?? []).forEach((name, i) => {
      if (!name) return;
      const v = outs[i];
      if (!v) throw new UnsupportedError(`does not produce its output ${i} ("${name}")`, { op: opType, node: label, hint: "kiln does not compute this optional output" });
      scope.set(name, v);
    });
  }

  /** Inlines a model-local function: a fresh scope holding only its inputs, attributes substituted. */
  private callFunction(fn: FunctionProto, call: NodeProto, ins: (Value | undefined)[]): Value[] {
    const scope = new Scope();
    (fn.input ?? []).forEach((name, i) => { const v = ins[i]; if (v) scope.set(name, v); });
    const given = new Map((call.attribute ?? []).map((a) => [a.name ?? "", a]));
    const defaults = new Map(((fn as { attributeProto?: AttributeProto[] }).attributeProto ?? []).map((a) => [a.name ?? "", a]));
    const subst = (nodes: readonly NodeProto[]): NodeProto[] => nodes.map((n) => ({
      ...n,
      attribute: (n.attribute ?? []).flatMap((a) => {
        if (!a.refAttrName) return [a];
        const src = given.get(a.refAttrName) ?? defaults.get(a.refAttrName);
        return src ? [{ ...src, name: a.name }] : [];
      }),
    }) as NodeProto);
    this.runNodes(subst(fn.node ?? []), scope, this.fnOpsets(fn));
    return (fn.output ?? []).map((name) => {
      const v = scope.get(name);
      if (!v) throw new ValueError(`function ${fn.name} never produces its output "${name}"`);
      return v;
    });
  }
}

/** Adds the ONNX node to an error from a kiln op inside an importer. */
function withNode(e: unknown, opType: string, label: string): unknown {
  if (!(e instanceof KilnError) || e.node !== undefined) return e;
  return relocated(e, e.op && e.op !== opType ? `${e.op}: ${e.what}` : e.what, { op: opType, node: label, input: e.input, hint: e.hint });
}

/** Decodes a model from bytes, or from a file path (Node), and prepares it for tracing. */
export function load(src: Uint8Array | ArrayBuffer | string, options: LoadOptions = {}): OnnxModel {
  let bytes: Uint8Array;
  let baseDir = options.baseDir;
  if (typeof src === "string") {
    const fs = nodeBuiltin<Fs>("node:fs"), path = nodeBuiltin<PathMod>("node:path");
    if (!fs || !path) throw new ValueError("onnx.load(path) needs a file system (Node)", { op: "onnx.load", hint: "fetch the file and pass its bytes" });
    try { bytes = fs.readFileSync(src); }
    catch (e) { throw new ValueError(`cannot read the model file ${src}: ${(e as Error).message}`, { op: "onnx.load" }); }
    baseDir ??= path.dirname(path.resolve(src));
  } else bytes = src instanceof Uint8Array ? src : new Uint8Array(src);
  let model: ModelProto;
  try { model = onnx.ModelProto.decode(bytes); }
  catch (e) { throw new ValueError(`not an ONNX model: ${(e as Error).message}`, { op: "onnx.load", hint: "the file must be a serialized onnx.ModelProto" }); }
  if (!model.graph) throw new ValueError("the model has no graph", { op: "onnx.load" });
  const imp = new Importer(model, baseDir ? externalReader(baseDir) : undefined);
  const missing = imp.unsupportedOps();
  if (missing.length) throw new UnsupportedError(`the model uses ${missing.length} unsupported op type${missing.length > 1 ? "s" : ""}: ${missing.join("; ")}`, { op: "onnx.load", hint: "these ONNX ops have no kiln importer yet" });

  const g = model.graph;
  const initNames = new Set((g.initializer ?? []).map((t) => t.name ?? ""));
  const inputs = (g.input ?? []).filter((i) => !initNames.has(i.name ?? "")).map(valueInfo);
  const optionalInputs = (g.input ?? []).filter((i) => initNames.has(i.name ?? "")).map(valueInfo);
  const outputs = (g.output ?? []).map(valueInfo);
  const warnings: string[] = [];
  const lossy = new Set<string>();
  for (const v of [...inputs, ...outputs]) {
    const ok = v.kind === "tensor" || v.kind === "sequence" || (v.kind === "optional" && v.optionalOf);
    if (!v.dtype || !ok) throw new UnsupportedError(`graph ${inputs.includes(v) ? "input" : "output"} "${v.name}" has type ${v.dtype ? v.kind : v.type}, which kiln does not support`, { op: "onnx.load", hint: "kiln supports tensors (and sequences of tensors) of numeric and bool element types" });
    if (v.type === "DOUBLE" || v.type === "UINT64") lossy.add(v.type);
  }
  if (lossy.has("DOUBLE")) warnings.push("DOUBLE tensors are computed in float32 (kiln has no float64)");
  if (lossy.has("UINT64")) warnings.push("UINT64 values are carried in int64 (values above 2^63 wrap)");
  const opsets = Object.fromEntries(imp.opsets);

  const call = (feeds: OnnxFeeds): Record<string, Tensor> => {
    if (typeof feeds !== "object" || feeds === null || feeds instanceof Tensor) throw new ValueError("an ONNX model is called with an object of named tensors", { op: "onnx model", hint: `e.g. model({ ${inputs.map((i) => `${JSON.stringify(i.name)}: tensor`).join(", ")} })` });
    const known = new Set([...inputs, ...optionalInputs].map((i) => i.name));
    const unknown = Object.keys(feeds).filter((k) => !known.has(k));
    if (unknown.length) throw new ValueError(`unknown input${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")}`, { op: "onnx model", hint: `the model's inputs are ${inputs.map((i) => `"${i.name}"`).join(", ") || "(none)"}` });
    const missingIn = inputs.filter((i) => !(i.name in feeds) && i.kind !== "optional");
    if (missingIn.length) throw new ValueError(`missing input${missingIn.length > 1 ? "s" : ""} ${missingIn.map((i) => `"${i.name}"`).join(", ")}`, { op: "onnx model" });
    const scope = new Scope();
    const symbols = new Map<string, number>();
    for (const info of [...inputs, ...optionalInputs]) {
      const fed = feeds[info.name];
      const type = info.dtype ? typeByName(info.type) : undefined;
      if (info.kind === "optional") {
        if (fed === undefined || fed === null) { scope.set(info.name, { t: new OptionalValue(undefined, type), type: type! }); continue; }
      } else if (fed === undefined) continue;
      const asSeq = info.kind === "sequence" || info.optionalOf === "sequence";
      if (asSeq) {
        if (!Array.isArray(fed) || fed.some((x) => !(x instanceof Tensor) || x.dtype !== info.dtype)) throw new ValueError(`input "${info.name}" is a sequence of ${info.type}: give an array of ${info.dtype} tensors`, { op: "onnx model", input: info.name });
        const seq = new TensorSequence(fed, type);
        scope.set(info.name, { t: info.kind === "optional" ? new OptionalValue(seq, type) : seq, type: type! });
        continue;
      }
      const t = fed;
      if (!(t instanceof Tensor)) throw new ValueError(`input "${info.name}" must be a Tensor`, { op: "onnx model", input: info.name });
      if (t.dtype !== info.dtype) throw new DTypeError(`input "${info.name}" is ${info.type} (carried as ${info.dtype}), got a ${t.dtype} tensor`, { op: "onnx model", input: info.name, hint: `cast it: x.cast("${info.dtype}")` });
      if (info.shape) {
        if (info.shape.length !== t.ndim) throw new ShapeError(`input "${info.name}" has rank ${info.shape.length} [${info.shape.map((d) => d ?? "?")}], got shape [${t.shape}]`, { op: "onnx model", input: info.name });
        info.shape.forEach((d, i) => {
          const got = t.shape[i]!;
          if (typeof d === "number" && d !== got) throw new ShapeError(`input "${info.name}" needs size ${d} in dimension ${i}, got shape [${t.shape}]`, { op: "onnx model", input: info.name });
          if (typeof d === "string") {
            const s = symbols.get(d);
            if (s !== undefined && s !== got) throw new ShapeError(`input "${info.name}" dimension ${i} is "${d}" = ${got}, but another input set "${d}" = ${s}`, { op: "onnx model", input: info.name });
            symbols.set(d, got);
          }
        });
      }
      scope.set(info.name, { t: info.kind === "optional" ? new OptionalValue(t, type) : t, type: type! });
    }
    const vals = imp.runGraph(g, scope, imp.opsets);
    const out: Record<string, Tensor | Tensor[] | null> = {};
    outputs.forEach((o, i) => {
      let v = vals[i]!.t;
      const fix = (t: Tensor) => (o.dtype && t.dtype !== o.dtype ? cast(t, o.dtype) : t);
      if (o.kind === "optional") {
        if (v instanceof OptionalValue) { if (!v.value) { out[o.name] = null; return; } v = v.value; }
        out[o.name] = v instanceof TensorSequence ? v.items.map(fix) : fix(v as Tensor);
        return;
      }
      if (v instanceof OptionalValue) {
        if (!v.value) throw new ValueError(`output "${o.name}" is an empty optional`, { op: "onnx model" });
        v = v.value;
      }
      if (o.kind === "sequence") {
        if (!(v instanceof TensorSequence)) throw new ValueError(`output "${o.name}" is declared a sequence but computes a tensor`, { op: "onnx model" });
        out[o.name] = v.items.map(fix);
      } else {
        if (!(v instanceof Tensor)) throw new ValueError(`output "${o.name}" is declared a tensor but computes a sequence`, { op: "onnx model" });
        out[o.name] = fix(v);
      }
    });
    return out as Record<string, Tensor>;
  };
  return Object.assign(call, {
    inputs, outputs, opsets, warnings,
    irVersion: toNum(model.irVersion as number),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(" "),
    nodeCount: (g.node ?? []).length,
  }) as OnnxModel;
}

