using System.CommandLine;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Cli.Commands;

/// <summary>
/// The command-line options of recipe settings, one per <see cref="RecipeSchema"/> line: name, aliases and help come
/// from the schema, the option's type from the setting's kind. Values given override the recipe's.
/// </summary>
internal sealed class RecipeOptions
{
    private readonly List<(RecipeSetting Setting, Option Option, Func<ParseResult, object?> Value)> options;

    public RecipeOptions(IEnumerable<RecipeSetting> settings) => options = settings.Select(s => Checked(Create(s))).ToList();

    /// <summary>
    /// A setting without a typed recipe property (the newer ones) is checked here against the schema's range and words,
    /// as the task and the recipe file check it (a parse error, MB0560); the older ones keep their stages' own checks.
    /// </summary>
    private static (RecipeSetting, Option, Func<ParseResult, object?>) Checked((RecipeSetting Setting, Option Option, Func<ParseResult, object?> Read) created)
    {
        var (setting, option, read) = created;
        if (setting.HasProperty || setting.Kind is not (SettingKind.Number or SettingKind.Integer or SettingKind.Word or SettingKind.Numbers)) return created;
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count != 1) return;
            try
            {
                setting.Parse(setting.Option, result.Tokens[0].Value);
            }
            catch (RecipeValueException e)
            {
                result.AddError($"{e.Cause} {e.Remedy}");
            }
        });
        // Words are kept in the schema's spelling, as the task and the recipe file keep them.
        return setting.Kind == SettingKind.Word ? (setting, option, p => read(p) is string word ? setting.MatchWord(word) : null) : created;
    }

    /// <summary>Every setting of the schema (<c>compress</c>).</summary>
    public static RecipeOptions All() => new(RecipeSchema.Settings);

    public void AddTo(Command command)
    {
        foreach (var (_, option, _) in options) command.Options.Add(option);
    }

    /// <summary>Command-line values override the recipe's; a flag only turns a setting on.</summary>
    public void ApplyTo(ParseResult parse, CompressionRecipe recipe)
    {
        foreach (var (setting, option, read) in options)
        {
            if (parse.GetResult(option) is null) continue;
            var value = read(parse);
            switch (setting.Kind)
            {
                case SettingKind.Bool:
                    if (value is true) setting.Set(recipe, true);
                    break;
                case SettingKind.Numbers:
                    setting.Set(recipe, DataReadOptions.ParseList(setting.Option, (string?)value));
                    break;
                case SettingKind.Names:
                    if (value is string names) setting.Set(recipe, names.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList());
                    break;
                default:
                    setting.Set(recipe, value);
                    break;
            }
        }
    }

    /// <summary>Numbers and whole numbers are typed (System.CommandLine rejects "abc"); ranges are the engine's to check.</summary>
    private static (RecipeSetting, Option, Func<ParseResult, object?>) Create(RecipeSetting setting)
    {
        var description = Description(setting);
        var aliases = setting.Aliases;
        switch (setting.Kind)
        {
            case SettingKind.Bool:
                var flag = new Option<bool>(setting.Option, aliases) { Description = description };
                return (setting, flag, p => p.GetValue(flag));
            case SettingKind.Number:
                var number = new Option<double?>(setting.Option, aliases) { Description = description };
                return (setting, number, p => p.GetValue(number));
            case SettingKind.Integer when setting.ValueType == typeof(long?):
                var id = new Option<long?>(setting.Option, aliases) { Description = description };
                return (setting, id, p => p.GetValue(id));
            case SettingKind.Integer when setting.ValueType == typeof(int):
                var required = new Option<int?>(setting.Option, aliases) { Description = description };
                return (setting, required, p => p.GetValue(required) is { } v ? v : null);
            case SettingKind.Integer:
                var whole = new Option<int?>(setting.Option, aliases) { Description = description };
                return (setting, whole, p => p.GetValue(whole));
            default:
                var text = new Option<string?>(setting.Option, aliases) { Description = description };
                return (setting, text, p => p.GetValue(text));
        }
    }

    /// <summary>The help line: the schema's, with the allowed words and the default.</summary>
    public static string Description(RecipeSetting setting)
    {
        var words = setting.Words.Length > 0 ? " " + string.Join(" | ", setting.Words) + "." : "";
        var fallback = setting.Default.Length > 0 && setting.Kind != SettingKind.Bool ? $" (default {setting.Default})" : "";
        return setting.Help + words + fallback;
    }
}
