#!/usr/bin/env bash
# Distill-stage time, ModelBuild vs real PyTorch, side by side: for each shared teacher's stated student, the PyTorch
# KD loop (reference_loop.py, Debian's python3-torch), ModelBuild's distiller in process (the Distillation benchmark's
# default mode: StudentDistiller with reference.json's student_kd.train settings, student reinitialized) and the
# worker the MSBuild task starts (`dotnet exec modelbuild.dll compress --distill` from a folder laid out as the
# package's tools/worker, its packages from the NuGet cache), with the same settings, twice: the worker's assemblies
# as IL (the package until issue 16) and as the package now ships them (ReadyToRun images, ModelBuild.Cli.csproj's
# ModelBuildReadyToRun). Alternating PyTorch, ModelBuild, PyTorch, ModelBuild; one torch thread each. Two comparisons:
#  - loop: the training loop's wall time only (teacher logits precomputed, process start and data loading excluded),
#    and the process CPU time of the epochs after the first (all threads; on a loaded machine the steadier figure);
#  - stage (what the acceptance's "distill-stage time" is): the report's `distill` stage seconds (loading libtorch,
#    the data, the teacher and student ONNX files, running the teacher over the training rows, training, exporting
#    the student) against the PyTorch script from before `import torch` (libtorch's load) through reading its data
#    and building its model to the end of its loop. The PyTorch side does less: its teacher logits are random numbers
#    (no teacher run) and it writes no model; neither side's interpreter/runtime start is counted. The worker keeps
#    its schedule's defaults where the recipe has no setting (6% warm-up, gradient clipping at 1; the MLPs' PyTorch
#    loop has neither) and trains on every row (--validation-split 0) as the PyTorch loop does.
# The benchmark only: the tests never need torch.
#   bash benchmarks/pytorch-parity/run.sh [case ...]     (default: the four shared teachers)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
py=/usr/bin/python3
if ! "$py" -c "import torch, numpy" 2>/dev/null; then
  apt-get install -y python3-torch python3-numpy >&2
fi
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(wine-mlp breast-cancer-mlp synthetic-intent-transformer intent-bert)
dotnet build "$root/benchmarks/ModelBuild.Distillation.Benchmarks" -c Release -nologo -v:q >&2
dotnet build "$root/src/ModelBuild.Cli" -c Release -nologo -v:q "-t:Build;ModelBuildReadyToRun" >&2
out="$root/src/ModelBuild.Cli/bin/Release/net10.0"
tmp="$(mktemp -d /tmp/pytorch-parity.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
# The two worker folders: host files plus our assemblies (IL), or plus the ReadyToRun images the package ships.
mkdir -p "$tmp/il" "$tmp/r2r"
cp "$out"/modelbuild.deps.json "$out"/modelbuild.runtimeconfig.json "$out"/modelbuild.dll "$out"/ModelBuild.*.dll "$tmp/il/"
cp "$out"/modelbuild.deps.json "$out"/modelbuild.runtimeconfig.json "$out"/readytorun/*.dll "$tmp/r2r/"
packages="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
echo "start: $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), torch $("$py" -c 'import torch; print(torch.__version__)')"
echo "| case | round | PyTorch loop s | ModelBuild loop s | loop ratio | PyTorch CPU s, epochs 2..N | ModelBuild CPU s, epochs 2..N | CPU ratio | PyTorch stage s | ModelBuild stage s, IL worker | ratio | ModelBuild stage s, ReadyToRun worker | ratio | load |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
for c in "${cases[@]}"; do
  d="$root/../shared/teachers/$c"
  data="$d/train_x.npy"; [ -f "$data" ] || data="$d/train.npz"
  settings=$("$py" -c "import json,sys; t=json.load(open(sys.argv[1]))['student_kd']['train']; print(t['epochs'], t['batch_size'], t['lr'], t.get('weight_decay', 0.0))" "$d/reference.json")
  read -r epochs batch lr wd <<< "$settings"
  for round in 1 2; do
    po=$(OMP_NUM_THREADS=1 "$py" "$root/benchmarks/pytorch-parity/reference_loop.py" "$c" --threads 1)
    p=$(sed -n 's/.* seconds \([0-9.]*\) .*/\1/p' <<< "$po")
    pc=$(sed -n 's/.* cpu_after_first_epoch \([0-9.]*\).*/\1/p' <<< "$po")
    ps=$(sed -n 's/.* stage_seconds \([0-9.]*\).*/\1/p' <<< "$po")
    mo=$(dotnet run -c Release --no-build --project "$root/benchmarks/ModelBuild.Distillation.Benchmarks" -- "$c" --threads 1)
    m=$(awk -F'|' -v c="$c" '$2 ~ "^ "c" $" { gsub(/ /, "", $6); print $6 }' <<< "$mo")
    mc=$(sed -n 's/.*process CPU of epochs 2\.\.[0-9]*: \([0-9.]*\)s.*/\1/p' <<< "$mo")
    stage() {  # the report's distill seconds of the worker in folder $1, started as the MSBuild task starts it
      dotnet exec --depsfile "$1/modelbuild.deps.json" --runtimeconfig "$1/modelbuild.runtimeconfig.json" --additionalprobingpath "$packages" \
        "$1/modelbuild.dll" compress "$d/teacher.onnx" -o "$tmp/$c.onnx" --report "$tmp/$c.json" \
        --distill --student "$d/student_scratch.onnx" --reinitialize --train-data "$data" --train-labels "$d/train_y.npy" \
        --epochs "$epochs" --batch-size "$batch" --learning-rate "$lr" --weight-decay "$wd" --validation-split 0 \
        --latency-runs 0 --threads 1 > "$tmp/$c.log" 2>&1 || { cat "$tmp/$c.log" >&2; exit 1; }
      "$py" -c "import json,sys; print(round(next(s['seconds'] for s in json.load(open(sys.argv[1]))['stages'] if s['name'] == 'distill'), 2))" "$tmp/$c.json"
    }
    # IL and ReadyToRun in turn, the first of the two alternating by round.
    if [ "$round" = 1 ]; then mi=$(stage "$tmp/il"); mr=$(stage "$tmp/r2r"); else mr=$(stage "$tmp/r2r"); mi=$(stage "$tmp/il"); fi
    echo "| $c | $round | $p | $m | $(ratio "$m" "$p") | $pc | $mc | $(ratio "$mc" "$pc") | $ps | $mi | $(ratio "$mi" "$ps") | $mr | $(ratio "$mr" "$ps") | $(cut -d' ' -f1 /proc/loadavg) |"
  done
done
echo "end: $(date -u '+%H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
