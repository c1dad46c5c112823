/**
 * The compile pipeline shared by `jit` and eager realization: passes by opt level, then the
 * backend's compile, cached in memory by a key of (graph hash, backend, options, version).
 *
 * @example
 * const c = compileGraph(graph, "js", { opt: 2 });
 * const outs = await c.exe.run(inputs);
 */
import type { Graph } from "./graph.js";
import { hashGraph } from "./graph.js";
import { getBackend, type CompileOptions, type Executable } from "./backend.js";
import { runPasses, type PassLog } from "./passes/index.js";

/** Bumped whenever generated code or pass semantics change, so stale artifacts are not reused. */
export const COMPILER_VERSION = "0.1.0";

export interface Compiled {
  readonly key: string;
  readonly backend: string;
  /** The graph as traced. */
  readonly traced: Graph;
  /** The graph after passes: what the backend compiled. */
  readonly graph: Graph;
  readonly passes: PassLog[];
  readonly exe: Executable;
  readonly options: CompileOptions;
}

const MAX_ENTRIES = 512;
const NO_FOLD: ReadonlySet<string> = new Set(["fold"]);
const cache = new Map<string, Compiled>();

export function cacheKey(g: Graph, backend: string, o: CompileOptions): string {
  return `${hashGraph(g)}-${backend}-o${o.opt}${o.threads ? `-t${o.threads}` : ""}-v${COMPILER_VERSION}`;
}

/** Runs passes and compiles on `backend`. With `useCache`, an equal graph compiles once. */
export function compileGraph(traced: Graph, backend: string, options: CompileOptions, useCache = true): Compiled {
  const b = getBackend(backend);
  const key = cacheKey(traced, backend, options);
  if (useCache) {
    const hit = cache.get(key);
    if (hit) { cache.delete(key); cache.set(key, hit); return hit; } // LRU order
  }
  // An eager graph (no inputs) is all constant: folding would move all of it from the chosen
  // backend to the host evaluator, so eager compiles skip folding.
  const { graph, log } = runPasses(traced, options.opt, traced.inputs.length ? undefined : NO_FOLD);
  // only graphs worth caching in memory (not eager, data-dependent ones) may go to disk
  const exe = b.compile(graph, useCache ? { ...options, cacheKey: key } : options);
  const c: Compiled = { key, backend, traced, graph, passes: log, exe, options };
  if (useCache) {
    cache.set(key, c);
    if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  }
  return c;
}

/** Number of compiled graphs held in memory (all jit functions share this cache). */
export function compiledCacheSize(): number { return cache.size; }
export function clearCompiledCache(): void { cache.clear(); }
