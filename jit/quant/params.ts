/**
 * Quantization parameters for post-training int8: per-tensor activation params from a
 * calibrated range, symmetric per-channel weight quantization, and the scalar
 * QuantizeLinear / DequantizeLinear definitions that every backend's kernels must match.
 *
 * Arithmetic follows ONNX: scales are float32, x / scale is rounded to float32 before
 * rounding half to even, results saturate to the integer type's range.
 *
 * @example
 * const p = activationParams({ min: -1, max: 3 }, "uint8");
 * quantizeValue(0.5, p);   // an integer in [0, 255]
 */
import { ShapeError, ValueError } from "../errors.js";

export type QDType = "uint8" | "int8";

export interface QParams {
  readonly scale: number;
  readonly zeroPoint: number;
  readonly dtype: QDType;
}

const QRANGE: Readonly<Record<QDType, readonly [number, number]>> = {
  uint8: [0, 255],
  int8: [-128, 127],
};

/** The smallest positive float32 (a subnormal): keeps a scale from underflowing to 0. */
const F32_TINY = 2 ** -149;

/**
 * Rounds to the nearest integer, ties to even (IEEE roundTiesToEven), as ONNX QuantizeLinear
 * requires; Math.round would send every .5 up, which biases quantized sums. Non-finite values
 * come back unchanged.
 *
 * @example
 * roundHalfEven(2.5);   // 2
 * roundHalfEven(-1.5);  // -2
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

function checkDType(dtype: QDType): void {
  if (dtype !== "uint8" && dtype !== "int8") {
    throw new ValueError(`quantized dtype must be "uint8" or "int8", got ${JSON.stringify(dtype)}`, {
      hint: 'pass "uint8" (asymmetric activations) or "int8" (symmetric)',
    });
  }
}

/**
 * Per-tensor activation parameters for a calibrated range. The range is first widened to
 * contain 0 so that 0 (padding, ReLU's floor) quantizes exactly to the zero point.
 *
 * - asymmetric (default): scale = (max - min) / (qmax - qmin), zeroPoint = round(qmin - min /
 *   scale) clamped into the dtype's range;
 * - symmetric: scale = max(|min|, |max|) / 127 and zeroPoint 0 for int8, 128 for uint8 (the
 *   same grid as int8 shifted by 128, so kernels can switch between the two with an xor).
 *
 * A zero-width range gives scale 1 (as onnxruntime does) rather than dividing by zero.
 * The scale is a float32 value.
 *
 * @example
 * activationParams({ min: -1, max: 3 }, "uint8");          // { scale: fround(4/255), zeroPoint: 64, dtype: "uint8" }
 * activationParams({ min: -2, max: 1 }, "int8", true);     // { scale: fround(2/127), zeroPoint: 0, dtype: "int8" }
 */
export function activationParams(range: { min: number; max: number }, dtype: QDType, symmetric = false): QParams {
  checkDType(dtype);
  const { min, max } = range;
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) {
    throw new ValueError(`activation range must be finite with min <= max, got [${min}, ${max}]`, {
      hint: "calibrate on inputs that produce finite values, or pass the range from an observer's range()",
    });
  }
  const lo = Math.min(min, 0), hi = Math.max(max, 0);
  const [qmin, qmax] = QRANGE[dtype];
  if (symmetric) {
    const zeroPoint = dtype === "uint8" ? 128 : 0;
    const absMax = Math.max(-lo, hi);
    if (absMax === 0) return { scale: 1, zeroPoint, dtype };
    return { scale: Math.max(Math.fround(absMax / 127), F32_TINY), zeroPoint, dtype };
  }
  if (hi === lo) return { scale: 1, zeroPoint: 0, dtype };
  const scale = Math.max(Math.fround((hi - lo) / (qmax - qmin)), F32_TINY);
  const zeroPoint = Math.min(qmax, Math.max(qmin, roundHalfEven(qmin - lo / scale)));
  return { scale, zeroPoint, dtype };
}

