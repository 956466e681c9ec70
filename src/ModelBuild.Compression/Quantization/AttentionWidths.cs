namespace ModelBuild.Compression.Quantization;

/// <summary>
/// QAttention has no qkv_hidden_sizes, so an Attention whose q/k heads are narrower than its v heads (as
/// AttentionOutputFold writes it) is given equal widths before it is quantized: each q and k head gets zero columns up
/// to the v head's width, which leaves every score q.k as it was. The scale must then be written out, since its default
/// (1 / sqrt(head width)) would follow the new width.
/// </summary>
public static class AttentionWidths
{
    /// <summary>True when q and k are as wide as each other, every width splits into <paramref name="heads"/> heads, and a q head is at most a v head wide.</summary>
    public static bool CanEqualize(long[] sizes, long heads) =>
        sizes.Length == 3 && heads > 0 && sizes[0] == sizes[1] && sizes.All(s => s > 0 && s % heads == 0) && sizes[0] <= sizes[2];

    /// <summary>The packed [rows, q+k+v] weight and [q+k+v] bias as [rows, 3v] and [3v]: q and k head by head, each padded with zeros to v's head width.</summary>
    public static (float[] Weight, float[] Bias) Equalize(float[] weight, float[] bias, int rows, long[] sizes, int heads)
    {
        if (!CanEqualize(sizes, heads)) throw new ArgumentException($"q/k/v widths {string.Join(",", sizes)} with {heads} heads cannot be made equal.");
        var (qk, v) = ((int)sizes[0], (int)sizes[2]);
        var (qkHead, vHead) = (qk / heads, v / heads);
        var (total, padded) = (2 * qk + v, 3 * v);
        var w = new float[rows * padded];
        var b = new float[padded];
        for (var part = 0; part < 2; part++)
            for (var h = 0; h < heads; h++)
            {
                var (from, to) = (part * qk + h * qkHead, part * v + h * vHead);
                for (var r = 0; r < rows; r++) Array.Copy(weight, r * total + from, w, r * padded + to, qkHead);
                Array.Copy(bias, from, b, to, qkHead);
            }
        for (var r = 0; r < rows; r++) Array.Copy(weight, r * total + 2 * qk, w, r * padded + 2 * v, v);
        Array.Copy(bias, 2 * qk, b, 2 * v, v);
        return (w, b);
    }

    /// <summary>The scale an Attention with q heads of <paramref name="qkWidth"/> / <paramref name="heads"/> columns uses by default.</summary>
    public static float DefaultScale(long qkWidth, long heads) => 1f / MathF.Sqrt(qkWidth / (float)heads);
}
