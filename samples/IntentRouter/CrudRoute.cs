namespace IntentRouter;

/// <summary>
/// What the router does with an intent: the API call it stands for. The model decides the intent
/// (<c>meeting.delete</c>); the verb and resource follow from it, and a time range named in the request
/// ("for the week", "tomorrow") becomes a query parameter.
/// </summary>
public static class CrudRoute
{
    private static readonly (string Word, string Range)[] Ranges =
    [
        ("today", "today"), ("tonight", "today"), ("tomorrow", "tomorrow"), ("week", "week"), ("month", "month"),
        ("monday", "monday"), ("tuesday", "tuesday"), ("wednesday", "wednesday"), ("thursday", "thursday"),
        ("friday", "friday"), ("saturday", "saturday"), ("sunday", "sunday"), ("weekend", "weekend"),
    ];

    /// <summary><c>meeting.delete</c> + "cancel my meetings for the week" -> <c>DELETE /meetings?range=week</c>.</summary>
    public static string For(string intent, string text)
    {
        var dot = intent.IndexOf('.');
        var (entity, action) = (intent[..dot], intent[(dot + 1)..]);
        var verb = action switch
        {
            "create" => "POST",
            "list" => "GET",
            "update" => "PATCH",
            "delete" => "DELETE",
            _ => throw new ArgumentException($"unknown action in intent '{intent}'", nameof(intent)),
        };
        var words = text.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var range = Ranges.FirstOrDefault(r => words.Contains(r.Word)).Range;
        return range is null ? $"{verb} /{entity}s" : $"{verb} /{entity}s?range={range}";
    }
}
