// The kiln command's model subcommands, called in-process with captured output.
import { describe, it, expect, beforeAll } from "vitest";
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main, type Io } from "../../cli/main.js";
import { readNpy, writeNpy, onnx } from "../../lib/index.js";
import { hostBuffer } from "../../jit/buffer.js";
import { model } from "./build.js";
import { resnetish, rand } from "./zoo.js";

function capture(): Io & { stdout: string; stderr: string } {
  const io = {
    stdout: "", stderr: "", isTTY: false,
    out(s: string) { io.stdout += s; },
    err(s: string) { io.stderr += s; },
    progress() {},
    usage(m: string) { io.stderr += m; return 2; },
  };
  return io;
}

let dir = "", modelPath = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "kiln-cli-"));
  modelPath = join(dir, "m.onnx");
  // y = relu(x + b): "weird/name" checks that output names cannot escape --out
  writeFileSync(modelPath, model({
    inputs: [{ name: "x", shape: ["N", 3] }], outputs: [{ name: "weird/../name" }],
    inits: [{ name: "b", dims: [3], values: [1, -1, 0.5] }],
    nodes: [{ op: "Add", inputs: ["x", "b"], outputs: ["s"] }, { op: "Relu", inputs: ["s"], outputs: ["weird/../name"] }],
  }));
  writeFileSync(join(dir, "x.npy"), writeNpy(hostBuffer("float32", [2, 3], new Float32Array([1, 2, 3, -4, -5, -6]))));
  writeFileSync(join(dir, "good.npy"), writeNpy(hostBuffer("float32", [2, 3], new Float32Array([2, 1, 3.5, 0, 0, 0]))));
  writeFileSync(join(dir, "bad.npy"), writeNpy(hostBuffer("float32", [2, 3], new Float32Array([2, 1, 3.5, 0, 0, 1]))));
});

describe("kiln CLI", () => {
  it("run writes outputs as .npy under --out only", async () => {
    const io = capture(), out = join(dir, "out");
    expect(await main(["run", modelPath, "--input", `x=${join(dir, "x.npy")}`, "--out", out], io)).toBe(0);
    const b = readNpy(readFileSync(join(out, "weird_.._name.npy")));
    expect(b.shape).toEqual([2, 3]);
    expect(Array.from(b.data as Float32Array)).toEqual([2, 1, 3.5, 0, 0, 0]);
    expect(io.stdout).toMatch(/float32\[2, 3\]/);
  });

  it("check exits 0 on a match, 1 on a mismatch, 2 on an error, with JSON", async () => {
    let io = capture();
    expect(await main(["check", modelPath, "--input", `x=${join(dir, "x.npy")}`, "--expect", `weird/../name=${join(dir, "good.npy")}`, "--json"], io)).toBe(0);
    const j = JSON.parse(io.stdout);
    expect(j).toEqual({ ok: true, outputs: [{ name: "weird/../name", maxAbsDiff: 0, maxRelDiff: 0, ok: true }] });
    io = capture();
    expect(await main(["check", modelPath, "--input", `x=${join(dir, "x.npy")}`, "--expect", `weird/../name=${join(dir, "bad.npy")}`, "--json"], io)).toBe(1);
    expect(JSON.parse(io.stdout).outputs[0].maxAbsDiff).toBe(1);
    io = capture();
    expect(await main(["check", modelPath, "--input", `nope=${join(dir, "x.npy")}`], io)).toBe(2);
    expect(io.stderr).toMatch(/has no input "nope"/);
    io = capture(); // no --expect: random seeded inputs, checked against the js reference
    expect(await main(["check", modelPath, "--dim", "N=4", "--json"], io)).toBe(0);
  });

  it("bench prints the documented JSON", async () => {
    const io = capture();
    expect(await main(["bench", modelPath, "--runs", "3", "--warmup", "1", "--json"], io)).toBe(0);
    const j = JSON.parse(io.stdout);
    expect(Object.keys(j).sort()).toEqual(["arenaBytes", "backend", "compileMs", "firstRunMs", "kernels", "latencyMs", "threads"]);
    expect(j.latencyMs.min).toBeLessThanOrEqual(j.latencyMs.median);
    expect(j.latencyMs.median).toBeLessThanOrEqual(j.latencyMs.max);
    expect(j.backend).toBe("wasm");
    expect(j.kernels).toBeGreaterThanOrEqual(1); // add + relu fuse into one kernel
    expect(j.arenaBytes).toBeGreaterThan(0);
    expect(j.threads).toBeGreaterThanOrEqual(1);
  });

  it("explain prints text or dot with escaped labels", async () => {
    let io = capture();
    expect(await main(["explain", modelPath], io)).toBe(0);
    expect(io.stdout).toMatch(/kiln explain/);
    io = capture();
    expect(await main(["explain", modelPath, "--format", "dot"], io)).toBe(0);
    expect(io.stdout.startsWith("digraph kiln {")).toBe(true);
    io = capture();
    expect(await main(["explain", modelPath, "--format", "svg"], io)).toBe(2);
  });

  it("onnx-test runs a test folder and prints the documented JSON", async () => {
    const t = join(dir, "tests", "test_addrelu");
    mkdirSync(join(t, "test_data_set_0"), { recursive: true });
    writeFileSync(join(t, "model.onnx"), readFileSync(modelPath));
    writeFileSync(join(t, "test_data_set_0", "input_0.pb"), onnx.encodeTensor(hostBuffer("float32", [2, 3], new Float32Array([1, 2, 3, -4, -5, -6]))));
    writeFileSync(join(t, "test_data_set_0", "output_0.pb"), onnx.encodeTensor(hostBuffer("float32", [2, 3], new Float32Array([2, 1, 3.5, 0, 0, 0]))));
    const io = capture();
    expect(await main(["onnx-test", join(dir, "tests"), "--json"], io)).toBe(0);
    expect(JSON.parse(io.stdout)).toEqual({ total: 1, passed: 1, failed: 0, unsupported: 0, results: [{ name: "test_addrelu", status: "passed", reason: null }] });
  });

  it("rejects unknown options and commands", async () => {
    const io = capture();
    expect(await main(["run", modelPath, "--frobnicate"], io)).toBe(2);
    expect(io.stderr).toMatch(/unknown option --frobnicate/);
    expect(await main(["nope"], capture())).toBe(2);
  });
});

