/**
 * A worker pool for the wasm backend: runs one kernel's work items across threads that share the
 * module's linear memory.
 *
 * The backend compiles a whole model into one module over one (shared, fixed-size) memory; each
 * kernel is an exported `k<i>(start, end)` that computes work items [start, end), and any split
 * of [0, items) gives the same result. {@link createThreadedModule} instantiates that module on
 * `threads - 1` workers (plus the calling thread) with the same memory and the same JS imports;
 * `run(name, items, parts)` cuts [0, items) into `parts` contiguous, balanced chunks (sizes
 * differ by at most one), wakes `min(threads, parts) - 1` workers, and every participant (the
 * calling thread included) claims chunks from a shared counter until none are left, so extra
 * parts balance the load. `run` returns when all chunks are done.
 *
 * Synchronization uses a small control block in a SharedArrayBuffer of its own (never the wasm
 * memory): the kernel index, items, parts, a chunk counter, a pending-workers counter, the first
 * error, and one wake word per worker, each on its own 64-byte line. A worker spins briefly on
 * its wake word (kernels of a model come back to back), then blocks in `Atomics.wait`; the
 * caller runs its chunks, spins on the pending counter, then `Atomics.wait`s (Node allows that
 * on the main thread). Only woken workers take part, and the caller does not publish the next
 * kernel until every woken worker has checked out, so a slow worker can never read a half-written
 * job.
 *
 * Workers are Node `worker_threads` started with `eval: true`, or browser Workers from a Blob
 * URL; either way their code is the self-contained string `WORKER_SOURCE`, so the pool works
 * from TypeScript sources, from the tsup bundle (ESM or CJS) and in browsers. The imports are
 * given as source text (a function body returning an object of functions) that every thread
 * evaluates, so workers need no kiln modules. Node workers keep the process alive only while
 * starting and while a `runAsync` waits for them; otherwise they are `unref()`ed, so a script that
 * never calls `dispose()` still exits.
 *
 * Browsers forbid `Atomics.wait` on the main thread: there `run` throws and `runAsync` waits with
 * `Atomics.waitAsync` (or, where that is missing, a message from the last worker to finish). In a
 * browser Worker and in Node both work.
 *
 * A kernel that throws (a wasm trap) on any thread stops further chunk claims; once all woken
 * workers have checked out, `run` throws (`runAsync` rejects) a KilnError naming the kernel, the
 * chunk and the thread. The pool stays usable.
 *
 * Cost (2-core VM, Node 20, other processes quiet; per `run` of an empty kernel, items = parts =
 * threads): 1 thread 0.09 µs (a direct wasm call: 0.01 µs); 2 threads 0.3–1 µs with the default
 * 50 µs spin (the worker is still spinning from the previous kernel), 12–50 µs with spinMicros = 0
 * (a futex wake of an idle core); 3 threads on 2 cores 22–90 µs (oversubscribed, so no spin by
 * default). `runAsync` costs about the same. On 2 threads a compute-bound kernel runs 2.0× faster,
 * an 8M-element f32 add 1.8× (scalar) and 1.2–1.8× (SIMD, memory-bound). While other processes
 * load the cores, spinning hurts (a spinning thread takes the core another one needs): set
 * `spinMicros = 0` there.
 *
 * Limitations: a worker that dies while the caller is blocked in `run` (killed from outside, out of
 * memory: kernel exceptions are caught) hangs it (`runAsync` notices and rejects); in Node,
 * `console.log` from an import running on a worker is never
 * flushed (workers never return to their event loop); `importsSource` goes through `new Function`,
 * which a page's Content-Security-Policy may forbid.
 *
 * @example
 * const memory = new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true });
 * const tm = await createThreadedModule(bytes, memory, "return { exp: Math.exp };", defaultThreads());
 * tm.run("k0", 1 << 20, 8);       // kernel k0 over work items [0, 2^20), 8 chunks
 * tm.dispose();
 */
import { KilnError } from "../../jit/errors.js";

