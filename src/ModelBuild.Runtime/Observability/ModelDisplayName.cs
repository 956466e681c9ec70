namespace ModelBuild.Runtime;

/// <summary>How a model name reads in logs and health reports: the default model's empty name as "(default)".</summary>
internal static class ModelDisplayName
{
    public static string Of(string modelName) => modelName.Length == 0 ? "(default)" : modelName;
}
