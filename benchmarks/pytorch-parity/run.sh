#!/usr/bin/env bash
# Distill-stage time, ModelBuild vs real PyTorch, side by side: for each shared teacher's stated student, the PyTorch
# KD loop (reference_loop.py, Debian's python3-torch) and ModelBuild's distiller (the Distillation benchmark's default
# mode: StudentDistiller with reference.json's student_kd.train settings, student reinitialized), alternating
# PyTorch, ModelBuild, PyTorch, ModelBuild, one torch thread each. Both print the training loop's wall time only
# (teacher logits precomputed, process start and data loading excluded) and the process CPU time of the epochs after the
# first (all threads; on a loaded machine the steadier figure). The benchmark only: the tests never need torch.
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
echo "start: $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), torch $("$py" -c 'import torch; print(torch.__version__)')"
echo "| case | round | PyTorch s | ModelBuild s | ratio (ModelBuild / PyTorch) | PyTorch CPU s, epochs 2..N | ModelBuild CPU s, epochs 2..N | CPU ratio | load |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for c in "${cases[@]}"; do
  for round in 1 2; do
    po=$(OMP_NUM_THREADS=1 "$py" "$root/benchmarks/pytorch-parity/reference_loop.py" "$c" --threads 1)
    p=$(sed -n 's/.* seconds \([0-9.]*\) .*/\1/p' <<< "$po")
    pc=$(sed -n 's/.* cpu_after_first_epoch \([0-9.]*\).*/\1/p' <<< "$po")
    mo=$(dotnet run -c Release --no-build --project "$root/benchmarks/ModelBuild.Distillation.Benchmarks" -- "$c" --threads 1)
    m=$(awk -F'|' -v c="$c" '$2 ~ "^ "c" $" { gsub(/ /, "", $6); print $6 }' <<< "$mo")
    mc=$(sed -n 's/.*process CPU of epochs 2\.\.[0-9]*: \([0-9.]*\)s.*/\1/p' <<< "$mo")
    echo "| $c | $round | $p | $m | $(awk -v a="$m" -v b="$p" 'BEGIN { printf "%.2fx", a / b }') | $pc | $mc | $(awk -v a="$mc" -v b="$pc" 'BEGIN { printf "%.2fx", a / b }') | $(cut -d' ' -f1 /proc/loadavg) |"
  done
done
echo "end: $(date -u '+%H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
