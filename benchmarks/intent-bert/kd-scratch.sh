#!/usr/bin/env bash
# Issue 12 acceptance: KD from intent-bert's teacher into student_scratch.onnx --reinitialize, from train.tsv through
# the tokenizer, 3 seeds. Settings are the PyTorch reference student's (reference.json: 60 epochs, batch 64, lr 1e-3,
# AdamW wd 0.01, warm-up + cosine) with ModelBuild's default T=4, alpha=0.9, checked on val.tsv; test.tsv is only
# measured. Usage: [SEEDS="0 1 2"] benchmarks/intent-bert/kd-scratch.sh [modelbuild binary] [output dir]
set -euo pipefail
MB=${1:-src/ModelBuild.Cli/bin/Release/net10.0/modelbuild}
OUT=${2:-/tmp/intent-bert-kd}
T=${SHARED:-../shared}/teachers/intent-bert
mkdir -p "$OUT"
for seed in ${SEEDS:-0 1 2}; do
  start=$(date +%s)
  "$MB" compress "$T/teacher.onnx" --distill --student "$T/student_scratch.onnx" --reinitialize \
    --train-data "$T/train.tsv" --text-column text --label-column intent --labels "$T/labels.json" --tokenizer "$T/vocab.txt" \
    --epochs 60 --batch-size 64 --learning-rate 0.001 --seed "$seed" --threads 1 \
    --eval-data "$T/val.tsv" -o "$OUT/kd_seed$seed.onnx" > "$OUT/kd_seed$seed.log" 2>&1
  test=$("$MB" eval "$OUT/kd_seed$seed.onnx" --data "$T/test.tsv" --text-column text --label-column intent --labels "$T/labels.json" --tokenizer "$T/vocab.txt" --latency-runs 0 | awk '/^accuracy/ {print $2}')
  echo "seed $seed: wall $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg) | $(grep summary "$OUT/kd_seed$seed.log" | sed 's/.*summary] //') | test accuracy $test"
done
