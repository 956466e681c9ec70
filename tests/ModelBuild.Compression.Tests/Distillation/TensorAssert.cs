using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Tests.Distillation;

internal static class TensorAssert
{
    /// <summary>|actual - expected| &lt;= tol + tol * |expected| elementwise (NaN matches NaN); exact for integers and bools.</summary>
    public static void Close(Tensor expected, Tensor actual, double tolerance, string what)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(",", actual.shape)}], expected [{string.Join(",", expected.shape)}]");
        Assert.True(expected.dtype == actual.dtype, $"{what}: element type {actual.dtype}, expected {expected.dtype}");
        if (expected.numel() == 0) return;
        if (expected.dtype is ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16)
        {
            using var e = expected.to_type(ScalarType.Float64);
            using var a = actual.to_type(ScalarType.Float64);
            using var diff = a.sub(e).abs();
            using var allowed = e.abs().mul(tolerance).add(tolerance);
            using var bothNan = e.isnan().logical_and(a.isnan());
            using var sameInf = e.isinf().logical_and(a.eq(e));
            using var ok = diff.le(allowed).logical_or(bothNan).logical_or(sameInf);
            if (!ok.all().item<bool>())
            {
                using var masked = torch.where(ok, torch.zeros_like(diff), diff.nan_to_num(1e300));
                Assert.Fail($"{what}: {(long)ok.logical_not().sum().item<long>()} of {e.numel()} values differ; max |diff| {masked.max().item<double>():G6}");
            }
        }
        else
        {
            using var eq = expected.eq(actual);
            Assert.True(eq.all().item<bool>(), $"{what}: integer/bool values differ");
        }
    }

    /// <summary>
    /// max |actual - expected| &lt;= tol * max(1, max |expected|): for gradients, which are sums over a batch, so two
    /// exact computations in float32 that add in a different order differ relative to the tensor's scale, not each value's.
    /// </summary>
    public static void CloseToScale(Tensor expected, Tensor actual, double tolerance, string what)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape), $"{what}: shape [{string.Join(",", actual.shape)}], expected [{string.Join(",", expected.shape)}]");
        using var e = expected.to_type(ScalarType.Float64);
        using var a = actual.to_type(ScalarType.Float64);
        double scale = Math.Max(1.0, e.abs().max().item<double>());
        double diff = a.sub(e).abs().max().item<double>();
        Assert.True(diff <= tolerance * scale, $"{what}: max |diff| {diff:G6} > {tolerance:G3} x {scale:G6}");
    }
}
