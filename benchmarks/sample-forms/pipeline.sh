# The IntentRouter sample's pipeline as CLI options (samples/IntentRouter/IntentRouter.csproj: distill 40 epochs from
# fresh weights, validation split 0 -> prune 0.875 with recovery, max drop 1.0, seed 0, one thread), shared by the
# benchmarks that run it. Sourced; sets the array `common` from $T (the synthetic-intent teacher's folder) and $W
# (the work folder, whose cache/ holds the stages).
# The sample pruned 0.5 until main 07c363e: the RESULTS.md sections measured before "The sample's prune fraction,
# looked at on validation" ran with that setting (git show 07c363e:benchmarks/sample-forms/pipeline.sh).
common=(--distill --student "$T/student_scratch.onnx" --reinitialize --train-data "$T/train_x.npy" --train-labels "$T/train_y.npy"
  --epochs 40 --validation-split 0 --prune 0.875 --eval-data "$T/test_x.npy" --eval-labels "$T/test_y.npy"
  --max-accuracy-drop 1.0 --threads 1 --seed 0 --stage-cache "$W/cache")
