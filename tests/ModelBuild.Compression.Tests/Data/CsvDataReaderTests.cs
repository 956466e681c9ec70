using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Tests.Data;

public class CsvDataReaderTests
{
    static string Dataset(string name, string file) => Path.Combine(TestMaterials.Shared, "datasets", name, file);
    static readonly string IrisModel = TestMaterials.Model("iris-mlp-pytorch");

    [Fact]
    public void Iris_data_with_class_names_in_the_label_column_scores_98_percent_with_the_iris_mlp()
    {
        var data = DataSource.Read(Dataset("iris", "iris.data"), new DataReadOptions { LabelColumn = "4", ModelPath = IrisModel });
        Assert.Equal([150L, 4], data.Inputs.Single().Shape);
        Assert.Equal([5.1f, 3.5f, 1.4f, 0.2f], data.Inputs.Single().Floats![..4]);
        // Class names numbered in ordinal order: setosa 0, versicolor 1, virginica 2 (as MATERIALS.md states).
        Assert.Equal(Enumerable.Repeat(0L, 50).Concat(Enumerable.Repeat(1L, 50)).Concat(Enumerable.Repeat(2L, 50)), data.Labels!);
        var evaluator = new ModelEvaluator(data.Inputs, data.LabelTensor, latencyRuns: 0);
        evaluator.SetReference(IrisModel);
        Assert.Equal(98.0, evaluator.Evaluate(IrisModel).Accuracy!.Value, 6);
    }

    [Fact]
    public void Iris_txt_tsv_with_a_hash_header_reads_the_same_table_by_label_name()
    {
        var csv = DataSource.Read(Dataset("iris", "iris.data"), new DataReadOptions { LabelColumn = "4" });
        var tsv = DataSource.Read(Dataset("iris", "iris.txt"), new DataReadOptions { LabelColumn = "Label" });
        Assert.Equal(csv.Inputs.Single().Shape, tsv.Inputs.Single().Shape);
        Assert.Equal(csv.Inputs.Single().Floats!, tsv.Inputs.Single().Floats!);
        Assert.Equal(csv.Labels!, tsv.Labels!);
        // The exact header name works too, and without a label column every column is a feature.
        Assert.Equal(tsv.Labels!, DataSource.Read(Dataset("iris", "iris.txt"), new DataReadOptions { LabelColumn = "#Label" }).Labels!);
        var unlabeled = DataSource.Read(Dataset("iris", "iris.txt"), new DataReadOptions());
        Assert.Null(unlabeled.Labels);
        Assert.Equal([150L, 5], unlabeled.Inputs.Single().Shape);
    }

    [Fact]
    public void MB0111_breast_cancer_missing_value_is_named_by_line_and_column()
    {
        var path = Dataset("breast-cancer", "breast-cancer.txt");
        var lines = File.ReadAllLines(path);
        var line = Array.FindIndex(lines, l => !l.StartsWith("//", StringComparison.Ordinal) && l.Contains('?')) + 1;
        var e = Assert.Throws<ModelBuildException>(() => DataSource.Read(path, new DataReadOptions { LabelColumn = "0" }));
        Assert.Equal("MB0111", e.Code);
        Assert.Contains($"line {line}, column 7: '?'", e.Cause);
        Assert.Equal(path, e.File);
    }

    [Fact]
    public void MB0111_taxi_fare_text_column_is_refused_with_its_position()
    {
        var path = Dataset("taxi-fare", "taxi-fare-test.csv");
        var e = Assert.Throws<ModelBuildException>(() => DataSource.Read(path, new DataReadOptions { LabelColumn = "fare_amount" }));
        Assert.Equal("MB0111", e.Code);
        Assert.Contains("line 2, column 1: 'VTS'", e.Cause);
    }

    [Fact]
    public void Headerless_csv_with_quoted_numbers_and_integer_labels_reads()
    {
        var path = Path.Combine(TestMaterials.TempDir(), "plain.csv");
        File.WriteAllLines(path, ["1.5,\"2.25\",0", "", "// a comment", "-3e2,4,2"]);
        // Parsing is culture-independent by construction (CultureInfo.InvariantCulture everywhere); this process runs
        // in globalization-invariant mode, so a de-DE current culture cannot be set to show it.
        var data = DataSource.Read(path, new DataReadOptions { LabelColumn = "2" });
        Assert.Equal([1.5f, 2.25f, -300f, 4f], data.Inputs.Single().Floats!);
        Assert.Equal([0L, 2], data.Labels!);
    }

    [Fact]
    public void MB0112_a_ragged_row_is_refused()
    {
        var path = Path.Combine(TestMaterials.TempDir(), "ragged.tsv");
        File.WriteAllLines(path, ["a\tb\tc", "1\t2\t3", "4\t5"]);
        var e = Assert.Throws<ModelBuildException>(() => DataSource.Read(path, new DataReadOptions()));
        Assert.Equal("MB0112", e.Code);
        Assert.Contains("line 3 has 2 columns", e.Cause);
    }

    [Fact]
    public void MB0113_a_label_column_that_is_not_there_lists_the_header()
    {
        var e = Assert.Throws<ModelBuildException>(() => DataSource.Read(Dataset("iris", "iris.txt"), new DataReadOptions { LabelColumn = "species" }));
        Assert.Equal("MB0113", e.Code);
        Assert.Contains("'Sepal length'", e.Cause);
        var byIndex = Assert.Throws<ModelBuildException>(() => DataSource.Read(Dataset("iris", "iris.data"), new DataReadOptions { LabelColumn = "9" }));
        Assert.Equal("MB0113", byIndex.Code);
        Assert.Contains("5 columns", byIndex.Cause);
    }

    [Fact]
    public void MB0122_fractional_labels_are_not_class_ids()
    {
        var path = Path.Combine(TestMaterials.TempDir(), "regression.csv");
        File.WriteAllLines(path, ["x,y", "1,0.5", "2,1"]);
        var e = Assert.Throws<ModelBuildException>(() => DataSource.Read(path, new DataReadOptions { LabelColumn = "y" }));
        Assert.Equal("MB0122", e.Code);
        Assert.Contains("line 2", e.Cause);
    }

    [Fact]
    public void MB0114_a_label_column_and_a_labels_file_together_are_refused()
    {
        var labels = TestMaterials.SaveNpy(TestMaterials.TempDir(), "y.npy", new long[150], 150);
        var e = Assert.Throws<ModelBuildException>(() => DataSource.Read(Dataset("iris", "iris.data"), new DataReadOptions { LabelColumn = "4" }, labels));
        Assert.Equal("MB0114", e.Code);
    }

    [Fact]
    public void A_csv_feeds_a_higher_rank_model_input_when_the_element_count_matches()
    {
        // genre-mlp takes [N,130,13]: 1690 columns per row.
        var path = Path.Combine(TestMaterials.TempDir(), "mfcc.csv");
        var row = string.Join(",", Enumerable.Range(0, 1690).Select(i => (i % 7).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        File.WriteAllLines(path, [row, row]);
        var data = DataSource.Read(path, new DataReadOptions { ModelPath = TestMaterials.Model("genre-mlp-keras") });
        Assert.Equal([2L, 130, 13], data.Inputs.Single().Shape);
    }
}
