/**
 * Scalar WebAssembly for one element of each dtype: how values are typed, loaded, stored,
 * wrapped, cast, and combined by every elementwise op, matching the reference backend's
 * semantics (integer division truncates, x/0 = 0 on integers, NaN casts to 0, …).
 *
 * Transcendental functions and float `mod`/`fmod` call JS (`Math.*`, `%`) through imports, so
 * scalar results equal the reference bit for bit; the vector path uses the wasm math library.
 */
import type { FunctionBuilder, ValType } from "./asm/index.js";
import type { DType } from "../../jit/dtype.js";
import { castValue } from "../../jit/dtype.js";
import { CompileError } from "../../jit/errors.js";

/** The wasm value type a dtype computes in (float16 computes in f32, rounded after each op). */
export function valType(d: DType): ValType {
  return d === "float32" || d === "float16" ? "f32" : d === "int64" ? "i64" : "i32";
}

/** Names of the JS functions a kernel module may import (see imports.ts). */
export type JsImport = "exp" | "log" | "sin" | "cos" | "tan" | "tanh" | "asin" | "acos" | "atan" | "sinh" | "cosh"
  | "pow" | "fmod" | "erf" | "f16round" | "f16load" | "f16store";

/** Callbacks into the module being built for the helpers kernels need. */
export interface ScalarEnv {
  /** Calls a (f64...) -> f64 import or one of the float16 helpers. */
  callImport(f: FunctionBuilder, name: JsImport): void;
  /**
   * Calls the wasm math library's f32 (or f32x4) version of a function on the value(s) on the
   * stack, returning false when it is not in this module (the caller then uses the JS import).
   */
  callMath?(f: FunctionBuilder, fn: string, vector: boolean): boolean;
}

export function emitLoad(f: FunctionBuilder, d: DType, env: ScalarEnv): void {
  switch (d) {
    case "float32": f.f32_load(0, 4); break;
    case "float16": f.i32_load16_u(0, 2); env.callImport(f, "f16load"); break;
    case "int32": f.i32_load(0, 4); break;
    case "int64": f.i64_load(0, 8); break;
    case "int8": f.i32_load8_s(0, 1); break;
    case "uint8": case "bool": f.i32_load8_u(0, 1); break;
  }
}

/** Stores the value on the stack (address below it). */
export function emitStore(f: FunctionBuilder, d: DType, env: ScalarEnv): void {
  switch (d) {
    case "float32": f.f32_store(0, 4); break;
    case "float16": env.callImport(f, "f16store"); f.i32_store16(0, 2); break;
    case "int32": f.i32_store(0, 4); break;
    case "int64": f.i64_store(0, 8); break;
    case "int8": case "uint8": case "bool": f.i32_store8(0, 1); break;
  }
}

/** Brings an i32 result back into its dtype's range (the reference's store semantics). */
export function emitWrap(f: FunctionBuilder, d: DType, env: ScalarEnv): void {
  if (d === "int8") f.i32_extend8_s();
  else if (d === "uint8") f.i32_const(255).i32_and();
  else if (d === "bool") f.i32_const(0).i32_ne();
  else if (d === "float16") env.callImport(f, "f16round");
}

function callF64(f: FunctionBuilder, env: ScalarEnv, name: JsImport, args: 1 | 2): void {
  if (env.callMath?.(f, name, false)) return;
  // operands are f32 on the stack; the import works in f64 like the reference
  if (args === 2) {
    const tmp = scratch(f, "f32", 5);
    f.local_set(tmp).f64_promote_f32().local_get(tmp).f64_promote_f32();
  } else f.f64_promote_f32();
  env.callImport(f, name);
  f.f32_demote_f64();
}

