#!/usr/bin/env bash
# The worker's JIT warm-up settings, side by side on the distill stage of one shared teacher's stated student: the
# worker as the package ships it (ReadyToRun images, see run.sh) and as IL, each with the runtime's default tiering and
# with the tiering settings a runtimeconfig.json could set, given here as their environment forms
# (DOTNET_TieredPGO=0 is System.Runtime.TieredPGO false, DOTNET_TieredCompilation=0 is
# System.Runtime.TieredCompilation false, DOTNET_TC_QuickJitForLoops=0 is System.Runtime.TieredCompilation.QuickJitForLoops
# false, i.e. no OSR). Variants alternate within each round; per run: the report's distill stage seconds, its training
# loop seconds, and the whole process's wall, user and system CPU seconds (/usr/bin/time).
#   bash benchmarks/pytorch-parity/worker-settings.sh [case] [rounds]     (default wine-mlp, 3)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
py=/usr/bin/python3
c="${1:-wine-mlp}"; rounds="${2:-3}"
dotnet build "$root/src/ModelBuild.Cli" -c Release -nologo -v:q "-t:Build;ModelBuildReadyToRun" >&2
out="$root/src/ModelBuild.Cli/bin/Release/net10.0"
tmp="$(mktemp -d /tmp/worker-settings.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/il" "$tmp/r2r"
cp "$out"/modelbuild.deps.json "$out"/modelbuild.runtimeconfig.json "$out"/modelbuild.dll "$out"/ModelBuild.*.dll "$tmp/il/"
cp "$out"/modelbuild.deps.json "$out"/modelbuild.runtimeconfig.json "$out"/readytorun/*.dll "$tmp/r2r/"
packages="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
d="$root/../shared/teachers/$c"
data="$d/train_x.npy"; [ -f "$data" ] || data="$d/train.npz"
read -r epochs batch lr wd <<< "$("$py" -c "import json,sys; t=json.load(open(sys.argv[1]))['student_kd']['train']; print(t['epochs'], t['batch_size'], t['lr'], t.get('weight_decay', 0.0))" "$d/reference.json")"
variants=("il|" "r2r|" "r2r|DOTNET_TieredPGO=0" "r2r|DOTNET_TieredCompilation=0" "r2r|DOTNET_TC_QuickJitForLoops=0" "il|DOTNET_TieredPGO=0")
echo "start: $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), case $c"
echo "| round | worker | settings | stage s | loop s | process wall s | user CPU s | system CPU s | load |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for round in $(seq "$rounds"); do
  for v in "${variants[@]}"; do
    w="${v%%|*}"; settings="${v#*|}"
    /usr/bin/time -f "%e %U %S" -o "$tmp/time" env $settings dotnet exec --depsfile "$tmp/$w/modelbuild.deps.json" --runtimeconfig "$tmp/$w/modelbuild.runtimeconfig.json" \
      --additionalprobingpath "$packages" "$tmp/$w/modelbuild.dll" compress "$d/teacher.onnx" -o "$tmp/$c.onnx" --report "$tmp/$c.json" \
      --distill --student "$d/student_scratch.onnx" --reinitialize --train-data "$data" --train-labels "$d/train_y.npy" \
      --epochs "$epochs" --batch-size "$batch" --learning-rate "$lr" --weight-decay "$wd" --validation-split 0 \
      --latency-runs 0 --threads 1 > "$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
    figures=$("$py" -c "import json,sys; s=next(s for s in json.load(open(sys.argv[1]))['stages'] if s['name'] == 'distill'); print(round(s['seconds'], 2), '|', s['details']['trainingSeconds'])" "$tmp/$c.json")
    read -r wall user sys < "$tmp/time"
    echo "| $round | $w | ${settings:-default} | $figures | $wall | $user | $sys | $(cut -d' ' -f1 /proc/loadavg) |"
  done
done
echo "end: $(date -u '+%H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
