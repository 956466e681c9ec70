using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace ModelBuild.Compression.Data;

/// <summary>
/// The .npy header: magic "\x93NUMPY", version (1.0, 2.0 or 3.0), header length (uint16 in v1, uint32 in
/// v2/v3), then a Python dict literal with 'descr', 'fortran_order' and 'shape'. Format reference:
/// numpy/lib/format.py (NEP 1).
/// </summary>
public sealed partial record NpyHeader(NpyDType DType, long[] Shape, bool FortranOrder, int DataOffset)
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public long ElementCount => Shape.Aggregate(1L, (a, d) => checked(a * d));

    /// <summary>Parses the header at the start of <paramref name="bytes"/>; MB0103/MB0104/MB0105/MB0106/MB0107 on failure.</summary>
    public static NpyHeader Parse(ReadOnlySpan<byte> bytes, string path)
    {
        if (bytes.Length < 6 || !bytes[..6].SequenceEqual(Magic))
        {
            throw NpyErrors.NotAnNpy(path);
        }
        if (bytes.Length < 10)
        {
            throw NpyErrors.Header(path, "the file ends inside the header");
        }
        byte major = bytes[6];
        int headerLength, prefix;
        switch (major)
        {
            case 1:
                headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]);
                prefix = 10;
                break;
            case 2:
            case 3:
                if (bytes.Length < 12)
                {
                    throw NpyErrors.Header(path, "the file ends inside the header");
                }
                uint length = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
                if (length > int.MaxValue - 12)
                {
                    throw NpyErrors.Header(path, $"header length {length} is implausible");
                }
                headerLength = (int)length;
                prefix = 12;
                break;
            default:
                throw NpyErrors.Header(path, $"format version {major}.{bytes[7]} is not 1.0, 2.0 or 3.0");
        }
        if (bytes.Length < prefix + headerLength)
        {
            throw NpyErrors.Header(path, $"the header claims {headerLength} bytes but the file ends before");
        }
        // v1/v2 headers are latin-1, v3 UTF-8; the keys and values we read are ASCII either way.
        string text = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(bytes.Slice(prefix, headerLength));

        var descrMatch = DescrPattern().Match(text);
        var fortranMatch = FortranPattern().Match(text);
        var shapeMatch = ShapePattern().Match(text);
        if (!text.TrimStart().StartsWith('{') || !fortranMatch.Success || !shapeMatch.Success)
        {
            throw NpyErrors.Header(path, $"expected a dict with 'descr', 'fortran_order' and 'shape' but found \"{text.Trim()}\"");
        }
        if (!descrMatch.Success)
        {
            // A structured dtype (descr is a list) or something else numpy can write but we do not read.
            var anyDescr = Regex.Match(text, @"'descr'\s*:\s*(\[[^\]]*\]|[^,]+)");
            throw NpyErrors.DType(path, anyDescr.Success ? anyDescr.Groups[1].Value : "?");
        }
        string descr = descrMatch.Groups[1].Value;
        if (!NpyDTypes.TryParse(descr, out var dtype, out bool bigEndian))
        {
            throw bigEndian ? NpyErrors.Endian(path, descr) : NpyErrors.DType(path, descr);
        }
        bool fortran = fortranMatch.Groups[1].Value == "True";
        if (fortran)
        {
            throw NpyErrors.Fortran(path);
        }
        var shape = new List<long>();
        foreach (string part in shapeMatch.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            string digits = part.TrimEnd('L');
            if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long d))
            {
                throw NpyErrors.Header(path, $"shape entry '{part}' is not a non-negative integer");
            }
            shape.Add(d);
        }
        // A hostile or damaged header can name more elements (or bytes) than a long counts: refuse it here, by name,
        // rather than overflow wherever the count is used.
        var bytesNeeded = new System.Numerics.BigInteger(NpyDTypes.ItemSize(dtype));
        foreach (long d in shape)
        {
            bytesNeeded *= d;
            if (bytesNeeded > long.MaxValue)
            {
                throw NpyErrors.Header(path, $"shape ({string.Join(", ", shape)}) of {descr} needs more than {long.MaxValue} bytes");
            }
        }
        return new NpyHeader(dtype, shape.ToArray(), fortran, prefix + headerLength);
    }

    /// <summary>The header bytes numpy would write (v1.0 unless the dict needs more than 64 KiB), padded to 64 bytes.</summary>
    public static byte[] Format(NpyDType dtype, IReadOnlyList<long> shape)
    {
        string shapeText = shape.Count switch
        {
            0 => "()",
            1 => $"({shape[0].ToString(CultureInfo.InvariantCulture)},)",
            _ => "(" + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")",
        };
        string dict = $"{{'descr': '{NpyDTypes.Descr(dtype)}', 'fortran_order': False, 'shape': {shapeText}, }}";
        int prefix = 10;
        int total = prefix + dict.Length + 1;
        int padded = (total + 63) / 64 * 64;
        if (padded - prefix > ushort.MaxValue)
        {
            prefix = 12;
            total = prefix + dict.Length + 1;
            padded = (total + 63) / 64 * 64;
        }
        var header = new byte[padded];
        Magic.CopyTo(header);
        header[6] = (byte)(prefix == 10 ? 1 : 2);
        header[7] = 0;
        if (prefix == 10)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), (ushort)(padded - prefix));
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), (uint)(padded - prefix));
        }
        Encoding.ASCII.GetBytes(dict, header.AsSpan(prefix));
        header.AsSpan(prefix + dict.Length, padded - prefix - dict.Length - 1).Fill((byte)' ');
        header[^1] = (byte)'\n';
        return header;
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
