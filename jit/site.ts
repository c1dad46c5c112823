/**
 * Finds the user's source line that called into kiln, from the JS stack. Frames inside kiln's
 * own folders (jit/, lib/, backends/, dist/) and node_modules are skipped.
 */
const INTERNAL = /^[\\/](?:jit|lib|backends|dist)[\\/]/;

function frameLocation(line: string): string | undefined {
  const m = /\(([^()]+:\d+:\d+)\)\s*$/.exec(line) ?? /at\s+([^\s()]+:\d+:\d+)\s*$/.exec(line);
  return m?.[1];
}

let kilnRoot: string | undefined;
function root(): string | undefined {
  if (kilnRoot !== undefined) return kilnRoot || undefined;
  const loc = frameLocation(String(new Error().stack).split("\n")[1] ?? "");
  // this file is <root>/jit/site.ts in source, or <root>/dist/index.* when bundled
  const file = loc?.replace(/:\d+:\d+$/, "").replace(/^file:\/\//, "");
  const m = file ? /^(.*)[\\/](?:jit|dist)[\\/][^\\/]+$/.exec(file) : null;
  kilnRoot = m?.[1] ?? "";
  return kilnRoot || undefined;
}

function isInternal(loc: string): boolean {
  const file = loc.replace(/:\d+:\d+$/, "").replace(/^file:\/\//, "");
  const r = root();
  if (r && file.startsWith(r) && INTERNAL.test(file.slice(r.length))) return true;
  return /[\\/]node_modules[\\/]|^node:/.test(file);
}

/** A lazily-formatted call site: cheap to take at every op, formatted only when an error needs it. */
export class Site {
  private readonly err: Error;
  private text?: string;
  constructor() { this.err = new Error(); }
  toString(): string {
    if (this.text !== undefined) return this.text;
    const lines = String(this.err.stack).split("\n").slice(1);
    for (const l of lines) {
      const loc = frameLocation(l);
      if (loc && !isInternal(loc)) return (this.text = loc.replace(/^file:\/\//, ""));
    }
    return (this.text = "");
  }
}

/** The user's source line calling kiln right now ("" when none is found). */
export function userSite(): string { return new Site().toString(); }
