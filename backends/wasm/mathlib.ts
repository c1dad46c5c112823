/**
 * The CPU backend's math library: WebAssembly has no exp, log or trig instructions, so
 * kernels call these functions, added to the kernel's own module by {@link emitMathLib}.
 *
 * Every function comes in two variants with the same algorithm: `f32` (scalar) and `f32x4`
 * (v128 → v128, four lanes). For every input the f32x4 variant returns, in each lane, exactly
 * the bits the f32 variant returns, so a kernel's vector loop and its scalar remainder loop
 * agree. The algorithms are written once against a small code generator (mathlib/dsl.ts)
 * that emits both.
 *
 * | fn | f32 signature | f32x4 signature | method |
 * | --- | --- | --- | --- |
 * | exp, log, tanh, erf, sigmoid, sin, cos, tan, asin, acos, atan, sinh, cosh | (f32) → f32 | (v128) → v128 | range reduction + minimax polynomial in f32 |
 * | pow | (f32, f32) → f32 | (v128, v128) → v128 | log2/exp2 in f64, Math.pow special cases |
 * | f32_to_f16_bits | (f32) → i32 | (v128 f32x4) → v128 i32x4 | integer bit manipulation |
 * | f16_bits_to_f32 | (i32) → f32 | (v128 i32x4) → v128 f32x4 | integer bit manipulation |
 *
 * Accuracy, against Math.* rounded to f32 (erf and sigmoid, not in Math, against float64
 * references): at most 1 ulp for every unary function (measured on ~220k samples each in
 * test/wasm/mathlib.test.ts, and exhaustively over every float of the non-trivial ranges
 * during development), pow at most 1 ulp; the contract, asserted by the tests, is 2 ulp.
 * Special values are exact: NaN → NaN, infinities and signed zeros as Math has them
 * (tanh(-0) = -0, exp(-inf) = 0, log(0) = -inf, log(-1) = NaN, erf(+-inf) = +-1,
 * sigmoid(-inf) = 0, sin(+-inf) = NaN, ...). pow follows Math.pow exactly, including where it
 * differs from C's pow: pow(1, NaN) and pow(+-1, +-inf) are NaN.
 *
 * Speed: range reduction plus minimax polynomials in f32, branch-free in the f32x4 variants
 * (special cases and alternative ranges are `v128.bitselect`s; the f32 variants branch where
 * one side is expensive, running the same operations as the lane would). Two places use f64,
 * in both variants: pow (f64 log2/exp2, see mathlib/pow.ts) and the sin/cos/tan argument
 * reduction (f64 Cody-Waite, exact enough for every float below 1.5e6; larger arguments go
 * through an integer Payne-Hanek reduction, which the f32x4 variant calls lane by lane behind
 * one uniform branch taken only when some lane needs it). About 1.3 ns/element for exp f32x4,
 * 2-3.5 ns for the others (see the benchmark in the tests).
 *
 * Only the functions asked for (`which`) are emitted, plus what they need (sin, cos and tan
 * share one scalar helper), so small kernels stay small. Call it after the module's imports
 * (imported functions must come first).
 *
 * @example
 * const m = new ModuleBuilder();
 * const lib = emitMathLib(m, new Set(["exp", "tanh"] as const));
 * const k = m.func({ params: ["v128"], results: ["v128"] });
 * k.local_get(0).call(lib.exp.f32x4);
 */
import type { FuncRef, ModuleBuilder, ValType } from "./asm/index.js";
import { Emitter, type Kind, type Val, type F, type I } from "./mathlib/dsl.js";
import { exp, log, sigmoid, tanh, sinh, cosh, erf } from "./mathlib/expfam.js";
import { emitTrigReduceBig, sinOrCos, tan } from "./mathlib/trig.js";
import { asin, acos, atan } from "./mathlib/inverse.js";
import { pow } from "./mathlib/pow.js";
import { f32ToF16Bits, f16BitsToF32 } from "./mathlib/f16.js";

