using System.IO.Compression;
using System.Text;
using ModelBuild.Compression.Data;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Tests.Data;

public sealed class NpyArrayTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("modelbuild-npy-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private static string Teachers
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "ModelBuild.sln")))
                {
                    return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "teachers"));
                }
            }
            throw new DirectoryNotFoundException("ModelBuild.sln not found");
        }
    }

    /// <summary>A .npy with a hand-written header (any version, any dict) followed by <paramref name="data"/>.</summary>
    private string WriteNpy(string name, string dict, byte[] data, int major = 1)
    {
        var header = Encoding.ASCII.GetBytes(dict + "\n");
        using var stream = new MemoryStream();
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, 0]);
        if (major == 1)
        {
            stream.Write(BitConverter.GetBytes((ushort)header.Length));
        }
        else
        {
            stream.Write(BitConverter.GetBytes((uint)header.Length));
        }
        stream.Write(header);
        stream.Write(data);
        string path = Path.Combine(_temp, name);
        File.WriteAllBytes(path, stream.ToArray());
        return path;
    }

    [Fact]
    public void Reads_the_teacher_data_files()
    {
        var x = NpyArray.Read(Path.Combine(Teachers, "wine-mlp", "train_x.npy"));
        Assert.Equal(NpyDType.Float32, x.DType);
        Assert.Equal(new long[] { 124, 13 }, x.Shape);
        Assert.Equal(124, x.Rows);
        Assert.Equal(13, x.RowLength);
        // Standardized features: mean about 0, std about 1 per column (reference.json standardization).
        var values = x.As<float>();
        Assert.InRange(values.Average(), -0.1, 0.1);
        Assert.All(values, v => Assert.True(float.IsFinite(v)));

        var y = NpyArray.Read(Path.Combine(Teachers, "wine-mlp", "train_y.npy"));
        Assert.Equal(NpyDType.Int64, y.DType);
        Assert.Equal(new long[] { 124 }, y.Shape);
        Assert.Equal(new long[] { 0, 1, 2 }, y.As<long>().Distinct().Order());

        var tokens = NpyArray.Read(Path.Combine(Teachers, "synthetic-intent-transformer", "test_x.npy"));
        Assert.Equal(new long[] { 1200, 32 }, tokens.Shape);
        Assert.Equal(32, tokens.Row<long>(5).Length);
        var heldOut = NpyArray.Read(Path.Combine(Teachers, "synthetic-intent-transformer", "test_heldout_template.npy"));
        Assert.Equal(NpyDType.Bool, heldOut.DType);
        Assert.Contains(true, heldOut.As<bool>());
        Assert.Contains(false, heldOut.As<bool>());

        // Every shipped .npy reads, and its element count matches the file size.
        foreach (var file in Directory.EnumerateFiles(Teachers, "*.npy", SearchOption.AllDirectories))
        {
            var a = NpyArray.Read(file);
            Assert.True(new FileInfo(file).Length >= a.Length * NpyDTypes.ItemSize(a.DType), file);
        }
    }

    [Fact]
    public void Write_then_read_round_trips_byte_identically()
    {
        var original = NpyArray.Read(Path.Combine(Teachers, "breast-cancer-mlp", "test_x.npy"));
        string path = Path.Combine(_temp, "copy.npy");
        original.Save(path);
        // Same header layout as numpy 1.x (v1.0, padded to 64 bytes): the copy equals the numpy-written file.
        Assert.Equal(File.ReadAllBytes(Path.Combine(Teachers, "breast-cancer-mlp", "test_x.npy")), File.ReadAllBytes(path));

        foreach (var array in new[]
                 {
                     NpyArray.Create(new[] { 1.5, -2.0 }, 2),
                     NpyArray.Create(new[] { 1, 2, 3, 4, 5, 6 }, 2, 3),
                     NpyArray.Create(new byte[] { 0, 255 }, 2, 1),
                     NpyArray.Create(new[] { true, false, true }, 3),
                     NpyArray.Create(new[] { 7L }),
                 })
        {
            array.Save(path);
            var back = NpyArray.Read(path);
            Assert.Equal(array.DType, back.DType);
            Assert.Equal(array.Shape, back.Shape);
            Assert.Equal(array.ToBytes(), back.ToBytes());
        }
    }

    /// <summary>
    /// Signed and unsigned arrays of one size pass each other's type test in the CLR (<c>new sbyte[1] is byte[]</c>), so
    /// the conversions go by exact type: int8 -1 read as 255, and int64 -1 overflowed as a uint64, before.
    /// </summary>
    [Fact]
    public void Negative_integers_convert_as_signed_and_large_unsigned_as_unsigned()
    {
        Assert.Equal([-1f, 2f], NpyArray.Create(new sbyte[] { -1, 2 }, 2).ToSingleArray());
        Assert.Equal([255f, 2f], NpyArray.Create(new byte[] { 255, 2 }, 2).ToSingleArray());
        Assert.Equal([-1f, 7f], NpyArray.Create(new int[] { -1, 7 }, 2).ToSingleArray());
        Assert.Equal([4294967295f], NpyArray.Create(new uint[] { uint.MaxValue }, 1).ToSingleArray());
        Assert.Equal([-1L, 3L], NpyArray.Create(new long[] { -1, 3 }, 2).ToInt64Array());
        Assert.Equal([-1L], NpyArray.Create(new short[] { -1 }, 1).ToInt64Array());
        Assert.Equal([65535L], NpyArray.Create(new ushort[] { 65535 }, 1).ToInt64Array());
        Assert.Throws<OverflowException>(() => NpyArray.Create(new ulong[] { ulong.MaxValue }, 1).ToInt64Array());
        var path = Path.Combine(_temp, "neg.npy");
        NpyArray.Create(new long[] { -5, 1 }, 2).Save(path);
        Assert.Equal([-5L, 1L], NpyDataReader.Read(path).Int64s!);
        // A uint64 beyond int64 is each reader's coded error, an int64 -1 none.
        Assert.Null(NpyArray.Create(new long[] { -1 }, 1).FirstBeyondInt64());
        Assert.Equal((1, ulong.MaxValue), NpyArray.Create(new ulong[] { 1, ulong.MaxValue }, 2).FirstBeyondInt64());
        var big = Path.Combine(_temp, "big.npy");
        NpyArray.Create(new ulong[] { 1, ulong.MaxValue }, 2).Save(big);
        Assert.Contains("entry 1 is 18446744073709551615, above int64's range", Assert.Throws<ModelBuildException>(() => NpyDataReader.Read(big)).Message);
        Assert.Contains("entry 1 is 18446744073709551615, far beyond any class id", Assert.Throws<ModelBuildException>(() => DataSource.ReadLabels(big)).Message);
    }

    [Fact]
    public void Reads_version_2_and_3_headers()
    {
        var data = BitConverter.GetBytes(1.25f).Concat(BitConverter.GetBytes(-3f)).ToArray();
        var v2 = NpyArray.Read(WriteNpy("v2.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data, major: 2));
        Assert.Equal(new[] { 1.25f, -3f }, v2.As<float>());
        var v3 = NpyArray.Read(WriteNpy("v3.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", data, major: 3));
        Assert.Equal(new long[] { 1, 2 }, v3.Shape);
        var scalar = NpyArray.Read(WriteNpy("s.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (), }", BitConverter.GetBytes(9)));
        Assert.Empty(scalar.Shape);
        Assert.Equal(new[] { 9L }, scalar.ToInt64Array());
    }

    [Fact]
    public void Npz_archives_read_every_member()
    {
        string path = Path.Combine(_temp, "data.npz");
        var x = NpyArray.Read(Path.Combine(Teachers, "wine-mlp", "test_x.npy"));
        var y = NpyArray.Read(Path.Combine(Teachers, "wine-mlp", "test_y.npy"));
        NpzArchive.Write(path, new Dictionary<string, NpyArray> { ["x"] = x, ["y"] = y });
        var all = NpzArchive.Read(path);
        Assert.Equal(new[] { "x", "y" }, all.Keys.Order());
        Assert.Equal(x.ToBytes(), all["x"].ToBytes());
        Assert.Equal(y.As<long>(), NpzArchive.Read(path, "y").As<long>());

        // numpy.savez_compressed writes deflated members; those read too.
        string compressed = Path.Combine(_temp, "compressed.npz");
        using (var zip = ZipFile.Open(compressed, ZipArchiveMode.Create))
        {
            using var s = zip.CreateEntry("arr_0.npy", CompressionLevel.Optimal).Open();
            x.WriteTo(s);
        }
        Assert.Equal(x.ToBytes(), NpzArchive.Read(compressed)["arr_0"].ToBytes());
        Assert.Equal("MB0109", Assert.Throws<ModelBuildException>(() => NpzArchive.Read(path, "z")).Code);
        string notZip = Path.Combine(_temp, "bad.npz");
        File.WriteAllText(notZip, "not a zip");
        Assert.Equal("MB0109", Assert.Throws<ModelBuildException>(() => NpzArchive.Read(notZip)).Code);
    }

    private void AssertCode(string code, string path)
    {
        var e = Assert.Throws<ModelBuildException>(() => NpyArray.Read(path));
        Assert.Equal(code, e.Code);
        Assert.Equal(path, e.File);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Bad_files_get_their_own_MB01xx_codes()
    {
        AssertCode("MB0101", Path.Combine(_temp, "missing.npy"));
        string empty = Path.Combine(_temp, "empty.npy");
        File.WriteAllBytes(empty, []);
        AssertCode("MB0102", empty);
        string text = Path.Combine(_temp, "text.npy");
        File.WriteAllText(text, "1,2,3\n4,5,6\n");
        AssertCode("MB0103", text);
        AssertCode("MB0104", WriteNpy("badheader.npy", "not a dict at all", []));
        AssertCode("MB0104", WriteNpy("badversion.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", new byte[4], major: 9));
        AssertCode("MB0105", WriteNpy("fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", new byte[16]));
        AssertCode("MB0106", WriteNpy("big.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", new byte[8]));
        AssertCode("MB0107", WriteNpy("complex.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", new byte[16]));
        AssertCode("MB0107", WriteNpy("structured.npy", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", new byte[8]));
        AssertCode("MB0108", WriteNpy("short.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (10,), }", new byte[40]));

        // A real file cut in half.
        byte[] real = File.ReadAllBytes(Path.Combine(Teachers, "wine-mlp", "train_x.npy"));
        string cut = Path.Combine(_temp, "cut.npy");
        File.WriteAllBytes(cut, real[..(real.Length / 2)]);
        AssertCode("MB0108", cut);
    }
}