export interface ThreadedModule {
  /** Runs kernel `name` over [0, items) split into `parts` contiguous chunks across the pool and the calling thread; returns when all finished. Throws in a browser's main thread (use {@link runAsync}). */
  run(name: string, items: number, parts: number): void;
  /** Like {@link run}, but waits without blocking the calling thread; works everywhere. One run at a time: await it before the next. */
  runAsync(name: string, items: number, parts: number): Promise<void>;
  /** Terminates the workers; later runs throw. Idempotent. */
  dispose(): void;
  /** Threads in the pool, the calling thread included. */
  readonly threads: number;
  /** How long (µs) idle workers, and the caller waiting for them, spin before blocking. Settable. */
  spinMicros: number;
}

export interface ThreadedModuleOptions {
  /** Initial {@link ThreadedModule.spinMicros}. Default: 50 when the pool fits the machine's cores, else 0 (spinning on an oversubscribed machine steals the cores the others need). */
  spinMicros?: number;
  /** How `runAsync` waits for the workers: `Atomics.waitAsync` (the default where it exists) or a message posted by the last worker to finish. */
  asyncWait?: "waitAsync" | "message";
}

// ---- control block layout (Int32 indices; each group on its own 64-byte line) ----
const LINE = 16;
const KERNEL = 0, ITEMS = 1, PARTS = 2, QUIT = 3, POST = 4, SPIN = 5; // line 0: the job (written by the caller)
const NEXT = LINE; //                                                   line 1: next chunk to claim
const PENDING = 2 * LINE; //                                            line 2: woken workers not yet done
const ERR = 3 * LINE, ERR_START = ERR + 1, ERR_END = ERR + 2, ERR_THREAD = ERR + 3, ERR_LEN = ERR + 4; // line 3
const SLOT0 = 4 * LINE; //                                              line 4 + w: worker w's wake word
const MSG_BYTES = 2048;

/**
 * The worker's code: self-contained (no imports, no helpers a bundler could rename), plain ES2017.
 * Node: `worker_threads` eval worker, data in `workerData`. Browser: a classic Worker whose first
 * message is the data. Either way it instantiates the module, posts `{t:"ready"}` (or
 * `{t:"error"}`), then serves jobs forever.
 */
const WORKER_SOURCE = `"use strict";
var isNode = typeof process === "object" && process !== null && !!(process.versions && process.versions.node) && typeof require === "function";
var post;
if (isNode) {
  var wt = require("node:worker_threads");
  post = function (m) { wt.parentPort.postMessage(m); };
  start(wt.workerData);
} else {
  post = function (m) { self.postMessage(m); };
  self.onmessage = function (e) { self.onmessage = null; start(e.data); };
}
function start(d) {
  var fns;
  try {
    var imports = new Function(d.importsSource)();
    var env = Object.assign({}, imports, { mem: d.memory });
    var inst = new WebAssembly.Instance(d.module, { env: env });
    fns = d.names.map(function (n) { return inst.exports[n]; });
  } catch (e) {
    post({ t: "error", message: String((e && e.message) || e) });
    return;
  }
  post({ t: "ready" });
  serve(new Int32Array(d.control), new Uint8Array(d.message), fns, d.id);
}
function fail(ctl, msg, s, e, id, err) {
  if (Atomics.compareExchange(ctl, ${ERR}, 0, 1) !== 0) return;
  var text = String((err && err.name ? err.name + ": " : "") + ((err && err.message) || err));
  var bytes = new TextEncoder().encode(text).subarray(0, ${MSG_BYTES});
  msg.set(bytes);
  ctl[${ERR_START}] = s; ctl[${ERR_END}] = e; ctl[${ERR_THREAD}] = id; ctl[${ERR_LEN}] = bytes.length;
}
function serve(ctl, msg, fns, id) {
  var slot = ${SLOT0} + (id - 1) * ${LINE};
  var seen = 0; // not a load: the caller may wake this worker as soon as it posted "ready"
  for (;;) {
    var v = Atomics.load(ctl, slot);
    if (v === seen) {
      var spin = ctl[${SPIN}];
      if (spin > 0) {
        var until = performance.now() + spin / 1000, n = 0;
        while (v === seen) {
          v = Atomics.load(ctl, slot);
          if ((++n & 255) === 0 && performance.now() > until) break;
        }
      }
      if (v === seen) { Atomics.wait(ctl, slot, seen); continue; }
    }
    seen = v;
    if (Atomics.load(ctl, ${QUIT})) return;
    var fn = fns[ctl[${KERNEL}]], items = ctl[${ITEMS}], parts = ctl[${PARTS}];
    var q = Math.floor(items / parts), r = items % parts;
    while (Atomics.load(ctl, ${ERR}) === 0) {
      var c = Atomics.add(ctl, ${NEXT}, 1);
      if (c >= parts) break;
      var s = c * q + (c < r ? c : r), e = s + q + (c < r ? 1 : 0);
      try { fn(s, e); } catch (err) { fail(ctl, msg, s, e, id, err); break; }
    }
    if (Atomics.sub(ctl, ${PENDING}, 1) === 1) {
      Atomics.notify(ctl, ${PENDING});
      if (Atomics.load(ctl, ${POST})) post({ t: "done" });
    }
  }
}
`;

