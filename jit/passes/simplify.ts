/**
 * Algebraic simplification. Every rule is exact on the reference backend (bit for bit,
 * including NaN, ±Infinity and the sign of zero), which rules out some familiar ones:
 * - `x * 0 → 0` (NaN and ±Infinity times 0 are NaN);
 * - float `x + 0 → x` (-0 + 0 is +0): only `x + (-0)` is an identity for floats;
 *   float `x - 0 → x` holds, `x - (-0)` does not; integer and bool types take either zero;
 * - `sum` over size-1 axes on floats (0 + -0 is +0), and sums of sums (reassociation).
 *
 * Rules (a "splat" is a constant whose elements are all equal, also seen through
 * reshape/expand/permute/slice, as lib/ builds scalars):
 * - identities: `x*1`, `1*x`, `x/1`, `x**1`, `x+0`, `0+x`, `x-0` (see above for floats),
 *   `max(x,x)`, `min(x,x)`, `max(x,-inf)`, `min(x,+inf)`; on bool: `and(x,x)`, `or(x,x)`,
 *   `and(x,true)`, `or(x,false)`, `xor(x,false)`
 * - `where(c,x,x) → x`, `where(true,x,y) → x`, `where(false,x,y) → y`
 * - `neg(neg x) → x`; `not(not x) → x` for bool x; `f(f x) → f x` for abs, sign, floor, ceil,
 *   round; floor/ceil/round of integers and bools, and abs of uint8/bool, are `x`
 * - `cast(cast(x, mid), to) → cast(x, to)` when every value of x's dtype is exact in mid
 *   (e.g. int8→int32→float32 = int8→float32; float32→int32→float32 is kept)
 * - max/min/prod over axes of size 1 (and integer/bool sums) → `x`;
 *   `max(max(x, a), b) → max(x, a∪b)` (same for min)
 * - movement: permute∘permute → one permute (identity → x); a permute that moves only size-1
 *   axes → reshape; reshape∘reshape → one reshape; expand∘expand → one expand;
 *   slice∘slice → one slice; pad∘pad (both constant with the same value, or both edge) → one pad
 * - constants: reshape(const) and permute(const) → const
 * - every no-op that {@link dce} removes
 *
 * A node a rule makes is simplified again, so chains collapse in one run.
 *
 * @example
 * // reshape(reshape(neg(neg(x)) * 1)) → reshape(x)
 * const g2 = simplify(g);
 */
import { Node, node, constNode, type Op, type Attrs, type Shape } from "../ir.js";
import { isFloat, type DType } from "../dtype.js";
import { rebuild, type Graph } from "../graph.js";
import { noopReplacement, splatValue, permuteBuffer, reshapeBuffer } from "./util.js";

/** For each source dtype, the dtypes that hold every one of its values exactly. */
const LOSSLESS: Record<DType, readonly DType[]> = {
  bool: ["bool", "uint8", "int8", "int32", "int64", "float16", "float32"],
  uint8: ["uint8", "int32", "int64", "float16", "float32"],
  int8: ["int8", "int32", "int64", "float16", "float32"],
  int32: ["int32", "int64"],
  int64: ["int64"],
  float16: ["float16", "float32"],
  float32: ["float32"],
};

/** Whether casting `from` to `to` keeps every value exactly. */
export function losslessCast(from: DType, to: DType): boolean {
  return LOSSLESS[from].includes(to);
}

const IDEMPOTENT: ReadonlySet<string> = new Set(["abs", "sign", "floor", "ceil", "round"]);
const INT_IDENTITY: ReadonlySet<string> = new Set(["floor", "ceil", "round"]);

const isNegZero = (v: number | undefined): boolean => v !== undefined && Object.is(v, -0);
const isPosZero = (v: number | undefined): boolean => v !== undefined && Object.is(v, 0);
const isZero = (v: number | undefined): boolean => v === 0; // either sign

