using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ModelBuild.IntegrationTests;

/// <summary>
/// Data formats in a real build: calibration from a folder of TensorProto files and evaluation from a CSV with a label
/// column (metadata LabelColumn); editing one file inside the data folder recompresses, touching it does not.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class DataFolderBuildTests(PackageFixture package)
{
    [Fact]
    public void A_tensorproto_calibration_folder_and_a_labeled_csv_build_and_a_changed_file_in_the_folder_recompresses()
    {
        using var project = new ThrowAwayProject(package, """
            <CompressModel Include="teacher.onnx" OutputName="models/wine.onnx" Quantize="int8-static" CalibrationData="calib/"
                           EvaluationData="test.csv" LabelColumn="label" Force="true" />
            """);
        var (calib, calibShape) = ReadFloatNpy(project.PathOf("calib_x.npy"));
        var rowLength = (int)calibShape[1];
        var folder = System.IO.Directory.CreateDirectory(project.PathOf("calib")).FullName;
        for (var r = 0; r < calibShape[0]; r++)
            File.WriteAllBytes(Path.Combine(folder, $"input_{r}.pb"), TensorProtoBytes(calib.AsSpan(r * rowLength, rowLength), [1, rowLength]));

        var (test, testShape) = ReadFloatNpy(project.PathOf("test_x.npy"));
        var labels = ReadInt64Npy(project.PathOf("test_y.npy"));
        var csv = new StringBuilder(string.Join(",", Enumerable.Range(0, (int)testShape[1]).Select(i => $"f{i}")) + ",label\n");
        for (var r = 0; r < testShape[0]; r++)
            csv.Append(string.Join(",", test.AsSpan(r * (int)testShape[1], (int)testShape[1]).ToArray().Select(v => v.ToString("R", CultureInfo.InvariantCulture))))
               .Append(',').Append(labels[r].ToString(CultureInfo.InvariantCulture)).Append('\n');
        File.WriteAllText(project.PathOf("test.csv"), csv.ToString());

        var first = project.Build();
        Assert.True(first.Succeeded, first.ToString());
        Assert.Contains(ThrowAwayProject.WorkerStarted, first.Output);
        var report = JsonNode.Parse(File.ReadAllText(project.PathOf("obj/Debug/net10.0/modelbuild/models/wine.onnx.report.json")))!;
        // reference.json: the wine teacher scores 100% on the 54 test rows; the labels came from the CSV's label column.
        Assert.Equal(100.0, report["teacher"]!["accuracy"]!.GetValue<double>(), 6);

        var one = Path.Combine(folder, "input_3.pb");
        File.SetLastWriteTimeUtc(one, DateTime.UtcNow);
        var touched = project.Build();
        Assert.True(touched.Succeeded, touched.ToString());
        Assert.DoesNotContain(ThrowAwayProject.WorkerStarted, touched.Output);
        Assert.Contains("inputs touched but unchanged", touched.Output);

        var bytes = File.ReadAllBytes(one);
        bytes[^1] ^= 0x01; // the last byte of raw_data: one float changes slightly
        File.WriteAllBytes(one, bytes);
        var changed = project.Build();
        Assert.True(changed.Succeeded, changed.ToString());
        Assert.Contains(ThrowAwayProject.WorkerStarted, changed.Output);
    }

    /// <summary>A float32 TensorProto: dims (field 1), data_type FLOAT (field 2), raw_data (field 9).</summary>
    static byte[] TensorProtoBytes(ReadOnlySpan<float> values, long[] dims)
    {
        var stream = new MemoryStream();
        foreach (var d in dims) { stream.WriteByte(0x08); Varint(stream, (ulong)d); }
        stream.WriteByte(0x10); Varint(stream, 1);
        var raw = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray();
        stream.WriteByte(0x4A); Varint(stream, (ulong)raw.Length);
        stream.Write(raw);
        return stream.ToArray();
    }

    static void Varint(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }

    static (byte[] Data, long[] Shape, string Descr) ReadNpy(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var headerLength = BitConverter.ToUInt16(bytes, 8);
        var header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        var shape = Regex.Match(header, @"'shape': \(([^)]*)\)").Groups[1].Value
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        var descr = Regex.Match(header, @"'descr': '([^']*)'").Groups[1].Value;
        return (bytes[(10 + headerLength)..], shape, descr);
    }

    static (float[] Values, long[] Shape) ReadFloatNpy(string path)
    {
        var (data, shape, descr) = ReadNpy(path);
        Assert.Equal("<f4", descr);
        return (System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data).ToArray(), shape);
    }

    static long[] ReadInt64Npy(string path)
    {
        var (data, _, descr) = ReadNpy(path);
        Assert.Equal("<i8", descr);
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(data).ToArray();
    }
}
