using Onnx;

namespace ModelBuild.Compression.Distillation;

/// <summary>
/// How many teacher-labelled variants of each training row (<see cref="TokenAugmentation"/>) a student trains on when
/// <c>--augment</c> is not given. A student that starts from fresh weights and reads token ids that the teacher gathers
/// from a word-embedding table, from a teacher file and a training file without <c>--synthetic</c>, gets
/// <see cref="FreshTokenStudent"/>; every other student none.
/// </summary>
/// <remarks>
/// Why, and why only these: on validation folds of the training split (benchmarks/distill-init/sweep.sh;
/// benchmarks/RESULTS.md, "Token augmentation by default for fresh transformer students") the synthetic-intent
/// transformer's stated student from fresh weights held out better with every variant count tried, and intent-bert's on
/// its validation file. Students that start from the teacher's weights did not gain on intent-bert's validation file
/// (the synthetic-intent folds cannot judge them: the teacher whose weights they start from trained on those rows). Float
/// features (mixup) did not pay at the same number of steps on the MLP teachers, so they get none. Each variant adds
/// one epoch's worth of rows, which the distill stage's time against PyTorch's allows for these students.
/// </remarks>
internal static class AugmentationDefaults
{
    public const int FreshTokenStudent = 2;

    public static int For(DistillationOptions options, bool reinitialized, ModelProto teacher, TrainingInputs inputs)
    {
        // An endpoint gives no embedding table and each variant would be a call; --synthetic rows (data-free, or token
        // sequences grown from the training rows) are new rows already and were not part of the choice.
        if (!reinitialized || options.TeacherEndpoint is not null || options.TrainingData is null || options.Synthetic is not null) return 0;
        return TokenAugmentation.Applies(teacher, inputs) ? FreshTokenStudent : 0;
    }
}
