/**
 * A plain interpreter of the Kernel IR, used to check fusion and memory planning against the
 * op-level reference before any code generator is involved. Buffers live in one Float64
 * "arena" by their planned offsets (in elements of 8 bytes per planned byte offset / itemSize),
 * so an overlap bug in the memory plan corrupts results and fails the tests.
 */
import type { Plan, KExpr, Kernel } from "../../jit/kernel/index.js";
import { itemSize, castValue, type DType } from "../../jit/dtype.js";
import { toF64, fromF64, type HostBuffer } from "../../jit/buffer.js";
import { binaryFn, unaryFn, conv, convTranspose, pool, gather, gatherElements, scatterElements, argreduce, cumsum, matmul } from "../../backends/js/kernels.js";
import { isInt } from "../../jit/dtype.js";
import { numel } from "../../jit/ir.js";

export function runPlan(plan: Plan, inputs: HostBuffer[]): HostBuffer[] {
  // one float64 slot per arena byte keeps offsets simple and overlaps visible
  const arena = new Float64Array(plan.memory.arenaBytes);
  const consts = new Map<number, Float64Array>();
  for (const b of plan.buffers) if (b.kind === "const") consts.set(b.id, toF64(b.value!));
  const read = (buf: number, i: number): number => {
    const b = plan.buffers[buf]!;
    if (b.kind === "const") return consts.get(buf)![i]!;
    return arena[b.offset! + i * itemSize(b.dtype)]!;
  };
  const write = (buf: number, i: number, v: number) => {
    const b = plan.buffers[buf]!;
    arena[b.offset! + i * itemSize(b.dtype)] = castValue(v, b.dtype);
  };
  const readAll = (buf: number): Float64Array => {
    const b = plan.buffers[buf]!;
    return Float64Array.from({ length: b.size }, (_, i) => read(buf, i));
  };
  plan.inputs.forEach((id, i) => { const v = toF64(inputs[i]!); v.forEach((x, j) => write(id, j, x)); });
  for (const k of plan.kernels) runKernel(k, plan, read, write, readAll);
  return plan.outputs.map((o) => {
    const v = new Float64Array(numel(o.shape));
    for (let i = 0; i < v.length; i++) v[i] = read(o.buf, i);
    return fromF64(o.dtype, o.shape, v);
  });
}

