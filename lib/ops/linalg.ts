/**
 * Contractions: `matmul` with numpy semantics and `einsum`, both lowered to the IR's `matmul`
 * anchor (equal ranks >= 2, equal batch dims) plus movement primitives, so big contractions
 * always run on the tiled matmul kernel.
 *
 * @example
 * matmul(randn([8, 3, 4]), randn([4, 5]))      // [8, 3, 5]; the weight is not copied per batch
 * einsum("bij,bjk->bik", a, b)                   // batched matmul
 * einsum("ii->i", m)                             // diagonal
 */
import { Tensor } from "../tensor.js";
import { apply, castTo, shapeError, valueError } from "../core.js";
import { fmtShape, numel, type Shape } from "../../jit/ir.js";
import { promote, type DType } from "../../jit/dtype.js";

// ---------------------------------------------------------------- small primitive helpers

const same = (a: Shape, b: Shape): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** Reshape, skipped when the shape already matches. */
function reshapeTo(t: Tensor, shape: Shape): Tensor {
  return same(t.shape, shape) ? t : apply("reshape", [t], {}, [...shape]);
}
/** Permute, skipped for the identity. */
function permuteBy(t: Tensor, perm: readonly number[]): Tensor {
  return perm.every((p, i) => p === i) ? t : apply("permute", [t], { perm: [...perm] });
}
/** Expand (same rank), skipped when already there. */
function expandTo(t: Tensor, shape: Shape): Tensor {
  return same(t.shape, shape) ? t : apply("expand", [t], {}, [...shape]);
}
/** Sums the given axes away (they are removed from the shape). */
function sumAway(t: Tensor, axes: readonly number[]): Tensor {
  if (axes.length === 0) return t;
  const r = apply("reduce", [t], { fn: "sum", axes: [...axes].sort((a, b) => a - b) });
  return reshapeTo(r, t.shape.filter((_, i) => !axes.includes(i)));
}

function checkTensor(op: string, t: unknown, which: string): Tensor {
  if (!(t instanceof Tensor)) valueError(op, `${which} must be a Tensor, got ${t === null ? "null" : typeof t}`);
  return t;
}

// ---------------------------------------------------------------- matmul

/**
 * Matrix product with numpy semantics: a 1-D first operand is a row vector and a 1-D second
 * operand a column vector (the added axis is removed from the result); leading (batch) axes
 * broadcast; dtypes promote.
 * @example matmul(randn([2, 3]), randn([3]))   // [2]
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkTensor("matmul", a, "the first operand");
  checkTensor("matmul", b, "the second operand");
  if (a.ndim === 0 || b.ndim === 0)
    shapeError("matmul", `operands must have at least 1 dimension, got ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`, "use mul for scalar multiplication");
  const dt = promote(a.dtype, b.dtype);
  let x = castTo(a, dt), y = castTo(b, dt);
  const aVec = x.ndim === 1, bVec = y.ndim === 1;
  if (aVec) x = reshapeTo(x, [1, x.shape[0]!]);
  if (bVec) y = reshapeTo(y, [y.shape[0]!, 1]);
  const M = x.shape[x.ndim - 2]!, K = x.shape[x.ndim - 1]!, K2 = y.shape[y.ndim - 2]!, N = y.shape[y.ndim - 1]!;
  if (K !== K2)
    shapeError("matmul", `inner dimensions differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} (${K} vs ${K2})`,
      "the last axis of the first operand must equal the second-to-last axis of the second (the only axis of a 1-D operand)");
  const xb = x.shape.slice(0, -2), yb = y.shape.slice(0, -2);
  const rb = Math.max(xb.length, yb.length), batch: number[] = [];
  for (let i = 0; i < rb; i++) {
    const p = xb[xb.length - rb + i] ?? 1, q = yb[yb.length - rb + i] ?? 1;
    if (p !== q && p !== 1 && q !== 1)
      shapeError("matmul", `batch dimensions of ${fmtShape(a.shape)} and ${fmtShape(b.shape)} cannot broadcast (${p} vs ${q})`);
    batch.push(p === 1 ? q : p);
  }
  let out: Tensor;
  if (numel(yb) === 1 && rb > 0) {
    // the second operand is shared by every batch: fold the batch into the rows (no copies)
    const B = numel(batch);
    const x2 = reshapeTo(expandTo(reshapeTo(x, [...new Array<number>(rb - xb.length).fill(1), ...x.shape]), [...batch, M, K]), [B * M, K]);
    out = reshapeTo(apply("matmul", [x2, reshapeTo(y, [K, N])]), [...batch, M, N]);
  } else {
    const up = (t: Tensor, tb: Shape, r: number, c: number) =>
      expandTo(reshapeTo(t, [...new Array<number>(rb - tb.length).fill(1), ...tb, r, c]), [...batch, r, c]);
    out = apply("matmul", [up(x, xb, M, K), up(y, yb, K, N)]);
  }
  const shape = [...batch, ...(aVec ? [] : [M]), ...(bVec ? [] : [N])];
  return reshapeTo(out, shape);
}

// ---------------------------------------------------------------- einsum

/** A tensor whose axes carry einsum labels (letters, or "." + position for ellipsis axes). */
interface Labeled { t: Tensor; labels: string[] }

