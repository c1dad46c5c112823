// Runs after tsup (npm run build): makes the classes of namespace exports (`export * as nn`)
// nameable in the bundled declarations dist/index.d.ts and dist/index.d.cts.
//
// rollup-plugin-dts (tsup's dts bundler) writes `export * as nn from "./nn/index.js"` as
//   type nn_Linear = Linear; declare const nn_Linear: typeof Linear;
//   declare namespace nn { export { nn_Linear as Linear }; }
// An alias pair like that hides the class from TypeScript's declaration emit: a user's
// `export const m = new nn.Linear(2, 3)` then fails with TS4094 ("Property … of exported class
// expression may not be private or protected") under `declaration: true`, which every tslab
// notebook cell uses. Re-exporting the declarations themselves, `export { Linear }`, keeps
// them nameable as `nn.Linear`. Forms this script does not recognize are left as they are.
//
// Usage: node scripts/fix-dts-namespaces.mjs [file.d.ts ...]   (default: dist/index.d.ts, .d.cts)
import { readFileSync, writeFileSync, existsSync, realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";

const escape = (s) => s.replace(/[$]/g, "\\$");
const count = (text, word) => (text.match(new RegExp(`(?<![\\w$])${escape(word)}(?![\\w$])`, "g")) ?? []).length;

/** Rewrites one declaration bundle; returns the new text and how many specifiers changed. */
export function fixNamespaces(text) {
  // alias name -> the declaration it stands for, from `type A = X;` and `declare const A: typeof X;`
  const target = new Map();
  const aliasLine = /^(?:type ([\w$]+) = ([\w$]+);|declare const ([\w$]+): typeof ([\w$]+);)$/gm;
  for (const m of text.matchAll(aliasLine)) {
    const [alias, decl] = m[1] ? [m[1], m[2]] : [m[3], m[4]];
    if (target.has(alias) && target.get(alias) !== decl) target.set(alias, null); // inconsistent: leave it
    else target.set(alias, decl);
  }
  let changed = 0;
  const used = new Set();
  text = text.replace(/^(declare namespace [\w$]+ \{\n\s*export \{ )([^}]*)( \};\n\})/gm, (_, head, specs, tail) => {
    const out = specs.split(",").map((raw) => {
      const s = raw.trim();
      const m = /^(type )?([\w$]+)(?: as ([\w$]+))?$/.exec(s);
      if (!m) return s;
      const [, type = "", local, exported = local] = m;
      const decl = target.get(local);
      if (!decl) return s;
      used.add(local);
      changed++;
      return decl === exported ? `${type}${decl}` : `${type}${decl} as ${exported}`;
    });
    return `${head}${out.join(", ")}${tail}`;
  });
  // drop alias lines that nothing refers to any more
  text = text.replace(aliasLine, (line, a1, _d1, a3) => {
    const alias = a1 ?? a3;
    if (!used.has(alias)) return line;
    const lines = (text.match(new RegExp(`^(?:type ${escape(alias)} = |declare const ${escape(alias)}: )`, "gm")) ?? []).length;
    return count(text, alias) === lines ? "\u0000" : line;
  });
  text = text.replace(/^\u0000\n/gm, "");
  return { text, changed };
}

const isMain = !!process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (isMain) {
  const files = process.argv.slice(2);
  if (!files.length) files.push("dist/index.d.ts", "dist/index.d.cts");
  const report = [];
  for (const f of files) {
    if (!existsSync(f)) { console.error(`fix-dts-namespaces: ${f} does not exist (run tsup first)`); process.exit(1); }
    const { text, changed } = fixNamespaces(readFileSync(f, "utf8"));
    writeFileSync(f, text);
    report.push(`${f} ${changed}`);
  }
  console.log(`fix-dts-namespaces: namespace exports re-exported directly: ${report.join(", ")}`);
}