/** The functions of the library, in emission order. */
export const MATH_FNS = [
  "exp", "log", "tanh", "erf", "sigmoid", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "pow",
  "f32_to_f16_bits", "f16_bits_to_f32",
] as const;

/** A function of the library. */
export type MathFn = (typeof MATH_FNS)[number];

/** The two variants of one function. */
export interface MathFnRefs {
  /** Scalar: see the table in the module comment for the signature. */
  readonly f32: FuncRef;
  /** Four lanes in a v128. */
  readonly f32x4: FuncRef;
}

/** What {@link emitMathLib} returns: the variants of each function emitted. */
export type MathLib<Fn extends MathFn = MathFn> = { readonly [K in Fn]: MathFnRefs };

interface Helpers {
  trigBig(): FuncRef;
}

interface Def {
  readonly params: readonly ("f32" | "i32")[];
  readonly result: "f32" | "i32";
  readonly body: (e: Emitter, args: readonly Val[], h: Helpers) => Val;
}

const unary = (fn: (e: Emitter, x: F) => F): Def => ({ params: ["f32"], result: "f32", body: (e, [x]) => fn(e, x as F) });

const DEFS: Readonly<Record<MathFn, Def>> = {
  exp: unary(exp),
  log: unary(log),
  tanh: unary(tanh),
  erf: unary(erf),
  sigmoid: unary(sigmoid),
  sin: { params: ["f32"], result: "f32", body: (e, [x], h) => sinOrCos(e, x as F, h.trigBig(), 0) },
  cos: { params: ["f32"], result: "f32", body: (e, [x], h) => sinOrCos(e, x as F, h.trigBig(), 1) },
  tan: { params: ["f32"], result: "f32", body: (e, [x], h) => tan(e, x as F, h.trigBig()) },
  asin: unary(asin),
  acos: unary(acos),
  atan: unary(atan),
  sinh: unary(sinh),
  cosh: unary(cosh),
  pow: { params: ["f32", "f32"], result: "f32", body: (e, [x, y]) => pow(e, x as F, y as F) },
  f32_to_f16_bits: { params: ["f32"], result: "i32", body: (e, [x]) => f32ToF16Bits(e, x as F) },
  f16_bits_to_f32: { params: ["i32"], result: "f32", body: (e, [h]) => f16BitsToF32(e, h as I) },
};

/** Name prefix of the emitted functions (shown in stack traces and disassembly). */
const PREFIX = "kiln.math.";

/**
 * Adds the functions in `which` (default: all) to `m` as internal (unexported) functions and
 * returns their references. Throws on an unknown name.
 */
export function emitMathLib<Fn extends MathFn = MathFn>(m: ModuleBuilder, which?: Iterable<Fn>): MathLib<Fn> {
  const wanted = new Set<string>(which ?? MATH_FNS);
  for (const w of wanted) {
    if (!(MATH_FNS as readonly string[]).includes(w)) throw new Error(`emitMathLib: unknown function "${w}" (known: ${MATH_FNS.join(", ")})`);
  }
  let big: FuncRef | undefined;
  const helpers: Helpers = { trigBig: () => (big ??= emitTrigReduceBig(m, `${PREFIX}trig_reduce_big`)) };
  const out: Partial<Record<MathFn, MathFnRefs>> = {};
  for (const fn of MATH_FNS) {
    if (!wanted.has(fn)) continue;
    const def = DEFS[fn];
    const variant = (vec: boolean): FuncRef => {
      const params: ValType[] = def.params.map((p) => (vec ? "v128" : p));
      const f = m.func({ params, results: [vec ? "v128" : def.result] }, { name: `${PREFIX}${fn}.${vec ? "f32x4" : "f32"}` });
      const e = new Emitter(f, vec);
      const args = def.params.map((p, i) => e.param(i, p as Kind));
      const r = def.body(e, args, helpers);
      e.push(r, r.kind);
      return f;
    };
    out[fn] = { f32: variant(false), f32x4: variant(true) };
  }
  return out as MathLib<Fn>;
}
