using System.Globalization;
using System.Reflection;
using System.Text.Json;

namespace ModelBuild.Compression.Pipeline.Contract;

/// <summary>What a setting's value is, which decides how every front end parses, validates and lists it.</summary>
public enum SettingKind
{
    /// <summary>A path to a file that must exist; hashed by content in cache keys; an MSBuild input.</summary>
    File,
    /// <summary>A data input: a file, a folder, <c>file.npz:name</c> or <c>generated[:N]</c>; hashed by content.</summary>
    Data,
    /// <summary>A real number within <see cref="RecipeSetting.Min"/>/<see cref="RecipeSetting.Max"/>.</summary>
    Number,
    /// <summary>A whole number &gt;= <see cref="RecipeSetting.Min"/>.</summary>
    Integer,
    /// <summary>true or false; on the command line a flag.</summary>
    Bool,
    /// <summary>One of <see cref="RecipeSetting.Words"/>, matched ignoring case, '-' and '_'.</summary>
    Word,
    /// <summary>Free text (a column name, tensor names).</summary>
    Text,
    /// <summary>1 or 3 numbers separated by ';' or ','.</summary>
    Numbers,
    /// <summary>Names separated by ';' or ','.</summary>
    Names,
}

/// <summary>
/// One line of <see cref="RecipeSchema"/>: a recipe setting and everything the front ends derive from it.
/// <see cref="Metadata"/> is the MSBuild metadata name (and, for the older settings, the name of their typed
/// <see cref="CompressionRecipe"/> property); newer settings have no property and live in <see cref="CompressionRecipe.Values"/>.
/// </summary>
public sealed record RecipeSetting(string Metadata, string Option, SettingKind Kind, string Stage, string Help)
{
    /// <summary>Other spellings of <see cref="Option"/> on the command line.</summary>
    public string[] Aliases { get; init; } = [];

    /// <summary>The command line's spellings: <see cref="Option"/>, then the <see cref="Aliases"/>.</summary>
    public IEnumerable<string> Spellings => Aliases.Prepend(Option);
    /// <summary>The allowed words of a <see cref="SettingKind.Word"/> setting, in the spelling the recipe keeps.</summary>
    public string[] Words { get; init; } = [];
    public double Min { get; init; } = double.MinValue;
    public double Max { get; init; } = double.MaxValue;
    public bool MinInclusive { get; init; } = true;
    public bool MaxInclusive { get; init; } = true;
    /// <summary><see cref="SettingKind.Numbers"/>: every number must be &gt; 0.</summary>
    public bool Positive { get; init; }
    /// <summary>The stages whose output the value changes: it is part of each one's stage-cache key.</summary>
    public string[] UsedBy { get; init; } = [];
    /// <summary>Warn (MB0515) when it is set but none of <see cref="UsedBy"/> is requested.</summary>
    public bool WarnWhenUnused { get; init; }
    /// <summary>The default, as the docs state it; empty: none.</summary>
    public string Default { get; init; } = "";
    /// <summary>What an unset value means when there is no <see cref="Default"/> (docs/recipe.md), e.g. "no limit"; null: nothing to say.</summary>
    public string? Unset { get; init; }
    /// <summary>The longer explanation docs/recipe.md gives (Markdown); null: the <see cref="Help"/> line says it all.</summary>
    public string? Doc { get; init; }
    /// <summary>
    /// A different default for an item in a build, applied by the task when neither the item nor its recipe file sets
    /// the value (e.g. work whose output the build does not carry yet); a word or text, stored as written; null: the
    /// same as on the command line.
    /// </summary>
    public string? BuildDefault { get; init; }
    /// <summary>
    /// A file or data setting: the file read beside the one it names that is part of the same input (e.g. a vocab.txt's
    /// tokenizer_config.json), or null; the content key hashes it with the named file.
    /// </summary>
    public Func<string, string?>? Beside { get; init; }

    /// <summary>The recipe file's (JSON) name: camelCase, as <see cref="CompressionRecipe.JsonOptions"/> writes it.</summary>
    public string Json => JsonNamingPolicy.CamelCase.ConvertName(Metadata);

    public bool NamesFile => Kind is SettingKind.File or SettingKind.Data;

