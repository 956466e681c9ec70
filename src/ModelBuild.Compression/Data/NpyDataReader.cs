
namespace ModelBuild.Compression.Data;

/// <summary>
/// .npy files and .npz archives (<c>file.npz</c> takes its first array, <c>file.npz:name</c> the named one) as a
/// <see cref="DataTensor"/>: float dtypes become float32, integer and bool dtypes int64 (token ids, labels).
/// </summary>
public static class NpyDataReader
{
    public static bool Handles(string spec) => NpzPath(spec) is not null || spec.EndsWith(".npy", StringComparison.OrdinalIgnoreCase);

    /// <summary>The archive path when <paramref name="spec"/> names a .npz (with or without <c>:name</c>), else null.</summary>
    public static string? NpzPath(string spec)
    {
        if (spec.EndsWith(".npz", StringComparison.OrdinalIgnoreCase)) return spec;
        return Pipeline.Contract.DataInputHash.NpzMember(spec)?.Archive;
    }

    public static NpyArray ReadArray(string spec)
    {
        if (NpzPath(spec) is not { } archive) return NpyArray.Read(spec);
        if (archive.Length == spec.Length)
        {
            var all = NpzArchive.Read(archive);
            return all.Count > 0 ? all.Values.First() : throw NpyErrors.Npz(archive, "it holds no arrays");
        }
        return NpzArchive.Read(archive, spec[(archive.Length + 1)..]);
    }

    public static DataTensor Read(string spec) => ToDataTensor(spec, ReadArray(spec));

    public static DataTensor ToDataTensor(string path, NpyArray array)
    {
        var isFloat = array.Data is float[] or double[] or Half[];
        // Integers are kept as int64: a uint64 value above long.MaxValue has no such form (found by the bad-input campaign).
        if (array.FirstBeyondInt64() is (var at, var big))
            throw NpyErrors.DType(path, $"<u8 (entry {at} is {big}, above int64's range)");
        return new DataTensor(path, array.Shape, isFloat ? array.ToSingleArray() : null, isFloat ? null : array.ToInt64Array(), array.DType.ToString());
    }
}
