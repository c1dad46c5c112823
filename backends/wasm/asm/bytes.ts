/**
 * Byte-level encoding for the WebAssembly assembler: a growable byte buffer, LEB128 encoders
 * and decoders, and IEEE-754 little-endian floats. Everything the assembler emits goes through
 * {@link ByteWriter}, which appends into one `Uint8Array` that doubles when full, so emitting an
 * instruction is a few stores into typed memory, never an array of numbers joined at the end.
 *
 * LEB128 (the wasm spec's "uN" and "sN" integers): 7 value bits a byte, low bits first, the top
 * bit of each byte set while more follow. Signed values are two's complement, so the last
 * byte's bit 6 is the sign.
 *
 * @example
 * const w = new ByteWriter();
 * w.u32(624485).s32(-123456).s64(-1n);
 * w.finish(); // Uint8Array [0xe5, 0x8e, 0x26, 0xc0, 0xbb, 0x78, 0x7f]
 */
import { AsmError } from "./errors.js";

const TWO_32 = 4294967296;
const TWO_63 = 9223372036854775808n;
const TWO_64 = 18446744073709551616n;

/** An append-only byte buffer that grows by doubling. */
export class ByteWriter {
  /** The backing store; bytes `[0, length)` are written. It is replaced when it grows. */
  buf: Uint8Array<ArrayBuffer>;
  /** Number of bytes written. */
  length = 0;
  private view: DataView | null = null;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = null;
  }

  /** One raw byte (0..255). */
  u8(b: number): this {
    if (this.length >= this.buf.length) this.reserve(1);
    this.buf[this.length++] = b;
    return this;
  }

  /** Unsigned LEB128 of an integer in [0, 2^32). */
  u32(v: number): this {
    if (!(v >= 0 && v < TWO_32 && Math.floor(v) === v)) {
      throw new AsmError(`u32 out of range: ${v} (must be an integer in [0, 2^32))`);
    }
    this.reserve(5);
    const b = this.buf;
    let n = this.length;
    if (v < 0x80000000) {
      while (v >= 0x80) { b[n++] = (v & 0x7f) | 0x80; v >>>= 7; }
    } else {
      // 32-bit unsigned values above 2^31: use float division (exact for < 2^53).
      while (v >= 0x80) { b[n++] = (v % 128) | 0x80; v = Math.floor(v / 128); }
    }
    b[n++] = v;
    this.length = n;
    return this;
  }

  /** Signed LEB128 of a 32-bit integer; values in [2^31, 2^32) are taken as their two's-complement i32. */
  s32(v: number): this {
    if (!((v | 0) === v || (v >>> 0) === v)) {
      throw new AsmError(`i32 out of range: ${v} (must be an integer in [-2^31, 2^32))`);
    }
    v |= 0;
    this.reserve(5);
    const b = this.buf;
    let n = this.length;
    for (;;) {
      const byte = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) { b[n++] = byte; break; }
      b[n++] = byte | 0x80;
    }
    this.length = n;
    return this;
  }

  /**
   * Signed LEB128 of a 64-bit integer. A `bigint` may be in [-2^63, 2^64) (values of 2^63 and
   * up are taken as their two's-complement i64); a `number` must be a safe integer.
   */
  s64(v: number | bigint): this {
    if (typeof v === "bigint") {
      if (v < -TWO_63 || v >= TWO_64) throw new AsmError(`i64 out of range: ${v}n (must be in [-2^63, 2^64))`);
      let x = BigInt.asIntN(64, v);
      this.reserve(10);
      for (;;) {
        const byte = Number(x & 0x7fn);
        x >>= 7n;
        if ((x === 0n && (byte & 0x40) === 0) || (x === -1n && (byte & 0x40) !== 0)) { this.buf[this.length++] = byte; break; }
        this.buf[this.length++] = byte | 0x80;
      }
      return this;
    }
    if (!Number.isSafeInteger(v)) {
      throw new AsmError(`i64 given as a number must be a safe integer, got ${v}`, { hint: "pass a bigint for values beyond 2^53" });
    }
    return this.sleb(v);
  }

  /** Signed LEB128 of any safe integer (used for i64 numbers and s33 block-type indices). */
  sleb(v: number): this {
    if (!Number.isSafeInteger(v)) throw new AsmError(`signed LEB128 needs a safe integer, got ${v}`);
    if ((v | 0) === v) return this.s32(v);
    this.reserve(10);
    const b = this.buf;
    let n = this.length;
    for (;;) {
      const byte = ((v % 128) + 128) % 128; // low 7 bits, two's complement
      v = (v - byte) / 128; // exact: floor division for safe integers
      if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) { b[n++] = byte; break; }
      b[n++] = byte | 0x80;
    }
    this.length = n;
    return this;
  }

  /** IEEE-754 binary32, little-endian. */
  f32(v: number): this {
    this.reserve(4);
    this.dv().setFloat32(this.length, v, true);
    this.length += 4;
    return this;
  }

  /** IEEE-754 binary64, little-endian. */
  f64(v: number): this {
    this.reserve(8);
    this.dv().setFloat64(this.length, v, true);
    this.length += 8;
    return this;
  }

  /** Raw bytes. */
  bytes(src: ArrayLike<number>): this {
    const n = src.length;
    this.reserve(n);
    if (src instanceof Uint8Array) this.buf.set(src, this.length);
    else for (let i = 0; i < n; i++) this.buf[this.length + i] = src[i]! & 0xff;
    this.length += n;
    return this;
  }

  /** A name: u32 byte length, then UTF-8. */
  name(s: string): this {
    const utf8 = TEXT_ENCODER.encode(s);
    return this.u32(utf8.length).bytes(utf8);
  }

  /** The written bytes as a view (no copy; invalidated by later writes that grow). */
  written(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  /** A copy of the written bytes, exactly `length` long. */
  finish(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.length);
  }

  private dv(): DataView {
    if (this.view === null) this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    return this.view;
  }
}

