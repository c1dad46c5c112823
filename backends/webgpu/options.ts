/**
 * Switches of the webgpu backend (re-exported by index.ts), each also set by an environment
 * variable when the module loads:
 * - `profile` (KILN_WEBGPU_PROFILE=1): time every kernel with timestamp queries (where the
 *   adapter has them); explain() reports the last run's times.
 * - `int8Gemm` (KILN_WEBGPU_INT8=dot4|packed|unpacked): the form of tiled int8 GEMM kernels
 *   (matmul with zero points; matmul.ts): "dot4" packs four k values per u32 word and uses
 *   dot4I8Packed (needs the WGSL language feature packed_4x8_integer_dot_product: a device
 *   without it fails to compile), "packed" the same tiles with the bytes unpacked in the shader,
 *   "unpacked" one element per word with the zero points subtracted. "auto": dot4 where the
 *   device has the feature and is a GPU, else unpacked (index.ts `int8Form`). Read when an
 *   executable first runs (every form is generated when it compiles).
 */
const env = (k: string): string | undefined => (typeof process !== "undefined" ? process.env?.[k] : undefined);

export type Int8Form = "auto" | "dot4" | "packed" | "unpacked";

export const webgpuOptions: { profile: boolean; int8Gemm: Int8Form } = {
  profile: env("KILN_WEBGPU_PROFILE") === "1",
  int8Gemm: (["dot4", "packed", "unpacked"] as const).find((v) => v === env("KILN_WEBGPU_INT8")) ?? "auto",
};
