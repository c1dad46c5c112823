/**
 * Elementwise ops with numpy broadcasting and weak-scalar dtype promotion.
 *
 * Dtype rules (see jit/dtype.ts for promotion):
 * - arithmetic (`add sub mul div pow mod fmod maximum minimum`): both operands are promoted to
 *   one dtype and the result has it (`int32 + 2.5` → float32, `int8 + uint8` → int32,
 *   `int32 + 2` → int32). Integer results wrap; integer `div` truncates toward zero and
 *   integer `x / 0`, `x % 0` give 0.
 * - comparisons (`eq ne lt le gt ge`): operands are promoted to one dtype first, result bool.
 * - logical ops: each operand is read as a truth value (`x != 0`, so NaN is true), result bool.
 * - float math (`exp log sqrt rsqrt reciprocal sin cos tan tanh asin acos atan sinh cosh erf`
 *   and the activations `sigmoid silu gelu softplus leakyRelu elu`): float16/float32 keep their
 *   dtype, integer and bool inputs are cast to float32 first.
 * - `neg abs sign floor ceil round relu` keep the input dtype (floor/ceil/round of an integer
 *   is the identity), except `neg` of bool, which gives int32 (as `0 - x` does).
 * - `isnan isinf` → bool (always false for integers).
 *
 * Composite ops (sigmoid, gelu, softplus, …) are written in IR primitives, so a fusing compiler
 * sees inside them.
 *
 * @example
 * add(x, 1).mul(y).relu()
 */
import { Tensor, type TensorLike } from "../tensor.js";
import { apply, unify, castTo, scalar, broadcastTo, broadcastShapes, checkDType, valueError } from "../core.js";
import type { BinaryOp, UnaryOp } from "../../jit/ir.js";
import { isFloat, type DType } from "../../jit/dtype.js";

// ---------------------------------------------------------------- helpers

/** A tensor-like as a tensor (a JS number becomes a float32 0-d tensor, a boolean a bool one). */
function toTensor(name: string, a: TensorLike): Tensor {
  return a instanceof Tensor ? a : unify(name, [a])[0]!;
}

function binary(op: BinaryOp, a: TensorLike, b: TensorLike, name: string = op): Tensor {
  const [x, y] = unify(name, [a, b]);
  return apply(op, [x!, y!]);
}

/** A tensor-like as a float tensor: float16/float32 stay, integers and bool become float32. */
function toFloat(name: string, a: TensorLike): Tensor {
  const t = toTensor(name, a);
  return isFloat(t.dtype) ? t : castTo(t, "float32");
}

/** Unary float op: integer and bool inputs are cast to float32 first. */
function unaryFloat(op: UnaryOp, a: TensorLike, name: string = op): Tensor {
  return apply(op, [toFloat(name, a)]);
}

/** Unary op that keeps the input dtype. */
function unaryKeep(op: UnaryOp, a: TensorLike, name: string = op): Tensor {
  return apply(op, [toTensor(name, a)]);
}

/** A 0-d constant of `t`'s dtype expanded to `t`'s shape. */
function constLike(v: number | boolean, t: Tensor): Tensor {
  return broadcastTo(scalar(v, t.dtype), t.shape);
}

/** A tensor-like read as a truth value: bool as is, anything else `x != 0` (NaN is true). */
function truth(name: string, a: TensorLike): Tensor {
  const t = toTensor(name, a);
  if (t.dtype === "bool") return t;
  return apply("not", [apply("eq", [t, constLike(0, t)])]);
}

function checkNumber(op: string, what: string, v: unknown): number {
  if (typeof v !== "number" || Number.isNaN(v)) valueError(op, `${what} must be a number, got ${String(v)}`);
  return v;
}

/** log(1 + y) accurate for small y (Kahan's trick): y when 1 + y rounds to 1, else log(u)·y/(u-1). */
function log1p(y: Tensor): Tensor {
  const u = add(y, 1);
  const isOne = apply("eq", [u, constLike(1, u)]);
  return apply("where", [isOne, y, div(mul(apply("log", [u]), y), sub(u, 1))]);
}

