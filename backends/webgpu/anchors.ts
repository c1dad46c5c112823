/**
 * Anchor ops in WGSL, one output element per invocation: conv, convTranspose (gather form),
 * pool, argreduce, cumsum, gather, gatherElements as loops producing the anchor's value (the
 * kernel's epilogue then consumes it), matmul (matmul.ts), and scatterElements as two phases:
 * a parallel copy of the data, then one invocation applying the updates in order (so repeated
 * indices combine as in the reference). Bad indices report through the error words (`k_err`)
 * and read element 0 instead; run() turns a report into a RuntimeError. An int8 conv (zero
 * points, jit/ir.ts `Attrs.zeroB`) accumulates (x − zeroA)(w − zeroB[oc]) in i32 over the
 * in-range taps only (a padded tap would be zeroA − zeroA = 0, as ONNX ConvInteger pads).
 */
import type { Kernel, Operand } from "../../jit/kernel/index.js";
import { stridesOf, type Node } from "../../jit/ir.js";
import { isFloat, type DType } from "../../jit/dtype.js";
import { CompileError } from "../../jit/errors.js";
import { loadWord, storeWord, narrow, wtype, zero, literal, binary } from "./wgsl.js";
import { viewIndex, type GenCtx, type Phase, type KernelGen } from "./kernel.js";
import { emitMatmul, int8Gemm, tableAt } from "./matmul.js";

/** Emits the anchor's loops into g.lines; returns the name of its value (of the anchor node's dtype). */
export function emitAnchor(g: GenCtx): string {
  const a = g.k.anchor!;
  switch (a.op) {
    case "matmul": return emitMatmul(g, a.a, a.b, a.node);
    case "conv": return conv(g, a.node, a.x, a.w, false);
    case "convTranspose": return conv(g, a.node, a.x, a.w, true);
    case "pool": return pool(g, a.node, a.x);
    case "argreduce": return argreduce(g, a.node, a.x);
    case "cumsum": return cumsum(g, a.node, a.x);
    case "gather": return gather(g, a.node, a.x, a.index);
    case "gatherElements": return gatherElements(g, a.node, a.x, a.index);
  }
  throw new CompileError(`webgpu: anchor ${a.op} has no value form`, { op: a.op });
}

const at = (g: GenCtx, o: Operand, coords: readonly (string | undefined)[]) => viewIndex(g.base(o.buf), o.view, coords);
const kcoords = (g: GenCtx) => g.k.shape.map((_, d) => g.coord(d));

/** Pushes `let name = …` that normalizes index value `v` into [0, dim), reporting a bad one. */
function normIndex(g: GenCtx, v: string, dim: number, lines: string[] = g.lines): string {
  const j = g.fresh("j");
  g.use("k_err");
  lines.push(
    `var ${j}: i32 = ${v};`,
    `if (${j} < 0i) { ${j} = ${j} + ${dim}i; }`,
    `if (${j} < 0i || ${j} >= ${dim}i) { k_err(${g.k.id + 1}i, ${v}, ${dim}i); ${j} = 0i; }`,
  );
  return j;
}

/**
 * conv: out[b, oc, o…] = Σ_{ic<Cg, k…} x[b, g·Cg+ic, o·s + k·d − p] · w[oc, ic, k…]
 * convTranspose: out[b, oc, o…] = Σ_{ic<Cg, k…} x[b, g·Cg+ic, (o + p − k·d)/s] · w[g·Cg+ic, oc mod Og, k…]
 * over the terms where the division is exact and in range.
 */