interface Parsed { inputs: string[][]; output: string[] }

/** Splits one term into labels, expanding "..." into the given ellipsis labels. */
function termLabels(term: string, eq: string): { letters: string[]; ellipsis: number } {
  const letters: string[] = [];
  let ellipsis = -1;
  for (let i = 0; i < term.length; i++) {
    const ch = term[i]!;
    if (ch === ".") {
      if (term.slice(i, i + 3) !== "..." || ellipsis >= 0) valueError("einsum", `malformed ellipsis in "${eq}"`, `use "..." at most once per term`);
      ellipsis = letters.length;
      i += 2;
    } else if (/[a-zA-Z]/.test(ch)) letters.push(ch);
    else valueError("einsum", `invalid character ${JSON.stringify(ch)} in "${eq}"`, "subscripts are letters a-z, A-Z and \"...\"");
  }
  return { letters, ellipsis };
}

function parseEquation(eq: string, operands: readonly Tensor[]): Parsed {
  const s = eq.replace(/\s+/g, "");
  const arrow = s.indexOf("->");
  if (arrow >= 0 && s.indexOf("->", arrow + 1) >= 0) valueError("einsum", `more than one "->" in "${eq}"`);
  const lhs = arrow >= 0 ? s.slice(0, arrow) : s;
  const terms = lhs.split(",");
  if (terms.length !== operands.length)
    valueError("einsum", `"${eq}" has ${terms.length} input term${terms.length === 1 ? "" : "s"} but ${operands.length} operand${operands.length === 1 ? " was" : "s were"} given`);
  const parsed = terms.map((t) => termLabels(t, eq));
  // ellipsis axes are right-aligned across operands (numpy broadcasting)
  let E = 0;
  parsed.forEach((p, k) => {
    const nd = operands[k]!.ndim;
    if (p.ellipsis < 0) {
      if (p.letters.length !== nd)
        shapeError("einsum", `term "${terms[k]}" has ${p.letters.length} subscripts but operand ${k} has shape ${fmtShape(operands[k]!.shape)}`, undefined, k);
    } else {
      if (p.letters.length > nd)
        shapeError("einsum", `term "${terms[k]}" has ${p.letters.length} subscripts but operand ${k} has shape ${fmtShape(operands[k]!.shape)}`, undefined, k);
      E = Math.max(E, nd - p.letters.length);
    }
  });
  const ell = (n: number) => Array.from({ length: n }, (_, i) => `.${E - n + i}`);
  const inputs = parsed.map((p, k) => {
    if (p.ellipsis < 0) return p.letters;
    const n = operands[k]!.ndim - p.letters.length;
    return [...p.letters.slice(0, p.ellipsis), ...ell(n), ...p.letters.slice(p.ellipsis)];
  });
  let output: string[];
  if (arrow >= 0) {
    const o = termLabels(s.slice(arrow + 2), eq);
    // "..." in the output stands for the broadcast ellipsis axes (possibly none); without it
    // in the output, ellipsis axes are summed
    output = o.ellipsis >= 0 ? [...o.letters.slice(0, o.ellipsis), ...ell(E), ...o.letters.slice(o.ellipsis)] : o.letters;
    const seen = new Set<string>();
    for (const l of o.letters) {
      if (seen.has(l)) valueError("einsum", `output subscript '${l}' appears more than once in "${eq}"`);
      seen.add(l);
      if (!inputs.some((ls) => ls.includes(l))) valueError("einsum", `output subscript '${l}' does not appear in any input of "${eq}"`);
    }
  } else {
    const count = new Map<string, number>();
    for (const ls of inputs) for (const l of ls) if (l[0] !== ".") count.set(l, (count.get(l) ?? 0) + 1);
    const once = [...count].filter(([, c]) => c === 1).map(([l]) => l).sort();
    output = [...ell(E), ...once];
  }
  return { inputs, output };
}