/**
 * Symmetric int8 weight quantization, per channel along `axis` (negative counts from the
 * end) or per tensor when `axis` is undefined. Values use [-127, 127], not -128, so the grid
 * is symmetric and int8 x int8 products cannot hit the one asymmetric corner.
 * scale_c = max|w_c| / 127 as float32 (an all-zero channel gets scale 1);
 * q = saturate(roundHalfEven(fround(w / scale_c))).
 *
 * @example
 * // a [2, 3] matrix, one scale per row
 * const { q, scales } = quantizeWeights(new Float32Array([1.5, -2, 0.5, 0, 0, 0]), [2, 3], 0);
 * // scales = [fround(2/127), 1]; q = [95, -127, 32, 0, 0, 0]
 */
export function quantizeWeights(
  w: Float32Array,
  shape: readonly number[],
  axis: number | undefined,
): { q: Int8Array; scales: Float32Array } {
  let size = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(`weight shape must hold non-negative integers, got [${shape.join(", ")}]`, { op: "quantizeWeights" });
    }
    size *= d;
  }
  if (size !== w.length) {
    throw new ShapeError(`weight shape [${shape.join(", ")}] holds ${size} values but the data has ${w.length}`, {
      op: "quantizeWeights",
      hint: "pass the weight's own shape",
    });
  }
  let channels = 1, inner = w.length;
  if (axis !== undefined) {
    const rank = shape.length;
    const ax = axis < 0 ? axis + rank : axis;
    if (!Number.isInteger(axis) || ax < 0 || ax >= rank) {
      throw new ShapeError(`axis ${axis} is out of range for a weight of rank ${rank}`, {
        op: "quantizeWeights",
        hint: `pass an axis in [${-rank}, ${rank - 1}] (usually the output-channel axis), or undefined for one scale per tensor`,
      });
    }
    channels = shape[ax]!;
    inner = 1;
    for (let i = ax + 1; i < rank; i++) inner *= shape[i]!;
  }
  // Element e belongs to channel floor(e / inner) % channels.
  const maxAbs = new Float64Array(channels);
  for (let e = 0; e < w.length; e++) {
    const v = w[e]!;
    if (!Number.isFinite(v)) {
      throw new ValueError(`weight value ${v} at flat index ${e} is not finite`, {
        op: "quantizeWeights",
        hint: "a weight must be finite to be quantized: fix or retrain the model's weights",
      });
    }
    const c = channels === 1 ? 0 : Math.floor(e / inner) % channels;
    const a = Math.abs(v);
    if (a > maxAbs[c]!) maxAbs[c] = a;
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const m = maxAbs[c]!;
    scales[c] = m === 0 ? 1 : Math.max(Math.fround(m / 127), F32_TINY);
  }
  const q = new Int8Array(w.length);
  for (let e = 0; e < w.length; e++) {
    const c = channels === 1 ? 0 : Math.floor(e / inner) % channels;
    const r = roundHalfEven(Math.fround(w[e]! / scales[c]!));
    q[e] = r > 127 ? 127 : r < -127 ? -127 : r;
  }
  return { q, scales };
}

/**
 * One value through ONNX QuantizeLinear: saturate(roundHalfEven(fround(x / scale)) +
 * zeroPoint) into uint8 [0, 255] or int8 [-128, 127]. ±Infinity saturates to the type's ends
 * (that is what saturation means). NaN gives the zero point: the spec defines NaN only for
 * float8 outputs, and the zero point is the one answer that dequantizes to 0 and is the same
 * on every backend.
 *
 * @example
 * const p = { scale: 0.5, zeroPoint: 10, dtype: "uint8" } as const;
 * quantizeValue(1.25, p);   // 12  (2.5 rounds to 2)
 * quantizeValue(1e9, p);    // 255
 */
export function quantizeValue(x: number, p: QParams): number {
  if (x !== x) return p.zeroPoint;
  const [qmin, qmax] = QRANGE[p.dtype];
  const r = roundHalfEven(Math.fround(x / p.scale)) + p.zeroPoint;
  return r > qmax ? qmax : r < qmin ? qmin : r;
}

/**
 * One value through ONNX DequantizeLinear: fround((q - zeroPoint) * scale).
 *
 * @example
 * dequantizeValue(12, { scale: 0.5, zeroPoint: 10, dtype: "uint8" });   // 1
 */
export function dequantizeValue(q: number, p: QParams): number {
  return Math.fround((q - p.zeroPoint) * p.scale);
}
