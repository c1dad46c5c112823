/**
 * Memory planning: one execution order (the kernels' order), a live interval per buffer, and
 * placement of inputs, intermediates and outputs in one arena by offset.
 *
 * Placement is greedy by size (largest first, lowest offset that does not overlap a buffer
 * live at the same time), as in TFLite's planner. Before placing, an elementwise kernel whose
 * output has the size of an input that dies in that kernel, read at the same positions, takes
 * that input's memory (in place). Constants are not planned: backends keep them apart.
 *
 * @example
 * const stats = planMemory(fused);   // sets buffer.offset; returns arena/no-reuse/lower-bound
 */
import { itemSize } from "../dtype.js";
import type { Fused } from "./fuse.js";
import type { KBuffer, KExpr, Kernel, MemoryStats } from "./ir.js";

/** Offsets are aligned to this many bytes (a cache line; also SIMD and GPU friendly). */
export const ALIGN = 64;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

function loadsOf(k: Kernel): { buf: number; contiguousSameIndex: boolean }[] {
  const out: { buf: number; contiguousSameIndex: boolean }[] = [];
  const seen = new Set<KExpr>();
  const visit = (e: KExpr) => {
    if (seen.has(e)) return;
    seen.add(e);
    if (e.op === "load") out.push({ buf: e.buf, contiguousSameIndex: e.view.isContiguous && e.view.shape.length === k.shape.length && e.view.shape.every((d, i) => d === k.shape[i]) });
    else if ("args" in e) e.args.forEach(visit);
  };
  k.stages.forEach((s) => visit(s.expr));
  visit(k.value);
  const a = k.anchor;
  if (a) for (const o of Object.values(a)) if (o && typeof o === "object" && "buf" in o && "view" in o) out.push({ buf: (o as { buf: number }).buf, contiguousSameIndex: false });
  return out;
}

/** Plans offsets for every non-constant buffer; returns the statistics explain() reports. */
export function planMemory(f: Fused): MemoryStats {
  const { buffers, kernels } = f;
  const bytes = (b: KBuffer) => align(b.size * itemSize(b.dtype));
  const n = kernels.length;
  const first = new Map<number, number>(), last = new Map<number, number>();
  for (const b of buffers) {
    if (b.kind === "const") continue;
    if (b.kind === "input") first.set(b.id, -1);
    if (b.kind === "output") last.set(b.id, n);
  }
  // an input returned as an output must survive to the end too
  for (const o of f.outputs) if (buffers[o.buf]!.kind !== "const") last.set(o.buf, n);
  const uses = kernels.map(loadsOf);
  kernels.forEach((k, t) => {
    if (!first.has(k.out)) first.set(k.out, t);
    for (const u of uses[t]!) if (buffers[u.buf]!.kind !== "const") last.set(u.buf, Math.max(last.get(u.buf) ?? t, t));
    if (buffers[k.out]!.kind !== "const") last.set(k.out, Math.max(last.get(k.out) ?? t, t));
  });
  for (const b of buffers) if (b.kind !== "const" && !last.has(b.id)) last.set(b.id, first.get(b.id) ?? -1);

  // in place: the output takes over an input that dies here and is read at the same index
  const alias = new Map<number, number>(); // buffer -> buffer whose memory it uses
  const root = (id: number): number => { let r = id; while (alias.has(r)) r = alias.get(r)!; return r; };
  let inPlace = 0;
  kernels.forEach((k, t) => {
    if (k.anchor || k.stages.length || buffers[k.out]!.kind === "input") return;
    const out = buffers[k.out]!;
    for (const u of uses[t]!) {
      const b = buffers[u.buf]!;
      // same element size and count: element i is read and written at the same bytes
      if (b.kind !== "temp" || !u.contiguousSameIndex || last.get(u.buf) !== t || u.buf === k.out) continue;
      if (b.size !== out.size || itemSize(b.dtype) !== itemSize(out.dtype)) continue;
      // every read of this buffer in the kernel must be at the output's own index
      if (uses[t]!.some((v) => v.buf === u.buf && !v.contiguousSameIndex)) continue;
      if (alias.has(k.out)) break;
      alias.set(k.out, root(u.buf));
      inPlace++;
      break;
    }
  });

  // intervals of memory objects (alias groups)
  const groups = new Map<number, { start: number; end: number; size: number; members: number[] }>();
  for (const b of buffers) {
    if (b.kind === "const") continue;
    const r = root(b.id);
    const g = groups.get(r) ?? { start: Infinity, end: -Infinity, size: 0, members: [] };
    g.start = Math.min(g.start, first.get(b.id) ?? -1);
    g.end = Math.max(g.end, last.get(b.id)!);
    g.size = Math.max(g.size, bytes(b));
    g.members.push(b.id);
    groups.set(r, g);
  }
  const objs = [...groups.values()].sort((a, b) => b.size - a.size || a.start - b.start);
  const placed: { start: number; end: number; off: number; size: number }[] = [];
  let arena = 0;
  for (const o of objs) {
    const clash = placed.filter((p) => p.start <= o.end && o.start <= p.end).sort((a, b) => a.off - b.off);
    let off = 0;
    for (const p of clash) {
      if (off + o.size <= p.off) break;
      off = Math.max(off, p.off + p.size);
    }
    placed.push({ start: o.start, end: o.end, off, size: o.size });
    for (const m of o.members) buffers[m]!.offset = off;
    arena = Math.max(arena, off + o.size);
  }
  let noReuse = 0;
  for (const b of buffers) if (b.kind !== "const") noReuse += bytes(b);
  let lower = 0;
  for (let t = -1; t <= n; t++) {
    let live = 0;
    for (const o of objs) if (o.start <= t && t <= o.end) live += o.size;
    lower = Math.max(lower, live);
  }
  return { arenaBytes: arena, noReuseBytes: noReuse, lowerBoundBytes: lower, inPlace };
}
