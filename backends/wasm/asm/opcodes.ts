/**
 * Opcode tables: the one source of truth for the builder's generated methods
 * (`f.i32_add()`, `f.v128_load(16)`, ...) and for the disassembler.
 *
 * Numbers are from the WebAssembly 2.0 spec's binary format ("Instructions": numeric, memory,
 * 0xFC saturating truncation, 0xFD vector), the threads proposal's 0xFE atomics, and the
 * relaxed-SIMD proposal's 0xFD 0x100–0x113. Prefixed opcodes are u32 LEB128 after the prefix
 * byte, so vector opcodes 128 and up take two bytes.
 *
 * Signatures are `params:results` with one letter per value type: i = i32, I = i64, f = f32,
 * F = f64, v = v128. The tests validate every entry against V8 with exactly this signature.
 *
 * Entry shapes:
 * - plain:     [name, opcode, sig]
 * - memory:    [name, opcode, natural alignment (log2 bytes), sig]; immediates: memarg
 * - lane:      [name, opcode, lane count, sig]; immediate: one lane-index byte
 * - mem+lane:  [name, opcode, natural alignment (log2), sig]; immediates: memarg, lane byte
 *              (lane count is 16 >> alignment)
 */

/** Single-byte opcodes with no immediates and a fixed signature (comparisons, arithmetic, conversions). */
export const NUMERIC_OPS = [
  ["i32.eqz", 0x45, "i:i"],
  ["i32.eq", 0x46, "ii:i"], ["i32.ne", 0x47, "ii:i"],
  ["i32.lt_s", 0x48, "ii:i"], ["i32.lt_u", 0x49, "ii:i"], ["i32.gt_s", 0x4a, "ii:i"], ["i32.gt_u", 0x4b, "ii:i"],
  ["i32.le_s", 0x4c, "ii:i"], ["i32.le_u", 0x4d, "ii:i"], ["i32.ge_s", 0x4e, "ii:i"], ["i32.ge_u", 0x4f, "ii:i"],
  ["i64.eqz", 0x50, "I:i"],
  ["i64.eq", 0x51, "II:i"], ["i64.ne", 0x52, "II:i"],
  ["i64.lt_s", 0x53, "II:i"], ["i64.lt_u", 0x54, "II:i"], ["i64.gt_s", 0x55, "II:i"], ["i64.gt_u", 0x56, "II:i"],
  ["i64.le_s", 0x57, "II:i"], ["i64.le_u", 0x58, "II:i"], ["i64.ge_s", 0x59, "II:i"], ["i64.ge_u", 0x5a, "II:i"],
  ["f32.eq", 0x5b, "ff:i"], ["f32.ne", 0x5c, "ff:i"], ["f32.lt", 0x5d, "ff:i"],
  ["f32.gt", 0x5e, "ff:i"], ["f32.le", 0x5f, "ff:i"], ["f32.ge", 0x60, "ff:i"],
  ["f64.eq", 0x61, "FF:i"], ["f64.ne", 0x62, "FF:i"], ["f64.lt", 0x63, "FF:i"],
  ["f64.gt", 0x64, "FF:i"], ["f64.le", 0x65, "FF:i"], ["f64.ge", 0x66, "FF:i"],
  ["i32.clz", 0x67, "i:i"], ["i32.ctz", 0x68, "i:i"], ["i32.popcnt", 0x69, "i:i"],
  ["i32.add", 0x6a, "ii:i"], ["i32.sub", 0x6b, "ii:i"], ["i32.mul", 0x6c, "ii:i"],
  ["i32.div_s", 0x6d, "ii:i"], ["i32.div_u", 0x6e, "ii:i"], ["i32.rem_s", 0x6f, "ii:i"], ["i32.rem_u", 0x70, "ii:i"],
  ["i32.and", 0x71, "ii:i"], ["i32.or", 0x72, "ii:i"], ["i32.xor", 0x73, "ii:i"],
  ["i32.shl", 0x74, "ii:i"], ["i32.shr_s", 0x75, "ii:i"], ["i32.shr_u", 0x76, "ii:i"],
  ["i32.rotl", 0x77, "ii:i"], ["i32.rotr", 0x78, "ii:i"],
  ["i64.clz", 0x79, "I:I"], ["i64.ctz", 0x7a, "I:I"], ["i64.popcnt", 0x7b, "I:I"],
  ["i64.add", 0x7c, "II:I"], ["i64.sub", 0x7d, "II:I"], ["i64.mul", 0x7e, "II:I"],
  ["i64.div_s", 0x7f, "II:I"], ["i64.div_u", 0x80, "II:I"], ["i64.rem_s", 0x81, "II:I"], ["i64.rem_u", 0x82, "II:I"],
  ["i64.and", 0x83, "II:I"], ["i64.or", 0x84, "II:I"], ["i64.xor", 0x85, "II:I"],
  ["i64.shl", 0x86, "II:I"], ["i64.shr_s", 0x87, "II:I"], ["i64.shr_u", 0x88, "II:I"],
  ["i64.rotl", 0x89, "II:I"], ["i64.rotr", 0x8a, "II:I"],
  ["f32.abs", 0x8b, "f:f"], ["f32.neg", 0x8c, "f:f"], ["f32.ceil", 0x8d, "f:f"], ["f32.floor", 0x8e, "f:f"],
  ["f32.trunc", 0x8f, "f:f"], ["f32.nearest", 0x90, "f:f"], ["f32.sqrt", 0x91, "f:f"],
  ["f32.add", 0x92, "ff:f"], ["f32.sub", 0x93, "ff:f"], ["f32.mul", 0x94, "ff:f"], ["f32.div", 0x95, "ff:f"],
  ["f32.min", 0x96, "ff:f"], ["f32.max", 0x97, "ff:f"], ["f32.copysign", 0x98, "ff:f"],
  ["f64.abs", 0x99, "F:F"], ["f64.neg", 0x9a, "F:F"], ["f64.ceil", 0x9b, "F:F"], ["f64.floor", 0x9c, "F:F"],
  ["f64.trunc", 0x9d, "F:F"], ["f64.nearest", 0x9e, "F:F"], ["f64.sqrt", 0x9f, "F:F"],
  ["f64.add", 0xa0, "FF:F"], ["f64.sub", 0xa1, "FF:F"], ["f64.mul", 0xa2, "FF:F"], ["f64.div", 0xa3, "FF:F"],
  ["f64.min", 0xa4, "FF:F"], ["f64.max", 0xa5, "FF:F"], ["f64.copysign", 0xa6, "FF:F"],
  ["i32.wrap_i64", 0xa7, "I:i"],
  ["i32.trunc_f32_s", 0xa8, "f:i"], ["i32.trunc_f32_u", 0xa9, "f:i"],
  ["i32.trunc_f64_s", 0xaa, "F:i"], ["i32.trunc_f64_u", 0xab, "F:i"],
  ["i64.extend_i32_s", 0xac, "i:I"], ["i64.extend_i32_u", 0xad, "i:I"],
  ["i64.trunc_f32_s", 0xae, "f:I"], ["i64.trunc_f32_u", 0xaf, "f:I"],
  ["i64.trunc_f64_s", 0xb0, "F:I"], ["i64.trunc_f64_u", 0xb1, "F:I"],
  ["f32.convert_i32_s", 0xb2, "i:f"], ["f32.convert_i32_u", 0xb3, "i:f"],
  ["f32.convert_i64_s", 0xb4, "I:f"], ["f32.convert_i64_u", 0xb5, "I:f"],
  ["f32.demote_f64", 0xb6, "F:f"],
  ["f64.convert_i32_s", 0xb7, "i:F"], ["f64.convert_i32_u", 0xb8, "i:F"],
  ["f64.convert_i64_s", 0xb9, "I:F"], ["f64.convert_i64_u", 0xba, "I:F"],
  ["f64.promote_f32", 0xbb, "f:F"],
  ["i32.reinterpret_f32", 0xbc, "f:i"], ["i64.reinterpret_f64", 0xbd, "F:I"],
  ["f32.reinterpret_i32", 0xbe, "i:f"], ["f64.reinterpret_i64", 0xbf, "I:F"],
  ["i32.extend8_s", 0xc0, "i:i"], ["i32.extend16_s", 0xc1, "i:i"],
  ["i64.extend8_s", 0xc2, "I:I"], ["i64.extend16_s", 0xc3, "I:I"], ["i64.extend32_s", 0xc4, "I:I"],
] as const;

