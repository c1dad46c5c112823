/**
 * Views: how a kernel's loop coordinates index into a buffer, without copying. A view is
 * strides and an offset over a shape, plus an optional mask of valid ranges per dimension
 * (positions outside read as the pad value, 0 by default). Movement ops compose into views;
 * a reshape that no strides can express returns undefined, and fusion then stores the input.
 *
 * @example
 * let v = View.contiguous([2, 3]);     // index = 3*i + j
 * v = v.permute([1, 0]);               // index = i + 3*j over shape [3, 2]
 * v.indexOf([2, 1])                    // 5
 */
import type { Shape } from "../ir.js";

export class View {
  constructor(
    readonly shape: readonly number[],
    readonly strides: readonly number[],
    readonly offset: number,
    /** Valid [lo, hi) per dimension, or undefined when every position is valid. */
    readonly mask?: readonly (readonly [number, number])[],
  ) {}

  static contiguous(shape: Shape): View {
    const st = new Array<number>(shape.length);
    let acc = 1;
    for (let i = shape.length - 1; i >= 0; i--) { st[i] = shape[i] === 1 ? 0 : acc; acc *= shape[i]!; }
    return new View(shape, st, 0);
  }

  get size(): number { return this.shape.reduce((a, b) => a * b, 1); }

  /** True when the view reads a whole buffer in row-major order (dims of size 1 ignored). */
  get isContiguous(): boolean {
    if (this.mask || this.offset !== 0) return false;
    let acc = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] === 1) continue;
      if (this.strides[i] !== acc) return false;
      acc *= this.shape[i]!;
    }
    return true;
  }

  /** Flat buffer index of a coordinate, or -1 when the mask says it is padding. */
  indexOf(c: readonly number[]): number {
    if (this.mask) for (let i = 0; i < c.length; i++) if (c[i]! < this.mask[i]![0] || c[i]! >= this.mask[i]![1]) return -1;
    let o = this.offset;
    for (let i = 0; i < c.length; i++) o += c[i]! * this.strides[i]!;
    return o;
  }

  permute(perm: readonly number[]): View {
    return new View(perm.map((p) => this.shape[p]!), perm.map((p) => this.strides[p]!), this.offset, this.mask && perm.map((p) => this.mask![p]!));
  }

  /** Broadcast dims of size 1 to `shape` (stride 0). */
  expand(shape: Shape): View {
    return new View(shape, this.strides.map((s, i) => (this.shape[i] === shape[i] ? s : 0)), this.offset,
      this.mask && this.mask.map((m, i) => (this.shape[i] === shape[i] ? m : m[0] === 0 && m[1] === 1 ? [0, shape[i]!] as const : [0, 0] as const)));
  }

  /** Element i of dim d reads position starts[d] + i * steps[d] of this view. */
  slice(starts: readonly number[], steps: readonly number[], shape: Shape): View {
    let offset = this.offset;
    const strides = this.strides.map((s, i) => { offset += starts[i]! * s; return s * steps[i]!; });
    let mask: [number, number][] | undefined;
    if (this.mask) {
      // map the valid range of the source dim through i -> start + i*step
      mask = this.mask.map(([lo, hi], i) => {
        const st = starts[i]!, sp = steps[i]!, n = shape[i]!;
        let a: number, b: number;
        if (sp > 0) { a = Math.ceil((lo - st) / sp); b = Math.ceil((hi - st) / sp); }
        else { a = Math.floor((st - hi) / -sp) + 1; b = Math.floor((st - lo) / -sp) + 1; }
        return [Math.max(0, Math.min(n, a)), Math.max(0, Math.min(n, b))];
      });
    }
    return new View(shape, strides, offset, mask);
  }

  /** Constant padding: before[d] positions before, after[d] after, outside the mask. */
  pad(before: readonly number[], after: readonly number[]): View {
    const shape = this.shape.map((d, i) => d + before[i]! + after[i]!);
    let offset = this.offset;
    this.strides.forEach((s, i) => { offset -= before[i]! * s; });
    const mask = this.shape.map((d, i) => {
      const [lo, hi] = this.mask ? this.mask[i]! : [0, d];
      return [lo + before[i]!, hi + before[i]!] as const;
    });
    return new View(shape, this.strides, offset, mask);
  }

  /**
   * Reshape without copying when strides allow: dims are grouped into runs whose product
   * matches, and each run must be mergeable (stride[i] = stride[i+1] * shape[i+1]) unless it
   * only splits or merges size-1 dims. Masked views reshape only through size-1 changes.
   */
  reshape(to: Shape): View | undefined {
    const from = this.shape;
    if (from.length === to.length && from.every((d, i) => d === to[i])) return this;
    const size = this.size;
    if (to.reduce((a, b) => a * b, 1) !== size) return undefined;
    if (size === 0) return View.contiguous(to);
    // dims of size 1 carry no information: drop them and re-insert in the target
    const keep = from.map((d, i) => i).filter((i) => from[i] !== 1);
    const fShape = keep.map((i) => from[i]!), fStrides = keep.map((i) => this.strides[i]!);
    const fMask = this.mask && keep.map((i) => this.mask![i]!);
    if (this.mask) {
      // dims dropped above must be fully valid (size 1, mask [0,1))
      for (let i = 0; i < from.length; i++) if (from[i] === 1 && (this.mask[i]![0] !== 0 || this.mask[i]![1] !== 1)) return undefined;
    }
    const tKeep = to.map((d, i) => i).filter((i) => to[i] !== 1);
    const tShape = tKeep.map((i) => to[i]!);
    const newStrides: number[] = [];
    const newMask: [number, number][] = [];
    let i = 0, j = 0;
    while (i < fShape.length && j < tShape.length) {
      // find the smallest runs fShape[i..i2) and tShape[j..j2) with equal products
      let pf = fShape[i]!, pt = tShape[j]!, i2 = i + 1, j2 = j + 1;
      while (pf !== pt) {
        if (pf < pt) pf *= fShape[i2++]!;
        else pt *= tShape[j2++]!;
      }
      for (let k = i; k < i2 - 1; k++) if (fStrides[k] !== fStrides[k + 1]! * fShape[k + 1]!) return undefined;
      if (fMask) {
        if (i2 - i !== 1 || j2 - j !== 1) {
          // merging or splitting masked dims is only fine when every position is valid
          for (let k = i; k < i2; k++) if (fMask[k]![0] !== 0 || fMask[k]![1] !== fShape[k]) return undefined;
          for (let k = j; k < j2; k++) newMask.push([0, tShape[k]!]);
        } else newMask.push([fMask[i]![0], fMask[i]![1]]);
      }
      // strides of the target run: innermost takes the source run's innermost stride
      let st = fStrides[i2 - 1]!;
      const run: number[] = [];
      for (let k = j2 - 1; k >= j; k--) { run.unshift(st); st *= tShape[k]!; }
      newStrides.push(...run);
      i = i2; j = j2;
    }
    const strides: number[] = [], mask: [number, number][] = [];
    let t = 0;
    for (let k = 0; k < to.length; k++) {
      if (to[k] === 1) { strides.push(0); mask.push([0, 1]); }
      else { strides.push(newStrides[t]!); mask.push(newMask[t] ?? [0, to[k]!]); t++; }
    }
    return new View(to, strides, this.offset, fMask ? mask : undefined);
  }

  toString(): string {
    const m = this.mask ? ` mask=${this.mask.map(([a, b]) => `${a}:${b}`).join(",")}` : "";
    return `view(shape=[${this.shape}] strides=[${this.strides}] offset=${this.offset}${m})`;
  }
}
