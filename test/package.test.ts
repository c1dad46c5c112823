/**
 * The package as users get it: the built dist/ loaded as "kiln" from ESM (`import`), CommonJS
 * (`require`) and TypeScript (NodeNext for .mts/.cts, and node10 the way tslab notebooks
 * resolve it), plus the `kiln` command. dist/ is built by `npm install` (the "prepare" script)
 * and by `npm test` ("pretest"); it is built here only when missing.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const dist = (f: string) => join(root, "dist", f);
const BUILT = ["index.js", "index.cjs", "index.d.ts", "index.d.cts", "quickstart.js"];

interface Run { code: number; stdout: string; stderr: string }

/** Runs node with `args` in `cwd`, resolving (never rejecting) with its exit code and output. */
function node(args: string[], cwd = root): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, args, { cwd, env: { ...process.env, NODE_OPTIONS: "" }, timeout: 50_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** Runs a script that prints one JSON line last, and parses that line. */
async function json(args: string[], cwd = root): Promise<any> {
  const r = await node(args, cwd);
  expect(r.stderr, `stderr of node ${args.join(" ")}`).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

const PROGRAM = `
  const x = tensor([[1, -2], [3, -4]]);
  const f = jit((t) => t.mul(2).add(1).relu());
  const y = f(x);
  const out = {
    values: await y.toArray(),
    shape: y.shape,
    dtype: y.dtype,
    seeded: Array.from(await randn([3], { seed: 7 }).data()),
    key: f.explain(x).key,
    cacheSize: f.cacheSize,
    linear: (await jit((t) => new nn.Linear(2, 3, { seed: 0 }).forward(t))(x).data()).length,
  };
  console.log(JSON.stringify(out));
`;

beforeAll(() => {
  if (BUILT.every((f) => existsSync(dist(f)))) return;
  execFileSync(process.platform === "win32" ? "npm.cmd" : "npm", ["run", "build"], { cwd: root, stdio: "pipe" });
}, 180_000);

describe("package: dist/ loaded as \"kiln\"", () => {
  it("builds ESM, CJS and declarations for both", () => {
    for (const f of BUILT) expect(existsSync(dist(f)), `dist/${f}`).toBe(true);
    for (const f of ["index.d.ts", "index.d.cts"]) {
      const dts = readFileSync(dist(f), "utf8");
      expect(dts).toMatch(/export\s*\{[^}]*\bjit\b[^}]*\}/);
      expect(dts).toMatch(/declare function jit\b/);
      expect(dts).toMatch(/\btensor\b/);
    }
  });

  it("package.json points every entry at a built file", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const e = pkg.exports["."];
    for (const p of [pkg.main, pkg.module, pkg.types, e.import.types, e.import.default, e.require.types, e.require.default])
      expect(existsSync(join(root, p)), p).toBe(true);
    expect(existsSync(join(root, pkg.bin.kiln))).toBe(true);
  });

  it("imports from ESM (node --input-type=module) and computes", async () => {
    const out = await json(["--input-type=module", "-e", `import { tensor, randn, jit, nn } from "kiln";\n${PROGRAM}`]);
    expect(out.values).toEqual([[3, 0], [7, 0]]);
    expect(out.shape).toEqual([2, 2]);
    expect(out.dtype).toBe("float32");
    expect(out.seeded).toHaveLength(3);
    expect(out.key).toMatch(/-v\d/);
    expect(out.cacheSize).toBe(1);
    expect(out.linear).toBe(6);
  });

  it("requires from CommonJS (node -e) and gets the same values as ESM", async () => {
    const wrap = (p: string) => `(async () => {${p}})().catch((e) => { console.error(e); process.exit(1); });`;
    const cjs = await json(["-e", `const { tensor, randn, jit, nn } = require("kiln");\n${wrap(PROGRAM)}`]);
    const esm = await json(["--input-type=module", "-e", `import { tensor, randn, jit, nn } from "kiln";\n${PROGRAM}`]);
    expect(cjs).toEqual(esm);
  });

  it("resolves from subfolders (package self-reference), to dist/", async () => {
    const out = await json(["-e", `console.log(JSON.stringify({ cjs: require.resolve("kiln") }))`], join(root, "test"));
    expect(realpathSync(out.cjs)).toBe(realpathSync(dist("index.cjs")));
    const esm = await json(["--input-type=module", "-e", `console.log(JSON.stringify({ esm: import.meta.resolve("kiln") }))`], join(root, "examples"));
    expect(realpathSync(fileURLToPath(esm.esm))).toBe(realpathSync(dist("index.js")));
  });

  it("ESM and CJS builds export the same names", async () => {
    const out = await json(["--input-type=module", "-e", `
      import { createRequire } from "node:module";
      const esm = Object.keys(await import("kiln")).filter((k) => k !== "default").sort();
      const cjs = Object.keys(createRequire(process.cwd() + "/")("kiln")).sort();
      console.log(JSON.stringify({ esm, cjs }));`]);
    expect(out.esm).toEqual(out.cjs);
    for (const name of ["tensor", "randn", "jit", "nn", "Tensor", "KilnError"]) expect(out.esm).toContain(name);
  });
});