/** 0xFC-prefixed saturating truncations (no immediates). */
export const FC_OPS = [
  ["i32.trunc_sat_f32_s", 0, "f:i"], ["i32.trunc_sat_f32_u", 1, "f:i"],
  ["i32.trunc_sat_f64_s", 2, "F:i"], ["i32.trunc_sat_f64_u", 3, "F:i"],
  ["i64.trunc_sat_f32_s", 4, "f:I"], ["i64.trunc_sat_f32_u", 5, "f:I"],
  ["i64.trunc_sat_f64_s", 6, "F:I"], ["i64.trunc_sat_f64_u", 7, "F:I"],
] as const;

/** Single-byte loads and stores; immediates: memarg. */
export const MEM_OPS = [
  ["i32.load", 0x28, 2, "i:i"], ["i64.load", 0x29, 3, "i:I"], ["f32.load", 0x2a, 2, "i:f"], ["f64.load", 0x2b, 3, "i:F"],
  ["i32.load8_s", 0x2c, 0, "i:i"], ["i32.load8_u", 0x2d, 0, "i:i"],
  ["i32.load16_s", 0x2e, 1, "i:i"], ["i32.load16_u", 0x2f, 1, "i:i"],
  ["i64.load8_s", 0x30, 0, "i:I"], ["i64.load8_u", 0x31, 0, "i:I"],
  ["i64.load16_s", 0x32, 1, "i:I"], ["i64.load16_u", 0x33, 1, "i:I"],
  ["i64.load32_s", 0x34, 2, "i:I"], ["i64.load32_u", 0x35, 2, "i:I"],
  ["i32.store", 0x36, 2, "ii:"], ["i64.store", 0x37, 3, "iI:"], ["f32.store", 0x38, 2, "if:"], ["f64.store", 0x39, 3, "iF:"],
  ["i32.store8", 0x3a, 0, "ii:"], ["i32.store16", 0x3b, 1, "ii:"],
  ["i64.store8", 0x3c, 0, "iI:"], ["i64.store16", 0x3d, 1, "iI:"], ["i64.store32", 0x3e, 2, "iI:"],
] as const;