/** Takes the diagonal over axes i < j of equal size n: the result drops axis j. */
function diagonal(t: Tensor, i: number, j: number): Tensor {
  const r = t.ndim, n = t.shape[i]!;
  const rest = [...Array(r).keys()].filter((k) => k !== i && k !== j);
  const x = permuteBy(t, [...rest, i, j]);
  const lead = rest.map((k) => t.shape[k]!);
  if (n === 0) return permuteBy(reshapeTo(x, [...lead, 0]), insertPerm(rest.length, i));
  // flattened [n*n] padded by n is [n, n+1]; its column 0 is the diagonal
  let y = reshapeTo(x, [...lead, n * n]);
  y = apply("pad", [y], { pads: [...lead.map(() => 0), 0, ...lead.map(() => 0), n], mode: "constant", padValue: 0 });
  y = reshapeTo(y, [...lead, n, n + 1]);
  y = apply("slice", [y], { starts: [...lead.map(() => 0), 0, 0], steps: [...lead.map(() => 1), 1, 1] }, [...lead, n, 1]);
  y = reshapeTo(y, [...lead, n]);
  return permuteBy(y, insertPerm(rest.length, i));
}
/** The permutation that moves the last of `lead + 1` axes to position `pos`. */
function insertPerm(lead: number, pos: number): number[] {
  const perm: number[] = [];
  for (let k = 0; k < lead; k++) { if (k === pos) perm.push(lead); perm.push(k); }
  if (pos >= lead) perm.push(lead);
  return perm;
}

/** Removes repeated labels in one operand by taking diagonals. */
function dedupe(op: Labeled): Labeled {
  let { t, labels } = op;
  for (;;) {
    const j = labels.findIndex((l, k) => labels.indexOf(l) !== k);
    if (j < 0) return { t, labels };
    const i = labels.indexOf(labels[j]!);
    t = diagonal(t, i, j);
    labels = labels.filter((_, k) => k !== j);
  }
}

/** Sums away the labels of `op` that are not in `keep`. */
function sumLabels(op: Labeled, keep: ReadonlySet<string>): Labeled {
  const axes = op.labels.map((l, i) => (keep.has(l) ? -1 : i)).filter((i) => i >= 0);
  return { t: sumAway(op.t, axes), labels: op.labels.filter((l) => keep.has(l)) };
}

/** Contracts two labeled operands, keeping the labels in `keep`; shared labels may be 1 on one side. */
function contractPair(A: Labeled, B: Labeled, keep: ReadonlySet<string>): Labeled {
  // labels only one side has and nobody needs later are summed first
  const inB = new Set(B.labels), inA = new Set(A.labels);
  A = sumLabels(A, new Set(A.labels.filter((l) => keep.has(l) || inB.has(l))));
  B = sumLabels(B, new Set(B.labels.filter((l) => keep.has(l) || inA.has(l))));
  const sizeA = (l: string) => A.t.shape[A.labels.indexOf(l)]!, sizeB = (l: string) => B.t.shape[B.labels.indexOf(l)]!;
  const shared = A.labels.filter((l) => inB.has(l));
  // a shared (broadcast) label of size 1 on one side: sum the other side over it if contracted
  const sumA: string[] = [], sumB: string[] = [];
  for (const l of shared) {
    if (keep.has(l) || sizeA(l) === sizeB(l)) continue;
    if (sizeA(l) === 1) sumB.push(l); else sumA.push(l);
  }
  if (sumA.length) A = sumKeepAxis(A, sumA);
  if (sumB.length) B = sumKeepAxis(B, sumB);
  const batch = shared.filter((l) => keep.has(l));
  const contracted = shared.filter((l) => !keep.has(l));
  const aOnly = A.labels.filter((l) => !inB.has(l)), bOnly = B.labels.filter((l) => !inA.has(l));
  const bsz = batch.map((l) => Math.max(sizeA(l), sizeB(l)));
  const msz = aOnly.map(sizeA), nsz = bOnly.map(sizeB);
  const perm = (X: Labeled, order: string[]) => permuteBy(X.t, order.map((l) => X.labels.indexOf(l)));
  if (contracted.length === 0) {
    // an outer/elementwise product: broadcasting mul keeps it fusable
    const a = reshapeTo(perm(A, [...batch, ...aOnly]), [...batch.map(sizeA), ...msz, ...nsz.map(() => 1)]);
    const b = reshapeTo(perm(B, [...batch, ...bOnly]), [...batch.map(sizeB), ...msz.map(() => 1), ...nsz]);
    const full = [...bsz, ...msz, ...nsz];
    return { t: apply("mul", [expandTo(a, full), expandTo(b, full)]), labels: [...batch, ...aOnly, ...bOnly] };
  }
  const ksz = contracted.map(sizeA);
  const Bn = numel(bsz), M = numel(msz), K = numel(ksz), N = numel(nsz);
  let a = perm(A, [...batch, ...aOnly, ...contracted]);
  let b = perm(B, [...batch, ...contracted, ...bOnly]);
  a = expandTo(a, [...bsz, ...msz, ...ksz]);
  b = expandTo(b, [...bsz, ...ksz, ...nsz]);
  const out = apply("matmul", [reshapeTo(a, [Bn, M, K]), reshapeTo(b, [Bn, K, N])]);
  return { t: reshapeTo(out, [...bsz, ...msz, ...nsz]), labels: [...batch, ...aOnly, ...bOnly] };
}

