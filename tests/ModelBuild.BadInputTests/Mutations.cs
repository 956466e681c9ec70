using System.Globalization;
using System.Text;
using CsCheck;

namespace ModelBuild.BadInputTests;

/// <summary>
/// CsCheck generators for damaged inputs: byte-level mutations of a valid file (flip, truncate, overwrite, insert,
/// duplicate, boundary bytes) and text palettes that favour what breaks parsers (huge and negative numbers, NaN,
/// quotes, separators, non-ASCII digits, empty cells).
/// </summary>
internal static class Mutations
{
    public static T Next<T>(this Gen<T> gen, PCG pcg) => gen.Generate(pcg, null, out _);

    /// <summary>Gen.Frequency over generators (the constants overload would otherwise bind a Gen as the value).</summary>
    public static Gen<T> Pick<T>(params (int Weight, Gen<T> Gen)[] options) => Gen.Frequency(options.Select(o => (o.Weight, (IGen<T>)o.Gen)).ToArray());

    public static byte[] Mutate(PCG pcg, byte[] original)
    {
        var bytes = original.ToList();
        var rounds = Gen.Int[1, 4].Next(pcg);
        for (var r = 0; r < rounds && bytes.Count > 0; r++)
        {
            var at = Gen.Int[0, bytes.Count - 1].Next(pcg);
            switch (Gen.Int[0, 5].Next(pcg))
            {
                case 0:
                    bytes[at] ^= (byte)Gen.Int[1, 255].Next(pcg);
                    break;
                case 1:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 2:
                    var span = Gen.Byte.Array[1, 16].Next(pcg);
                    for (var i = 0; i < span.Length && at + i < bytes.Count; i++) bytes[at + i] = span[i];
                    break;
                case 3:
                    bytes.InsertRange(at, Gen.Byte.Array[1, 16].Next(pcg));
                    break;
                case 4:
                    var length = Gen.Int[1, Math.Min(64, bytes.Count - at)].Next(pcg);
                    bytes.InsertRange(at, bytes.GetRange(at, length));
                    break;
                default:
                    bytes[at] = Gen.OneOf<byte>(0x00, 0xFF, 0x7F, 0x80, 0x01).Next(pcg);
                    break;
            }
        }
        return bytes.ToArray();
    }

    public static readonly Gen<string> Cell = Mutations.Pick(
        (6, Gen.Float[-1000f, 1000f].Select(f => f.ToString("R", CultureInfo.InvariantCulture))),
        (3, Gen.Int[-3, 20].Select(i => i.ToString(CultureInfo.InvariantCulture))),
        (4, Gen.OneOf("", "?", "NaN", "nan", "inf", "-Infinity", "1e999", "-0", "\"3\"", "\"", "1,5", " 2 ", "0x10", "\u0661\u0662",
            "label", "VTS", "99999999999999999999", "2147483648", "1e-50", "\t", "'", "𝟙", "1.5.2", "+", "-", "e5")));

    public static readonly Gen<string> Token = Mutations.Pick(
        (8, Gen.Int[0, 12].Select(i => i.ToString(CultureInfo.InvariantCulture))),
        (2, Gen.OneOf("-1", "99999999999999999999", "9223372036854775807", "a", "1.5", "", "\uff11", "0x1", "+3", "1e3", "2147483648")));

    /// <summary>A CSV/TSV-ish text: optional header, rows of generated cells joined by a generated delimiter.</summary>
    public static string Table(PCG pcg)
    {
        var delimiter = Gen.OneOf(",", "\t", ";", " ", ", ").Next(pcg);
        var columns = Mutations.Pick((6, Gen.Const(13)), (3, Gen.Int[1, 15])).Next(pcg);
        var rows = Gen.Int[0, 8].Next(pcg);
        var text = new StringBuilder();
        if (Gen.Bool.Next(pcg)) text.AppendLine(string.Join(delimiter, Enumerable.Range(0, columns).Select(i => i == columns - 1 && Gen.Bool.Next(pcg) ? "label" : $"f{i}")));
        for (var r = 0; r < rows; r++)
        {
            var width = Mutations.Pick((8, Gen.Const(columns)), (1, Gen.Int[0, columns + 2])).Next(pcg);
            text.Append(string.Join(delimiter, Enumerable.Range(0, width).Select(_ => Cell.Next(pcg))));
            text.Append(Gen.OneOf("\n", "\r\n", "\n\n", "\n// comment\n").Next(pcg));
        }
        return text.ToString();
    }