function conv(g: GenCtx, n: Node, X: Operand, W: Operand, transposed: boolean): string {
  const a = n.attrs, d = n.dtype, xs = X.view.shape, ws = W.view.shape, sp = xs.length - 2, G = a.groups!;
  const Cg = transposed ? xs[1]! / G : ws[1]!, Og = transposed ? ws[1]! : ws[0]! / G;
  const acc = g.fresh("acc"), ic = g.fresh("ic"), grp = g.fresh("g"), ch = g.fresh("ch"), out = g.fresh("cv");
  const c = kcoords(g);
  const L = g.lines;
  const q = int8Gemm(n);
  if (q && transposed) throw new CompileError("webgpu: convTranspose has no int8 form (zero points are for conv and matmul)", { op: n.op });
  // zeroB of this invocation's output channel, once (empty: every zero point is 0)
  let zbv = "";
  if (q && (q.zb.length > 1 || q.zb[0] !== 0)) { zbv = g.fresh("zb"); L.push(`let ${zbv} = ${tableAt(g, q.zb, c[1]!)};`); }
  L.push(`var ${acc}: ${wtype(d)} = ${zero(d)};`, `let ${grp} = ${c[1]} / ${Og}i;`);
  L.push(`for (var ${ic}: i32 = 0i; ${ic} < ${Cg}i; ${ic} = ${ic} + 1i) {`, `  let ${ch} = ${grp} * ${Cg}i + ${ic};`);
  const kv = Array.from({ length: sp }, () => g.fresh("kw")), pv = Array.from({ length: sp }, () => g.fresh("p"));
  let depth = 1, closes = 1;
  const ind = () => "  ".repeat(depth);
  for (let i = 0; i < sp; i++) {
    const s = a.strides![i]!, dl = a.dilations![i]!, p = a.pads![i]!, X_ = xs[i + 2]!;
    L.push(`${ind()}for (var ${kv[i]}: i32 = 0i; ${kv[i]} < ${ws[i + 2]}i; ${kv[i]} = ${kv[i]} + 1i) {`);
    depth++; closes++;
    if (!transposed) {
      L.push(`${ind()}let ${pv[i]} = ${c[i + 2]} * ${s}i + ${kv[i]} * ${dl}i - ${p}i;`);
      L.push(`${ind()}if (${pv[i]} >= 0i && ${pv[i]} < ${X_}i) {`);
    } else {
      const t = g.fresh("t");
      L.push(`${ind()}let ${t} = ${c[i + 2]} + ${p}i - ${kv[i]} * ${dl}i;`);
      L.push(`${ind()}let ${pv[i]} = ${t} / ${s}i;`);
      L.push(`${ind()}if (${t} >= 0i && ${t} % ${s}i == 0i && ${pv[i]} < ${X_}i) {`);
    }
    depth++; closes++;
  }
  const xi = at(g, X, [c[0], ch, ...pv]);
  const wi = transposed ? at(g, W, [ch, `(${c[1]} % ${Og}i)`, ...kv]) : at(g, W, [c[1], ic, ...kv]);
  let term = `${loadWord(d, xi)} * ${loadWord(d, wi)}`;
  if (q) {
    // int8 GEMM: x − zeroA (padding is skipped: it would be zeroA − zeroA) times w − zeroB[oc]
    const xv = loadWord(q.da, xi), wv = loadWord(q.db, wi);
    term = `${q.za ? `(${xv} - ${q.za}i)` : xv} * ${zbv ? `(${wv} - ${zbv})` : wv}`;
  }
  L.push(`${ind()}${acc} = ${acc} + ${term};`);
  while (closes-- > 0) { depth--; L.push(`${"  ".repeat(Math.max(depth, 0))}}`); }
  L.push(`let ${out} = ${narrow(acc, d, (h) => g.use(h))};`);
  return out;
}

function pool(g: GenCtx, n: Node, X: Operand): string {
  const a = n.attrs, d = n.dtype, xs = X.view.shape, sp = xs.length - 2, isMax = a.fn === "maxpool";
  const use = (h: string) => g.use(h);
  const acc = g.fresh("acc"), cnt = g.fresh("cnt"), pc = g.fresh("pc"), out = g.fresh("pl");
  const c = kcoords(g), L = g.lines, fl = isFloat(d);
  // floats (and average pools) accumulate in f32; integer max pools in i32
  const accT = fl || !isMax ? "f32" : "i32";
  const init = isMax ? (accT === "f32" ? literal(-Infinity, "float32", use) : "bitcast<i32>(0x80000000u)") : "0.0f";
  L.push(`var ${acc}: ${accT} = ${init};`, `var ${cnt}: i32 = 0i;`, `var ${pc}: i32 = 0i;`);
  const kv = Array.from({ length: sp }, () => g.fresh("kw")), pv = Array.from({ length: sp }, () => g.fresh("p"));
  let depth = 0;
  const ind = () => "  ".repeat(depth);
  for (let i = 0; i < sp; i++) {
    L.push(`${ind()}for (var ${kv[i]}: i32 = 0i; ${kv[i]} < ${a.kernel![i]}i; ${kv[i]} = ${kv[i]} + 1i) {`);
    depth++;
    L.push(`${ind()}let ${pv[i]} = ${c[i + 2]} * ${a.strides![i]}i + ${kv[i]} * ${a.dilations![i]}i - ${a.pads![i]}i;`);
    // within the padded extent (what count_include_pad counts)?
    L.push(`${ind()}if (${pv[i]} < ${xs[i + 2]! + a.pads![i + sp]!}i) {`);
    depth++;
  }
  L.push(`${ind()}${pc} = ${pc} + 1i;`);
  L.push(`${ind()}if (${pv.map((p, i) => `${p} >= 0i && ${p} < ${xs[i + 2]}i`).join(" && ")}) {`);
  const v = g.fresh("x");
  const raw = loadWord(d, at(g, X, [c[0], c[1], ...pv]));
  L.push(`${ind()}  let ${v} = ${accT === "f32" && !fl ? `f32(${raw})` : raw};`);
  L.push(`${ind()}  ${cnt} = ${cnt} + 1i;`);
  if (!isMax) L.push(`${ind()}  ${acc} = ${acc} + ${v};`);
  else if (accT === "f32") { use("k_isnan"); L.push(`${ind()}  if (k_isnan(${v}) || ${v} > ${acc}) { if (!k_isnan(${acc})) { ${acc} = ${v}; } }`); }
  else L.push(`${ind()}  ${acc} = max(${acc}, ${v});`);
  L.push(`${ind()}}`);
  while (depth > 0) { depth--; L.push(`${ind()}}`); depth--; L.push(`${ind()}}`); }
  let r: string;
  if (isMax) r = accT === "f32" ? acc : `select(0i, ${acc}, ${cnt} > 0i)`;
  else r = `(${acc} / f32(${a.countIncludePad ? pc : cnt}))`;
  if (!fl && accT === "f32") { use("k_f2i"); r = `k_f2i(${r})`; }
  L.push(`let ${out} = ${narrow(r, d, use)};`);
  return out;
}

