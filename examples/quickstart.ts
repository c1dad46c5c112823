/**
 * kiln quickstart: a 2-layer MLP written with the tensor DSL, compiled with `jit`, and checked
 * against the reference interpreter (the same model run eagerly on backend "js" with no passes).
 *
 * Run it with `npm start` (add `-- --explain` for the compiler's full report), or as
 * `kiln demo` from the built package.
 */
import { pathToFileURL } from "node:url";
import { realpathSync } from "node:fs";
import { jit, randn, getDefaultBackend, setDefaultBackend, setEagerOpt, type Tensor } from "kiln";

export interface QuickstartOptions {
  /** Print the compiler's full `explain()` report (graph, kernels, memory plan). */
  explain?: boolean;
  /** Where the text goes (default: console.log). */
  log?: (line: string) => void;
}

export interface QuickstartResult {
  backend: string;
  shape: number[];
  values: Float32Array;
  maxAbsDiff: number;
  ok: boolean;
}

/** Largest allowed |jit − reference| for float32 probabilities. */
const TOLERANCE = 1e-5;

const fmt = (v: number) => v.toFixed(4);
const ms = (t: number) => `${t.toFixed(2)} ms`;

export async function main(opts: QuickstartOptions = {}): Promise<QuickstartResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const [batch, inDim, hidden, classes] = [4, 16, 32, 10];

  // 1. Weights are seeded, so every run prints the same numbers.
  const w1 = randn([inDim, hidden], { seed: 1, std: 0.5 }), b1 = randn([hidden], { seed: 2, std: 0.1 });
  const w2 = randn([hidden, classes], { seed: 3, std: 0.5 }), b2 = randn([classes], { seed: 4, std: 0.1 });

  // 2. A model is a plain function of tensors; calling ops only records them.
  const mlp = (x: Tensor): Tensor => x.matmul(w1).add(b1).relu().matmul(w2).add(b2).softmax(-1);

  // 3. jit traces it on the first call per input shape/dtype, compiles, and caches.
  const backend = getDefaultBackend();
  const f = jit(mlp, { backend });
  const x = randn([batch, inDim], { seed: 0 });

  let t0 = performance.now();
  const y = f(x); // trace + passes + backend compile happen here; y is lazy
  const compileMs = performance.now() - t0;
  const values = (await y.data()) as Float32Array;
  t0 = performance.now();
  await f(x).data(); // same signature: a cache hit, only the kernels run
  const cachedMs = performance.now() - t0;

  log(`kiln quickstart: a 2-layer MLP (${inDim} → ${hidden} → ${classes}: matmul, add, relu, softmax) on a batch of ${batch}`);
  log("");
  // 4. What did the compiler do?
  const e = f.explain(x);
  log(`compiled for backend "${e.backend}" in ${ms(compileMs)} (trace + passes + backend compile); cached call: ${ms(cachedMs)}`);
  log(`  cache key   ${e.key}`);
  log(`  signature   ${e.signature}`);
  log(`  graph       ${e.traced.nodes.length} nodes traced → ${e.graph.nodes.length} after passes`);
  log(`  passes      ${e.passes.length ? e.passes.map((p) => `${p.pass} ${p.nodesBefore}→${p.nodesAfter}`).join(", ") : "none"}`);
  for (const s of e.sections) log(`  ${s.title.padEnd(11)} ${s.text.split("\n")[0]}`);
  if (opts.explain) log(`\n${e.toString()}`);
  log("");

  log(`result: softmax probabilities, shape [${y.shape.join(", ")}], dtype ${y.dtype}`);
  for (let r = 0; r < batch; r++) {
    const row = Array.from(values.subarray(r * classes, (r + 1) * classes));
    const best = row.indexOf(Math.max(...row));
    const sum = row.reduce((a, b) => a + b, 0);
    log(`  [${row.map(fmt).join(" ")}]  argmax ${best}, sum ${sum.toFixed(6)}`);
  }
  log("");

  // 5. The oracle: the same model, run eagerly (no jit) on the js interpreter with no passes.
  const previous = getDefaultBackend();
  setDefaultBackend("js");
  setEagerOpt(0);
  let reference: Float32Array;
  try { reference = (await mlp(x).data()) as Float32Array; }
  finally { setDefaultBackend(previous); setEagerOpt(2); }
  let maxAbsDiff = 0;
  for (let i = 0; i < values.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(values[i]! - reference[i]!));
  const ok = values.length === reference.length && maxAbsDiff <= TOLERANCE;
  log(`check: jit (${backend}, opt 2) vs eager reference (js, opt 0): max |diff| = ${maxAbsDiff.toExponential(2)} (tolerance ${TOLERANCE.toExponential(0)}) ${ok ? "OK" : "MISMATCH"}`);
  return { backend, shape: y.shape, values, maxAbsDiff, ok };
}

const invokedDirectly = (() => {
  try { return !!process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href; }
  catch { return false; }
})();

if (invokedDirectly) {
  main({ explain: process.argv.includes("--explain") }).then(
    (r) => { if (!r.ok) process.exitCode = 1; },
    (err: unknown) => { console.error(err); process.exitCode = 1; },
  );
}