    /// <summary>Token-id lines: ids, separators, blank lines.</summary>
    public static string TokenLines(PCG pcg)
    {
        var lines = Gen.Int[0, 6].Next(pcg);
        var text = new StringBuilder();
        for (var l = 0; l < lines; l++)
        {
            var separator = Gen.OneOf(" ", ",", "\t", ",,", "  ").Next(pcg);
            text.Append(string.Join(separator, Enumerable.Range(0, Gen.Int[0, 6].Next(pcg)).Select(_ => Token.Next(pcg))));
            text.Append(Gen.OneOf("\n", "\r\n", "\n\n").Next(pcg));
        }
        return text.ToString();
    }

    /// <summary>A .npy header dict with generated descr, fortran_order and shape, padded (or not) as numpy does.</summary>
    public static byte[] NpyWithHeader(PCG pcg, byte[] payload)
    {
        var descr = Gen.OneOf("<f4", "<f8", ">f4", "|b1", "<i8", "<i4", "<c8", "|O", "<U3", "|u1", "<f2", "<u2", "garbage", "", "V8").Next(pcg);
        var fortran = Mutations.Pick((8, Gen.Const("False")), (1, Gen.Const("True")), (1, Gen.Const("Maybe"))).Next(pcg);
        var dims = Mutations.Pick(
            (6, Gen.Int[0, 6].Select(i => i.ToString(CultureInfo.InvariantCulture))),
            (2, Gen.OneOf("-1", "2147483648", "4611686018427387904", "9223372036854775807", "99999999999999999999", "3L", "", "a", " ")))
            .Array[0, 4].Next(pcg);
        var shape = dims.Length == 1 && Gen.Bool.Next(pcg) ? $"({dims[0]},)" : "(" + string.Join(", ", dims) + ")";
        var dict = Mutations.Pick(
            (8, Gen.Const($"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}")),
            (1, Gen.Const($"{{'shape': {shape}, 'descr': '{descr}'}}")),
            (1, Gen.Const($"{{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': {shape}, }}"))).Next(pcg);
        var version = Mutations.Pick((8, Gen.Const((byte)1)), (1, Gen.Const((byte)2)), (1, Gen.OneOf<byte>(0, 3, 9))).Next(pcg);
        var prefix = version == 1 ? 10 : 12;
        var padded = (prefix + dict.Length + 1 + 63) / 64 * 64;
        var header = new byte[padded];
        new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' }.CopyTo(header, 0);
        header[6] = version;
        var declared = padded - prefix + Mutations.Pick((9, Gen.Const(0)), (1, Gen.Int[-20, 20])).Next(pcg);
        if (prefix == 10) BitConverter.TryWriteBytes(header.AsSpan(8), (ushort)Math.Max(0, declared));
        else BitConverter.TryWriteBytes(header.AsSpan(8), (uint)Math.Max(0, declared));
        Encoding.Latin1.GetBytes(dict).CopyTo(header, prefix);
        header.AsSpan(prefix + dict.Length, padded - prefix - dict.Length - 1).Fill((byte)' ');
        header[^1] = (byte)'\n';
        var cut = Mutations.Pick((8, Gen.Const(payload.Length)), (2, Gen.Int[0, payload.Length])).Next(pcg);
        return [.. header, .. payload.AsSpan(0, cut)];
    }
}