/** 0xFD vector loads and stores; immediates: memarg. */
export const SIMD_MEM_OPS = [
  ["v128.load", 0, 4, "i:v"],
  ["v128.load8x8_s", 1, 3, "i:v"], ["v128.load8x8_u", 2, 3, "i:v"],
  ["v128.load16x4_s", 3, 3, "i:v"], ["v128.load16x4_u", 4, 3, "i:v"],
  ["v128.load32x2_s", 5, 3, "i:v"], ["v128.load32x2_u", 6, 3, "i:v"],
  ["v128.load8_splat", 7, 0, "i:v"], ["v128.load16_splat", 8, 1, "i:v"],
  ["v128.load32_splat", 9, 2, "i:v"], ["v128.load64_splat", 10, 3, "i:v"],
  ["v128.store", 11, 4, "iv:"],
  ["v128.load32_zero", 92, 2, "i:v"], ["v128.load64_zero", 93, 3, "i:v"],
] as const;

/** 0xFD single-lane loads and stores; immediates: memarg, then a lane index. */
export const SIMD_MEM_LANE_OPS = [
  ["v128.load8_lane", 84, 0, "iv:v"], ["v128.load16_lane", 85, 1, "iv:v"],
  ["v128.load32_lane", 86, 2, "iv:v"], ["v128.load64_lane", 87, 3, "iv:v"],
  ["v128.store8_lane", 88, 0, "iv:"], ["v128.store16_lane", 89, 1, "iv:"],
  ["v128.store32_lane", 90, 2, "iv:"], ["v128.store64_lane", 91, 3, "iv:"],
] as const;

/** 0xFD lane extract/replace; immediate: a lane index below the lane count. */
export const SIMD_LANE_OPS = [
  ["i8x16.extract_lane_s", 21, 16, "v:i"], ["i8x16.extract_lane_u", 22, 16, "v:i"], ["i8x16.replace_lane", 23, 16, "vi:v"],
  ["i16x8.extract_lane_s", 24, 8, "v:i"], ["i16x8.extract_lane_u", 25, 8, "v:i"], ["i16x8.replace_lane", 26, 8, "vi:v"],
  ["i32x4.extract_lane", 27, 4, "v:i"], ["i32x4.replace_lane", 28, 4, "vi:v"],
  ["i64x2.extract_lane", 29, 2, "v:I"], ["i64x2.replace_lane", 30, 2, "vI:v"],
  ["f32x4.extract_lane", 31, 4, "v:f"], ["f32x4.replace_lane", 32, 4, "vf:v"],
  ["f64x2.extract_lane", 33, 2, "v:F"], ["f64x2.replace_lane", 34, 2, "vF:v"],
] as const;