describe(".npy", () => {
  it("round-trips every dtype and reads Fortran order and float64", () => {
    for (const [dtype, data] of [["float32", new Float32Array([1.5, -2])], ["int64", new BigInt64Array([1n, -2n])], ["uint8", new Uint8Array([0, 255])], ["bool", new Uint8Array([1, 0])]] as const) {
      const b = readNpy(writeNpy(hostBuffer(dtype, [2], data)));
      expect(b.dtype).toBe(dtype);
      expect(Array.from(b.data as ArrayLike<number>)).toEqual(Array.from(data as ArrayLike<number>));
    }
    // a hand-made Fortran-order float64 [2, 2] = [[1, 2], [3, 4]] (stored column-major)
    const header = "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }";
    const pad = " ".repeat(64 - ((10 + header.length + 1) % 64)) + "\n";
    const h = header + pad, bytes = new Uint8Array(10 + h.length + 32);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    new DataView(bytes.buffer).setUint16(8, h.length, true);
    for (let i = 0; i < h.length; i++) bytes[10 + i] = h.charCodeAt(i);
    new Float64Array(bytes.buffer, 10 + h.length, 4).set([1, 3, 2, 4]);
    const b = readNpy(bytes);
    expect(b.dtype).toBe("float32");
    expect(Array.from(b.data as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(() => readNpy(new Uint8Array(20))).toThrow(/not a .npy file/);
  });
});

describe("kiln CLI --quantize", () => {
  let cnnPath = "", calib = "";
  beforeAll(() => {
    cnnPath = join(dir, "cnn.onnx");
    writeFileSync(cnnPath, resnetish(8));
    // one subfolder per sample, as ONNX test_data_set folders: input_0.pb
    calib = join(dir, "calib");
    for (let i = 0; i < 4; i++) {
      mkdirSync(join(calib, `s${i}`), { recursive: true });
      const t = hostBuffer("float32", [1, 3, 16, 16], Float32Array.from(rand(40 + i)(768)));
      writeFileSync(join(calib, `s${i}`, "input_0.pb"), onnx.encodeTensor(t, "input"));
    }
  });

  it("check --quantize int8 --calibrate DIR --report --json: int8 against float, per layer", async () => {
    const io = capture();
    expect(await main(["check", cnnPath, "--quantize", "int8", "--calibrate", calib, "--method", "percentile", "--report", "--json", "--dim", "S=16"], io)).toBe(0);
    const j = JSON.parse(io.stdout);
    expect(j.ok).toBe(true);
    expect(j.outputs[0].cosine).toBeGreaterThan(0.99);
    expect(j.layers.map((l: { op: string }) => l.op)).toEqual(["conv", "conv", "conv", "conv", "matmul"]);
    expect(io.stderr).not.toMatch(/random inputs/);
  });

  it("bench --quantize int8-dynamic --json, and a text report without --calibrate", async () => {
    let io = capture();
    expect(await main(["bench", cnnPath, "--quantize", "int8-dynamic", "--runs", "2", "--json", "--dim", "S=16"], io)).toBe(0);
    expect(JSON.parse(io.stdout).quantize).toBe("int8-dynamic");
    io = capture();
    expect(await main(["check", cnnPath, "--quantize", "int8", "--report", "--dim", "S=16"], io)).toBe(0);
    expect(io.stderr).toMatch(/calibrating on 16 seeded random inputs/);
    expect(io.stdout).toMatch(/5 int8 layer\(s\)[\s\S]*<- hurts most/);
  });

  it("bad quantize flags exit 2 with a clear message", async () => {
    for (const [args, msg] of [
      [["--quantize", "int4"], /--quantize must be int8 or int8-dynamic/],
      [["--calibrate", calib], /--calibrate needs --quantize int8/],
      [["--quantize", "int8", "--calibrate", join(dir, "nope")], /--calibrate .*nope/],
      [["--quantize", "int8", "--calibrate", calib, "--method", "kl"], /quantize.method/],
    ] as const) {
      const io = capture();
      expect(await main(["check", cnnPath, ...args, "--dim", "S=16"], io)).toBe(2);
      expect(io.stderr).toMatch(msg);
    }
  });
});
