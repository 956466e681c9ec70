#!/usr/bin/env bash
# Issue 16 acceptance, train-time BatchNorm: a CNN student from fresh weights, mnist-cnn-pytorch at half width
# (`--student-width 0.5 --reinitialize`), distilled on MNIST t10k rows 0-7999 and measured on rows 8000-9999, against
# the same architecture trained in PyTorch with a BatchNorm after each Conv (pytorch_student.py, Debian's
# python3-torch; the benchmark only, the tests never need torch). Both sides: batch 64, lr 1e-3, T 4, alpha 0.9, the
# same epochs, the epoch kept by agreement with the teacher on a 10% validation split, one thread. ModelBuild runs
# with --train-batchnorm on and off (its other settings are its defaults: AdamW with weight decay 0.01, warm-up and
# cosine decay, gradient clipping 1.0). PyTorch runs three times: as the script is, with "revive" (the repair ModelBuild
# makes for class scores a Relu keeps dead), and with "revive mb-optimizer" (also ModelBuild's optimizer defaults).
# Usage: bash benchmarks/cnn-batchnorm/run.sh [EPOCHS] [SEEDS]   (default 10, "0 1 2")
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
EPOCHS=${1:-10}; SEEDS=${2:-0 1 2}
py=/usr/bin/python3
if ! "$py" -c "import torch, numpy, onnx" 2>/dev/null; then
  apt-get install -y python3-torch python3-numpy python3-onnx >&2
fi
cli="$root/src/ModelBuild.Cli/bin/Release/net10.0/modelbuild.dll"
[ -f "$cli" ] || dotnet build "$root/src/ModelBuild.Cli" -c Release -nologo -v:q >&2
teacher="$root/../shared/models/mnist-cnn-pytorch/model.onnx"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$py" "$root/benchmarks/cnn-batchnorm/prepare.py" "$root/../shared/datasets/mnist-t10k" "$work"
echo "start: $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), torch $("$py" -c 'import torch; print(torch.__version__)'), $EPOCHS epochs"
for seed in $SEEDS; do
  OMP_NUM_THREADS=1 "$py" "$root/benchmarks/cnn-batchnorm/pytorch_student.py" "$work" "$teacher" "$seed" "$EPOCHS"
  OMP_NUM_THREADS=1 "$py" "$root/benchmarks/cnn-batchnorm/pytorch_student.py" "$work" "$teacher" "$seed" "$EPOCHS" revive
  OMP_NUM_THREADS=1 "$py" "$root/benchmarks/cnn-batchnorm/pytorch_student.py" "$work" "$teacher" "$seed" "$EPOCHS" revive mb-optimizer
  for bn in on off; do
    out="$work/mb-$bn-$seed.onnx"
    dotnet "$cli" compress "$teacher" -o "$out" --distill --student-width 0.5 --reinitialize --train-batchnorm $bn \
      --train-data "$work/train_x.npy" --train-labels "$work/train_y.npy" --epochs "$EPOCHS" --batch-size 64 \
      --seed "$seed" --threads 1 --latency-runs 0 --report "$work/mb-$bn-$seed.json" > "$work/mb-$bn-$seed.log" 2>&1 \
      || { echo "modelbuild --train-batchnorm $bn seed $seed failed:"; tail -5 "$work/mb-$bn-$seed.log"; continue; }
    acc=$(dotnet "$cli" eval "$out" --data "$work/test_x.npy" --labels "$work/test_y.npy" --latency-runs 0 2>&1 | awk '/^accuracy/ {print $2}')
    revived=$("$py" -c "import json,sys; d=json.load(open(sys.argv[1]))['stages'][0]['details']; print('validation agreement %.2f%% of %d rows, epoch %d kept' % (d['validationAgreement'], d['validationSamples'], d['selectedEpoch']), '|', d.get('revivedOutputs') or 'none revived')" "$work/mb-$bn-$seed.json")
    echo "modelbuild --train-batchnorm $bn seed $seed: test accuracy $acc | $revived"
  done
done
echo "end: $(date -u '+%H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