/** 0xFD vector instructions with no immediates (SIMD128, WebAssembly 2.0). */
export const SIMD_OPS = [
  ["i8x16.swizzle", 14, "vv:v"],
  ["i8x16.splat", 15, "i:v"], ["i16x8.splat", 16, "i:v"], ["i32x4.splat", 17, "i:v"],
  ["i64x2.splat", 18, "I:v"], ["f32x4.splat", 19, "f:v"], ["f64x2.splat", 20, "F:v"],
  ["i8x16.eq", 35, "vv:v"], ["i8x16.ne", 36, "vv:v"], ["i8x16.lt_s", 37, "vv:v"], ["i8x16.lt_u", 38, "vv:v"],
  ["i8x16.gt_s", 39, "vv:v"], ["i8x16.gt_u", 40, "vv:v"], ["i8x16.le_s", 41, "vv:v"], ["i8x16.le_u", 42, "vv:v"],
  ["i8x16.ge_s", 43, "vv:v"], ["i8x16.ge_u", 44, "vv:v"],
  ["i16x8.eq", 45, "vv:v"], ["i16x8.ne", 46, "vv:v"], ["i16x8.lt_s", 47, "vv:v"], ["i16x8.lt_u", 48, "vv:v"],
  ["i16x8.gt_s", 49, "vv:v"], ["i16x8.gt_u", 50, "vv:v"], ["i16x8.le_s", 51, "vv:v"], ["i16x8.le_u", 52, "vv:v"],
  ["i16x8.ge_s", 53, "vv:v"], ["i16x8.ge_u", 54, "vv:v"],
  ["i32x4.eq", 55, "vv:v"], ["i32x4.ne", 56, "vv:v"], ["i32x4.lt_s", 57, "vv:v"], ["i32x4.lt_u", 58, "vv:v"],
  ["i32x4.gt_s", 59, "vv:v"], ["i32x4.gt_u", 60, "vv:v"], ["i32x4.le_s", 61, "vv:v"], ["i32x4.le_u", 62, "vv:v"],
  ["i32x4.ge_s", 63, "vv:v"], ["i32x4.ge_u", 64, "vv:v"],
  ["f32x4.eq", 65, "vv:v"], ["f32x4.ne", 66, "vv:v"], ["f32x4.lt", 67, "vv:v"],
  ["f32x4.gt", 68, "vv:v"], ["f32x4.le", 69, "vv:v"], ["f32x4.ge", 70, "vv:v"],
  ["f64x2.eq", 71, "vv:v"], ["f64x2.ne", 72, "vv:v"], ["f64x2.lt", 73, "vv:v"],
  ["f64x2.gt", 74, "vv:v"], ["f64x2.le", 75, "vv:v"], ["f64x2.ge", 76, "vv:v"],
  ["v128.not", 77, "v:v"], ["v128.and", 78, "vv:v"], ["v128.andnot", 79, "vv:v"],
  ["v128.or", 80, "vv:v"], ["v128.xor", 81, "vv:v"], ["v128.bitselect", 82, "vvv:v"], ["v128.any_true", 83, "v:i"],
  ["f32x4.demote_f64x2_zero", 94, "v:v"], ["f64x2.promote_low_f32x4", 95, "v:v"],
  ["i8x16.abs", 96, "v:v"], ["i8x16.neg", 97, "v:v"], ["i8x16.popcnt", 98, "v:v"],
  ["i8x16.all_true", 99, "v:i"], ["i8x16.bitmask", 100, "v:i"],
  ["i8x16.narrow_i16x8_s", 101, "vv:v"], ["i8x16.narrow_i16x8_u", 102, "vv:v"],
  ["f32x4.ceil", 103, "v:v"], ["f32x4.floor", 104, "v:v"], ["f32x4.trunc", 105, "v:v"], ["f32x4.nearest", 106, "v:v"],
  ["i8x16.shl", 107, "vi:v"], ["i8x16.shr_s", 108, "vi:v"], ["i8x16.shr_u", 109, "vi:v"],
  ["i8x16.add", 110, "vv:v"], ["i8x16.add_sat_s", 111, "vv:v"], ["i8x16.add_sat_u", 112, "vv:v"],
  ["i8x16.sub", 113, "vv:v"], ["i8x16.sub_sat_s", 114, "vv:v"], ["i8x16.sub_sat_u", 115, "vv:v"],
  ["f64x2.ceil", 116, "v:v"], ["f64x2.floor", 117, "v:v"],
  ["i8x16.min_s", 118, "vv:v"], ["i8x16.min_u", 119, "vv:v"], ["i8x16.max_s", 120, "vv:v"], ["i8x16.max_u", 121, "vv:v"],
  ["f64x2.trunc", 122, "v:v"],
  ["i8x16.avgr_u", 123, "vv:v"],
  ["i16x8.extadd_pairwise_i8x16_s", 124, "v:v"], ["i16x8.extadd_pairwise_i8x16_u", 125, "v:v"],
  ["i32x4.extadd_pairwise_i16x8_s", 126, "v:v"], ["i32x4.extadd_pairwise_i16x8_u", 127, "v:v"],
  ["i16x8.abs", 128, "v:v"], ["i16x8.neg", 129, "v:v"], ["i16x8.q15mulr_sat_s", 130, "vv:v"],
  ["i16x8.all_true", 131, "v:i"], ["i16x8.bitmask", 132, "v:i"],
  ["i16x8.narrow_i32x4_s", 133, "vv:v"], ["i16x8.narrow_i32x4_u", 134, "vv:v"],
  ["i16x8.extend_low_i8x16_s", 135, "v:v"], ["i16x8.extend_high_i8x16_s", 136, "v:v"],
  ["i16x8.extend_low_i8x16_u", 137, "v:v"], ["i16x8.extend_high_i8x16_u", 138, "v:v"],
  ["i16x8.shl", 139, "vi:v"], ["i16x8.shr_s", 140, "vi:v"], ["i16x8.shr_u", 141, "vi:v"],
  ["i16x8.add", 142, "vv:v"], ["i16x8.add_sat_s", 143, "vv:v"], ["i16x8.add_sat_u", 144, "vv:v"],
  ["i16x8.sub", 145, "vv:v"], ["i16x8.sub_sat_s", 146, "vv:v"], ["i16x8.sub_sat_u", 147, "vv:v"],
  ["f64x2.nearest", 148, "v:v"],
  ["i16x8.mul", 149, "vv:v"],
  ["i16x8.min_s", 150, "vv:v"], ["i16x8.min_u", 151, "vv:v"], ["i16x8.max_s", 152, "vv:v"], ["i16x8.max_u", 153, "vv:v"],
  ["i16x8.avgr_u", 155, "vv:v"],
  ["i16x8.extmul_low_i8x16_s", 156, "vv:v"], ["i16x8.extmul_high_i8x16_s", 157, "vv:v"],
  ["i16x8.extmul_low_i8x16_u", 158, "vv:v"], ["i16x8.extmul_high_i8x16_u", 159, "vv:v"],
  ["i32x4.abs", 160, "v:v"], ["i32x4.neg", 161, "v:v"],
  ["i32x4.all_true", 163, "v:i"], ["i32x4.bitmask", 164, "v:i"],
  ["i32x4.extend_low_i16x8_s", 167, "v:v"], ["i32x4.extend_high_i16x8_s", 168, "v:v"],
  ["i32x4.extend_low_i16x8_u", 169, "v:v"], ["i32x4.extend_high_i16x8_u", 170, "v:v"],
  ["i32x4.shl", 171, "vi:v"], ["i32x4.shr_s", 172, "vi:v"], ["i32x4.shr_u", 173, "vi:v"],
  ["i32x4.add", 174, "vv:v"], ["i32x4.sub", 177, "vv:v"], ["i32x4.mul", 181, "vv:v"],
  ["i32x4.min_s", 182, "vv:v"], ["i32x4.min_u", 183, "vv:v"], ["i32x4.max_s", 184, "vv:v"], ["i32x4.max_u", 185, "vv:v"],
  ["i32x4.dot_i16x8_s", 186, "vv:v"],
  ["i32x4.extmul_low_i16x8_s", 188, "vv:v"], ["i32x4.extmul_high_i16x8_s", 189, "vv:v"],
  ["i32x4.extmul_low_i16x8_u", 190, "vv:v"], ["i32x4.extmul_high_i16x8_u", 191, "vv:v"],
  ["i64x2.abs", 192, "v:v"], ["i64x2.neg", 193, "v:v"],
  ["i64x2.all_true", 195, "v:i"], ["i64x2.bitmask", 196, "v:i"],
  ["i64x2.extend_low_i32x4_s", 199, "v:v"], ["i64x2.extend_high_i32x4_s", 200, "v:v"],
  ["i64x2.extend_low_i32x4_u", 201, "v:v"], ["i64x2.extend_high_i32x4_u", 202, "v:v"],
  ["i64x2.shl", 203, "vi:v"], ["i64x2.shr_s", 204, "vi:v"], ["i64x2.shr_u", 205, "vi:v"],
  ["i64x2.add", 206, "vv:v"], ["i64x2.sub", 209, "vv:v"], ["i64x2.mul", 213, "vv:v"],
  ["i64x2.eq", 214, "vv:v"], ["i64x2.ne", 215, "vv:v"], ["i64x2.lt_s", 216, "vv:v"],
  ["i64x2.gt_s", 217, "vv:v"], ["i64x2.le_s", 218, "vv:v"], ["i64x2.ge_s", 219, "vv:v"],
  ["i64x2.extmul_low_i32x4_s", 220, "vv:v"], ["i64x2.extmul_high_i32x4_s", 221, "vv:v"],
  ["i64x2.extmul_low_i32x4_u", 222, "vv:v"], ["i64x2.extmul_high_i32x4_u", 223, "vv:v"],
  ["f32x4.abs", 224, "v:v"], ["f32x4.neg", 225, "v:v"], ["f32x4.sqrt", 227, "v:v"],
  ["f32x4.add", 228, "vv:v"], ["f32x4.sub", 229, "vv:v"], ["f32x4.mul", 230, "vv:v"], ["f32x4.div", 231, "vv:v"],
  ["f32x4.min", 232, "vv:v"], ["f32x4.max", 233, "vv:v"], ["f32x4.pmin", 234, "vv:v"], ["f32x4.pmax", 235, "vv:v"],
  ["f64x2.abs", 236, "v:v"], ["f64x2.neg", 237, "v:v"], ["f64x2.sqrt", 239, "v:v"],
  ["f64x2.add", 240, "vv:v"], ["f64x2.sub", 241, "vv:v"], ["f64x2.mul", 242, "vv:v"], ["f64x2.div", 243, "vv:v"],
  ["f64x2.min", 244, "vv:v"], ["f64x2.max", 245, "vv:v"], ["f64x2.pmin", 246, "vv:v"], ["f64x2.pmax", 247, "vv:v"],
  ["i32x4.trunc_sat_f32x4_s", 248, "v:v"], ["i32x4.trunc_sat_f32x4_u", 249, "v:v"],
  ["f32x4.convert_i32x4_s", 250, "v:v"], ["f32x4.convert_i32x4_u", 251, "v:v"],
  ["i32x4.trunc_sat_f64x2_s_zero", 252, "v:v"], ["i32x4.trunc_sat_f64x2_u_zero", 253, "v:v"],
  ["f64x2.convert_low_i32x4_s", 254, "v:v"], ["f64x2.convert_low_i32x4_u", 255, "v:v"],
] as const;