function simplifyOnce(n: Node, ins: readonly Node[], make: (op: Op, ins: Node[], a: Attrs, shape?: Shape) => Node): Node | undefined {
  const noop = noopReplacement(n, ins);
  if (noop) return noop;
  const x = ins[0]!, y = ins[1], a = n.attrs;
  const fl = isFloat(n.dtype);
  switch (n.op) {
    case "mul": {
      if (splatValue(y!) === 1) return x;
      if (splatValue(x) === 1) return y;
      return undefined;
    }
    case "add": {
      const zero = fl ? isNegZero : isZero;
      if (zero(splatValue(y!))) return x;
      if (zero(splatValue(x))) return y;
      return undefined;
    }
    case "sub": return (fl ? isPosZero : isZero)(splatValue(y!)) ? x : undefined;
    case "div": case "pow": return splatValue(y!) === 1 ? x : undefined;
    case "max": case "min": {
      if (x === y) return x;
      if (fl) {
        const id = n.op === "max" ? -Infinity : Infinity;
        if (splatValue(y!) === id) return x;
        if (splatValue(x) === id) return y;
      }
      return undefined;
    }
    case "and": case "or": case "xor": {
      if (n.dtype !== "bool") return undefined;
      if (x === y && n.op !== "xor") return x;
      const id = n.op === "and" ? 1 : 0;
      if (splatValue(y!) === id) return x;
      if (splatValue(x) === id) return y;
      return undefined;
    }
    case "where": {
      const [c, t, f] = ins as [Node, Node, Node];
      if (t === f) return t;
      const cv = splatValue(c);
      return cv === undefined ? undefined : cv ? t : f;
    }
    case "neg": return x.op === "neg" ? x.inputs[0] : undefined;
    case "not": return x.op === "not" && x.inputs[0]!.dtype === "bool" ? x.inputs[0] : undefined;
    case "abs": case "sign": case "floor": case "ceil": case "round": {
      if (!isFloat(x.dtype) && INT_IDENTITY.has(n.op)) return x;
      if (n.op === "abs" && (x.dtype === "uint8" || x.dtype === "bool")) return x;
      if (IDEMPOTENT.has(n.op) && x.op === n.op) return x;
      return undefined;
    }
    case "cast": {
      if (x.op !== "cast") return undefined;
      const src = x.inputs[0]!;
      if (!losslessCast(src.dtype, x.dtype)) return undefined;
      return src.dtype === n.dtype ? src : make("cast", [src], { to: n.dtype });
    }
    case "reduce": {
      const axes = a.axes!, fn = a.fn!;
      if (axes.every((ax) => x.shape[ax] === 1) && (fn !== "sum" || !fl)) return x;
      if ((fn === "max" || fn === "min") && x.op === "reduce" && x.attrs.fn === fn) {
        const all = [...new Set([...x.attrs.axes!, ...axes])].sort((p, q) => p - q);
        return make("reduce", [x.inputs[0]!], { fn, axes: all });
      }
      return undefined;
    }
    case "permute": {
      const p = a.perm!;
      if (x.op === "permute") {
        const inner = x.attrs.perm!;
        return make("permute", [x.inputs[0]!], { perm: p.map((i) => inner[i]!) });
      }
      if (x.op === "const") return constNode(permuteBuffer(x.attrs.value!, p), n.site);
      const moved = p.filter((i) => x.shape[i] !== 1);
      if (moved.every((v, i) => i === 0 || moved[i - 1]! < v)) return make("reshape", [x], {}, n.shape);
      return undefined;
    }
    case "reshape": {
      if (x.op === "reshape") return make("reshape", [x.inputs[0]!], {}, n.shape);
      if (x.op === "const") return constNode(reshapeBuffer(x.attrs.value!, n.shape), n.site);
      return undefined;
    }
    case "expand": return x.op === "expand" ? make("expand", [x.inputs[0]!], {}, n.shape) : undefined;
    case "slice": {
      if (x.op !== "slice") return undefined;
      const s1 = x.attrs.starts!, t1 = x.attrs.steps!, s2 = a.starts!, t2 = a.steps!;
      return make("slice", [x.inputs[0]!], {
        starts: s1.map((s, i) => s + s2[i]! * t1[i]!),
        steps: t1.map((t, i) => t * t2[i]!),
      }, n.shape);
    }
    case "pad": {
      if (x.op !== "pad") return undefined;
      const m1 = x.attrs.mode ?? "constant", m2 = a.mode ?? "constant";
      const sameConst = m1 === "constant" && m2 === "constant" && Object.is(x.attrs.padValue ?? 0, a.padValue ?? 0);
      if (!sameConst && !(m1 === "edge" && m2 === "edge")) return undefined;
      const pads = a.pads!.map((v, i) => v + x.attrs.pads![i]!);
      return make("pad", [x.inputs[0]!], { ...a, pads });
    }
  }
  return undefined;
}

export function simplify(g: Graph): Graph {
  return rebuild(g, (n, ins) => {
    const made = new Set<Node>();
    const make = (op: Op, i: Node[], at: Attrs, shape?: Shape): Node => {
      const m = node(op, i, at, shape, n.site);
      made.add(m);
      return m;
    };
    let cur = simplifyOnce(n, ins, make);
    // a node a rule just made may simplify further (permute → reshape → reshape of reshape …)
    for (let k = 0; cur && made.has(cur) && k < 16; k++) {
      const next = simplifyOnce(cur, cur.inputs, make);
      if (!next) break;
      cur = next;
    }
    return cur;
  });
}