/** exp(x) - 1 accurate near 0 (Kahan's trick): x when exp(x) rounds to 1, -1 when exp(x) - 1 rounds to -1. */
function expm1(x: Tensor): Tensor {
  const u = apply("exp", [x]);
  const um1 = sub(u, 1);
  const isOne = apply("eq", [u, constLike(1, u)]);
  const isMinusOne = apply("eq", [um1, constLike(-1, um1)]);
  const general = div(mul(um1, x), apply("log", [u]));
  return apply("where", [isOne, x, apply("where", [isMinusOne, um1, general])]);
}

// ---------------------------------------------------------------- binary arithmetic

/** Adds with broadcasting and promotion. Example: `add(tensor([1, 2]), 1)` → [2, 3]. */
export const add = (a: TensorLike, b: TensorLike): Tensor => binary("add", a, b);
/** Subtracts `b` from `a`. Example: `sub(tensor([3, 4]), tensor([1, 1]))` → [2, 3]. */
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary("sub", a, b);
/** Multiplies. Example: `mul(tensor([[1], [2]]), tensor([3, 4]))` → [[3, 4], [6, 8]]. */
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary("mul", a, b);
/**
 * Divides; integer division truncates toward zero and `int / 0` gives 0.
 * Example: `div(tensor([7, -7], { dtype: "int32" }), 2)` → [3, -3]; `div(tensor([1]), 4)` → [0.25].
 */
export const div = (a: TensorLike, b: TensorLike): Tensor => binary("div", a, b);
/** `a` to the power `b`. Example: `pow(tensor([2, 3]), 2)` → [4, 9]. */
export const pow = (a: TensorLike, b: TensorLike): Tensor => binary("pow", a, b);
/**
 * Remainder with the sign of the divisor (numpy/Python `%`); integer `x mod 0` gives 0.
 * Example: `mod(tensor([-7, 7]), 3)` → [2, 1]; `mod(tensor([7]), -3)` → [-2].
 */
export const mod = (a: TensorLike, b: TensorLike): Tensor => binary("mod", a, b);
/**
 * Remainder with the sign of the dividend (C `fmod`); integer `x fmod 0` gives 0.
 * Example: `fmod(tensor([-7, 7]), 3)` → [-1, 1].
 */
export const fmod = (a: TensorLike, b: TensorLike): Tensor => binary("fmod", a, b);
/** Elementwise maximum (NaN propagates). Example: `maximum(tensor([1, 5]), 3)` → [3, 5]. */
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binary("max", a, b, "maximum");
/** Elementwise minimum (NaN propagates). Example: `minimum(tensor([1, 5]), 3)` → [1, 3]. */
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binary("min", a, b, "minimum");

// ---------------------------------------------------------------- comparisons and logic

/** `a == b` → bool (operands promoted first). Example: `eq(tensor([1, 2]), 2)` → [false, true]. */
export const eq = (a: TensorLike, b: TensorLike): Tensor => binary("eq", a, b);
/** `a != b` → bool (NaN != NaN is true). Example: `ne(tensor([1, 2]), 2)` → [true, false]. */
export const ne = (a: TensorLike, b: TensorLike): Tensor => apply("not", [binary("eq", a, b, "ne")]);
/** `a < b` → bool. Example: `lt(tensor([1, 2]), 2)` → [true, false]. */
export const lt = (a: TensorLike, b: TensorLike): Tensor => binary("lt", a, b);
/** `a <= b` → bool. Example: `le(tensor([1, 2]), 2)` → [true, true]. */
export const le = (a: TensorLike, b: TensorLike): Tensor => binary("le", a, b);
/** `a > b` → bool (computed as `b < a`). Example: `gt(tensor([1, 3]), 2)` → [false, true]. */
export const gt = (a: TensorLike, b: TensorLike): Tensor => { const [x, y] = unify("gt", [a, b]); return apply("lt", [y!, x!]); };
/** `a >= b` → bool (computed as `b <= a`). Example: `ge(tensor([1, 2]), 2)` → [false, true]. */
export const ge = (a: TensorLike, b: TensorLike): Tensor => { const [x, y] = unify("ge", [a, b]); return apply("le", [y!, x!]); };

