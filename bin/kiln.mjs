#!/usr/bin/env node
// The `kiln` command. Runs on the built package (dist/), never on the TypeScript sources.
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = new URL("../", import.meta.url);
const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));

const HELP = `kiln ${pkg.version}: ${pkg.description}

Usage: kiln <command> [options]

Commands:
  demo [--explain]   Compile and run the quickstart model (a 2-layer MLP) with jit,
                     print what the compiler did, and check the result against the
                     reference interpreter. --explain prints the full compiler report.
  run MODEL.onnx [--input NAME=FILE]… [--out DIR]
                     Run an ONNX model; print each output's dtype and shape, and with
                     --out write them to DIR/<name>.npy.
  check MODEL.onnx [--input NAME=FILE]… [--expect NAME=FILE]… [--rtol R] [--atol A] [--json]
                     Compare outputs with the --expect files, or without them with the
                     js reference backend. Exit 0: all match, 1: a mismatch, 2: an error.
                     With --quantize and no --expect: int8 against float, ok when every
                     output's cosine >= --min-cosine C (0.99); --report adds per-layer errors.
  bench MODEL.onnx [--runs N] [--warmup N] [--json]
                     Time compile, first run and latency (median/min/max).
  explain MODEL.onnx [--format text|dot]
                     Print the compiler's report (passes, kernels, memory plan, code),
                     or the optimized graph as Graphviz dot.
  onnx-test DIR… [--json] [--rtol R] [--atol A]
                     Run ONNX backend test folders (model.onnx + test_data_set_*);
                     a folder of such folders runs them all. Exit 1 on any failure.
  help               Show this help.

Model options (run, check, bench, explain; onnx-test takes --backend):
  --backend B        js | wasm (default: KILN_BACKEND or wasm)
  --threads N        Worker threads for wasm (default: available cores)
  --opt 0-3          Optimization level (default 2)
  --input NAME=FILE  An input as .npy or .pb (TensorProto); inputs not given are
                     seeded random tensors (--seed S), symbolic dims 1 unless --dim SYM=N
  --quantize M       int8 (static, calibrated) | int8-dynamic: matmuls and convs with
                     constant weights run as int8 GEMMs
  --calibrate DIR    int8 calibration samples: one subfolder per sample (input_N.pb or
                     NAME.npy), or one file per sample for one-input models
                     (default: 16 seeded random inputs)
  --method M         minmax (default) | percentile | entropy;  --percentile P (99.99)
  --exclude NAME     Keep an op kind (matmul, conv) or a model node in float (repeatable)

Options:
  -h, --help         Show this help.
  -v, --version      Print the version.

Environment:
  KILN_BACKEND       Backend used when jit() names none, and for eager reads
                     (default: the best registered backend; "js" is the reference).
`;

/** Loads the quickstart model built from examples/quickstart.ts. */
async function loadQuickstart() {
  const file = new URL("dist/quickstart.js", root);
  if (!existsSync(file)) {
    process.stderr.write(`kiln: ${fileURLToPath(file)} is missing: build the package first (npm run build)\n`);
    process.exit(1);
  }
  return import(file.href);
}

async function demo(args) {
  const unknown = args.filter((a) => a !== "--explain");
  if (unknown.length) return usageError(`kiln demo: unknown option ${unknown[0]}`);
  const { main } = await loadQuickstart();
  const result = await main({ explain: args.includes("--explain") });
  return result.ok ? 0 : 1;
}

function usageError(message) {
  process.stderr.write(`${message}\nRun "kiln --help" for the list of commands.\n`);
  return 2;
}

async function run(argv) {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case "help":
    case "-h":
    case "--help":
      process.stdout.write(HELP);
      return 0;
    case "-v":
    case "--version":
      process.stdout.write(`kiln ${pkg.version}\n`);
      return 0;
    case "demo":
      return demo(rest);
    case "run":
    case "check":
    case "bench":
    case "explain":
    case "onnx-test": {
      const file = new URL("dist/cli.js", root);
      if (!existsSync(file)) {
        process.stderr.write(`kiln: ${fileURLToPath(file)} is missing: build the package first (npm run build)\n`);
        return 2;
      }
      const cli = await import(file.href);
      return cli.main([cmd, ...rest], cli.nodeIo());
    }
    default:
      return usageError(cmd.startsWith("-") ? `kiln: unknown option ${cmd}` : `kiln: unknown command "${cmd}"`);
  }
}

run(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`kiln: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