/** Sums the given labels but keeps them as size-1 axes. */
function sumKeepAxis(op: Labeled, labels: string[]): Labeled {
  const axes = labels.map((l) => op.labels.indexOf(l)).sort((a, b) => a - b);
  return { t: apply("reduce", [op.t], { fn: "sum", axes }), labels: op.labels };
}

/**
 * Einstein summation. Supports implicit outputs (labels seen once, sorted), "..." ellipsis
 * (broadcasting), repeated labels in one operand (diagonals) and any number of operands.
 * Like torch.einsum, a subscript of size 1 in one operand broadcasts against the others.
 * Pairs of operands are contracted with the matmul anchor; operands are combined left to right.
 * @example einsum("ij,jk->ik", a, b); einsum("...ij,...jk", a, b); einsum("ii", m) // trace
 */
export function einsum(eq: string, ...operands: Tensor[]): Tensor {
  if (typeof eq !== "string") valueError("einsum", "the first argument must be the equation string");
  if (operands.length === 0) valueError("einsum", "needs at least one operand");
  operands.forEach((t, k) => checkTensor("einsum", t, `operand ${k}`));
  const { inputs, output } = parseEquation(eq, operands);
  let dt: DType = operands[0]!.dtype;
  for (const t of operands) dt = promote(dt, t.dtype);
  // sizes per label: equal, or 1 (broadcast, as torch.einsum allows); equal within one operand
  const size = new Map<string, number>();
  const shapes = () => operands.map((t) => fmtShape(t.shape)).join(", ");
  inputs.forEach((ls, k) => {
    const own = new Map<string, number>();
    ls.forEach((l, i) => {
      const d = operands[k]!.shape[i]!, prev = size.get(l);
      if (own.has(l) && own.get(l) !== d)
        shapeError("einsum", `subscript '${l}' is repeated in operand ${k} ${fmtShape(operands[k]!.shape)} with different sizes (${own.get(l)} vs ${d})`, "a repeated subscript takes a diagonal, which needs equal sizes", k);
      own.set(l, d);
      if (prev === undefined || prev === 1) size.set(l, d);
      else if (prev !== d && d !== 1) {
        if (l[0] === ".") shapeError("einsum", `the "..." axes of ${shapes()} cannot broadcast (${prev} vs ${d})`, undefined, k);
        shapeError("einsum", `subscript '${l}' has size ${prev} in one place but ${d} in operand ${k} (shapes ${shapes()})`, "sizes of one subscript must match (or be 1)", k);
      }
    });
  });
  let ops: Labeled[] = operands.map((t, k) => dedupe({ t: castTo(t, dt), labels: inputs[k]! }));
  const outSet = new Set(output);
  const neededAfter = (k: number) => {
    const s = new Set(output);
    for (let j = k; j < ops.length; j++) for (const l of ops[j]!.labels) s.add(l);
    return s;
  };
  // labels private to one operand and absent from the output are summed right away
  ops = ops.map((op, k) => {
    const others = new Set(outSet);
    ops.forEach((o, j) => { if (j !== k) o.labels.forEach((l) => others.add(l)); });
    return sumLabels(op, others);
  });
  let acc = ops[0]!;
  for (let k = 1; k < ops.length; k++) acc = contractPair(acc, ops[k]!, neededAfter(k + 1));
  acc = sumLabels(acc, outSet);
  // every output label survives (it is needed to the end); order the axes like the output
  const t = permuteBy(acc.t, output.map((l) => acc.labels.indexOf(l)));
  // ellipsis axes of size 1 in every operand that had them broadcast up to their full size
  return expandTo(t, output.map((l) => size.get(l)!));
}

/** Methods installed on Tensor (see lib/ops/index.ts). */
export const linalgMethods = {
  /** Matrix product (numpy semantics). Example: `x.matmul(w)`. */
  matmul(this: Tensor, other: Tensor): Tensor { return matmul(this, other); },
};
export type LinalgMethods = typeof linalgMethods;