function logical(op: "and" | "or" | "xor", name: string, a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = unify(name, [truth(name, a), truth(name, b)]);
  return apply(op, [x!, y!]);
}
/** Logical and of truth values (`x != 0`) → bool. Example: `logicalAnd(tensor([0, 2]), true)` → [false, true]. */
export const logicalAnd = (a: TensorLike, b: TensorLike): Tensor => logical("and", "logicalAnd", a, b);
/** Logical or → bool. Example: `logicalOr(tensor([0, 0]), tensor([0, 1]))` → [false, true]. */
export const logicalOr = (a: TensorLike, b: TensorLike): Tensor => logical("or", "logicalOr", a, b);
/** Logical exclusive or → bool. Example: `logicalXor(tensor([true, true]), tensor([true, false]))` → [false, true]. */
export const logicalXor = (a: TensorLike, b: TensorLike): Tensor => logical("xor", "logicalXor", a, b);
/** Logical not (`x == 0`) → bool; NaN counts as true. Example: `logicalNot(tensor([0, 3]))` → [true, false]. */
export function logicalNot(a: TensorLike): Tensor {
  const t = toTensor("logicalNot", a);
  return t.dtype === "bool" ? apply("not", [t]) : apply("eq", [t, constLike(0, t)]);
}

/**
 * Picks `a` where `cond` is true, else `b`, broadcasting all three. `a` and `b` are promoted to
 * one dtype; a non-bool `cond` is read as `cond != 0`.
 * Example: `where(tensor([true, false]), 1, tensor([5, 6]))` → [1, 6].
 */
export function where(cond: TensorLike, a: TensorLike, b: TensorLike): Tensor {
  const c = truth("where", cond);
  const [x, y] = unify("where", [a, b]);
  const shape = broadcastShapes("where", c.shape, x!.shape);
  return apply("where", [broadcastTo(c, shape, "where"), broadcastTo(x!, shape, "where"), broadcastTo(y!, shape, "where")]);
}

// ---------------------------------------------------------------- unary ops keeping the dtype

/** Negation; bool gives int32. Example: `neg(tensor([1, -2]))` → [-1, 2]. */
export function neg(a: TensorLike): Tensor {
  const t = toTensor("neg", a);
  return apply("neg", [t.dtype === "bool" ? castTo(t, "int32") : t]);
}
/** Absolute value (int8 -128 wraps to -128). Example: `abs(tensor([-1.5, 2]))` → [1.5, 2]. */
export const abs = (a: TensorLike): Tensor => unaryKeep("abs", a);
/** -1, 0 or 1 (NaN stays NaN). Example: `sign(tensor([-3, 0, 2]))` → [-1, 0, 1]. */
export const sign = (a: TensorLike): Tensor => unaryKeep("sign", a);
/** Rounds down (identity on integers). Example: `floor(tensor([-1.5, 1.5]))` → [-2, 1]. */
export const floor = (a: TensorLike): Tensor => unaryKeep("floor", a);
/** Rounds up (identity on integers). Example: `ceil(tensor([-1.5, 1.5]))` → [-1, 2]. */
export const ceil = (a: TensorLike): Tensor => unaryKeep("ceil", a);
/** Rounds half to even (numpy). Example: `round(tensor([0.5, 1.5, 2.5]))` → [0, 2, 2]. */
export const round = (a: TensorLike): Tensor => unaryKeep("round", a);
/** True where NaN (false for integers). Example: `isnan(tensor([NaN, 1]))` → [true, false]. */
export const isnan = (a: TensorLike): Tensor => unaryKeep("isnan", a);
/** True where ±inf. Example: `isinf(tensor([-Infinity, 1]))` → [true, false]. */
export const isinf = (a: TensorLike): Tensor => unaryKeep("isinf", a);
/** max(x, 0), keeping the dtype (NaN stays NaN). Example: `relu(tensor([-1, 2]))` → [0, 2]. */
export function relu(a: TensorLike): Tensor {
  const t = toTensor("relu", a);
  return apply("max", [t, constLike(0, t)]);
}

// ---------------------------------------------------------------- float math (ints → float32)

