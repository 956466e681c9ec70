#!/usr/bin/env bash
# Every measured figure quoted in the user-facing docs -- a factor ("9.5x faster", "0.56x", "1.4-2.2x") or a
# percentage ("97.96%", "89.3-90.1%") -- must appear, as the same figure, in benchmarks/RESULTS.md, where the command
# that measured it sits beside it. The same figure: equal numbers ("95.5%" is "95.50%"), same unit.
# Not claims, and skipped: lines inside ``` fences (transcripts of a tool's output) and `inline code` (a value the
# user types or a default, such as `--min-agreement 99` or `99%`).
# Usage: benchmarks/check-figures.sh [doc.md ...]   (default: README.md, docs/*.md, samples/*/README.md)
#        RESULTS=path/to/RESULTS.md benchmarks/check-figures.sh ...
# Exit 0 when every figure is found, 1 with one "file:line: figure" per missing figure otherwise.
# Run by tests/ModelBuild.Cli.Tests/FigureClaimsTests.cs, so CI runs it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
results="${RESULTS:-$root/benchmarks/RESULTS.md}"
if [ "$#" -eq 0 ]; then
  cd "$root"
  set -- README.md docs/*.md samples/*/README.md
fi

# A figure: a number (or a range of two) directly followed by "x" or "%", not part of a longer word or number
# ("0x1F", "x86", "v1.2%"). Printed in a canonical form: trailing zeros of a decimal part dropped ("95.50%" -> "95.5%").
pattern='(^|[^0-9A-Za-z_.])[0-9]+(\.[0-9]+)?(-[0-9]+(\.[0-9]+)?)?[x%]([^0-9A-Za-z_]|$)'
canonical() { sed -E 's/^[^0-9]*([0-9][0-9.-]*[x%]).*$/\1/; s/(\.[0-9]*[1-9])0+([-x%])/\1\2/g; s/\.0+([-x%])/\1/g'; }

figures() {
  for file in "$@"; do
    awk -v f="$file" '/^[[:space:]]*```/ { fenced = !fenced; next } !fenced { gsub(/`[^`]*`/, ""); print f ":" FNR ":  " $0 }' "$file"
  done | grep -oE "^[^:]*:[0-9]+: |$pattern" \
    | while IFS= read -r token; do
        if [[ "$token" =~ ^[^:]*:[0-9]+:\ $ ]]; then where="${token% }"; else printf '%s%s\n' "$where" "$(canonical <<<"$token")"; fi
      done
}

known="$(grep -oE "$pattern" "$results" | canonical | sort -u)"

missing=0
while IFS= read -r hit; do
  [ -n "$hit" ] || continue
  figure="${hit##*:}"
  if ! grep -qxF -- "$figure" <<<"$known"; then
    echo "$hit (not in ${results#$root/})"
    missing=1
  fi
done < <(figures "$@")
exit "$missing"