    /// <summary>The typed property of an older setting; null: the value lives in <see cref="CompressionRecipe.Values"/>.</summary>
    private PropertyInfo? Property => typeof(CompressionRecipe).GetProperty(Metadata);

    /// <summary>Whether the value is a typed property of <see cref="CompressionRecipe"/> rather than in its <see cref="CompressionRecipe.Values"/>.</summary>
    public bool HasProperty => Property is not null;

    /// <summary>The value's CLR type (string, double?, int?, long?, bool, List&lt;double&gt;, ...): the property's, else the kind's.</summary>
    public Type ValueType => Property?.PropertyType ?? Kind switch
    {
        SettingKind.Number => typeof(double?),
        SettingKind.Integer => typeof(int?),
        SettingKind.Bool => typeof(bool),
        SettingKind.Numbers => typeof(List<double>),
        SettingKind.Names => typeof(List<string>),
        _ => typeof(string),
    };

    public object? Get(CompressionRecipe recipe) =>
        Property is { } property ? property.GetValue(recipe)
        : recipe.Values?.GetValueOrDefault(Json) is JsonElement element ? FromJson(element) // deserialized without FromJson
        : recipe.Values?.GetValueOrDefault(Json);

    /// <summary>Sets the value (null: unset); a setting without a property is kept in <see cref="CompressionRecipe.Values"/> under its JSON name.</summary>
    public void Set(CompressionRecipe recipe, object? value)
    {
        if (Property is { } property)
        {
            property.SetValue(recipe, value);
        }
        else if (value is null)
        {
            recipe.Values?.Remove(Json);
        }
        else
        {
            (recipe.Values ??= new(StringComparer.Ordinal))[Json] = value;
        }
    }

    /// <summary>The schema's default as a number; a setting without one must be read with <see cref="CompressionRecipe.NumberOrNull"/>.</summary>
    internal double DefaultNumber => Default.Length > 0 ? double.Parse(Default, CultureInfo.InvariantCulture)
        : throw new InvalidOperationException($"{Metadata} has no default in RecipeSchema; read it with NumberOrNull.");

    /// <summary>
    /// A recipe file's (JSON) value of a setting without a property, typed by its kind and checked like item metadata
    /// (range, words); a value of the wrong type or out of range is a <see cref="JsonException"/>, as for a typed property.
    /// </summary>
    internal object? FromJson(JsonElement element)
    {
        try
        {
            return element.ValueKind switch
            {
                JsonValueKind.Null => null,
                JsonValueKind.Number when Kind is SettingKind.Number => Parse(Json, element.GetRawText()),
                JsonValueKind.Number when Kind is SettingKind.Integer => Parse(Json, element.GetRawText()),
                JsonValueKind.True or JsonValueKind.False when Kind is SettingKind.Bool => element.GetBoolean(),
                JsonValueKind.String when Kind is SettingKind.Word => Parse(Json, element.GetString()!),
                JsonValueKind.String when Kind is SettingKind.File or SettingKind.Data or SettingKind.Text => element.GetString(),
                JsonValueKind.Array when Kind is SettingKind.Numbers => Parse(Json, string.Join(",", element.EnumerateArray().Select(e => e.GetDouble().ToString("R", CultureInfo.InvariantCulture)))),
                JsonValueKind.Array when Kind is SettingKind.Names => element.EnumerateArray().Select(e => e.GetString() ?? throw new JsonException()).ToList(),
                _ => throw new JsonException($"The JSON value of '{Json}' is a {element.ValueKind}, not a {ValueType.Name}."),
            };
        }
        catch (RecipeValueException e)
        {
            throw new JsonException(e.Cause + " " + e.Remedy);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw new JsonException($"The JSON value of '{Json}' is not a {ValueType.Name}: {e.Message}");
        }
    }

    /// <summary>Whether the recipe asks for something with it: a value (a bool: true; a list: not empty).</summary>
    public bool IsSet(CompressionRecipe recipe) => Get(recipe) switch
    {
        null => false,
        bool b => b,
        System.Collections.ICollection c => c.Count > 0,
        _ => true,
    };