/** e^x. Example: `exp(tensor([0, 1]))` → [1, 2.718…]. */
export const exp = (a: TensorLike): Tensor => unaryFloat("exp", a);
/** Natural log (log 0 = -inf, negative → NaN). Example: `log(tensor([1]))` → [0]. */
export const log = (a: TensorLike): Tensor => unaryFloat("log", a);
/** Square root. Example: `sqrt(tensor([4, 9], { dtype: "int32" }))` → float32 [2, 3]. */
export const sqrt = (a: TensorLike): Tensor => unaryFloat("sqrt", a);
/** 1 / sqrt(x). Example: `rsqrt(tensor([4]))` → [0.5]. */
export const rsqrt = (a: TensorLike): Tensor => apply("recip", [unaryFloat("sqrt", a, "rsqrt")]);
/** 1 / x. Example: `reciprocal(tensor([2, 0]))` → [0.5, inf]. */
export const reciprocal = (a: TensorLike): Tensor => unaryFloat("recip", a, "reciprocal");
/** Sine. Example: `sin(tensor([0]))` → [0]. */
export const sin = (a: TensorLike): Tensor => unaryFloat("sin", a);
/** Cosine. Example: `cos(tensor([0]))` → [1]. */
export const cos = (a: TensorLike): Tensor => unaryFloat("cos", a);
/** Tangent. Example: `tan(tensor([0]))` → [0]. */
export const tan = (a: TensorLike): Tensor => unaryFloat("tan", a);
/** Hyperbolic tangent. Example: `tanh(tensor([0]))` → [0]. */
export const tanh = (a: TensorLike): Tensor => unaryFloat("tanh", a);
/** Arcsine (NaN outside [-1, 1]). Example: `asin(tensor([1]))` → [π/2]. */
export const asin = (a: TensorLike): Tensor => unaryFloat("asin", a);
/** Arccosine. Example: `acos(tensor([1]))` → [0]. */
export const acos = (a: TensorLike): Tensor => unaryFloat("acos", a);
/** Arctangent. Example: `atan(tensor([1]))` → [π/4]. */
export const atan = (a: TensorLike): Tensor => unaryFloat("atan", a);
/** Hyperbolic sine. Example: `sinh(tensor([0]))` → [0]. */
export const sinh = (a: TensorLike): Tensor => unaryFloat("sinh", a);
/** Hyperbolic cosine. Example: `cosh(tensor([0]))` → [1]. */
export const cosh = (a: TensorLike): Tensor => unaryFloat("cosh", a);
/** The error function. Example: `erf(tensor([0, 1]))` → [0, 0.8427…]. */
export const erf = (a: TensorLike): Tensor => unaryFloat("erf", a);

// ---------------------------------------------------------------- activations (ints → float32)

/** 1 / (1 + e^-x). Example: `sigmoid(tensor([0]))` → [0.5]. */
export function sigmoid(a: TensorLike): Tensor {
  const x = toFloat("sigmoid", a);
  return apply("recip", [add(apply("exp", [apply("neg", [x])]), 1)]);
}

/** x · sigmoid(x) (a.k.a. swish). Example: `silu(tensor([0, 1]))` → [0, 0.7311…]. */
export function silu(a: TensorLike): Tensor {
  const x = toFloat("silu", a);
  return div(x, add(apply("exp", [apply("neg", [x])]), 1));
}

/**
 * GELU. `"none"`: x·Φ(x) = 0.5·x·(1 + erf(x/√2)); `"tanh"`: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
 * Example: `gelu(tensor([1]))` → [0.8413…]; `gelu(x, "tanh")`.
 */
export function gelu(a: TensorLike, approximate: "none" | "tanh" = "none"): Tensor {
  if (approximate !== "none" && approximate !== "tanh") valueError("gelu", `approximate must be "none" or "tanh", got ${JSON.stringify(approximate)}`);
  const x = toFloat("gelu", a);
  const inner = approximate === "none"
    ? apply("erf", [mul(x, Math.SQRT1_2)])
    : apply("tanh", [mul(add(x, mul(mul(x, mul(x, x)), 0.044715)), Math.sqrt(2 / Math.PI))]);
  return mul(mul(x, 0.5), add(inner, 1));
}

/**
 * log(1 + e^x), computed stably as max(x, 0) + log1p(e^-|x|).
 * Example: `softplus(tensor([0, 100]))` → [0.6931…, 100].
 */
export function softplus(a: TensorLike): Tensor {
  const x = toFloat("softplus", a);
  return add(relu(x), log1p(apply("exp", [apply("neg", [apply("abs", [x])])])));
}

/** x where x > 0, else alpha·x. Example: `leakyRelu(tensor([-2, 3]), 0.1)` → [-0.2, 3]. */
export function leakyRelu(a: TensorLike, alpha = 0.01): Tensor {
  checkNumber("leakyRelu", "alpha", alpha);
  const x = toFloat("leakyRelu", a);
  return apply("where", [gt(x, 0), x, mul(x, alpha)]);
}

