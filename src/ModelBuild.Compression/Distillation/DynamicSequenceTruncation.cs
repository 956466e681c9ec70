using ModelBuild.Compression.Distillation.Import;
using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation;

/// <summary>
/// Batches cut to their longest sequence for a student with several <c>[batch, sequence]</c> inputs whose sequence
/// axis is dynamic (Hugging Face BERT exports: input_ids, attention_mask, token_type_ids). The graph computes its
/// positions and mask from the inputs' shapes, so nothing in it is rewritten (unlike <see cref="SequenceTruncation"/>
/// for fixed-length graphs): every input is narrowed to the batch's longest row, a row's length being one past its
/// last non-zero <c>attention_mask</c> entry. Used only when it gives the full-length outputs on the training data.
/// </summary>
public static class DynamicSequenceTruncation
{
    public const string MaskInput = "attention_mask";

    /// <summary>The row lengths, or null with the reason truncation does not apply.</summary>
    public static int[]? TryRowLengths(OnnxGraphModule student, TrainingInputs inputs, out string reason)
    {
        if (!inputs.Names.Contains(MaskInput) || !student.InputNames.Contains(MaskInput))
        {
            reason = $"the model has several inputs and none named {MaskInput}";
            return null;
        }
        var graphInputs = student.Model.Graph.Input.Where(i => student.InputNames.Contains(i.Name)).ToList();
        bool dynamic = graphInputs.All(i => i.Type?.TensorType?.Shape is { } s && s.Dim.Count == 2 && s.Dim[1].DimValue == 0);
        var first = inputs.First;
        bool sameLength = inputs.Names.All(n => inputs.ByName()[n] is { } t && t.dim() == 2 && t.shape[1] == first.shape[1]);
        if (!dynamic || !sameLength)
        {
            reason = "the inputs are not all [batch, sequence] with a dynamic sequence axis";
            return null;
        }
        reason = "";
        using var scope = torch.NewDisposeScope();
        var mask = inputs.ByName()[MaskInput];
        long s = mask.shape[1];
        var last = mask.ne(Kept.Of(0)).to_type(ScalarType.Int64).mul(Kept.Arange(1, s + 1, ScalarType.Int64)).amax(new long[] { 1 });
        return last.clamp_min(Kept.Of(1)).to_type(ScalarType.Int32).data<int>().ToArray();
    }

    /// <summary>
    /// The largest difference between the module's first output on full-length rows and on the same rows in batches
    /// cut to their longest sequence (rows sorted by length), relative to 1 + |full output|, in eval mode.
    /// </summary>
    public static double MaxDeviation(OnnxGraphModule module, TrainingInputs inputs, int[] lengths, int batchSize = 256)
    {
        bool wasTraining = module.training;
        module.eval();
        try
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var order = Enumerable.Range(0, lengths.Length).OrderBy(i => lengths[i]).ToArray();
            var output = module.OutputNames[0];
            double worst = 0;
            for (int start = 0; start < order.Length; start += batchSize)
            {
                using var batchScope = torch.NewDisposeScope();
                var rows = order.Skip(start).Take(batchSize).ToArray();
                var x = inputs.IndexSelect(torch.tensor(rows.Select(r => (long)r).ToArray()));
                var full = module.Run(x.For(module), new[] { output })[output];
                var cut = module.Run(x.Narrow(rows.Max(r => lengths[r])).For(module), new[] { output })[output];
                worst = Math.Max(worst, cut.sub(full).abs().div(full.abs().add(Kept.Of(1), Kept.One)).max().item<float>());
            }
            return worst;
        }
        finally
        {
            if (wasTraining) module.train();
        }
    }
}