/**
 * 0xFD relaxed-SIMD instructions (no immediates). Optional in Node 20: V8 accepts them only
 * after `--experimental-wasm-relaxed-simd`; probe with `wasmFeatures().relaxedSimd`.
 *
 * Known engine bug: in Node 20 (V8 11.3) the baseline tier (Liftoff) computes
 * `i32x4.relaxed_dot_i8x16_i7x16_add_s` as 2·dot without the accumulator when the accumulator
 * and another operand are both stack temporaries (e.g. fresh `v128.load`s); the optimizing tier
 * is right. Keep the accumulator in a local (`local.get acc` as the third operand), as kernels
 * do anyway, and both tiers agree.
 */
export const RELAXED_SIMD_OPS = [
  ["i8x16.relaxed_swizzle", 0x100, "vv:v"],
  ["i32x4.relaxed_trunc_f32x4_s", 0x101, "v:v"], ["i32x4.relaxed_trunc_f32x4_u", 0x102, "v:v"],
  ["i32x4.relaxed_trunc_f64x2_s_zero", 0x103, "v:v"], ["i32x4.relaxed_trunc_f64x2_u_zero", 0x104, "v:v"],
  ["f32x4.relaxed_madd", 0x105, "vvv:v"], ["f32x4.relaxed_nmadd", 0x106, "vvv:v"],
  ["f64x2.relaxed_madd", 0x107, "vvv:v"], ["f64x2.relaxed_nmadd", 0x108, "vvv:v"],
  ["i8x16.relaxed_laneselect", 0x109, "vvv:v"], ["i16x8.relaxed_laneselect", 0x10a, "vvv:v"],
  ["i32x4.relaxed_laneselect", 0x10b, "vvv:v"], ["i64x2.relaxed_laneselect", 0x10c, "vvv:v"],
  ["f32x4.relaxed_min", 0x10d, "vv:v"], ["f32x4.relaxed_max", 0x10e, "vv:v"],
  ["f64x2.relaxed_min", 0x10f, "vv:v"], ["f64x2.relaxed_max", 0x110, "vv:v"],
  ["i16x8.relaxed_q15mulr_s", 0x111, "vv:v"],
  ["i16x8.relaxed_dot_i8x16_i7x16_s", 0x112, "vv:v"],
  ["i32x4.relaxed_dot_i8x16_i7x16_add_s", 0x113, "vvv:v"],
] as const;

