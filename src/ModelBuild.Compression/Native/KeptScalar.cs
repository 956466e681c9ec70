using System.Collections.Concurrent;
using TorchSharp;

namespace ModelBuild.Compression.Native;

/// <summary>
/// TorchSharp <see cref="Scalar"/>s that stay reachable for the whole process. A Scalar frees its native value in a
/// finalizer, and TorchSharp passes libtorch only the handle, so a temporary one (the implicit conversion in
/// <c>x.mul(0.5)</c>, or the <c>alpha</c> 1 TorchSharp makes inside <c>x.add(y)</c> and <c>x + y</c>) can be freed by
/// a garbage collection while libtorch reads it: the build saw MB0599 "Expected false to be true" from c10::Scalar
/// now and then under load (TorchSharp PRs 1434 and 1496 change this upstream; 0.107 has neither). The engine passes
/// these instead for constants (attributes, options, shapes); they are never freed, so a value that changes with the
/// data or the step (a learning rate, a fake-quantization range, a Clip bound computed by the graph) is a
/// <c>using</c> local instead, alive until after its call.
/// ScalarLifetimeTests reads the engine's IL and fails on any implicit Scalar or any TorchSharp member that makes one.
/// </summary>
internal static class KeptScalar
{
    // Keyed by the .NET type too (an int 2 keeps an integer tensor integer where a double 2.0 would promote it), and by
    // the bits, not the value: -0.0 == 0.0, but the sign of a zero survives a multiply.
    private static readonly ConcurrentDictionary<(Type Type, long Bits), Scalar> Doubles = new();
    private static readonly ConcurrentDictionary<long, Scalar> Longs = new();
    private static readonly ConcurrentDictionary<int, Scalar> Ints = new();

    /// <summary>The integer 1: the <c>alpha</c> of a plain add or sub (what TorchSharp passes for <c>x.add(y)</c>).</summary>
    public static readonly Scalar One = 1.ToScalar();

    public static Scalar Of(double value) => Doubles.GetOrAdd((typeof(double), BitConverter.DoubleToInt64Bits(value)), static k => BitConverter.Int64BitsToDouble(k.Bits).ToScalar());

    public static Scalar Of(float value) => Doubles.GetOrAdd((typeof(float), BitConverter.DoubleToInt64Bits(value)), static k => ((float)BitConverter.Int64BitsToDouble(k.Bits)).ToScalar());

    public static Scalar Of(long value) => Longs.GetOrAdd(value, static v => v.ToScalar());

    public static Scalar Of(int value) => Ints.GetOrAdd(value, static v => v.ToScalar());

    /// <summary>
    /// start, start + step, ... up to (not including) stop as <paramref name="dtype"/>: torch.arange with every bound a
    /// Scalar alive until it returns (its shorter overloads make the missing start or step inside TorchSharp). Not
    /// cached: the bounds change with the batch.
    /// </summary>
    public static torch.Tensor Arange(long start, long stop, torch.ScalarType dtype, long step = 1)
    {
        using Scalar first = start.ToScalar(), end = stop.ToScalar(), by = step.ToScalar();
        return torch.arange(first, end, by, dtype);
    }
}