// ---- environment ----

interface NodeWorker {
  on(ev: "message", cb: (m: unknown) => void): unknown;
  on(ev: "error", cb: (e: Error) => void): unknown;
  on(ev: "exit", cb: (code: number) => void): unknown;
  ref(): void;
  unref(): void;
  terminate(): Promise<number>;
}
interface WorkerThreadsModule { Worker: new (src: string, opts: { eval: true; workerData: unknown }) => NodeWorker }
interface OsModule { availableParallelism?: () => number; cpus(): unknown[] }

type NodeProcess = { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown };
const nodeProcess = (): NodeProcess | undefined => {
  const p = (globalThis as { process?: NodeProcess }).process;
  return p && typeof p.versions?.node === "string" ? p : undefined;
};
/** A Node built-in module, loaded synchronously without a static import (so bundles for browsers do not see it). */
const builtin = <T>(id: string): T | undefined => nodeProcess()?.getBuiltinModule?.(id) as T | undefined;

/** True in a browser (or Deno-like) Worker, where `Atomics.wait` is allowed. */
function inWebWorker(): boolean {
  const g = globalThis as { WorkerGlobalScope?: abstract new () => unknown; self?: unknown };
  return typeof g.WorkerGlobalScope === "function" && g.self instanceof g.WorkerGlobalScope;
}

/** Whether the calling thread may block in `Atomics.wait`. */
const canBlock = (): boolean => nodeProcess() !== undefined || inWebWorker();

/** `true` when this runtime can run a {@link ThreadedModule}, else the reason it cannot. */
export function threadsAvailable(): true | string {
  if (typeof SharedArrayBuffer !== "function") {
    return nodeProcess() ? "SharedArrayBuffer is not available in this Node runtime" : "SharedArrayBuffer is not available: serve the page cross-origin isolated (Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy: require-corp)";
  }
  if (typeof WebAssembly !== "object") return "WebAssembly is not available in this runtime";
  if (nodeProcess()) {
    if (!builtin<WorkerThreadsModule>("node:worker_threads")?.Worker) return "node:worker_threads is not available (kiln needs Node >= 20.16 for process.getBuiltinModule)";
  } else {
    const g = globalThis as { crossOriginIsolated?: boolean; Worker?: unknown; Blob?: unknown; URL?: { createObjectURL?: unknown } };
    if (g.crossOriginIsolated !== true) return "the page is not cross-origin isolated (send Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)";
    if (typeof g.Worker !== "function") return "Web Workers are not available in this context";
    if (typeof g.Blob !== "function" || typeof g.URL?.createObjectURL !== "function") return "Blob URLs are not available for worker code";
  }
  try {
    const m = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    if (!(m.buffer instanceof SharedArrayBuffer)) return "this engine does not support shared WebAssembly memory";
  } catch (e) {
    return `this engine does not support shared WebAssembly memory: ${(e as Error).message}`;
  }
  return true;
}

