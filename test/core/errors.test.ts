import { describe, it, expect } from "vitest";
import { tensor, KilnError, ShapeError, BackendError, jit, Tensor } from "../../lib/index.js";

describe("errors", () => {
  it("name the op, both shapes and the user's source line", () => {
    let err: unknown;
    try { tensor([1, 2]).add(tensor([1, 2, 3])); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ShapeError);
    expect(err).toBeInstanceOf(KilnError);
    const e = err as ShapeError;
    expect(e.op).toBe("add");
    expect(e.message).toMatch(/\[2\] and \[3\]/);
    expect(e.site).toMatch(/errors\.test\.ts:\d+:\d+/);
  });
  it("unknown backends are reported at jit()", () => {
    expect(() => jit((x: Tensor) => x, { backend: "nope" })).toThrow(BackendError);
    expect(() => jit((x: Tensor) => x, { backend: "nope" })).toThrow(/unknown backend "nope".*\n.*use one of: js/);
  });
  it("item() on a multi-element tensor says what to do", () => {
    expect(() => tensor([1, 2]).item()).toThrow(/reduce it first/);
  });
});
