using System.Globalization;
using ModelBuild.Compression.Data;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Tests.Data;

public class TokenIdFileReaderTests
{
    static string Intent(string file) => Path.Combine(TestMaterials.Teacher("synthetic-intent-transformer"), file);

    [Fact]
    public void Intent_test_ids_written_as_text_without_padding_read_back_to_test_x()
    {
        var expected = NpyArray.Read(Intent("test_x.npy"));
        var ids = expected.ToInt64Array();
        var length = (int)expected.RowLength;
        var path = Path.Combine(TestMaterials.TempDir(), "test_ids.txt");
        var lines = new List<string>();
        for (var r = 0; r < expected.Rows; r++)
        {
            var row = ids.AsSpan(r * length, length).ToArray();
            var used = Array.FindLastIndex(row, v => v != 0) + 1; // the tokenizer's output before padding
            lines.Add(string.Join(r % 2 == 0 ? " " : ",", row.Take(Math.Max(used, 1)).Select(v => v.ToString(CultureInfo.InvariantCulture))));
        }
        File.WriteAllLines(path, lines);
        // .txt + an integer-input model = token ids; the sequence length (32) comes from the model.
        var data = DataSource.Read(path, new DataReadOptions { ModelPath = Intent("teacher.onnx") }, Intent("test_y.npy"));
        Assert.Equal(expected.Shape, data.Inputs.Single().Shape);
        Assert.Equal(ids, data.Inputs.Single().Int64s!);
        Assert.Equal(NpyArray.Read(Intent("test_y.npy")).ToInt64Array(), data.Labels!);
    }

    [Fact]
    public void Sequences_are_padded_with_the_pad_id_and_truncated_to_the_model_length()
    {
        var path = Path.Combine(TestMaterials.TempDir(), "short.ids");
        File.WriteAllLines(path, ["5 6 7", "1 2 3 4 5 6", ""]);
        var fixedLength = new ModelInputSignature("ids", [-1, 4], false);
        var data = DataSource.Read(path, new DataReadOptions { Input = fixedLength, PadId = 9 });
        Assert.Equal([2L, 4], data.Inputs.Single().Shape);
        Assert.Equal([5L, 6, 7, 9, 1, 2, 3, 4], data.Inputs.Single().Int64s!);
        // A dynamic length pads to the longest line.
        var longest = DataSource.Read(path, new DataReadOptions { Input = new ModelInputSignature("ids", [-1, -1], false) });
        Assert.Equal([2L, 6], longest.Inputs.Single().Shape);
    }

    [Fact]
    public void MB0120_a_token_that_is_not_an_id_is_named_and_MB0121_a_blank_line_inside()
    {
        var dir = TestMaterials.TempDir();
        var bad = Path.Combine(dir, "bad.tokens");
        File.WriteAllLines(bad, ["1 2 3", "4 hello 6"]);
        var e = Assert.Throws<ModelBuildException>(() => DataSource.Read(bad, new DataReadOptions()));
        Assert.Equal("MB0120", e.Code);
        Assert.Contains("line 2, token 2: 'hello'", e.Cause);
        Assert.Equal("MB0120", Assert.Throws<ModelBuildException>(() => { File.WriteAllLines(bad, ["1 -2"]); DataSource.Read(bad, new DataReadOptions()); }).Code);

        var blank = Path.Combine(dir, "blank.ids");
        File.WriteAllLines(blank, ["1 2", "", "3 4"]);
        var b = Assert.Throws<ModelBuildException>(() => DataSource.Read(blank, new DataReadOptions()));
        Assert.Equal("MB0121", b.Code);
        Assert.Contains("line 2", b.Cause);
    }
}
