namespace ModelBuild.Runtime;

/// <summary>Excludes a property from tensor mapping (ML.NET's <c>NoColumnAttribute</c> is honoured too).</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, AllowMultiple = false, Inherited = true)]
public sealed class NoColumnAttribute : Attribute;
