using System.Linq.Expressions;
using System.Reflection;

namespace ModelBuild.Runtime.Mapping;

/// <summary>
/// Typed getter/setter delegates for a mapped property or public field, built once per model generation:
/// open-instance delegates over property accessors, compiled expressions for fields (ML.NET classes often use
/// public fields). No reflection or boxing per call.
/// </summary>
internal static class MemberAccessors
{
    public static Type MemberType(MemberInfo member) => member switch
    {
        PropertyInfo p => p.PropertyType,
        FieldInfo f => f.FieldType,
        _ => throw new ArgumentException($"{member.Name} is not a property or field", nameof(member)),
    };

    public static Func<TOwner, TValue> Getter<TOwner, TValue>(MemberInfo member)
    {
        if (member is PropertyInfo property)
        {
            return property.GetGetMethod()!.CreateDelegate<Func<TOwner, TValue>>();
        }
        var owner = Expression.Parameter(typeof(TOwner), "owner");
        return Expression.Lambda<Func<TOwner, TValue>>(Expression.Field(owner, (FieldInfo)member), owner).Compile();
    }

    public static Func<TOwner, TValue>? TryGetter<TOwner, TValue>(MemberInfo member) =>
        member is PropertyInfo property && property.GetGetMethod() is null ? null : Getter<TOwner, TValue>(member);

    public static Action<TOwner, TValue> Setter<TOwner, TValue>(MemberInfo member)
    {
        if (member is PropertyInfo property)
        {
            return property.GetSetMethod()!.CreateDelegate<Action<TOwner, TValue>>();
        }
        var owner = Expression.Parameter(typeof(TOwner), "owner");
        var value = Expression.Parameter(typeof(TValue), "value");
        return Expression.Lambda<Action<TOwner, TValue>>(Expression.Assign(Expression.Field(owner, (FieldInfo)member), value), owner, value).Compile();
    }

    /// <summary>Public instance properties (readable; writable too for outputs) and public fields (not read-only for outputs).</summary>
    public static IEnumerable<MemberInfo> MappableMembers(Type type, bool needSetter)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length == 0 && property.GetGetMethod() is not null && (!needSetter || property.GetSetMethod() is not null))
            {
                yield return property;
            }
        }
        foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.Instance))
        {
            if (!needSetter || !field.IsInitOnly)
            {
                yield return field;
            }
        }
    }
}
