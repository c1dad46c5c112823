/// <reference types="@webgpu/types" />
/**
 * The WebGPU device, acquired once per process: `navigator.gpu` in browsers, the `webgpu`
 * package (Dawn) in Node, loaded by a dynamic import whose specifier is a variable, so browser
 * bundles and Node without the package still load kiln. The Node `gpu` object is kept
 * referenced for the life of the process (dropping it crashes Dawn).
 *
 * The WGSL language features (`wgslLanguageFeatures`, on navigator.gpu or Dawn's GPU object)
 * say whether packed int8 dot products (`dot4I8Packed`) exist: `packedDot`.
 *
 * Also: the one bind group layout every kernel uses (binding 0: the arena, binding 1: the
 * error words) and a pipeline cache keyed by WGSL text.
 */
import { BackendError, CompileError } from "../../jit/errors.js";

export interface Gpu {
  readonly device: GPUDevice;
  readonly layout: GPUBindGroupLayout;
  readonly pipelineLayout: GPUPipelineLayout;
  readonly limits: { storageBinding: number; bufferSize: number; workgroupsPerDim: number };
  readonly timestamps: boolean;
  readonly adapterName: string;
  /** WGSL has the packed_4x8_integer_dot_product language feature (dot4I8Packed and friends). */
  readonly packedDot: boolean;
  /** The adapter is a CPU emulation (a fallback adapter: SwiftShader, lavapipe, llvmpipe). */
  readonly cpu: boolean;
}

/** GPUBufferUsage / GPUMapMode values (numeric, so no WebGPU globals are needed). */
export const USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, STORAGE: 0x80, QUERY_RESOLVE: 0x200 } as const;
export const MAP_READ = 0x1;

type NodeProcess = { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown };
const nodeProcess = (): NodeProcess | undefined => {
  const p = (globalThis as { process?: NodeProcess }).process;
  return p?.versions?.node ? p : undefined;
};
const navGpu = (): GPU | undefined => (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;

/** true where a WebGPU implementation can exist here, else why not (a device may still fail to open: run() says so). */
export function webgpuAvailable(): true | string {
  if (navGpu()) return true;
  const p = nodeProcess();
  if (!p) return "this runtime has no navigator.gpu (WebGPU)";
  try {
    const mod = p.getBuiltinModule?.("node:module") as { createRequire(from: string): { resolve(id: string): string } } | undefined;
    if (!mod) return "Node is too old to look for the webgpu package (needs process.getBuiltinModule)";
    // __filename in the CommonJS build, import.meta.url in ESM
    const from = typeof __filename === "string" ? __filename : import.meta.url;
    mod.createRequire(from).resolve("webgpu");
    return true;
  } catch {
    return "the `webgpu` package (Dawn for Node) is not installed: npm i webgpu";
  }
}

let keepAlive: unknown;
let current: Promise<Gpu> | undefined;

async function open(): Promise<Gpu> {
  let gpu = navGpu();
  if (!gpu) {
    if (!nodeProcess()) throw new BackendError("WebGPU is not available: no navigator.gpu");
    const spec = "webgpu";
    let mod: { create(flags: string[]): GPU; globals: Record<string, unknown> };
    try { mod = await import(/* @vite-ignore */ spec); }
    catch (e) { throw new BackendError(`cannot load the webgpu package: ${(e as Error).message}`, { hint: "npm i webgpu" }); }
    const g = globalThis as Record<string, unknown>;
    for (const [k, v] of Object.entries(mod.globals)) if (!(k in g)) g[k] = v;
    gpu = mod.create([]);
    keepAlive = gpu;
  }
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    throw new BackendError("no WebGPU adapter was found", {
      hint: "in Node without a GPU, install a Vulkan driver such as SwiftShader (Debian's chromium ships one) and set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json; in a browser, enable WebGPU",
    });
  }
  const al = adapter.limits;
  const timestamps = adapter.features.has("timestamp-query");
  const device = await adapter.requestDevice({
    requiredFeatures: timestamps ? ["timestamp-query"] : [],
    requiredLimits: { maxStorageBufferBindingSize: al.maxStorageBufferBindingSize, maxBufferSize: al.maxBufferSize },
  });
  void device.lost.then(() => { current = undefined; });
  const layout = device.createBindGroupLayout({
    entries: [
      { binding: 0, visibility: 4 /* COMPUTE */, buffer: { type: "storage" } },
      { binding: 1, visibility: 4, buffer: { type: "storage" } },
    ],
  });
  const info = (adapter as { info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean } }).info;
  return {
    device, layout,
    pipelineLayout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    limits: {
      storageBinding: device.limits.maxStorageBufferBindingSize,
      bufferSize: device.limits.maxBufferSize,
      workgroupsPerDim: device.limits.maxComputeWorkgroupsPerDimension,
    },
    timestamps,
    cpu: !!info?.isFallbackAdapter || /swiftshader|lavapipe|llvmpipe/i.test(`${info?.architecture} ${info?.description}`),
    packedDot: !!(gpu as { wgslLanguageFeatures?: ReadonlySet<string> }).wgslLanguageFeatures?.has("packed_4x8_integer_dot_product"),
    adapterName: [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(" ") || "unknown adapter",
  };
}

/** The process's device (opened on first use; reopened after a loss). */
export function getGpu(): Promise<Gpu> {
  if (!current) {
    const p = open();
    current = p;
    p.catch(() => { if (current === p) current = undefined; });
  }
  return current;
}

void keepAlive;

const pipelines = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

/** A compute pipeline for WGSL text, created once per device (createComputePipelineAsync). */
export function pipelineFor(g: Gpu, wgsl: string): Promise<GPUComputePipeline> {
  let m = pipelines.get(g.device);
  if (!m) pipelines.set(g.device, (m = new Map()));
  let p = m.get(wgsl);
  if (!p) {
    const module = g.device.createShaderModule({ code: wgsl });
    p = g.device.createComputePipelineAsync({ layout: g.pipelineLayout, compute: { module, entryPoint: "main" } }).catch(async (e: unknown) => {
      m!.delete(wgsl);
      const info = await module.getCompilationInfo?.().catch(() => undefined);
      const msgs = info?.messages.filter((x) => x.type === "error").map((x) => `${x.lineNum}:${x.linePos} ${x.message}`).join("; ");
      throw new CompileError(`generated WGSL did not compile: ${msgs || (e as Error).message}`, { hint: "this is a kiln bug: please report the graph" });
    });
    m.set(wgsl, p);
  }
  return p;
}