    /// <summary>The canonical word for <paramref name="value"/> (ignoring case, '-' and '_'), null when it is none of <see cref="Words"/>.</summary>
    public string? MatchWord(string value)
    {
        static string Squash(string s) => s.Replace("-", "").Replace("_", "").ToLowerInvariant();
        return Words.FirstOrDefault(w => Squash(w) == Squash(value));
    }

    /// <summary>
    /// Parses <paramref name="text"/> (an MSBuild metadata value) into the property's type, validating it.
    /// <paramref name="label"/> names the value in the message (<c>Prune</c>, <c>Recipe:pruneMode</c>).
    /// File and data kinds are returned as written: resolving paths is the caller's.
    /// </summary>
    public object? Parse(string label, string text) => Kind switch
    {
        SettingKind.Word => MatchWord(text) ?? throw new RecipeValueException(RecipeValueProblem.UnknownValue,
            $"{label}='{text}' is not one of {string.Join(", ", Words)}.", $"Set {label} to one of {string.Join(", ", Words)} (case-insensitive)."),
        SettingKind.Bool => text.ToLowerInvariant() switch
        {
            "true" => true,
            "false" => false,
            _ => throw new RecipeValueException(RecipeValueProblem.UnknownValue, $"{label}='{text}' is not true or false.", $"Set {label} to true or false."),
        },
        SettingKind.Number => ParseNumber(label, text),
        SettingKind.Integer => ValueType == typeof(long?) ? (object)(long)ParseInteger(label, text) : ParseInteger(label, text),
        SettingKind.Numbers => ParseNumbers(label, text),
        SettingKind.Names => text.Split([';', ','], StringSplitOptions.RemoveEmptyEntries).Select(p => p.Trim()).Where(p => p.Length > 0).ToList(),
        _ => text,
    };

    /// <summary>The range of a number as the messages and docs write it, e.g. <c>(0, 1]</c>.</summary>
    public string Range => Kind == SettingKind.Integer
        ? (Min <= int.MinValue ? "any whole number" : $">= {Min.ToString(CultureInfo.InvariantCulture)}")
        : $"{(MinInclusive ? "[" : "(")}{(Min == double.MinValue ? "-inf" : Min.ToString(CultureInfo.InvariantCulture))}, "
          + $"{(Max == double.MaxValue ? "inf" : Max.ToString(CultureInfo.InvariantCulture))}{(MaxInclusive ? "]" : ")")}";

    private double ParseNumber(string label, string text)
    {
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number)
            && (MinInclusive ? number >= Min : number > Min) && (MaxInclusive ? number <= Max : number < Max))
        {
            return number;
        }
        throw new RecipeValueException(RecipeValueProblem.BadNumber,
            $"{label}='{text}' is not a number in {Range}.", $"Set {label} to a number in {Range}, written with a '.' decimal point.");
    }

    private int ParseInteger(string label, string text)
    {
        var min = Min <= int.MinValue ? int.MinValue : (int)Min;
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) && number >= min) return number;
        throw new RecipeValueException(RecipeValueProblem.BadNumber, $"{label}='{text}' is not a whole number >= {min}.", $"Set {label} to a whole number >= {min}.");
    }

    private List<double> ParseNumbers(string label, string text)
    {
        var parts = text.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var numbers = new List<double>();
        foreach (var part in parts)
        {
            if (double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number) && (!Positive || number > 0))
                numbers.Add(number);
        }
        if (numbers.Count == parts.Length && numbers.Count is 1 or 3) return numbers;
        throw new RecipeValueException(RecipeValueProblem.BadNumber,
            $"{label}='{text}' is not 1 or 3 {(Positive ? "positive " : "")}numbers.",
            $"Set {label} to one value or one per channel, e.g. 0.485;0.456;0.406, with a '.' decimal point.");
    }
}

public enum RecipeValueProblem { UnknownValue, BadNumber }

/// <summary>A value a setting does not take; each front end turns it into its own diagnostic (task MB06xx, worker MB05xx).</summary>
public sealed class RecipeValueException(RecipeValueProblem problem, string cause, string remedy) : Exception(cause)
{
    public RecipeValueProblem Problem { get; } = problem;
    public string Cause { get; } = cause;
    public string Remedy { get; } = remedy;
}