/**
 * 0xFE atomics (threads proposal); immediates: memarg whose alignment must equal the natural
 * one. They need a shared memory to be useful (and, in V8, to validate in older versions).
 */
export const ATOMIC_OPS = [
  ["memory.atomic.notify", 0x00, 2, "ii:i"],
  ["memory.atomic.wait32", 0x01, 2, "iiI:i"],
  ["memory.atomic.wait64", 0x02, 3, "iII:i"],
  ["i32.atomic.load", 0x10, 2, "i:i"], ["i64.atomic.load", 0x11, 3, "i:I"],
  ["i32.atomic.load8_u", 0x12, 0, "i:i"], ["i32.atomic.load16_u", 0x13, 1, "i:i"],
  ["i64.atomic.load8_u", 0x14, 0, "i:I"], ["i64.atomic.load16_u", 0x15, 1, "i:I"], ["i64.atomic.load32_u", 0x16, 2, "i:I"],
  ["i32.atomic.store", 0x17, 2, "ii:"], ["i64.atomic.store", 0x18, 3, "iI:"],
  ["i32.atomic.store8", 0x19, 0, "ii:"], ["i32.atomic.store16", 0x1a, 1, "ii:"],
  ["i64.atomic.store8", 0x1b, 0, "iI:"], ["i64.atomic.store16", 0x1c, 1, "iI:"], ["i64.atomic.store32", 0x1d, 2, "iI:"],
  ["i32.atomic.rmw.add", 0x1e, 2, "ii:i"], ["i64.atomic.rmw.add", 0x1f, 3, "iI:I"],
  ["i32.atomic.rmw8.add_u", 0x20, 0, "ii:i"], ["i32.atomic.rmw16.add_u", 0x21, 1, "ii:i"],
  ["i64.atomic.rmw8.add_u", 0x22, 0, "iI:I"], ["i64.atomic.rmw16.add_u", 0x23, 1, "iI:I"], ["i64.atomic.rmw32.add_u", 0x24, 2, "iI:I"],
  ["i32.atomic.rmw.sub", 0x25, 2, "ii:i"], ["i64.atomic.rmw.sub", 0x26, 3, "iI:I"],
  ["i32.atomic.rmw8.sub_u", 0x27, 0, "ii:i"], ["i32.atomic.rmw16.sub_u", 0x28, 1, "ii:i"],
  ["i64.atomic.rmw8.sub_u", 0x29, 0, "iI:I"], ["i64.atomic.rmw16.sub_u", 0x2a, 1, "iI:I"], ["i64.atomic.rmw32.sub_u", 0x2b, 2, "iI:I"],
  ["i32.atomic.rmw.and", 0x2c, 2, "ii:i"], ["i64.atomic.rmw.and", 0x2d, 3, "iI:I"],
  ["i32.atomic.rmw8.and_u", 0x2e, 0, "ii:i"], ["i32.atomic.rmw16.and_u", 0x2f, 1, "ii:i"],
  ["i64.atomic.rmw8.and_u", 0x30, 0, "iI:I"], ["i64.atomic.rmw16.and_u", 0x31, 1, "iI:I"], ["i64.atomic.rmw32.and_u", 0x32, 2, "iI:I"],
  ["i32.atomic.rmw.or", 0x33, 2, "ii:i"], ["i64.atomic.rmw.or", 0x34, 3, "iI:I"],
  ["i32.atomic.rmw8.or_u", 0x35, 0, "ii:i"], ["i32.atomic.rmw16.or_u", 0x36, 1, "ii:i"],
  ["i64.atomic.rmw8.or_u", 0x37, 0, "iI:I"], ["i64.atomic.rmw16.or_u", 0x38, 1, "iI:I"], ["i64.atomic.rmw32.or_u", 0x39, 2, "iI:I"],
  ["i32.atomic.rmw.xor", 0x3a, 2, "ii:i"], ["i64.atomic.rmw.xor", 0x3b, 3, "iI:I"],
  ["i32.atomic.rmw8.xor_u", 0x3c, 0, "ii:i"], ["i32.atomic.rmw16.xor_u", 0x3d, 1, "ii:i"],
  ["i64.atomic.rmw8.xor_u", 0x3e, 0, "iI:I"], ["i64.atomic.rmw16.xor_u", 0x3f, 1, "iI:I"], ["i64.atomic.rmw32.xor_u", 0x40, 2, "iI:I"],
  ["i32.atomic.rmw.xchg", 0x41, 2, "ii:i"], ["i64.atomic.rmw.xchg", 0x42, 3, "iI:I"],
  ["i32.atomic.rmw8.xchg_u", 0x43, 0, "ii:i"], ["i32.atomic.rmw16.xchg_u", 0x44, 1, "ii:i"],
  ["i64.atomic.rmw8.xchg_u", 0x45, 0, "iI:I"], ["i64.atomic.rmw16.xchg_u", 0x46, 1, "iI:I"], ["i64.atomic.rmw32.xchg_u", 0x47, 2, "iI:I"],
  ["i32.atomic.rmw.cmpxchg", 0x48, 2, "iii:i"], ["i64.atomic.rmw.cmpxchg", 0x49, 3, "iII:I"],
  ["i32.atomic.rmw8.cmpxchg_u", 0x4a, 0, "iii:i"], ["i32.atomic.rmw16.cmpxchg_u", 0x4b, 1, "iii:i"],
  ["i64.atomic.rmw8.cmpxchg_u", 0x4c, 0, "iII:I"], ["i64.atomic.rmw16.cmpxchg_u", 0x4d, 1, "iII:I"],
  ["i64.atomic.rmw32.cmpxchg_u", 0x4e, 2, "iII:I"],
] as const;

