using System.Collections.Concurrent;
using TorchSharp;

namespace ModelBuild.Compression.Native;

/// <summary>
/// TorchSharp <see cref="Scalar"/>s that stay reachable for the whole process. A Scalar frees its native value in a
/// finalizer, and TorchSharp passes libtorch only the handle, so a temporary one (the implicit conversion in
/// <c>x.mul(0.5)</c>, or the <c>alpha</c> 1 TorchSharp makes inside <c>x.add(y)</c> and <c>x + y</c>) can be freed by
/// a garbage collection while libtorch reads it: the build saw MB0599 "Expected false to be true" from c10::Scalar
/// now and then under load (TorchSharp PRs 1434 and 1496 change this upstream; 0.107 has neither). The engine passes
/// these instead; a value that changes every step (a learning rate) is a <c>using</c> local, not one of these.
/// ScalarLifetimeTests reads the engine's IL and fails on any implicit Scalar or any TorchSharp member that makes one.
/// </summary>
internal static class KeptScalar
{
    // Keyed by the .NET type too: an int 2 keeps an integer tensor integer where a double 2.0 would promote it.
    private static readonly ConcurrentDictionary<(Type Type, double Value), Scalar> Doubles = new();
    private static readonly ConcurrentDictionary<long, Scalar> Longs = new();
    private static readonly ConcurrentDictionary<int, Scalar> Ints = new();

    /// <summary>The integer 1: the <c>alpha</c> of a plain add or sub (what TorchSharp passes for <c>x.add(y)</c>).</summary>
    public static readonly Scalar One = 1.ToScalar();

    public static Scalar Of(double value) => Doubles.GetOrAdd((typeof(double), value), static k => k.Value.ToScalar());

    public static Scalar Of(float value) => Doubles.GetOrAdd((typeof(float), value), static k => ((float)k.Value).ToScalar());

    public static Scalar Of(long value) => Longs.GetOrAdd(value, static v => v.ToScalar());

    public static Scalar Of(int value) => Ints.GetOrAdd(value, static v => v.ToScalar());

    /// <summary>
    /// start, start + step, ... up to (not including) stop as <paramref name="dtype"/>: torch.arange with every bound a
    /// kept Scalar (its shorter overloads make the missing start or step inside TorchSharp).
    /// </summary>
    public static torch.Tensor Arange(long start, long stop, torch.ScalarType dtype, long step = 1) => torch.arange(Of(start), Of(stop), Of(step), dtype);
}
