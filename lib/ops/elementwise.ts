/**
 * Elementwise ops with numpy broadcasting and weak-scalar dtype promotion.
 *
 * @example
 * add(x, 1).mul(y).relu()
 */
import { Tensor, type TensorLike } from "../tensor.js";
import { apply, unify, castTo } from "../core.js";
import type { BinaryOp, UnaryOp } from "../../jit/ir.js";
import { isFloat, type DType } from "../../jit/dtype.js";

function binary(op: BinaryOp, a: TensorLike, b: TensorLike, name: string = op): Tensor {
  const [x, y] = unify(name, [a, b]);
  return apply(op, [x!, y!]);
}
/** Unary float op: integer and bool inputs are cast to float32 first. */
function unaryFloat(op: UnaryOp, a: Tensor): Tensor {
  return apply(op, [isFloat(a.dtype) ? a : castTo(a, "float32")]);
}

export const add = (a: TensorLike, b: TensorLike): Tensor => binary("add", a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary("sub", a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary("mul", a, b);
export const div = (a: TensorLike, b: TensorLike): Tensor => binary("div", a, b);
export const exp = (a: Tensor): Tensor => unaryFloat("exp", a);
export const relu = (a: Tensor): Tensor => binary("max", a, 0, "relu");
export const cast = (a: Tensor, d: DType): Tensor => castTo(a, d);

/** Methods installed on Tensor (see lib/ops/index.ts). */
export const elementwiseMethods = {
  /** Adds with broadcasting. Example: `x.add(1)`. */
  add(this: Tensor, o: TensorLike): Tensor { return add(this, o); },
  sub(this: Tensor, o: TensorLike): Tensor { return sub(this, o); },
  mul(this: Tensor, o: TensorLike): Tensor { return mul(this, o); },
  div(this: Tensor, o: TensorLike): Tensor { return div(this, o); },
  exp(this: Tensor): Tensor { return exp(this); },
  relu(this: Tensor): Tensor { return relu(this); },
  cast(this: Tensor, d: DType): Tensor { return cast(this, d); },
};
export type ElementwiseMethods = typeof elementwiseMethods;
