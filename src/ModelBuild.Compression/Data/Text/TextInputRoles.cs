namespace ModelBuild.Text;

/// <summary>The model inputs a tokenizer fills, found by their conventional (Hugging Face) names.</summary>
internal enum TextInputRole { InputIds, AttentionMask, TokenTypeIds }

/// <summary>
/// Which input is which: <c>input_ids</c>, <c>attention_mask</c> (or <c>input_mask</c>), <c>token_type_ids</c> (or
/// <c>segment_ids</c>), matched without case and without a TensorFlow-style <c>:0</c> suffix. A model with one integer
/// input takes the ids there whatever its name. Compiled into the engine and into ModelBuild.Runtime (a linked file).
/// </summary>
internal static class TextInputRoles
{
    public static TextInputRole? Of(string inputName, int inputCount)
    {
        var name = inputName.ToLowerInvariant();
        var colon = name.LastIndexOf(':');
        if (colon > 0) name = name[..colon];
        if (name.EndsWith("input_ids", StringComparison.Ordinal) || name is "ids" or "input" or "tokens" or "token_ids") return TextInputRole.InputIds;
        if (name.EndsWith("attention_mask", StringComparison.Ordinal) || name.EndsWith("input_mask", StringComparison.Ordinal)) return TextInputRole.AttentionMask;
        if (name.EndsWith("token_type_ids", StringComparison.Ordinal) || name.EndsWith("segment_ids", StringComparison.Ordinal)) return TextInputRole.TokenTypeIds;
        return inputCount == 1 ? TextInputRole.InputIds : null;
    }

    /// <summary>The value of <paramref name="role"/> at a position holding a token (padding is 0 for the mask and the types).</summary>
    public static long Value(TextInputRole role, int tokenId) => role switch
    {
        TextInputRole.InputIds => tokenId,
        TextInputRole.AttentionMask => 1,
        _ => 0,
    };

    public static string Conventional(TextInputRole role) => role switch
    {
        TextInputRole.InputIds => "input_ids",
        TextInputRole.AttentionMask => "attention_mask",
        _ => "token_type_ids",
    };
}
