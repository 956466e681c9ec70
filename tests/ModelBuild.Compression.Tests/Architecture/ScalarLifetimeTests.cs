using System.Reflection;
using ModelBuild.Compression.Pipeline;
using TorchSharp;

namespace ModelBuild.Compression.Tests.Architecture;

/// <summary>
/// No TorchSharp <see cref="Scalar"/> is made as a temporary. A Scalar has a finalizer that frees its native value,
/// and TorchSharp hands libtorch only the handle, so a temporary made by an implicit conversion (<c>x.mul(0.5)</c>) is
/// unreachable during the native call: a garbage collection there frees the value libtorch is reading. The build saw
/// it now and then under load as MB0599 "Expected false to be true" from c10::Scalar (AdamW.step once, Clip's
/// clamp_min in a pruning recovery once). The engine keeps every Scalar reachable until after its call (a field, a
/// <c>using</c> local, or a <c>KeptScalar</c>), and does not call TorchSharp members that make one inside (operators
/// with a number, <c>square</c>, the built-in optimizers...), found here by reading TorchSharp's own IL.
/// </summary>
public class ScalarLifetimeTests
{
    private static readonly Assembly Engine = typeof(CompressionPipeline).Assembly;
    private static readonly Assembly Torch = typeof(Scalar).Assembly;

    [Fact]
    public void The_engine_makes_no_implicit_Scalar_and_calls_nothing_in_TorchSharp_that_does()
    {
        var risky = RiskyTorchSharpMethods();
        // The reading works: these are known to convert inside TorchSharp 0.107.
        Assert.Contains(risky, m => m.DeclaringType == typeof(torch.Tensor) && m.Name == "op_Multiply");
        Assert.Contains(risky, m => m.DeclaringType == typeof(torch.Tensor) && m.Name == "square");

        var found = new List<string>();
        foreach (var type in Engine.GetTypes())
        {
            foreach (var method in TypeReferences.MethodsOf(type))
            {
                foreach (var called in TypeReferences.CalledMethods(method))
                {
                    // A virtual call is compiled against the base declaration (optimizer.step() is Optimizer.step): it is
                    // risky when any TorchSharp override of it is (Adam.step makes its scalars inside).
                    if (IsImplicitScalar(called) || risky.Contains(Definition(called)) || (OverridesIn(called).Any(risky.Contains) && !KnownSafeReceiver(type, method, called, risky)))
                    {
                        found.Add($"{TypeReferences.Outermost(type).Name} ({type.Name}.{method.Name}) calls {called.DeclaringType?.Name}.{called.Name}({string.Join(", ", called.GetParameters().Select(p => p.ParameterType.Name))})");
                    }
                }
            }
        }
        Assert.True(found.Count == 0, $"{found.Count} call(s) make a Scalar temporary:\n" + string.Join("\n", found.Distinct().Order()));
    }

    private static readonly Type[] TorchTypes = Torch.GetTypes();

    /// <summary>
    /// Virtual calls whose receiver the code fixes, so only that override runs: a projection's Linear.forward (checked
    /// here to make no Scalar), and the engine's own OnnxGraphModule.forward (its body is part of the engine scanned above).
    /// </summary>
    private static readonly Dictionary<(string Caller, string Called), Type> Receivers = new()
    {
        [("FeatureDistillationLoss.Compute", "forward")] = typeof(TorchSharp.Modules.Linear),
        [("TaylorImportance.Score", "forward")] = typeof(ModelBuild.Compression.Distillation.Import.OnnxGraphModule),
    };

    private static bool KnownSafeReceiver(Type caller, MethodBase method, MethodBase called, HashSet<MethodBase> risky)
    {
        if (!Receivers.TryGetValue(($"{TypeReferences.Outermost(caller).Name}.{method.Name}", called.Name), out var receiver)) return false;
        if (receiver.Assembly == Engine) return true;
        var root = ((MethodInfo)Definition(called)).GetBaseDefinition();
        var own = receiver.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)
            .Where(o => o.Name == called.Name && SameDefinition(o.GetBaseDefinition(), root)).Select(Definition).ToList();
        return own.Count > 0 && !own.Any(risky.Contains);
    }

    /// <summary>The TorchSharp methods that override <paramref name="method"/> (none unless it is virtual).</summary>
    private static IEnumerable<MethodBase> OverridesIn(MethodBase method)
    {
        if (method is not MethodInfo { IsVirtual: true } virtualMethod || Definition(method) is not MethodInfo declared || declared.DeclaringType is not { } baseType)
            return [];
        var root = declared.GetBaseDefinition();
        return TorchTypes
            .Where(t => t != baseType && (baseType.IsGenericTypeDefinition ? DerivesFromGeneric(t, baseType) : baseType.IsAssignableFrom(t)))
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Where(o => o.Name == declared.Name && SameDefinition(o.GetBaseDefinition(), root))
            .Select(Definition);
    }

    private static bool DerivesFromGeneric(Type type, Type genericDefinition)
    {
        for (var t = type.BaseType; t is not null; t = t.BaseType)
            if (t.IsGenericType && t.GetGenericTypeDefinition() == genericDefinition) return true;
        return false;
    }

    private static bool SameDefinition(MethodInfo a, MethodInfo b) => Definition(a) == Definition(b);

    private static bool IsImplicitScalar(MethodBase m) => m.DeclaringType == typeof(Scalar) && m.Name == "op_Implicit";

    /// <summary>The method as declared: generic arguments (of the method or of its type) taken off.</summary>
    private static MethodBase Definition(MethodBase m)
    {
        if (m is MethodInfo { IsGenericMethod: true } g) m = g.GetGenericMethodDefinition();
        if (m.DeclaringType is { IsGenericType: true, IsGenericTypeDefinition: false } t)
        {
            try { m = MethodBase.GetMethodFromHandle(m.MethodHandle, t.GetGenericTypeDefinition().TypeHandle) ?? m; } catch (ArgumentException) { }
        }
        return m;
    }

    /// <summary>
    /// TorchSharp's methods that make an implicit Scalar, directly or through another of its methods (a fixpoint over
    /// its call graph), so an overload taking a double that converts inside is caught as well as one taking a Scalar.
    /// </summary>
    private static HashSet<MethodBase> RiskyTorchSharpMethods()
    {
        var calls = new Dictionary<MethodBase, MethodBase[]>();
        foreach (var type in Torch.GetTypes())
        {
            foreach (var method in TypeReferences.MethodsOf(type))
            {
                calls[method] = [.. TypeReferences.CalledMethods(method).Where(c => c.Module == Torch.ManifestModule).Select(Definition)];
            }
        }
        var risky = calls.Where(kv => TypeReferences.CalledMethods(kv.Key).Any(IsImplicitScalar)).Select(kv => kv.Key).ToHashSet();
        for (bool grew = true; grew;)
        {
            grew = false;
            foreach (var (method, callees) in calls)
            {
                if (!risky.Contains(method) && callees.Any(risky.Contains))
                {
                    risky.Add(method);
                    grew = true;
                }
            }
        }
        return risky;
    }
}
