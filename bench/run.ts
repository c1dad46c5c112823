/**
 * Runs every benchmark (each in its own process, one after another so they do not compete for
 * the 2 cores), prints a summary table on stderr and one JSON object with every result on stdout.
 *   npm run bench                 # all: jit, matmul, conv, models, onnx (imported models vs ort)
 *   npm run bench -- conv models  # some
 *   npm run bench -- matmul models --threads 2   # passed on: matmul's kiln threads (default 1), models' (default: cores)
 * Benchmarks compare against onnxruntime-web in the same run; this machine is shared and noisy,
 * so read ratios and medians, not absolute times.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const all = ["jit", "matmul", "conv", "models", "onnx", "quant"];
const args = process.argv.slice(2);
const ti = args.indexOf("--threads");
const passOn = ti >= 0 ? ["--threads", args[ti + 1]!] : [];
const chosen = args.filter((a, i) => !a.startsWith("-") && !(ti >= 0 && i === ti + 1));
const names = chosen.length ? chosen : all;
const results: Record<string, unknown> = {};
const table: string[] = [];

for (const name of names) {
  if (!all.includes(name)) { console.error(`unknown benchmark "${name}" (have: ${all.join(", ")})`); process.exit(2); }
  console.error(`== ${name} …`);
  const r = spawnSync(process.execPath, ["--import", "tsx", "--conditions=kiln-source", join(here, `${name}.ts`), ...(name === "matmul" || name === "models" || name === "onnx" ? passOn : [])], { encoding: "utf8", maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "inherit"] });
  let parsed: unknown;
  try { parsed = JSON.parse(r.stdout); } catch { parsed = { error: `exit ${r.status}`, output: r.stdout.slice(-2000) }; }
  results[name] = parsed;
  const p = parsed as Record<string, any>;
  if (name === "jit" && p.jitMs) table.push(`jit      traceCompile ${p.traceCompileMs.median} ms, cache-hit call ${p.cacheHitCallMs.median} ms, eager ${p.eagerMs.median} ms vs jit ${p.jitMs.median} ms`);
  if (name === "matmul" && p.results) for (const x of p.results) table.push(`matmul   ${String(x.shape).padEnd(14)} const B ${x.constB.kiln.relaxed ?? x.constB.kiln.plain} GFLOP/s vs ort ${x.constB.ort} (×${x.constB.ratio}); runtime B ×${x.runtimeB.ratio}`);
  if (name === "conv" && p.layers) { for (const x of p.layers) table.push(`conv     ${String(x.layer).padEnd(28)} kiln ${x.kilnMs} ms vs ort ${x.ortMs} ms (×${x.ratio})`); table.push(`conv     geometric mean ×${p.geomeanRatio}`); }
  if (name === "onnx" && p.results) { for (const x of p.results) table.push(`onnx     ${String(x.model).padEnd(36)} ${x.error ? `error: ${x.error}` : `kiln ${x.kilnMs} ms vs ort ${x.ortMs} ms (×${x.ratio})`}`); table.push(`onnx     geometric mean ×${p.geomeanRatio}`); }
  if (name === "models" && p.models) for (const [m, x] of Object.entries<any>(p.models)) table.push(`models   ${m.padEnd(48)} kernels ${x.opt0.kernels}→${x.opt2.kernels}, ${x.opt0.latencyMs.median}→${x.opt2.latencyMs.median} ms (×${x.fusedSpeedup} fused)`);
}
console.error("\n" + table.join("\n"));
console.log(JSON.stringify(results, null, 2));
