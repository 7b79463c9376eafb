using OvDiff.Core.Images;
using OvDiff.Imaging;

namespace OvDiff.Cli.Tests;

public sealed class EvalCommandTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "ovdiff-cli-tests-" + Guid.NewGuid().ToString("N"));

    public EvalCommandTests()
    {
        // A 2-image VOC-layout dataset: labels 0/1/2 with one void pixel; "images" are PNGs.
        string root = Path.Combine(_folder, "voc");
        Directory.CreateDirectory(Path.Combine(root, "ImageSets", "Segmentation"));
        File.WriteAllLines(Path.Combine(root, "ImageSets", "Segmentation", "val.txt"), ["x", "y"]);
        Write(root, "x", [0, 0, 1, 1, 0, 2]);
        Write(root, "y", [2, 2, 0, 255, 1, 0]);
        File.WriteAllText(Path.Combine(_folder, "tiny.json"), """
        { "name": "tiny", "dataset": { "kind": "voc", "root": "voc", "split": "val", "imageSuffix": ".png", "classes": ["background", "cat", "dog"] },
          "output": { "ledger": "ledger.csv" } }
        """);
    }

    private string Config => Path.Combine(_folder, "tiny.json");

    private string Predictions => Path.Combine(_folder, "voc", "SegmentationClass");

    [Fact]
    public void Eval_GroundTruthPredictions_PrintsAndWrites100()
    {
        string output = Path.Combine(_folder, "out");

        (int exit, string stdout, string stderr) = Invoke("eval", "--config", Config, "--predictions", Predictions, "--out", output);

        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
        Assert.Contains("mIoU 100.00", stdout, StringComparison.Ordinal);
        Assert.StartsWith("100.00,100.00,100.00,100.00,2,0,tiny", File.ReadAllLines(Path.Combine(output, "summary.csv"))[1], StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_folder, "ledger.csv")));
    }

    [Fact]
    public void Eval_SetOverride_ChangesTheRun()
    {
        // Overriding the split to one that does not exist proves --set reached the dataset.
        (int exit, _, string stderr) = Invoke("eval", "-c", Config, "-p", Predictions, "-o", Path.Combine(_folder, "o"), "--set", "dataset.split=test");

        Assert.Equal(1, exit);
        Assert.Contains(Path.Combine("Segmentation", "test.txt"), stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_UnknownConfigKey_ExitsOneNamingKeyAndFile()
    {
        string bad = Path.Combine(_folder, "bad.json");
        File.WriteAllText(bad, """{ "base": "tiny.json", "dataset": { "splt": "val" } }""");

        (int exit, _, string stderr) = Invoke("eval", "-c", bad, "-p", Predictions);

        Assert.Equal(1, exit);
        Assert.Contains("dataset.splt", stderr, StringComparison.Ordinal);
        Assert.Contains(bad, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_ShardsThenMerge_EqualsSingleRun()
    {
        string shards = Path.Combine(_folder, "shards");
        Assert.Equal(0, Invoke("eval", "-c", Config, "-p", Predictions, "-o", shards, "--shard", "0/2").Exit);
        Assert.Equal(0, Invoke("eval", "-c", Config, "-p", Predictions, "-o", shards, "--shard", "1/2").Exit);
        Assert.Equal(0, Invoke("eval", "-c", Config, "-p", Predictions, "-o", Path.Combine(_folder, "single")).Exit);

        (int exit, string stdout, _) = Invoke("eval", "merge", shards, "--out", Path.Combine(_folder, "merged"), "--ledger", Path.Combine(_folder, "ledger.csv"));

        Assert.Equal(0, exit);
        Assert.Contains("mIoU 100.00", stdout, StringComparison.Ordinal);
        Assert.Equal(
            File.ReadAllText(Path.Combine(_folder, "single", "per_class.csv")),
            File.ReadAllText(Path.Combine(_folder, "merged", "per_class.csv")));
        Assert.True(File.Exists(Path.Combine(_folder, "merged", "report.html")));
    }

    [Fact]
    public void EvalReport_RebuildsTheReportOfAShardedRun()
    {
        string shards = Path.Combine(_folder, "shards");
        Assert.Equal(0, Invoke("eval", "-c", Config, "-p", Predictions, "-o", shards, "--shard", "0/2").Exit);
        Assert.Equal(0, Invoke("eval", "-c", Config, "-p", Predictions, "-o", shards, "--shard", "1/2").Exit);
        string report = Path.Combine(shards, "report.html");
        Assert.False(File.Exists(report));

        (int exit, string stdout, string stderr) = Invoke("eval", "report", shards);

        Assert.Equal((0, ""), (exit, stderr));
        Assert.Contains(report, stdout, StringComparison.Ordinal);
        Assert.Contains("tiny: mIoU 100.00", File.ReadAllText(report), StringComparison.Ordinal);
    }

    [Fact]
    public void EvalReport_FolderWithoutCounts_ExitsOneNamingIt()
    {
        string empty = Path.Combine(_folder, "empty");
        Directory.CreateDirectory(empty);

        (int exit, _, string stderr) = Invoke("eval", "report", empty);

        Assert.Equal(1, exit);
        Assert.StartsWith("error: ", stderr, StringComparison.Ordinal);
        Assert.Contains("counts", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_BadShard_ExitsOne()
    {
        (int exit, _, string stderr) = Invoke("eval", "-c", Config, "-p", Predictions, "--shard", "2/2");
        Assert.Equal(1, exit);
        Assert.Contains("2/2", stderr, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static (int Exit, string Stdout, string Stderr) Invoke(params string[] args) => Cli.Invoke(args);

    private static void Write(string root, string id, byte[] labels)
    {
        var map = new LabelMap(3, 2, labels);
        LabelPngWriter.Write(Path.Combine(root, "SegmentationClass", id + ".png"), map);
        LabelPngWriter.Write(Path.Combine(root, "JPEGImages", id + ".png"), map, LabelPngFormat.Grayscale);
    }
}