/** x where x > 0, else alpha·(e^x - 1). Example: `elu(tensor([-1, 2]))` → [-0.6321…, 2]. */
export function elu(a: TensorLike, alpha = 1): Tensor {
  checkNumber("elu", "alpha", alpha);
  const x = toFloat("elu", a);
  return apply("where", [gt(x, 0), x, mul(expm1(x), alpha)]);
}

/**
 * Clamps to [min, max] (either bound may be omitted, not both); bounds broadcast and promote
 * like `maximum`/`minimum`, and min > max gives max everywhere.
 * Example: `clip(tensor([-2, 0.5, 3]), 0, 1)` → [0, 0.5, 1].
 */
export function clip(a: TensorLike, min?: TensorLike, max?: TensorLike): Tensor {
  if (min === undefined && max === undefined) valueError("clip", "needs a min or a max bound", "pass at least one of min, max");
  let t = toTensor("clip", a);
  if (min !== undefined) t = binary("max", t, min, "clip");
  if (max !== undefined) t = binary("min", t, max, "clip");
  return t;
}

/**
 * Converts to another dtype: float → int truncates toward zero, ints wrap, float16 rounds to
 * nearest even, and → bool is `x != 0` (so NaN → true, as in numpy and ONNX Cast).
 * Example: `cast(tensor([1.7, -1.7]), "int32")` → [1, -1]; `cast(tensor([0, NaN]), "bool")` → [false, true].
 */
export function cast(a: TensorLike, dtype: DType): Tensor {
  const t = toTensor("cast", a), d = checkDType("cast", dtype);
  // the IR's cast maps NaN to false; `x != 0` gives the numpy/ONNX answer
  if (d === "bool" && isFloat(t.dtype)) return truth("cast", t);
  return castTo(t, d);
}

// ---------------------------------------------------------------- methods