/** A scratch local of a type, reused across emissions in one function. */
export function scratch(f: FunctionBuilder, t: ValType, slot = 0): number {
  const bag = f as unknown as { __scratch?: Map<string, number> };
  bag.__scratch ??= new Map();
  const key = `${t}${slot}`;
  let l = bag.__scratch.get(key);
  if (l === undefined) { l = f.local(t); bag.__scratch.set(key, l); }
  return l;
}

/** Unary op on the value on the stack, of input dtype `d` (result dtype per the IR). */
export function emitUnary(f: FunctionBuilder, op: string, d: DType, env: ScalarEnv): void {
  const t = valType(d);
  if (t === "f32") {
    switch (op) {
      case "neg": f.f32_neg(); break;
      case "abs": f.f32_abs(); break;
      case "sqrt": f.f32_sqrt(); break;
      case "recip": { const x = scratch(f, "f32"); f.local_set(x).f32_const(1).local_get(x).f32_div(); break; }
      case "floor": f.f32_floor(); break;
      case "ceil": f.f32_ceil(); break;
      case "round": f.f32_nearest(); break;
      case "sign": { // NaN -> NaN, ±0 -> 0
        const x = scratch(f, "f32");
        f.local_set(x).f32_const(1).f32_const(-1).local_get(x).f32_const(0).f32_gt().select();
        f.f32_const(0).local_get(x).f32_const(0).f32_ne().select();
        f.local_get(x).local_get(x).local_get(x).f32_eq().select();
        break;
      }
      case "isnan": { const x = scratch(f, "f32"); f.local_tee(x).local_get(x).f32_ne(); return; }
      case "isinf": f.f32_abs().f32_const(Infinity).f32_eq(); return;
      case "not": f.f32_const(0).f32_eq(); return;
      case "erf": callF64(f, env, "erf", 1); break;
      case "exp": case "log": case "sin": case "cos": case "tan": case "tanh": case "asin": case "acos":
      case "atan": case "sinh": case "cosh": callF64(f, env, op, 1); break;
      default: throw new CompileError(`wasm: no scalar rule for ${op} on ${d}`, { op });
    }
    if (d === "float16") env.callImport(f, "f16round");
    return;
  }
  if (t === "i64") {
    switch (op) {
      case "neg": { const x = scratch(f, "i64"); f.local_set(x).i64_const(0).local_get(x).i64_sub(); return; }
      case "abs": { const x = scratch(f, "i64"); f.local_set(x); f.i64_const(0).local_get(x).i64_sub().local_get(x).local_get(x).i64_const(0).i64_lt_s().select(); return; }
      case "sign": { const x = scratch(f, "i64"); f.local_tee(x).i64_const(0).i64_gt_s().i64_extend_i32_u().local_get(x).i64_const(0).i64_lt_s().i64_extend_i32_u().i64_sub(); return; }
      case "floor": case "ceil": case "round": return;
      case "not": f.i64_eqz(); return;
      case "isnan": case "isinf": f.drop().i32_const(0); return;
    }
    throw new CompileError(`wasm: no scalar rule for ${op} on ${d}`, { op });
  }
  switch (op) {
    case "neg": { const x = scratch(f, "i32"); f.local_set(x).i32_const(0).local_get(x).i32_sub(); break; }
    case "abs": { const x = scratch(f, "i32"); f.local_set(x); f.i32_const(0).local_get(x).i32_sub().local_get(x).local_get(x).i32_const(0).i32_lt_s().select(); break; }
    case "sign": { const x = scratch(f, "i32"); f.local_tee(x).i32_const(0).i32_gt_s().local_get(x).i32_const(0).i32_lt_s().i32_sub(); break; }
    case "floor": case "ceil": case "round": return;
    case "not": f.i32_eqz(); return;
    case "isnan": case "isinf": f.drop().i32_const(0); return;
    default: throw new CompileError(`wasm: no scalar rule for ${op} on ${d}`, { op });
  }
  emitWrap(f, d, env);
}

