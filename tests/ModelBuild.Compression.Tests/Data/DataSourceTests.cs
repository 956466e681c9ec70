using ModelBuild.Compression.Data;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Tests.Data;

public class DataSourceTests
{
    [Fact]
    public void Npy_and_npz_members_read_as_before_and_uint8_pixels_become_float_for_a_float_model()
    {
        var dir = TestMaterials.TempDir();
        var npz = Path.Combine(dir, "d.npz");
        NpzArchive.Write(npz, new Dictionary<string, NpyArray> { ["x"] = NpyArray.Create(new float[] { 1, 2, 3, 4 }, 2, 2), ["y"] = NpyArray.Create(new long[] { 0, 1 }, 2) });
        var data = DataSource.Read(npz + ":x", new DataReadOptions(), npz + ":y");
        Assert.Equal([1f, 2, 3, 4], data.Inputs.Single().Floats!);
        Assert.Equal([0L, 1], data.Labels!);
        var pixels = TestMaterials.SaveNpy(dir, "u8.npy", new byte[] { 0, 128, 255, 7 }, 1, 1, 2, 2);
        var read = DataSource.ReadTensor(pixels, new DataReadOptions { Input = new ModelInputSignature("x", [-1, 1, 2, 2], true) });
        Assert.Equal([0f, 128, 255, 7], read.Floats!);
    }

    [Fact]
    public void Labels_from_text_with_a_header_and_from_whole_valued_floats()
    {
        var dir = TestMaterials.TempDir();
        var text = Path.Combine(dir, "y.txt");
        File.WriteAllLines(text, ["label", "2", "0", "1"]);
        Assert.Equal([2L, 0, 1], DataSource.ReadLabels(text));
        Assert.Equal([1L, 0], DataSource.ReadLabels(TestMaterials.SaveNpy(dir, "yf.npy", new double[] { 1, 0 }, 2)));
    }

    [Fact]
    public void MB0122_soft_labels_or_a_matrix_are_not_class_ids()
    {
        var dir = TestMaterials.TempDir();
        Assert.Equal("MB0122", Assert.Throws<ModelBuildException>(() => DataSource.ReadLabels(TestMaterials.SaveNpy(dir, "soft.npy", new float[] { 0.3f, 0.7f }, 2))).Code);
        Assert.Equal("MB0122", Assert.Throws<ModelBuildException>(() => DataSource.ReadLabels(TestMaterials.SaveNpy(dir, "m.npy", new long[4], 2, 2))).Code);
    }

    [Fact]
    public void MB0110_unknown_format_and_MB0101_missing_path()
    {
        var dir = TestMaterials.TempDir();
        var parquet = Path.Combine(dir, "x.parquet");
        File.WriteAllText(parquet, "PAR1");
        Assert.Equal("MB0110", Assert.Throws<ModelBuildException>(() => DataSource.Read(parquet, new DataReadOptions())).Code);
        var emptyFolder = Directory.CreateDirectory(Path.Combine(dir, "nothing")).FullName;
        File.WriteAllText(Path.Combine(emptyFolder, "readme.md"), "no data");
        Assert.Equal("MB0110", Assert.Throws<ModelBuildException>(() => DataSource.Read(emptyFolder, new DataReadOptions())).Code);
        var missing = Assert.Throws<ModelBuildException>(() => DataSource.Read(Path.Combine(dir, "gone.csv"), new DataReadOptions()));
        Assert.Equal("MB0101", missing.Code);
    }

    [Fact]
    public void MB0115_a_file_without_samples()
    {
        var path = Path.Combine(TestMaterials.TempDir(), "header-only.csv");
        File.WriteAllLines(path, ["a,b,c"]);
        Assert.Equal("MB0115", Assert.Throws<ModelBuildException>(() => DataSource.Read(path, new DataReadOptions())).Code);
    }

    [Fact]
    public void Folder_hash_follows_content_and_names_not_location()
    {
        var dir = TestMaterials.TempDir();
        var a = Directory.CreateDirectory(Path.Combine(dir, "a", "cls")).Parent!.FullName;
        File.WriteAllBytes(Path.Combine(a, "cls", "1.png"), [1, 2, 3]);
        var first = DataInputHash.Compute(a);
        var b = Path.Combine(dir, "b");
        Directory.Move(a, b);
        Assert.Equal(first, DataInputHash.Compute(b));
        File.WriteAllBytes(Path.Combine(b, "cls", "1.png"), [1, 2, 4]);
        var edited = DataInputHash.Compute(b);
        Assert.NotEqual(first, edited);
        Directory.Move(Path.Combine(b, "cls"), Path.Combine(b, "other"));
        Assert.NotEqual(edited, DataInputHash.Compute(b));
        Assert.Single(DataInputHash.Files(b));
    }

    [Fact]
    public void An_npz_member_name_is_part_of_the_data_hash()
    {
        // e.npz:x and e.npz:y read different arrays, so a cache keyed on the hash must not mistake one for the other.
        var npz = Path.Combine(TestMaterials.TempDir(), "e.npz");
        NpzArchive.Write(npz, new Dictionary<string, NpyArray> { ["x"] = NpyArray.Create(new float[] { 1, 2 }, 2), ["y"] = NpyArray.Create(new float[] { 3, 4 }, 2) });
        Assert.NotEqual(DataInputHash.Compute(npz + ":x"), DataInputHash.Compute(npz + ":y"));
        Assert.StartsWith(DataInputHash.Compute(npz), DataInputHash.Compute(npz + ":x"));
        Assert.Equal([npz], DataInputHash.Files(npz + ":y"));
    }

    [Fact]
    public void Label_descriptions_for_reports_name_where_labels_come_from()
    {
        var iris = Path.Combine(TestMaterials.Shared, "datasets", "iris", "iris.data");
        Assert.Equal("column '4' of iris.data", DataSource.DescribeLabels(iris, new DataReadOptions { LabelColumn = "4" }, null));
        Assert.Null(DataSource.DescribeLabels(iris, new DataReadOptions(), null));
        Assert.Equal("y.npy", DataSource.DescribeLabels("x.npy", new DataReadOptions(), "/data/y.npy"));
        var dir = TestMaterials.TempDir();
        Directory.CreateDirectory(Path.Combine(dir, "imgs", "cat"));
        Assert.Equal("class subfolders of imgs", DataSource.DescribeLabels(Path.Combine(dir, "imgs") + "/", new DataReadOptions(), null));
        Assert.Null(DataSource.DescribeLabels(Path.Combine(TestMaterials.Shared, "models", "mnist-8"), new DataReadOptions(), null));
    }
}