/** Prefix bytes. */
export const PREFIX_FC = 0xfc, PREFIX_FD = 0xfd, PREFIX_FE = 0xfe;

/** Control and parametric opcodes the builder emits with hand-written methods. */
export const OP = {
  unreachable: 0x00, nop: 0x01, block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b,
  br: 0x0c, br_if: 0x0d, br_table: 0x0e, return: 0x0f, call: 0x10, call_indirect: 0x11,
  drop: 0x1a, select: 0x1b, select_t: 0x1c,
  local_get: 0x20, local_set: 0x21, local_tee: 0x22, global_get: 0x23, global_set: 0x24,
  memory_size: 0x3f, memory_grow: 0x40,
  i32_const: 0x41, i64_const: 0x42, f32_const: 0x43, f64_const: 0x44,
} as const;

/** 0xFC bulk-memory opcodes (hand-written: their immediates are memory indices). */
export const FC_MEMORY = { memory_init: 8, data_drop: 9, memory_copy: 10, memory_fill: 11 } as const;
/** 0xFD opcodes with special immediates. */
export const FD_SPECIAL = { v128_const: 12, i8x16_shuffle: 13 } as const;
/** 0xFE 0x03 0x00: atomic.fence. */
export const FE_FENCE = 0x03;

/** How an opcode's immediates are laid out (for the disassembler). */
export type ImmKind = "none" | "memarg" | "lane" | "memarg_lane";

