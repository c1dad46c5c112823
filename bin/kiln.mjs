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
  help               Show this help.

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