/** Methods installed on Tensor (see lib/ops/index.ts); each equals the free function. */
export const elementwiseMethods = {
  /** Adds with broadcasting. Example: `x.add(1)`. */
  add(this: Tensor, o: TensorLike): Tensor { return add(this, o); },
  /** Example: `x.sub(y)`. */
  sub(this: Tensor, o: TensorLike): Tensor { return sub(this, o); },
  /** Example: `x.mul(2)`. */
  mul(this: Tensor, o: TensorLike): Tensor { return mul(this, o); },
  /** Integer division truncates. Example: `x.div(2)`. */
  div(this: Tensor, o: TensorLike): Tensor { return div(this, o); },
  /** Example: `x.pow(2)`. */
  pow(this: Tensor, o: TensorLike): Tensor { return pow(this, o); },
  /** Sign of the divisor. Example: `x.mod(3)`. */
  mod(this: Tensor, o: TensorLike): Tensor { return mod(this, o); },
  /** Sign of the dividend. Example: `x.fmod(3)`. */
  fmod(this: Tensor, o: TensorLike): Tensor { return fmod(this, o); },
  /** Example: `x.maximum(0)`. */
  maximum(this: Tensor, o: TensorLike): Tensor { return maximum(this, o); },
  /** Example: `x.minimum(y)`. */
  minimum(this: Tensor, o: TensorLike): Tensor { return minimum(this, o); },
  /** Example: `x.eq(0)` → bool. */
  eq(this: Tensor, o: TensorLike): Tensor { return eq(this, o); },
  /** Example: `x.ne(0)` → bool. */
  ne(this: Tensor, o: TensorLike): Tensor { return ne(this, o); },
  /** Example: `x.lt(y)` → bool. */
  lt(this: Tensor, o: TensorLike): Tensor { return lt(this, o); },
  /** Example: `x.le(y)` → bool. */
  le(this: Tensor, o: TensorLike): Tensor { return le(this, o); },
  /** Example: `x.gt(0)` → bool. */
  gt(this: Tensor, o: TensorLike): Tensor { return gt(this, o); },
  /** Example: `x.ge(0)` → bool. */
  ge(this: Tensor, o: TensorLike): Tensor { return ge(this, o); },
  /** Example: `mask.logicalAnd(other)`. */
  logicalAnd(this: Tensor, o: TensorLike): Tensor { return logicalAnd(this, o); },
  /** Example: `mask.logicalOr(other)`. */
  logicalOr(this: Tensor, o: TensorLike): Tensor { return logicalOr(this, o); },
  /** Example: `mask.logicalXor(other)`. */
  logicalXor(this: Tensor, o: TensorLike): Tensor { return logicalXor(this, o); },
  /** Example: `mask.logicalNot()`. */
  logicalNot(this: Tensor): Tensor { return logicalNot(this); },
  /** `x.where(cond, other)` = `where(cond, x, other)`. Example: `x.where(x.gt(0), 0)`. */
  where(this: Tensor, cond: TensorLike, other: TensorLike): Tensor { return where(cond, this, other); },
  /** Example: `x.neg()`. */
  neg(this: Tensor): Tensor { return neg(this); },
  /** Example: `x.abs()`. */
  abs(this: Tensor): Tensor { return abs(this); },
  /** Example: `x.sign()`. */
  sign(this: Tensor): Tensor { return sign(this); },
  /** Example: `x.exp()`. */
  exp(this: Tensor): Tensor { return exp(this); },
  /** Example: `x.log()`. */
  log(this: Tensor): Tensor { return log(this); },
  /** Example: `x.sqrt()`. */
  sqrt(this: Tensor): Tensor { return sqrt(this); },
  /** Example: `x.rsqrt()`. */
  rsqrt(this: Tensor): Tensor { return rsqrt(this); },
  /** Example: `x.reciprocal()`. */
  reciprocal(this: Tensor): Tensor { return reciprocal(this); },
  /** Example: `x.sin()`. */
  sin(this: Tensor): Tensor { return sin(this); },
  /** Example: `x.cos()`. */
  cos(this: Tensor): Tensor { return cos(this); },
  /** Example: `x.tan()`. */
  tan(this: Tensor): Tensor { return tan(this); },
  /** Example: `x.tanh()`. */
  tanh(this: Tensor): Tensor { return tanh(this); },
  /** Example: `x.asin()`. */
  asin(this: Tensor): Tensor { return asin(this); },
  /** Example: `x.acos()`. */
  acos(this: Tensor): Tensor { return acos(this); },
  /** Example: `x.atan()`. */
  atan(this: Tensor): Tensor { return atan(this); },
  /** Example: `x.sinh()`. */
  sinh(this: Tensor): Tensor { return sinh(this); },
  /** Example: `x.cosh()`. */
  cosh(this: Tensor): Tensor { return cosh(this); },
  /** Example: `x.erf()`. */
  erf(this: Tensor): Tensor { return erf(this); },
  /** Example: `x.sigmoid()`. */
  sigmoid(this: Tensor): Tensor { return sigmoid(this); },
  /** Example: `x.relu()`. */
  relu(this: Tensor): Tensor { return relu(this); },
  /** Example: `x.silu()`. */
  silu(this: Tensor): Tensor { return silu(this); },
  /** Example: `x.floor()`. */
  floor(this: Tensor): Tensor { return floor(this); },
  /** Example: `x.ceil()`. */
  ceil(this: Tensor): Tensor { return ceil(this); },
  /** Half to even. Example: `x.round()`. */
  round(this: Tensor): Tensor { return round(this); },
  /** Example: `x.isnan()`. */
  isnan(this: Tensor): Tensor { return isnan(this); },
  /** Example: `x.isinf()`. */
  isinf(this: Tensor): Tensor { return isinf(this); },
  /** Example: `x.gelu()`, `x.gelu("tanh")`. */
  gelu(this: Tensor, approximate: "none" | "tanh" = "none"): Tensor { return gelu(this, approximate); },
  /** Example: `x.softplus()`. */
  softplus(this: Tensor): Tensor { return softplus(this); },
  /** Example: `x.leakyRelu(0.2)`. */
  leakyRelu(this: Tensor, alpha = 0.01): Tensor { return leakyRelu(this, alpha); },
  /** Example: `x.elu()`. */
  elu(this: Tensor, alpha = 1): Tensor { return elu(this, alpha); },
  /** Example: `x.clip(0, 6)`, `x.clip(undefined, 1)`. */
  clip(this: Tensor, min?: TensorLike, max?: TensorLike): Tensor { return clip(this, min, max); },
  /** Example: `x.cast("int32")`. */
  cast(this: Tensor, d: DType): Tensor { return cast(this, d); },
  /** Same as `cast`. Example: `x.astype("float16")`. */
  astype(this: Tensor, d: DType): Tensor { return cast(this, d); },
};
export type ElementwiseMethods = typeof elementwiseMethods;