/** Available cores (`os.availableParallelism()` in Node, `navigator.hardwareConcurrency` in browsers), at least 1. */
export function defaultThreads(): number {
  let n: number | undefined;
  const os = builtin<OsModule>("node:os");
  if (os) n = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  else n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return Math.max(1, Math.floor(n ?? 1) || 1);
}

// ---- the pool ----

type WaitAsyncResult = { async: false; value: "not-equal" | "timed-out" } | { async: true; value: Promise<"ok" | "timed-out"> };
/** `Atomics.waitAsync` where the engine has it (typed here: it is ES2024, newer than the project's lib). */
const waitAsync = (Atomics as unknown as { waitAsync?: (a: Int32Array, i: number, v: number) => WaitAsyncResult }).waitAsync?.bind(Atomics);

/** One worker, whichever the runtime. */
interface PoolWorker {
  readonly onMessage: (cb: (m: { t: string; message?: string }) => void) => void;
  readonly onFailure: (cb: (why: string) => void) => void;
  readonly terminate: () => void;
  /** Node: whether the worker keeps the process alive (adding a listener refs it again, so this comes last). */
  readonly keepAlive: (on: boolean) => void;
}

function spawnWorker(init: Record<string, unknown>, blobUrl: () => string): PoolWorker {
  const wt = builtin<WorkerThreadsModule>("node:worker_threads");
  if (wt) {
    const w = new wt.Worker(WORKER_SOURCE, { eval: true, workerData: init });
    return {
      onMessage: (cb) => { w.on("message", (m) => cb(m as { t: string })); },
      onFailure: (cb) => {
        w.on("error", (e) => cb(e.message));
        w.on("exit", (code) => cb(`the worker exited (code ${code})`));
      },
      terminate: () => { w.terminate().catch(() => undefined); },
      keepAlive: (on) => { if (on) w.ref(); else w.unref(); },
    };
  }
  const w = new Worker(blobUrl());
  w.postMessage(init);
  return {
    onMessage: (cb) => { w.addEventListener("message", (e) => cb(e.data as { t: string })); },
    onFailure: (cb) => {
      w.addEventListener("error", (e) => cb(e.message || "the worker failed to start"));
      w.addEventListener("messageerror", () => cb("the worker could not receive its data"));
    },
    terminate: () => w.terminate(),
    keepAlive: () => undefined,
  };
}

class Pool implements ThreadedModule {
  readonly threads: number;
  private readonly ctl: Int32Array;
  private readonly msg: Uint8Array;
  private readonly names: readonly string[];
  private readonly index = new Map<string, number>();
  private readonly fns: ((s: number, e: number) => void)[];
  private disposed = false;
  private busy = false;
  /** Why the pool cannot run (a worker died), if it cannot. */
  private broken: string | undefined;
  /** Resolves the pending message-fallback wait of `runAsync`. */
  private onDone: (() => void) | undefined;
  private mainError: string | undefined;

  constructor(
    readonly instance: WebAssembly.Instance,
    names: readonly string[],
    control: SharedArrayBuffer,
    message: SharedArrayBuffer,
    private readonly workers: PoolWorker[],
    private readonly asyncWait: "waitAsync" | "message",
    spinMicros: number,
  ) {
    this.threads = workers.length + 1;
    this.ctl = new Int32Array(control);
    this.msg = new Uint8Array(message);
    this.names = names;
    names.forEach((n, i) => this.index.set(n, i));
    this.fns = names.map((n) => instance.exports[n] as (s: number, e: number) => void);
    this.spinMicros = spinMicros;
    for (const w of workers) {
      w.onMessage((m) => { if (m.t === "done") this.onDone?.(); });
      w.onFailure((why) => {
        if (this.disposed) return;
        this.broken ??= why;
        // wake a runAsync waiting for this worker (a blocked run cannot see this event)
        Atomics.notify(this.ctl, PENDING);
        this.onDone?.();
      });
      // idle workers must not keep a Node process alive (after the listeners: adding one refs the worker)
      w.keepAlive(false);
    }
  }