function argreduce(g: GenCtx, n: Node, X: Operand): string {
  const ax = n.attrs.axis!, xs = X.view.shape, xd = n.inputs[0]!.dtype, isMax = n.attrs.fn === "argmax", last = !!n.attrs.selectLast;
  const best = g.fresh("best"), bi = g.fresh("bi"), kk = g.fresh("k"), v = g.fresh("x");
  const c = kcoords(g), L = g.lines, fl = isFloat(xd);
  const idx = (k: string) => at(g, X, c.map((ci, i) => (i === ax ? k : ci)));
  const cmp = isMax ? (last ? ">=" : ">") : last ? "<=" : "<";
  if (fl) g.use("k_isnan");
  L.push(`var ${best}: ${wtype(xd)} = ${loadWord(xd, idx("0i"))};`, `var ${bi}: i32 = 0i;`);
  L.push(`for (var ${kk}: i32 = 1i; ${kk} < ${xs[ax]}i; ${kk} = ${kk} + 1i) {`);
  if (fl) L.push(`  if (k_isnan(${best})) { break; }`); // the first NaN wins
  L.push(`  let ${v} = ${loadWord(xd, idx(kk))};`);
  L.push(`  if (${fl ? `k_isnan(${v}) || ` : ""}${v} ${cmp} ${best}) { ${best} = ${v}; ${bi} = ${kk}; }`);
  L.push("}");
  return bi;
}

function cumsum(g: GenCtx, n: Node, X: Operand): string {
  const ax = n.attrs.axis!, xs = X.view.shape, d = n.dtype, len = xs[ax]!, ex = !!n.attrs.exclusive, rev = !!n.attrs.reverse;
  const acc = g.fresh("acc"), kk = g.fresh("k"), out = g.fresh("cs"), c = kcoords(g), L = g.lines;
  const ca = c[ax]!;
  // forward: k from 0 to c (exclusive: < c); reverse: from c (exclusive: c+1) to len-1
  const from = rev ? (ex ? `${ca} + 1i` : ca) : "0i", to = rev ? `${len}i` : ex ? ca : `${ca} + 1i`;
  L.push(`var ${acc}: ${wtype(d)} = ${zero(d)};`);
  L.push(`for (var ${kk}: i32 = ${from}; ${kk} < ${to}; ${kk} = ${kk} + 1i) {`);
  L.push(`  ${acc} = ${acc} + ${loadWord(d, at(g, X, c.map((ci, i) => (i === ax ? kk : ci))))};`);
  L.push("}", `let ${out} = ${narrow(acc, d, (h) => g.use(h))};`);
  return out;
}

function gather(g: GenCtx, n: Node, X: Operand, I: Operand): string {
  const ax = n.attrs.axis!, xs = X.view.shape, ri = I.view.shape.length, d = n.dtype, idt = n.inputs[1]!.dtype;
  const c = kcoords(g), out = g.fresh("ga");
  const iv = g.fresh("iv");
  g.lines.push(`let ${iv} = ${loadWord(idt, at(g, I, c.slice(ax, ax + ri)))};`);
  const j = normIndex(g, iv, xs[ax]!);
  const xc = xs.map((_, t) => (t < ax ? c[t] : t === ax ? j : c[t - 1 + ri]));
  g.lines.push(`let ${out} = ${loadWord(d, at(g, X, xc))};`);
  return out;
}

