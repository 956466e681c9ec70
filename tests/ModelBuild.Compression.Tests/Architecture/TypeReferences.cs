using System.Reflection;
using System.Reflection.Emit;

namespace ModelBuild.Compression.Tests.Architecture;

/// <summary>
/// Every type a type uses, read from the compiled assembly: its base type, interfaces, fields, properties, method
/// signatures and local variables, and every type, method and field token in its method bodies' IL (so a call inside
/// a method counts, not only signatures). Compiler-generated nested types (lambdas, iterators) count for their outer type.
/// </summary>
internal static class TypeReferences
{
    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    private const BindingFlags Everything = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>The outermost declaring type: a lambda's closure class belongs to the type the lambda is written in.</summary>
    public static Type Outermost(Type type)
    {
        while (type.DeclaringType is not null) type = type.DeclaringType;
        return type;
    }

    public static IEnumerable<Type> Of(Type type)
    {
        var found = new HashSet<Type>();
        void Add(Type? t)
        {
            if (t is null || t.IsGenericParameter) return;
            if (t.HasElementType) { Add(t.GetElementType()); return; }
            if (!found.Add(t)) return;
            if (t.IsGenericType) foreach (var a in t.GetGenericArguments()) Add(a);
        }
        Add(type.BaseType);
        foreach (var i in type.GetInterfaces()) Add(i);
        foreach (var f in type.GetFields(Everything)) Add(f.FieldType);
        foreach (var p in type.GetProperties(Everything)) Add(p.PropertyType);
        foreach (var m in type.GetMethods(Everything).Cast<MethodBase>().Concat(type.GetConstructors(Everything)))
        {
            if (m is MethodInfo mi) Add(mi.ReturnType);
            foreach (var p in m.GetParameters()) Add(p.ParameterType);
            MethodBody? body;
            try { body = m.GetMethodBody(); } catch (Exception) { continue; }
            if (body is null) continue;
            foreach (var local in body.LocalVariables) Add(local.LocalType);
            foreach (var t in IlTokens(m, body.GetILAsByteArray() ?? [])) Add(t);
        }
        return found;
    }

    private static IEnumerable<Type> IlTokens(MethodBase method, byte[] il)
    {
        foreach (var member in Members(method, il))
        {
            switch (member)
            {
                case Type t: yield return t; break;
                case FieldInfo f: if (f.DeclaringType is { } fd) yield return fd; yield return f.FieldType; break;
                case MethodBase m:
                    if (m.DeclaringType is { } md) yield return md;
                    if (m is MethodInfo mi) { yield return mi.ReturnType; foreach (var g in mi.IsGenericMethod ? mi.GetGenericArguments() : []) yield return g; }
                    break;
            }
        }
    }

    /// <summary>The methods and constructors a method's body calls (call, callvirt, newobj, ldftn: every method token).</summary>
    public static IEnumerable<MethodBase> CalledMethods(MethodBase method)
    {
        MethodBody? body;
        try { body = method.GetMethodBody(); } catch (Exception) { yield break; }
        if (body is null) yield break;
        foreach (var member in Members(method, body.GetILAsByteArray() ?? []))
        {
            if (member is MethodBase m) yield return m;
        }
    }

    /// <summary>Every method of a type (instance, static, any visibility, constructors included), declared there.</summary>
    public static IEnumerable<MethodBase> MethodsOf(Type type) =>
        type.GetMethods(Everything).Cast<MethodBase>().Concat(type.GetConstructors(Everything));

    /// <summary>The members named by the tokens of a method body's IL, read opcode by opcode (never guessing at bytes).</summary>
    private static IEnumerable<MemberInfo> Members(MethodBase method, byte[] il)
    {
        var module = method.Module;
        var typeArgs = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        var at = 0;
        while (at < il.Length)
        {
            short value = il[at++];
            if (value == 0xFE) value = (short)(0xFE00 | il[at++]);
            if (!OpCodesByValue.TryGetValue(value, out var op)) yield break; // not IL we can read: stop, never guess
            switch (op.OperandType)
            {
                case OperandType.InlineNone: break;
                case OperandType.ShortInlineBrTarget: case OperandType.ShortInlineI: case OperandType.ShortInlineVar: at += 1; break;
                case OperandType.InlineVar: at += 2; break;
                case OperandType.InlineI8: case OperandType.InlineR: at += 8; break;
                case OperandType.InlineSwitch: at += 4 + 4 * BitConverter.ToInt32(il, at); break;
                case OperandType.InlineField: case OperandType.InlineMethod: case OperandType.InlineTok: case OperandType.InlineType:
                {
                    var token = BitConverter.ToInt32(il, at);
                    at += 4;
                    MemberInfo? member = null;
                    try { member = module.ResolveMember(token, typeArgs, methodArgs); } catch (Exception) { }
                    if (member is not null) yield return member;
                    break;
                }
                default: at += 4; break;
            }
        }
    }
}
