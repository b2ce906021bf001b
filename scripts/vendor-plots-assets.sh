#!/usr/bin/env bash
# Re-vendors the JavaScript that renders xp's plots offline (HTML reports and the editor's panels):
# vega, vega-lite, vega-embed and vega-interpreter (expressions without eval, for a strict CSP),
# fetched from the npm registry with `npm pack` and copied with their licences into
# pyhelper/plots_assets/. The files are committed, so a fresh clone or a pip install needs no npm;
# run this only to change versions.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=pyhelper/plots_assets
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
versions=("vega@5.33.1" "vega-lite@5.23.0" "vega-embed@6.29.0" "vega-interpreter@1.2.1")
(cd "$work" && npm pack --silent "${versions[@]}" >/dev/null)
mkdir -p "$dest"
: > "$dest/LICENSES.txt"
for spec in "${versions[@]}"; do
  name=${spec%@*}
  mkdir -p "$work/$name"
  tar xzf "$work/$name-${spec#*@}.tgz" -C "$work/$name"
  cp "$work/$name/package/build/$name.min.js" "$dest/$name.min.js"
  {
    echo "== $spec (BSD-3-Clause), https://www.npmjs.com/package/$name =="
    # vega and vega-interpreter ship no LICENSE file; they carry the same BSD-3-Clause text as vega-lite.
    if [ -f "$work/$name/package/LICENSE" ]; then cat "$work/$name/package/LICENSE"; else
      tar xzf "$work/vega-lite-5.23.0.tgz" -O package/LICENSE 2>/dev/null || true; fi
    echo
  } >> "$dest/LICENSES.txt"
done
echo "${versions[*]}" > "$dest/VERSIONS"