/** Binary op on the two values on the stack, both of dtype `d`. */
export function emitBinary(f: FunctionBuilder, op: string, d: DType, env: ScalarEnv): void {
  const t = valType(d);
  if (t === "f32") {
    switch (op) {
      case "add": f.f32_add(); break;
      case "sub": f.f32_sub(); break;
      case "mul": f.f32_mul(); break;
      case "div": f.f32_div(); break;
      case "max": f.f32_max(); break;
      case "min": f.f32_min(); break;
      case "pow": callF64(f, env, "pow", 2); break;
      case "fmod": callF64(f, env, "fmod", 2); break;
      case "mod": {
        // r = fmod(a, b); r + b when r != 0 and its sign differs from b's
        const b = scratch(f, "f32", 1), r = scratch(f, "f32", 2);
        f.local_set(b).f64_promote_f32().local_get(b).f64_promote_f32();
        env.callImport(f, "fmod");
        f.f32_demote_f64().local_set(r);
        f.local_get(r).local_get(b).f32_add().local_get(r);
        f.local_get(r).f32_const(0).f32_ne().local_get(r).f32_const(0).f32_lt().local_get(b).f32_const(0).f32_lt().i32_ne().i32_and();
        f.select();
        break;
      }
      case "lt": f.f32_lt(); return;
      case "le": f.f32_le(); return;
      case "eq": f.f32_eq(); return;
      case "and": case "or": case "xor": {
        const b = scratch(f, "f32", 1);
        // logic on floats yields 1.0 / 0.0 of the same dtype (the IR keeps the input dtype)
        f.local_set(b).f32_const(0).f32_ne().local_get(b).f32_const(0).f32_ne();
        if (op === "and") f.i32_and(); else if (op === "or") f.i32_or(); else f.i32_xor();
        f.f32_convert_i32_s();
        return;
      }
      default: throw new CompileError(`wasm: no scalar rule for ${op} on ${d}`, { op });
    }
    if (d === "float16") env.callImport(f, "f16round");
    return;
  }
  const I = t === "i64";
  const x = scratch(f, t, 1), y = scratch(f, t, 2);
  if (d === "bool" && (op === "div" || op === "mod" || op === "fmod" || op === "pow")) {
    // bool arithmetic is float arithmetic cast back to bool (0/0 and 1/0 are true)
    f.local_set(y).local_set(x);
    if (op === "div" || op === "pow") f.local_get(x).local_get(y).i32_eqz().i32_or();
    else f.local_get(y).i32_eqz();
    return;
  }
  const c0 = () => (I ? f.i64_const(0) : f.i32_const(0));
  switch (op) {
    case "add": I ? f.i64_add() : f.i32_add(); break;
    case "sub": I ? f.i64_sub() : f.i32_sub(); break;
    case "mul": I ? f.i64_mul() : f.i32_mul(); break;
    case "div": case "mod": case "fmod": {
      // guard b == 0 (result 0) and MIN / -1 (wraps; rem is 0) before the trapping instruction
      f.local_set(y).local_set(x);
      f.local_get(y); I ? f.i64_eqz() : f.i32_eqz();
      f.if(t);
      c0();
      f.else();
      f.local_get(y); I ? f.i64_const(-1).i64_eq() : f.i32_const(-1).i32_eq();
      f.if(t);
      if (op === "div") { c0(); f.local_get(x); I ? f.i64_sub() : f.i32_sub(); } else c0();
      f.else();
      f.local_get(x).local_get(y);
      if (op === "div") I ? f.i64_div_s() : f.i32_div_s(); else I ? f.i64_rem_s() : f.i32_rem_s();
      if (op === "mod") {
        // numpy sign rule: add b when r != 0 and sign(r) != sign(b)
        const r = scratch(f, t, 3);
        f.local_tee(r).local_get(y); I ? f.i64_add() : f.i32_add();
        f.local_get(r);
        f.local_get(r); I ? f.i64_const(0).i64_ne() : f.i32_const(0).i32_ne();
        f.local_get(r).local_get(y); I ? f.i64_xor().i64_const(0).i64_lt_s() : f.i32_xor().i32_const(0).i32_lt_s();
        f.i32_and().select();
      }
      f.end();
      f.end();
      break;
    }
    case "pow": {
      f.local_set(y).local_set(x);
      f.local_get(x); I ? f.f64_convert_i64_s() : f.f64_convert_i32_s();
      f.local_get(y); I ? f.f64_convert_i64_s() : f.f64_convert_i32_s();
      env.callImport(f, "pow");
      emitF64ToInt(f, d);
      break;
    }
    case "max": case "min":
      f.local_set(y).local_tee(x).local_get(y).local_get(x).local_get(y);
      if (op === "max") I ? f.i64_gt_s() : f.i32_gt_s(); else I ? f.i64_lt_s() : f.i32_lt_s();
      f.select();
      return;
    case "lt": I ? f.i64_lt_s() : f.i32_lt_s(); return;
    case "le": I ? f.i64_le_s() : f.i32_le_s(); return;
    case "eq": I ? f.i64_eq() : f.i32_eq(); return;
    case "and": case "or": case "xor":
      f.local_set(y); I ? f.i64_const(0).i64_ne() : f.i32_const(0).i32_ne();
      f.local_get(y); I ? f.i64_const(0).i64_ne() : f.i32_const(0).i32_ne();
      if (op === "and") f.i32_and(); else if (op === "or") f.i32_or(); else f.i32_xor();
      if (I) f.i64_extend_i32_u();
      return;
    default: throw new CompileError(`wasm: no scalar rule for ${op} on ${d}`, { op });
  }
  if (!I) emitWrap(f, d, env);
}

