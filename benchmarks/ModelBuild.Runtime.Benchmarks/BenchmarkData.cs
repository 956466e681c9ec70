using System.Text;

namespace ModelBuild.Runtime.Benchmarks;

/// <summary>Locates ../shared/teachers/wine-mlp and reads its float32 test split.</summary>
internal static class BenchmarkData
{
    public static string WineDirectory { get; } = FindWine();

    public static string ModelPath(string model) => Path.Combine(WineDirectory, model == "teacher" ? "teacher.onnx" : "student_kd.onnx");

    public static float[][] TestRows()
    {
        var bytes = File.ReadAllBytes(Path.Combine(WineDirectory, "test_x.npy"));
        int headerLength = BitConverter.ToUInt16(bytes, 8);
        var header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        if (!header.Contains("'<f4'") || !header.Contains("(54, 13)"))
        {
            throw new InvalidDataException("unexpected test_x.npy: " + header);
        }
        return [.. Enumerable.Range(0, 54).Select(r =>
        {
            var row = new float[13];
            Buffer.BlockCopy(bytes, 10 + headerLength + r * 13 * 4, row, 0, 13 * 4);
            return row;
        })];
    }

    private static string FindWine()
    {
        // BenchmarkDotNet runs the benchmarks from a generated project below bin/, still inside the repository.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ModelBuild.sln")))
            {
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "teachers", "wine-mlp"));
            }
        }
        throw new InvalidOperationException("ModelBuild.sln not found above " + AppContext.BaseDirectory);
    }
}
