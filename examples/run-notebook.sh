#!/usr/bin/env bash
# Executes examples/kiln.ipynb headless with the tslab kernel and prints what each cell wrote.
# A failing cell (a type error, a thrown error, a failed check) makes this exit non-zero.
#
# Needs Debian's jupyter-nbconvert, jupyter-core and python3-jupyter-client (apt), and
# `npm install` (tslab is a devDependency; node_modules/kiln links the package to itself, which
# is how the notebook's TypeScript finds kiln's types).
# Usage: bash examples/run-notebook.sh [notebook.ipynb ...]   (npm run notebook)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

jupyter=/usr/bin/jupyter   # Debian's; a python3 earlier on PATH may lack the jupyter packages
[ -x "$jupyter" ] || { echo "run-notebook: $jupyter not found; apt-get install jupyter-nbconvert jupyter-core python3-jupyter-client" >&2; exit 1; }
[ -x node_modules/.bin/tslab ] || { echo "run-notebook: tslab is not installed; run npm install" >&2; exit 1; }
[ -e node_modules/kiln/package.json ] || { echo "run-notebook: node_modules/kiln is missing; run npm install" >&2; exit 1; }
[ -f dist/index.cjs ] && [ -f dist/index.d.ts ] || { echo "run-notebook: dist/ is not built; run npm run build" >&2; exit 1; }

# The kernel spec that `tslab install` would write, in a private Jupyter data dir.
data_dir="$root/.jupyter/share/jupyter"
mkdir -p "$data_dir/kernels/tslab"
node -e '
  const [file, bin] = process.argv.slice(1);
  const spec = { argv: [bin, "kernel", "--config-path", "{connection_file}"], display_name: "TypeScript", language: "typescript" };
  require("fs").writeFileSync(file, JSON.stringify(spec, null, 1) + "\n");
' "$data_dir/kernels/tslab/kernel.json" "$root/node_modules/.bin/tslab"

out_dir="$(mktemp -d)"
trap 'rm -rf "$out_dir"' EXIT
[ "$#" -gt 0 ] || set -- examples/kiln.ipynb
print_outputs() {
  node -e '
    const nb = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    let n = 0;
    for (const c of nb.cells) {
      if (c.cell_type !== "code") continue;
      n++;
      console.log(`[cell ${n}: ${c.id}]`);
      for (const o of c.outputs) {
        const text = o.text ?? o.data?.["text/plain"] ?? (o.output_type === "error" ? `${o.ename}: ${o.evalue}\n` : "");
        process.stdout.write([].concat(text).join(""));
      }
    }
  ' "$1"
}

nbconvert() {
  JUPYTER_PATH="$data_dir" JUPYTER_CONFIG_DIR="$root/.jupyter/config" JUPYTER_RUNTIME_DIR="$out_dir/runtime" \
    "$jupyter" nbconvert --to notebook --execute --log-level=WARN \
      --ExecutePreprocessor.kernel_name=tslab --ExecutePreprocessor.timeout=300 \
      --output-dir "$out_dir" "$@"
}

status=0
for nb in "$@"; do
  echo "--- executing $nb (tslab kernel)"
  executed="$out_dir/$(basename "$nb")"
  rm -f "$executed"
  if nbconvert "$nb" >"$out_dir/log" 2>&1; then
    print_outputs "$executed"
    echo "--- ok: $nb"
  else
    # nbconvert stops at the failing cell without saving, and tslab puts the error text in the
    # cell's output: run again keeping errors, to show what every cell printed.
    tail -n 20 "$out_dir/log"
    echo "--- outputs (run again with --allow-errors to show them):"
    nbconvert --allow-errors "$nb" >/dev/null 2>&1 && print_outputs "$executed"
    echo "--- FAILED: $nb" >&2
    status=1
  fi
done
exit "$status"
