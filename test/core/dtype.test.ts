import { describe, it, expect } from "vitest";
import { promote, promoteScalar, toHalfBits, fromHalfBits, castValue, f64ToStorage, storageToF64 } from "../../jit/dtype.js";

describe("dtype promotion", () => {
  it("promotes along bool < ints < float16 < float32", () => {
    expect(promote("bool", "int8")).toBe("int8");
    expect(promote("int8", "uint8")).toBe("int32");
    expect(promote("int32", "int64")).toBe("int64");
    expect(promote("int64", "float16")).toBe("float16");
    expect(promote("float16", "float32")).toBe("float32");
    expect(promote("uint8", "float32")).toBe("float32");
  });
  it("treats JS numbers as weak scalars", () => {
    expect(promoteScalar("int32", 2)).toBe("int32");
    expect(promoteScalar("int32", 2.5)).toBe("float32");
    expect(promoteScalar("float16", 3)).toBe("float16");
    expect(promoteScalar("bool", 1)).toBe("int32");
    expect(promoteScalar("bool", true)).toBe("bool");
  });
});

describe("float16", () => {
  it("round-trips exactly representable values", () => {
    for (const v of [0, 1, -2, 0.5, 65504, -65504, 2 ** -14, 2 ** -24, Infinity, -Infinity]) expect(fromHalfBits(toHalfBits(v))).toBe(v);
  });
  it("rounds to nearest even and overflows to inf", () => {
    expect(fromHalfBits(toHalfBits(1 + 2 ** -11))).toBe(1); // halfway between 1 and 1+2^-10: even is 1
    expect(fromHalfBits(toHalfBits(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9);
    expect(fromHalfBits(toHalfBits(70000))).toBe(Infinity);
    expect(fromHalfBits(toHalfBits(2 ** -26))).toBe(0);
    expect(Number.isNaN(fromHalfBits(toHalfBits(NaN)))).toBe(true);
    expect(toHalfBits(-0)).toBe(0x8000);
  });
});

describe("store semantics", () => {
  it("wraps integers and truncates floats", () => {
    expect(castValue(2 ** 31, "int32")).toBe(-(2 ** 31));
    expect(castValue(-1.7, "int32")).toBe(-1);
    expect(castValue(300, "uint8")).toBe(44);
    expect(castValue(-129, "int8")).toBe(127);
    expect(castValue(NaN, "int32")).toBe(0);
    expect(castValue(0.1, "bool")).toBe(1);
    expect(castValue(NaN, "bool")).toBe(1);
    expect(castValue(0.1, "float32")).toBe(Math.fround(0.1));
  });
  it("int64 storage is BigInt64Array and round-trips", () => {
    const s = f64ToStorage([1, -2, 2 ** 40], "int64");
    expect(s).toBeInstanceOf(BigInt64Array);
    expect(Array.from(storageToF64(s, "int64"))).toEqual([1, -2, 2 ** 40]);
  });
});
