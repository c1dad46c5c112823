/**
 * kiln's in-house WebAssembly assembler: build modules in memory, disassemble them to text,
 * and probe which wasm features the engine has. See `module.ts` for the builder.
 *
 * @example
 * import { ModuleBuilder, disassemble, wasmFeatures } from "./asm/index.js";
 */
export { ModuleBuilder, FunctionBuilder, Label, VALTYPE_CODE, AsmError } from "./module.js";
export type { ValType, FuncType, BlockType, MemoryLimits, FuncRef, GlobalRef, GeneratedOps } from "./module.js";
export { disassemble, formatF32, formatF64 } from "./disasm.js";
export { wasmFeatures, probeModules, type WasmFeatures } from "./features.js";
export { ByteWriter, ByteReader, encodeULEB128, encodeSLEB128, decodeULEB128, decodeSLEB128, ulebSize } from "./bytes.js";
export { ALL_OPS, OPS_BY_CODE, type OpInfo } from "./opcodes.js";