/** f64 on the stack to an integer dtype with the reference's semantics (NaN/inf/huge -> 0, wrap). */
export function emitF64ToInt(f: FunctionBuilder, d: DType): void {
  const v = scratch(f, "f64", 4);
  f.local_tee(v).i64_trunc_sat_f64_s().i64_const(0);
  f.local_get(v).f64_abs().f64_const(9.2233720368547758e18).f64_lt(); // false for NaN and inf
  f.select();
  if (d !== "int64") {
    f.i32_wrap_i64();
    if (d === "int8") f.i32_extend8_s();
    else if (d === "uint8") f.i32_const(255).i32_and();
    else if (d === "bool") f.i32_const(0).i32_ne();
  }
}

/** Cast of the value on the stack from `from` to `to`. */
export function emitCast(f: FunctionBuilder, from: DType, to: DType, env: ScalarEnv): void {
  if (from === to) return;
  const ft = valType(from), tt = valType(to);
  if (to === "bool") {
    if (ft === "f32") f.f32_const(0).f32_ne();
    else if (ft === "i64") f.i64_const(0).i64_ne();
    else f.i32_const(0).i32_ne();
    return;
  }
  if (ft === "f32") {
    if (tt === "f32") { if (to === "float16") env.callImport(f, "f16round"); return; }
    f.f64_promote_f32();
    emitF64ToInt(f, to);
    return;
  }
  if (tt === "f32") {
    if (ft === "i64") f.f32_convert_i64_s(); else f.f32_convert_i32_s();
    if (to === "float16") env.callImport(f, "f16round");
    return;
  }
  if (ft === "i32" && tt === "i64") { f.i64_extend_i32_s(); return; }
  if (ft === "i64" && tt === "i32") f.i32_wrap_i64();
  emitWrap(f, to, env);
}

/** Pushes a constant of a dtype. */
export function emitConst(f: FunctionBuilder, v: number, d: DType): void {
  const t = valType(d);
  v = castValue(v, d);
  if (t === "f32") f.f32_const(v);
  else if (t === "i64") f.i64_const(BigInt(Math.trunc(v)));
  else f.i32_const(v | 0);
}
