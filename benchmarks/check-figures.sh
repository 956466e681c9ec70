#!/usr/bin/env bash
# Every speed/size factor quoted in the user-facing docs ("9.5x faster", "0.56x", "1.4-2.2x") must appear, as the
# same figure, in benchmarks/RESULTS.md, where the command that measured it sits beside it.
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

# A factor: a number (or a range of two) directly followed by "x", not part of a longer word or number ("0x1F", "x86").
# Lines inside ``` fences are transcripts of a tool's output (what a build prints), not claims, and are skipped.
figures() {
  for file in "$@"; do
    awk -v f="$file" '/^[[:space:]]*```/ { fenced = !fenced; next } !fenced { print f ":" FNR ":  " $0 }' "$file"
  done | grep -oE '^[^:]*:[0-9]+: |(^|[^0-9A-Za-z_.])[0-9]+(\.[0-9]+)?(-[0-9]+(\.[0-9]+)?)?x([^0-9A-Za-z_]|$)' \
    | awk '/^[^:]*:[0-9]+: $/ { where = substr($0, 1, length($0) - 1); next } { sub(/^[^0-9]*/, ""); sub(/x.*$/, "x"); print where $0 }'
}

known="$(grep -oE '(^|[^0-9A-Za-z_.])[0-9]+(\.[0-9]+)?(-[0-9]+(\.[0-9]+)?)?x([^0-9A-Za-z_]|$)' "$results" \
  | sed -E 's/^[^0-9]*([0-9][0-9.-]*x).*$/\1/' | sort -u)"

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