describe("package: types of \"kiln\" for TypeScript users", () => {
  /** Type-checks `source` as if it were the file `file` in the repository, with `options`. */
  function typecheck(file: string, source: string, options: ts.CompilerOptions): string[] {
    const path = join(root, file);
    const host = ts.createCompilerHost(options);
    const { getSourceFile, fileExists, readFile } = host;
    host.getSourceFile = (f, lang, ...rest) => (resolve(f) === path ? ts.createSourceFile(f, source, lang) : getSourceFile(f, lang, ...rest));
    host.fileExists = (f) => resolve(f) === path || fileExists(f);
    host.readFile = (f) => (resolve(f) === path ? source : readFile(f));
    const program = ts.createProgram([path], options, host);
    return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  }
  const USE = `
    import { tensor, randn, jit, nn, type Tensor } from "kiln";
    const lin: nn.Module = new nn.Linear(3, 3, { seed: 0 });
    const f = jit((x: Tensor) => lin.forward(x.mul(2).add(randn([3], { seed: 0 }))).relu());
    const y: Tensor = f(tensor([1, 2, 3]));
    const k: string = f.explain(tensor([1, 2, 3])).key;
    export const shape: number[] = y.shape, key = k;
  `;
  const base: ts.CompilerOptions = { strict: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022, types: [] };

  it("ESM (.mts, NodeNext) resolves dist/index.d.ts", () => {
    expect(typecheck("examples/__types_check.mts", USE, { ...base, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext })).toEqual([]);
  });

  it("CommonJS (.cts, NodeNext) resolves dist/index.d.cts", () => {
    expect(typecheck("examples/__types_check.cts", USE, { ...base, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext })).toEqual([]);
  });

  it("node10 resolution (what tslab notebooks use) finds the types through node_modules/kiln", () => {
    expect(existsSync(join(root, "node_modules", "kiln", "package.json")), "node_modules/kiln (the devDependency \"kiln\": \"file:.\")").toBe(true);
    expect(typecheck("examples/__types_check.ts", USE, { ...base, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, esModuleInterop: true })).toEqual([]);
  });

  it("module instances can be exported with declaration emit on (every tslab cell is compiled so)", () => {
    const src = `
      import { nn, type Tensor } from "kiln";
      export const net = new nn.Sequential(new nn.Linear(4, 8, { seed: 0 }), (t: Tensor) => t.relu(), new nn.Linear(8, 2, { seed: 1 }));
      export const lin = new nn.Linear(2, 3), opts: nn.LinearOptions = { seed: 1 };
    `;
    const declaration = { declaration: true, emitDeclarationOnly: true, noEmit: false };
    expect(typecheck("examples/__types_check.ts", src, { ...base, ...declaration, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, esModuleInterop: true })).toEqual([]);
    expect(typecheck("examples/__types_check.mts", src, { ...base, ...declaration, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext })).toEqual([]);
  });

  it("a type error in user code is reported against the package's types", () => {
    const errs = typecheck("examples/__types_check.mts", `import { tensor } from "kiln";\nexport const n: string = tensor([1]).ndim;`, { ...base, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext });
    expect(errs.join("\n")).toMatch(/not assignable to type 'string'/);
  });
});

describe("the kiln command (bin/kiln.mjs)", () => {
  const bin = join(root, "bin", "kiln.mjs");
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

  it("--version prints the package version", async () => {
    const r = await node([bin, "--version"]);
    expect(r).toEqual({ code: 0, stdout: `kiln ${pkg.version}\n`, stderr: "" });
  });

  it("--help lists the commands that exist", async () => {
    const r = await node([bin, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: kiln <command>/);
    expect(r.stdout).toMatch(/^\s+demo\b/m);
    expect(r.stdout).toMatch(/KILN_BACKEND/);
  });

  it("an unknown command is a usage error: message on stderr, exit 2", async () => {
    const r = await node([bin, "frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/unknown command "frobnicate"/);
    expect((await node([bin, "--frob"])).code).toBe(2);
    expect((await node([bin, "demo", "--frob"])).code).toBe(2);
  });

  it("demo compiles the quickstart model from dist/ and checks it against the reference", async () => {
    const r = await node([bin, "demo"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/cache key\s+\S+/);
    expect(r.stdout).toMatch(/max \|diff\| = \S+ .*OK$/m);
  });
});