  get spinMicros(): number { return this.ctl[SPIN]!; }
  set spinMicros(us: number) {
    if (!(us >= 0) || !Number.isFinite(us)) throw new KilnError(`spinMicros must be a finite number >= 0, got ${us}`);
    Atomics.store(this.ctl, SPIN, Math.min(Math.round(us), 2 ** 31 - 1));
  }

  run(name: string, items: number, parts: number): void {
    if (!canBlock()) {
      throw new KilnError("ThreadedModule.run cannot block the main thread of a browser", { hint: "await tm.runAsync(name, items, parts) instead" });
    }
    if (!this.begin(name, items, parts, false)) return;
    try {
      this.work();
      const ctl = this.ctl;
      if (Atomics.load(ctl, PENDING) !== 0) {
        this.spinWhilePending();
        let p: number;
        while ((p = Atomics.load(ctl, PENDING)) !== 0) Atomics.wait(ctl, PENDING, p);
      }
      this.finish(name);
    } finally {
      this.busy = false;
    }
  }

  async runAsync(name: string, items: number, parts: number): Promise<void> {
    if (!this.begin(name, items, parts, true)) return;
    let waited = false;
    try {
      this.work();
      const ctl = this.ctl;
      if (Atomics.load(ctl, PENDING) !== 0) {
        this.spinWhilePending();
        // a pending waitAsync does not keep Node's event loop alive: the workers do, while this waits
        for (const w of this.workers) w.keepAlive(true);
        waited = true;
        if (this.asyncWait === "waitAsync") {
          let p: number;
          while ((p = Atomics.load(ctl, PENDING)) !== 0 && !this.broken && !this.disposed) {
            const r = waitAsync!(ctl, PENDING, p);
            if (r.async) await r.value;
          }
        } else {
          await new Promise<void>((resolve) => {
            this.onDone = resolve;
            // the last worker may have finished before the callback was set
            if (Atomics.load(ctl, PENDING) === 0 || this.disposed || this.broken) resolve();
          });
          this.onDone = undefined;
        }
      }
      this.finish(name);
    } finally {
      this.busy = false;
      if (waited && !this.disposed) for (const w of this.workers) w.keepAlive(false);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const ctl = this.ctl;
    Atomics.store(ctl, QUIT, 1);
    for (let w = 0; w < this.workers.length; w++) {
      Atomics.add(ctl, SLOT0 + w * LINE, 1);
      Atomics.notify(ctl, SLOT0 + w * LINE);
    }
    for (const w of this.workers) w.terminate();
    // wake a runAsync that is waiting for workers that will never finish
    Atomics.store(ctl, PENDING, 0);
    Atomics.notify(ctl, PENDING);
    this.onDone?.();
  }

  /** Validates, publishes the job and wakes workers; false when there is nothing to do. Sets `busy`. */
  private begin(name: string, items: number, parts: number, async: boolean): boolean {
    if (this.disposed) throw new KilnError(`cannot run kernel "${name}": the threaded module was disposed`, { hint: "create a new one with createThreadedModule" });
    if (this.broken) throw new KilnError(`cannot run kernel "${name}": a worker of the pool failed: ${this.broken}`, { hint: "dispose this module and create a new one" });
    if (this.busy) throw new KilnError(`cannot run kernel "${name}": another run of this module is in progress`, { hint: "await the previous runAsync before starting the next; kernels must run in order" });
    const k = this.index.get(name);
    if (k === undefined) throw new KilnError(`the module exports no function "${name}"`, { hint: `exported functions: ${this.names.join(", ") || "(none)"}` });
    if (!Number.isInteger(items) || items < 0 || items > 2 ** 31 - 1) throw new KilnError(`kernel "${name}": items must be an integer in [0, 2^31), got ${items}`);
    if (!Number.isInteger(parts) || parts < 1) throw new KilnError(`kernel "${name}": parts must be an integer >= 1, got ${parts}`);
    if (items === 0) return false;
    const P = Math.min(parts, items);
    const active = Math.min(this.workers.length, P - 1);
    const ctl = this.ctl;
    ctl[KERNEL] = k; ctl[ITEMS] = items; ctl[PARTS] = P;
    ctl[POST] = async && this.asyncWait === "message" ? 1 : 0;
    this.mainError = undefined;
    Atomics.store(ctl, ERR, 0);
    Atomics.store(ctl, NEXT, 0);
    Atomics.store(ctl, PENDING, active);
    this.busy = true;
    for (let w = 0; w < active; w++) {
      Atomics.add(ctl, SLOT0 + w * LINE, 1);
      Atomics.notify(ctl, SLOT0 + w * LINE, 1);
    }
    return true;
  }

  /** The calling thread's share: claims chunks until none are left or a thread failed. */
  private work(): void {
    const ctl = this.ctl, fn = this.fns[ctl[KERNEL]!]!, items = ctl[ITEMS]!, parts = ctl[PARTS]!;
    const q = Math.floor(items / parts), r = items % parts;
    while (Atomics.load(ctl, ERR) === 0) {
      const c = Atomics.add(ctl, NEXT, 1);
      if (c >= parts) break;
      const s = c * q + Math.min(c, r), e = s + q + (c < r ? 1 : 0);
      try {
        fn(s, e);
      } catch (err) {
        if (Atomics.compareExchange(ctl, ERR, 0, 1) === 0) {
          const x = err as { name?: string; message?: string };
          this.mainError = `${x?.name ? `${x.name}: ` : ""}${x?.message ?? String(err)}`;
          ctl[ERR_START] = s; ctl[ERR_END] = e; ctl[ERR_THREAD] = 0;
        }
        break;
      }
    }
  }

  private spinWhilePending(): void {
    const us = this.ctl[SPIN]!;
    if (us <= 0) return;
    const ctl = this.ctl, until = performance.now() + us / 1000;
    let n = 0;
    while (Atomics.load(ctl, PENDING) !== 0) {
      if ((++n & 255) === 0 && performance.now() > until) return;
    }
  }

  /** After all participants checked out: reports a failure, if any. */
  private finish(name: string): void {
    if (this.disposed) throw new KilnError(`kernel "${name}": the threaded module was disposed during the run`);
    if (this.broken && Atomics.load(this.ctl, PENDING) !== 0) throw new KilnError(`kernel "${name}": a worker of the pool failed: ${this.broken}`, { hint: "dispose this module and create a new one" });
    const ctl = this.ctl;
    if (Atomics.load(ctl, ERR) === 0) return;
    const thread = ctl[ERR_THREAD]!;
    let what: string;
    if (thread === 0) what = this.mainError ?? "unknown error";
    else {
      const copy = new Uint8Array(ctl[ERR_LEN]!);
      copy.set(this.msg.subarray(0, copy.length)); // TextDecoder rejects shared views in browsers
      what = new TextDecoder().decode(copy);
    }
    const where = thread === 0 ? "the calling thread" : `worker ${thread}`;
    throw new KilnError(`kernel "${name}" failed on work items [${ctl[ERR_START]}, ${ctl[ERR_END]}) on ${where}: ${what}`, {
      hint: "a trap in a kernel means an out-of-bounds access or a bad value; the run stopped early, so its outputs are partly written",
    });
  }
}

/**
 * Instantiates `bytes` on `threads - 1` workers (the caller is the remaining thread) with the same
 * shared `memory` (imported as `env.mem`) and the same JS imports, which every thread builds by
 * evaluating `importsSource` (a self-contained function body returning an object of functions,
 * e.g. `return { exp: Math.exp };`). Resolves when every worker is ready; rejects with a KilnError
 * (after terminating the workers) when the module or the imports fail on any thread.
 */
export async function createThreadedModule(
  bytes: Uint8Array,
  memory: WebAssembly.Memory,
  importsSource: string,
  threads: number,
  options: ThreadedModuleOptions = {},
): Promise<ThreadedModule & { instance: WebAssembly.Instance }> {
  if (!Number.isInteger(threads) || threads < 1) throw new KilnError(`threads must be an integer >= 1, got ${threads}`);
  if (typeof SharedArrayBuffer !== "function" || !(memory.buffer instanceof SharedArrayBuffer)) {
    throw new KilnError("the module's memory is not shared", { hint: "create it with new WebAssembly.Memory({ initial, maximum, shared: true })" });
  }
  if (threads > 1) {
    const why = threadsAvailable();
    if (why !== true) throw new KilnError(`threads are not available: ${why}`, { hint: "use threads = 1" });
  }
  let module: WebAssembly.Module;
  try { module = await WebAssembly.compile(bytes as unknown as BufferSource); }
  catch (e) { throw new KilnError(`the WebAssembly module did not compile: ${(e as Error).message}`); }
  const makeImports = (): Record<string, unknown> => {
    let imports: unknown;
    try { imports = new Function(importsSource)(); }
    catch (e) { throw new KilnError(`importsSource failed: ${(e as Error).message}`, { hint: "it must be a self-contained function body returning an object of functions" }); }
    if (typeof imports !== "object" || imports === null) throw new KilnError("importsSource must return an object of functions", { hint: "e.g. \"return { exp: Math.exp };\"" });
    return imports as Record<string, unknown>;
  };
  let instance: WebAssembly.Instance;
  try { instance = await WebAssembly.instantiate(module, { env: { ...makeImports(), mem: memory } as WebAssembly.ModuleImports }); }
  catch (e) {
    if (e instanceof KilnError) throw e;
    throw new KilnError(`the WebAssembly module did not instantiate: ${(e as Error).message}`, { hint: "it must import its memory as env.mem and its functions from env" });
  }
  const names = WebAssembly.Module.exports(module).filter((e) => e.kind === "function").map((e) => e.name);

  const nWorkers = threads - 1;
  const control = new SharedArrayBuffer(4 * (SLOT0 + nWorkers * LINE));
  const message = new SharedArrayBuffer(MSG_BYTES);
  let url: string | undefined;
  const blobUrl = () => (url ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" })));
  const workers: PoolWorker[] = [];
  try {
    await Promise.all(Array.from({ length: nWorkers }, (_, w) => new Promise<void>((resolve, reject) => {
      const pw = spawnWorker({ module, memory, importsSource, names, control, message, id: w + 1 }, blobUrl);
      workers.push(pw);
      let settled = false;
      pw.onMessage((m) => {
        if (settled) return;
        if (m.t === "ready") { settled = true; resolve(); }
        else if (m.t === "error") { settled = true; reject(new KilnError(`worker ${w + 1} could not instantiate the module: ${m.message}`)); }
      });
      pw.onFailure((why) => {
        if (settled) return;
        settled = true;
        reject(new KilnError(`worker ${w + 1} failed to start: ${why}`));
      });
    })));
  } catch (e) {
    for (const w of workers) w.terminate();
    throw e;
  } finally {
    if (url) URL.revokeObjectURL(url);
  }
  const asyncWait = options.asyncWait ?? (waitAsync ? "waitAsync" : "message");
  if (asyncWait === "waitAsync" && !waitAsync) throw new KilnError("Atomics.waitAsync is not available in this runtime", { hint: "use asyncWait: \"message\"" });
  const spin = options.spinMicros ?? (threads <= defaultThreads() ? 50 : 0);
  const pool = new Pool(instance, names, control, message, workers, asyncWait, 0);
  try { pool.spinMicros = spin; }
  catch (e) { pool.dispose(); throw e; }
  return pool;
}
