/**
 * The lazy Tensor: a handle to an IR node. Ops record nodes; `await t.data()` realizes.
 *
 * @example
 * const t = tensor([[1, 2], [3, 4]]).mul(2).sum(1);
 * console.log(await t.toArray()); // [6, 14]
 */
import type { Node } from "../jit/ir.js";
import type { DType } from "../jit/dtype.js";
import { fromHalfBits } from "../jit/dtype.js";
import { ValueError } from "../jit/errors.js";
import type { HostBuffer } from "../jit/buffer.js";
import type { ElementwiseMethods } from "./ops/elementwise.js";
import type { ReduceMethods } from "./ops/reduce.js";
import type { MovementMethods } from "./ops/movement.js";
import type { IndexingMethods } from "./ops/indexing.js";
import type { LinalgMethods } from "./ops/linalg.js";
import type { ConvMethods } from "./ops/conv.js";
import type { CompositeMethods } from "./ops/composite.js";
import { realize } from "./realize.js";
import { assertNotTraced } from "./trace-state.js";

/** What ops accept where a tensor is expected: a tensor, or a JS number/boolean (a weak scalar). */
export type TensorLike = Tensor | number | boolean;
/** Values returned by `data()`: float16 is decoded to Float32Array, int64 is a BigInt64Array. */
export type TensorData = Float32Array | Int32Array | BigInt64Array | Int8Array | Uint8Array;
export type NestedArray = number | boolean | NestedArray[];

export class Tensor {
  constructor(
    /** The IR node this tensor stands for. */
    readonly node: Node,
  ) {}
  get shape(): number[] { return [...this.node.shape]; }
  get dtype(): DType { return this.node.dtype; }
  get ndim(): number { return this.node.shape.length; }
  get size(): number { return this.node.size; }

  /** Computes (once) and returns this tensor's host buffer. */
  buffer(): Promise<HostBuffer> {
    assertNotTraced(this.node, "buffer()");
    return this.realizeBuffer();
  }
  private async realizeBuffer(): Promise<HostBuffer> {
    const [b] = await realize([this.node]);
    return b!;
  }

  /** The values as a typed array in row-major order. Example: `await randn([2]).data()`. */
  data(): Promise<TensorData> {
    assertNotTraced(this.node, "data()");
    return this.realizeData();
  }
  private async realizeData(): Promise<TensorData> {
    const b = await this.realizeBuffer();
    if (b.dtype === "float16") return Float32Array.from(b.data as Uint16Array, fromHalfBits);
    return b.data.slice() as TensorData;
  }

  /** The only element of a one-element tensor, as a number (bool as boolean). */
  item(): Promise<number | boolean> {
    assertNotTraced(this.node, "item()");
    if (this.size !== 1) throw new ValueError(`item() needs a tensor with one element, this one has shape [${this.shape}]`, { op: "item", hint: "reduce it first, e.g. t.sum()" });
    return this.realizeData().then((d) => (this.dtype === "bool" ? d[0] !== 0 : Number(d[0]!)));
  }

  /** The values as nested JS arrays (numbers; bool as booleans). */
  toArray(): Promise<NestedArray> {
    assertNotTraced(this.node, "toArray()");
    return this.realizeArray();
  }
  private async realizeArray(): Promise<NestedArray> {
    const d = await this.data();
    const flat: (number | boolean)[] = Array.from(d as ArrayLike<number | bigint>, (v) => (this.dtype === "bool" ? v !== 0 : Number(v)));
    const build = (dim: number, off: number): NestedArray => {
      if (dim === this.ndim) return flat[off]!;
      const n = this.shape[dim]!, step = this.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: n }, (_, i) => build(dim + 1, off + i * step));
    };
    return build(0, 0);
  }

  toString(): string { return `Tensor(${this.dtype}[${this.shape.join(", ")}])`; }
  [Symbol.for("nodejs.util.inspect.custom")](): string { return this.toString(); }
}

// Op methods are defined in lib/ops/* and installed on the prototype by lib/ops/index.ts.
export interface Tensor extends ElementwiseMethods, ReduceMethods, MovementMethods, IndexingMethods, LinalgMethods, ConvMethods, CompositeMethods {}