/** Everything known about one table-driven opcode. */
export interface OpInfo {
  /** The text-format name, e.g. "i32x4.dot_i16x8_s". */
  readonly name: string;
  /** 0 for single-byte opcodes, else 0xFC / 0xFD / 0xFE. */
  readonly prefix: number;
  readonly code: number;
  readonly imm: ImmKind;
  /** `params:results`, one letter a value type (see the file comment). */
  readonly sig: string;
  /** Natural alignment, log2 bytes (memory ops). */
  readonly align: number;
  /** Lane count (lane ops). */
  readonly lanes: number;
  /** True for relaxed-SIMD ops (optional feature). */
  readonly relaxed: boolean;
}

function collect(): OpInfo[] {
  const out: OpInfo[] = [];
  const add = (name: string, prefix: number, code: number, imm: ImmKind, sig: string, align = 0, lanes = 0, relaxed = false) =>
    out.push({ name, prefix, code, imm, sig, align, lanes, relaxed });
  for (const [n, c, s] of NUMERIC_OPS) add(n, 0, c, "none", s);
  for (const [n, c, s] of FC_OPS) add(n, PREFIX_FC, c, "none", s);
  for (const [n, c, a, s] of MEM_OPS) add(n, 0, c, "memarg", s, a);
  for (const [n, c, a, s] of SIMD_MEM_OPS) add(n, PREFIX_FD, c, "memarg", s, a);
  for (const [n, c, a, s] of SIMD_MEM_LANE_OPS) add(n, PREFIX_FD, c, "memarg_lane", s, a, 16 >> a);
  for (const [n, c, l, s] of SIMD_LANE_OPS) add(n, PREFIX_FD, c, "lane", s, 0, l);
  for (const [n, c, s] of SIMD_OPS) add(n, PREFIX_FD, c, "none", s);
  for (const [n, c, s] of RELAXED_SIMD_OPS) add(n, PREFIX_FD, c, "none", s, 0, 0, true);
  for (const [n, c, a, s] of ATOMIC_OPS) add(n, PREFIX_FE, c, "memarg", s, a);
  return out;
}

/** Every table-driven opcode. */
export const ALL_OPS: readonly OpInfo[] = collect();

/** Lookup by (prefix << 16 | code), for decoding. */
export const OPS_BY_CODE: ReadonlyMap<number, OpInfo> = new Map(ALL_OPS.map((o) => [o.prefix * 0x10000 + o.code, o]));