function runKernel(k: Kernel, plan: Plan, read: (b: number, i: number) => number, write: (b: number, i: number, v: number) => void, readAll: (b: number) => Float64Array) {
  let anchorVals: Float64Array | undefined;
  const a = k.anchor;
  if (a) {
    const n = a.node;
    const operand = (o: { buf: number; view: import("../../jit/kernel/view.js").View }) => {
      const out = new Float64Array(o.view.size);
      const c = new Array<number>(o.view.shape.length).fill(0);
      for (let f = 0; f < out.length; f++) {
        const idx = o.view.indexOf(c);
        out[f] = idx < 0 ? 0 : read(o.buf, idx);
        for (let d = c.length - 1; d >= 0; d--) { if (++c[d]! < o.view.shape[d]!) break; c[d] = 0; }
      }
      return out;
    };
    const round = (v: Float64Array, d: DType) => v.map((x) => castValue(x, d));
    switch (a.op) {
      case "matmul": anchorVals = matmul(operand(a.a), operand(a.b), a.a.view.shape, a.b.view.shape, isInt(n.dtype) ? (n.dtype === "int64" ? 64 : 32) : 0); break;
      case "conv": anchorVals = conv(operand(a.x), operand(a.w), n); break;
      case "convTranspose": anchorVals = convTranspose(operand(a.x), operand(a.w), n); break;
      case "pool": anchorVals = pool(operand(a.x), n); break;
      case "argreduce": anchorVals = argreduce(operand(a.x), n.inputs[0]!.shape, n.attrs.axis!, n.attrs.fn!, !!n.attrs.selectLast); break;
      case "cumsum": anchorVals = cumsum(operand(a.x), n.inputs[0]!.shape, n.attrs.axis!, !!n.attrs.exclusive, !!n.attrs.reverse); break;
      case "gather": anchorVals = gather(operand(a.x), operand(a.index), n); break;
      case "gatherElements": anchorVals = gatherElements(operand(a.x), operand(a.index), n); break;
      case "scatterElements": anchorVals = scatterElements(operand(a.x), operand(a.index), operand(a.updates), n); break;
    }
    anchorVals = round(anchorVals!, n.dtype);
    void readAll;
  }
  const shape = k.shape, r = shape.length;
  const R = new Set(k.reduceAxes);
  const outerShape = shape.map((d, i) => (R.has(i) ? 1 : d));
  const innerShape = shape.map((d, i) => (R.has(i) ? d : 1));
  const storeLoopsR = k.outShape.every((d, i) => d === shape[i]) && R.size > 0;
  const eachCoord = (s: readonly number[], fn: (c: number[]) => void) => {
    const n = numel(s); if (!n) return;
    const c = new Array<number>(s.length).fill(0);
    for (let f = 0; f < n; f++) { fn(c); for (let d = s.length - 1; d >= 0; d--) { if (++c[d]! < s[d]!) break; c[d] = 0; } }
  };
  const ostr = k.outShape.map((_, i) => numel(k.outShape.slice(i + 1)));
  const fstr = shape.map((_, i) => numel(shape.slice(i + 1)));
  eachCoord(outerShape, (oc) => {
    const acc: number[] = [];
    const evalAt = (c: number[]) => {
      const memo = new Map<KExpr, number>();
      const ev = (e: KExpr): number => {
        const m = memo.get(e); if (m !== undefined) return m;
        let v: number;
        switch (e.op) {
          case "load": { const cc = c.map((x, i) => (e.view.shape[i] === 1 ? 0 : x)); const idx = e.view.indexOf(cc); v = idx < 0 ? 0 : read(e.buf, idx); break; }
          case "const": v = e.value; break;
          case "acc": v = acc[e.stage]!; break;
          case "anchor": { let f = 0; c.forEach((x, i) => (f += x * fstr[i]!)); v = anchorVals![f]!; break; }
          case "select": v = e.mask.every(([lo, hi], i) => c[i]! >= lo && c[i]! < hi) ? ev(e.args[0]) : ev(e.args[1]); break;
          case "cast": v = ev(e.args[0]!); break;
          case "where": v = ev(e.args[0]!) !== 0 ? ev(e.args[1]!) : ev(e.args[2]!); break;
          default: {
            const intIn = isInt(e.args[0]!.dtype);
            v = e.args.length === 1 ? unaryFn(e.op, intIn)(ev(e.args[0]!)) : binaryFn(e.op, intIn, e.args[0]!.dtype === "int64")(ev(e.args[0]!), ev(e.args[1]!));
          }
        }
        v = castValue(v, e.dtype);
        memo.set(e, v);
        return v;
      };
      return ev;
    };
    k.stages.forEach((s, si) => {
      let a = s.fn === "sum" ? 0 : s.fn === "prod" ? 1 : s.fn === "max" ? -Infinity : Infinity;
      let nan = false;
      // integer sums/products wrap exactly, like the reference
      const bits = s.dtype === "int64" ? 64 : isInt(s.dtype) ? 32 : 0;
      let big = s.fn === "prod" ? 1n : 0n;
      eachCoord(innerShape, (ic) => {
        const c = oc.map((x, i) => (R.has(i) ? ic[i]! : x));
        const v = evalAt(c)(s.expr);
        if (bits && (s.fn === "sum" || s.fn === "prod")) { big = BigInt.asIntN(bits, s.fn === "sum" ? big + BigInt(v) : big * BigInt(v)); a = Number(big); }
        else if (s.fn === "sum") a += v; else if (s.fn === "prod") a *= v;
        else if (Number.isNaN(v)) nan = true; else if (s.fn === "max" ? v > a : v < a) a = v;
      });
      acc[si] = castValue(nan ? NaN : a, s.dtype);
    });
    const store = (c: number[]) => {
      let f = 0;
      c.forEach((x, i) => (f += (k.outShape[i] === 1 ? 0 : x) * ostr[i]!));
      write(k.out, f, evalAt(c)(k.value));
    };
    if (storeLoopsR) eachCoord(innerShape, (ic) => store(oc.map((x, i) => (R.has(i) ? ic[i]! : x))));
    else store(oc);
    void r;
  });
}
