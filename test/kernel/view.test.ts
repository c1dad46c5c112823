import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { View } from "../../jit/kernel/view.js";
import { arange, Tensor } from "../../lib/index.js";

/** Reads a view of arange(n)+1 (0 means padding) through View.indexOf. */
function readView(v: View): number[] {
  const out: number[] = [];
  const c = new Array<number>(v.shape.length).fill(0);
  const n = v.size;
  for (let f = 0; f < n; f++) {
    const o = v.indexOf(c);
    out.push(o < 0 ? 0 : o + 1);
    for (let d = c.length - 1; d >= 0; d--) { if (++c[d]! < v.shape[d]!) break; c[d] = 0; }
  }
  return out;
}

type Step = { k: "permute" | "expand" | "slice" | "pad" | "reshape"; r: number[] };

/** Applies the same movement to a tensor (through the reference backend) and to a view. */
function apply(t: Tensor, v: View, s: Step): [Tensor, View | undefined] | undefined {
  const shape = t.shape, rank = shape.length;
  switch (s.k) {
    case "permute": {
      const perm = shape.map((_, i) => i).sort((a, b) => ((s.r[a]! * 7 + a) % 5) - ((s.r[b]! * 7 + b) % 5));
      return [t.permute(perm), v.permute(perm)];
    }
    case "expand": {
      const to = shape.map((d, i) => (d === 1 ? 1 + (s.r[i % 4]! % 3) : d));
      return [t.expand(to), v.expand(to)];
    }
    case "slice": {
      const starts: number[] = [], ends: number[] = [], steps: number[] = [];
      shape.forEach((d, i) => {
        const neg = s.r[i % 4]! % 2 === 1 && d > 1;
        const step = neg ? -1 - (s.r[i % 4]! % 2) : 1 + (s.r[i % 4]! % 2);
        const a = s.r[i % 4]! % Math.max(d, 1);
        starts.push(neg ? d - 1 - a % d : a % Math.max(d, 1)); ends.push(neg ? -d - 1 : d); steps.push(step);
      });
      const r = t.slice(starts, ends, undefined, steps);
      // recompute the view's own starts from the result (ONNX clamping happened in slice)
      const st = starts.map((a, i) => (shape[i]! === 0 ? 0 : Math.min(Math.max(a, 0), shape[i]! - 1)));
      return [r, v.slice(st, steps, r.shape)];
    }
    case "pad": {
      const b = shape.map((_, i) => s.r[i % 4]! % 2), a = shape.map((_, i) => (s.r[i % 4]! >> 1) % 2);
      return [t.pad(shape.map((_, i) => [b[i]!, a[i]!] as [number, number])), v.pad(b, a)];
    }
    case "reshape": {
      if (rank === 0) return undefined;
      // split or merge adjacent dims
      const i = s.r[0]! % rank;
      let to: number[];
      if (i + 1 < rank && s.r[1]! % 2 === 0) to = [...shape.slice(0, i), shape[i]! * shape[i + 1]!, ...shape.slice(i + 2)];
      else { const d = shape[i]!; const f = [2, 3].find((p) => d % p === 0 && d > p); to = f ? [...shape.slice(0, i), f, d / f, ...shape.slice(i + 1)] : [...shape.slice(0, i), 1, d, ...shape.slice(i + 1)]; }
      return [t.reshape(to), v.reshape(to)];
    }
  }
}

describe("View", () => {
  it("composes permute/expand/slice/pad/reshape like the reference", async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
      fc.array(fc.record({ k: fc.constantFrom("permute", "expand", "slice", "pad", "reshape"), r: fc.array(fc.nat(9), { minLength: 4, maxLength: 4 }) }), { maxLength: 5 }),
      async (shape, steps) => {
        const n = shape.reduce((a, b) => a * b, 1);
        let t = arange(1, n + 1, 1, { dtype: "int32" }).reshape(shape);
        let v: View = View.contiguous(shape);
        for (const s of steps as Step[]) {
          const r = apply(t, v, s);
          if (!r) continue;
          if (!r[1]) return; // reshape not expressible as a view: fusion would store first
          [t, v] = r as [Tensor, View];
        }
        expect(v.shape).toEqual(t.shape);
        expect(readView(v)).toEqual(Array.from(await t.data(), Number));
      }), { numRuns: 150 });
  });
  it("reports contiguity", () => {
    expect(View.contiguous([2, 3]).isContiguous).toBe(true);
    expect(View.contiguous([2, 3]).permute([1, 0]).isContiguous).toBe(false);
    expect(View.contiguous([2, 3]).reshape([3, 2])!.isContiguous).toBe(true);
    expect(View.contiguous([2, 3]).permute([1, 0]).reshape([6])).toBeUndefined();
  });
});