const TEXT_ENCODER = new TextEncoder();

/** Number of bytes the unsigned LEB128 of `v` (an integer in [0, 2^32)) takes. */
export function ulebSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Unsigned LEB128 of an integer in [0, 2^32). */
export function encodeULEB128(v: number): Uint8Array {
  return new ByteWriter(16).u32(v).finish();
}

/**
 * Signed LEB128: a `number` (safe integer) or a `bigint` in [-2^63, 2^64) (encoded as i64).
 * Numbers are encoded at their natural width, so `encodeSLEB128(2 ** 40)` is a 6-byte value.
 */
export function encodeSLEB128(v: number | bigint): Uint8Array {
  const w = new ByteWriter(16);
  if (typeof v === "bigint") w.s64(v);
  else w.sleb(v);
  return w.finish();
}

/** A cursor over bytes, for decoding (used by the disassembler and the tests). */
export class ByteReader {
  pos: number;
  constructor(readonly bytes: Uint8Array, start = 0, readonly end = bytes.length) {
    this.pos = start;
  }

  get done(): boolean { return this.pos >= this.end; }

  u8(): number {
    if (this.pos >= this.end) throw new AsmError(`unexpected end of bytes at offset ${this.pos}`);
    return this.bytes[this.pos++]!;
  }

  /** Unsigned LEB128, at most 5 bytes, value < 2^32. */
  u32(): number {
    let result = 0, mul = 1;
    for (let i = 0; i < 5; i++) {
      const b = this.u8();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (result >= TWO_32) throw new AsmError(`u32 LEB128 overflows at offset ${this.pos - 1}`);
        return result;
      }
      mul *= 128;
    }
    throw new AsmError(`u32 LEB128 longer than 5 bytes at offset ${this.pos}`);
  }

  /** Signed LEB128 of at most `bits` bits (32 or 33), as a number. */
  sN(bits: 32 | 33 = 32): number {
    let result = 0, mul = 1, b = 0;
    const maxBytes = Math.ceil(bits / 7);
    for (let i = 0; ; i++) {
      if (i >= maxBytes) throw new AsmError(`s${bits} LEB128 too long at offset ${this.pos}`);
      b = this.u8();
      result += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) break;
    }
    if (b & 0x40) result -= mul;
    return result;
  }

  /** Signed LEB128 of at most 64 bits, as a bigint. */
  s64(): bigint {
    let result = 0n, shift = 0n, b = 0;
    for (let i = 0; ; i++) {
      if (i >= 10) throw new AsmError(`s64 LEB128 too long at offset ${this.pos}`);
      b = this.u8();
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) break;
    }
    if (b & 0x40) result -= 1n << shift;
    return BigInt.asIntN(64, result);
  }

  f32(): number {
    if (this.pos + 4 > this.end) throw new AsmError(`unexpected end of bytes reading f32 at offset ${this.pos}`);
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  f64(): number {
    if (this.pos + 8 > this.end) throw new AsmError(`unexpected end of bytes reading f64 at offset ${this.pos}`);
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  take(n: number): Uint8Array {
    if (this.pos + n > this.end) throw new AsmError(`unexpected end of bytes reading ${n} bytes at offset ${this.pos}`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  name(): string {
    const n = this.u32();
    return TEXT_DECODER.decode(this.take(n));
  }
}

const TEXT_DECODER = new TextDecoder();

/** Decodes an unsigned LEB128 at `offset`; returns the value and the bytes it took. */
export function decodeULEB128(bytes: Uint8Array, offset = 0): { value: number; length: number } {
  const r = new ByteReader(bytes, offset);
  const value = r.u32();
  return { value, length: r.pos - offset };
}

/** Decodes a signed LEB128 (up to 64 bits) at `offset` as a bigint. */
export function decodeSLEB128(bytes: Uint8Array, offset = 0): { value: bigint; length: number } {
  const r = new ByteReader(bytes, offset);
  const value = r.s64();
  return { value, length: r.pos - offset };
}