function gatherElements(g: GenCtx, n: Node, X: Operand, I: Operand): string {
  const ax = n.attrs.axis!, xs = X.view.shape, is = I.view.shape, d = n.dtype, idt = n.inputs[1]!.dtype;
  const c = kcoords(g), out = g.fresh("ge"), iv = g.fresh("iv");
  g.lines.push(`let ${iv} = ${loadWord(idt, at(g, I, c))};`);
  const j = normIndex(g, iv, xs[ax]!);
  const xc = c.map((ci, t) => (t === ax ? j : ci));
  // indices larger than the data off the axis are an error in the reference too
  const over = is.map((e, t) => (t !== ax && e > xs[t]! ? `${c[t]} >= ${xs[t]}i` : "")).filter(Boolean);
  if (over.length) {
    g.use("k_err");
    const ok = g.fresh("ok");
    g.lines.push(`let ${ok} = !(${over.join(" || ")});`, `if (!${ok}) { k_err(${g.k.id + 1}i, ${iv}, ${xs[ax]}i); }`);
    g.lines.push(`let ${out} = select(${zero(d)}, ${loadWord(d, `select(0i, ${at(g, X, xc)}, ${ok})`)}, ${ok});`);
  } else g.lines.push(`let ${out} = ${loadWord(d, at(g, X, xc))};`);
  return out;
}

/** scatterElements: phase 0 copies the data to the output in parallel; phase 1 (one invocation) applies the updates in order. */
export function emitScatter(k: Kernel, mk: () => KernelGen): Phase[] {
  const a = k.anchor!;
  if (a.op !== "scatterElements") throw new Error("internal");
  const n = a.node, d: DType = n.dtype, ax = n.attrs.axis!, red = n.attrs.reduction ?? "none";
  const xs = n.shape, is = a.index.view.shape, idt = n.inputs[1]!.dtype;
  const total = xs.reduce((p, q) => p * q, 1), count = is.reduce((p, q) => p * q, 1);
  // phase 0: out[i] = x[i] (the operand is contiguous)
  const g0 = mk();
  const all = xs.map((_, i) => i).filter((i) => xs[i] !== 1);
  const xc = xs.map((_, i) => g0.coord(i));
  const copy = storeWord(viewIndex(g0.base(k.out), { shape: xs, strides: stridesOf(xs), offset: 0 } as never, xc), loadWord(d, viewIndex(g0.base(a.x.buf), a.x.view, xc)));
  const phases: Phase[] = [{ wgsl: g0.shader([copy], all), invocations: total }];
  if (count === 0) return phases;
  // phase 1: for each update in row-major order
  const g = mk(), L: string[] = [], use = (h: string) => g.use(h);
  const f = g.fresh("f"), ist = stridesOf(is), xst = stridesOf(xs);
  const cv = is.map(() => g.fresh("u"));
  L.push(`for (var ${f}: i32 = 0i; ${f} < ${count}i; ${f} = ${f} + 1i) {`);
  const B: string[] = [];
  is.forEach((e, t) => B.push(`let ${cv[t]} = (${f} / ${ist[t] || 1}i) % ${Math.max(e, 1)}i;`));
  const iv = g.fresh("iv");
  B.push(`let ${iv} = ${loadWord(idt, viewIndex(g.base(a.index.buf), a.index.view, cv))};`);
  const j = normIndex(g, iv, xs[ax]!, B);
  const over = is.map((e, t) => (t !== ax && e > xs[t]! ? `${cv[t]} >= ${xs[t]}i` : "")).filter(Boolean);
  if (over.length) B.push(`if (${over.join(" || ")}) { k_err(${k.id + 1}i, ${iv}, ${xs[ax]}i); continue; }`);
  const o = g.fresh("o"), u = g.fresh("up"), old = g.fresh("old");
  B.push(`let ${o} = ${g.base(k.out)}i${xs.map((_, t) => (xst[t]! && xs[t]! > 1 ? ` + ${t === ax ? j : cv[t]} * ${xst[t]}i` : "")).join("")};`);
  B.push(`let ${u} = ${loadWord(d, viewIndex(g.base(a.updates.buf), a.updates.view, cv))};`);
  let v = u;
  if (red !== "none") {
    B.push(`let ${old} = ${loadWord(d, o)};`);
    v = binary(red === "add" ? "add" : red === "mul" ? "mul" : red, old, u, d, use);
  }
  B.push(storeWord(o, v));
  L.push(...B.map((l) => `  ${l}`), "}");
  phases.push({ wgsl: g.shader(L, []), invocations: 1 });
  return phases;
}
