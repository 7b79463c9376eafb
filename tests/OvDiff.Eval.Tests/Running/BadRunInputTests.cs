using System.Buffers.Binary;
using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;
using OvDiff.Eval.Configuration;
using OvDiff.Eval.Datasets;
using OvDiff.Eval.Running;
using OvDiff.Imaging;

namespace OvDiff.Eval.Tests.Running;

/// <summary>
/// Inputs a tester crafts against the evaluator: hostile image headers and elongated images (skippable bad input, not
/// an abort), ids and classes listed twice, label tables, runs where everything was skipped, finished runs resumed,
/// edited counts files.
/// </summary>
public sealed class BadRunInputTests
{
    private static Dictionary<string, LabelMap> Images(int count) =>
        Enumerable.Range(0, count).ToDictionary(i => $"i{i}", i => SyntheticDataset.Map(4, 2, (x, _) => (byte)((x + i) % 3)));

    [Fact]
    public void HugeHeaderImage_IsBadInput_SkippedUnderSkipBad_NotAnAbort()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, Images(3));
        string image = Path.Combine(dataset.Root, "JPEGImages", "i1.png");
        byte[] png = File.ReadAllBytes(image);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(16), 60000);   // IHDR width and height, then its CRC
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(20), 60000);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), Crc(png.AsSpan(12, 17)));
        File.WriteAllBytes(image, png);
        var segmenter = new EvalRunOptions { SegmenterFactory = _ => new CopySegmenter() };

        var error = Assert.Throws<BadInputException>(() => Run(dataset.Config(), segmenter));
        Assert.Contains($"{image}: its header says 60000x60000", error.Message, StringComparison.Ordinal);

        EvalOutcome skipped = Run(dataset.Config("skip"), segmenter with { SkipBad = true });
        Assert.Equal(2, skipped.Counts.Scored);
        Assert.Equal("i1", Assert.Single(skipped.Counts.Skipped).Id);
    }

    [Fact]
    public void ElongatedImage_RefusedBySegmenter_IsSkippableBadInputNamingTheFile()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, Images(3));
        var options = new EvalRunOptions { SegmenterFactory = _ => new CopySegmenter(refuseWiderThan: 3), SkipBad = true };

        EvalOutcome outcome = Run(dataset.Config(), options with { SkipBad = false, SegmenterFactory = _ => new CopySegmenter(refuseWiderThan: 100) });
        Assert.Equal(3, outcome.Counts.Scored);
        var error = Assert.Throws<BadInputException>(() => Run(dataset.Config("strict"), options with { SkipBad = false }));
        Assert.Contains(Path.Combine(dataset.Root, "JPEGImages", "i0.png"), error.Message, StringComparison.Ordinal);
        Assert.Contains("too elongated", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryImageSkipped_IsAnError_NoReportNoLedgerRow()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, Images(2));
        var options = new EvalRunOptions { SegmenterFactory = _ => new CopySegmenter(refuseWiderThan: 3), SkipBad = true };

        var error = Assert.Throws<BadInputException>(() => Run(dataset.Config(), options));

        Assert.Contains("Every one of the 2 images was skipped", error.Message, StringComparison.Ordinal);
        Assert.Contains("too elongated", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(dataset.Combine("ledger.csv")));
        Assert.False(File.Exists(Path.Combine(dataset.Combine("out"), "summary.csv")));
    }

    [Fact]
    public void ResumeOfAFinishedRun_RewritesReports_AddsNoLedgerRow()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, Images(3));
        string predictions = dataset.WritePredictions("gt", m => m);
        var options = new EvalRunOptions { PredictionsDir = predictions, Resume = true };
        Run(dataset.Config(), options);
        Assert.Equal(2, File.ReadAllLines(dataset.Combine("ledger.csv")).Length);

        EvalOutcome again = Run(dataset.Config(), options);

        Assert.Equal(1.0, again.Metrics!.MeanIoU);
        Assert.Equal(2, File.ReadAllLines(dataset.Combine("ledger.csv")).Length);
        Run(dataset.Config(), options with { Resume = false });
        Assert.Equal(3, File.ReadAllLines(dataset.Combine("ledger.csv")).Length);
    }

    [Theory]
    [InlineData("done", "done = 5 of 3 images")]
    [InlineData("scored", "scored 7 + skipped 0 != done 3")]
    [InlineData("shard", "shard 2 of 2")]
    public void EditedCountsFile_IsRefusedNamingTheInconsistency(string field, string expected)
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, Images(3));
        EvalOutcome run = Run(dataset.Config(), new EvalRunOptions { PredictionsDir = dataset.WritePredictions("gt", m => m) });
        CountsFile edited = field switch
        {
            "done" => run.Counts with { Done = 5 },
            "scored" => run.Counts with { Scored = 7 },
            _ => run.Counts with { ShardIndex = 2, ShardCount = 2 },
        };
        edited.Save(run.CountsPath);

        var error = Assert.Throws<InvalidDataException>(() => CountsFile.Load(run.CountsPath));

        Assert.Contains(run.CountsPath, error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SplitListingAnIdTwice_IsAnErrorNamingIdAndLines()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, Images(2));
        string split = Path.Combine(dataset.Root, "ImageSets", "Segmentation", "val.txt");
        File.WriteAllLines(split, ["i0", "i1", "", "i0"]);

        var error = Assert.Throws<DatasetException>(() => Run(dataset.Config(), new EvalRunOptions { PredictionsDir = dataset.WritePredictions("gt", m => m) }));

        Assert.Equal($"Split file '{split}' lists id 'i0' twice (lines 1 and 4); each image must be listed once.", error.Message);
    }

    [Theory]
    [InlineData("cat", "Class 'cat' is listed twice (dataset.classes[1] and dataset.classes[2])")]
    [InlineData("Cat", "class 'Cat' (dataset.classes[2]) and class 'cat' (dataset.classes[1]) differ only in case")]
    public void ClassListedTwice_OrInTwoCases_IsAnError(string second, string expected)
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, Images(1), classes: ["background", "cat", second]);

        Exception error = Assert.ThrowsAny<Exception>(() => DatasetFactory.Open(dataset.Config().Dataset));

        Assert.True(error is DatasetException or InvalidDataException, error.GetType().Name);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PredictionsWithALabelTable_AreMatchedToTheDatasetByName()
    {
        // A folder written in another class order (dog = 1, cat = 2) with its labels.csv scores as the dataset's order.
        using var dataset = new SyntheticDataset(DatasetKind.Voc, Images(3));
        string swapped = dataset.WritePredictions("swapped", m => new LabelMap(m.Width, m.Height, [.. m.Labels.Select(v => v switch { 1 => (byte)2, 2 => (byte)1, _ => v })]));
        EvalOutcome without = Run(dataset.Config("without"), new EvalRunOptions { PredictionsDir = swapped });
        LabelTable.Write(swapped, ["background", "Dog", "cat"]);

        EvalOutcome with = Run(dataset.Config("with"), new EvalRunOptions { PredictionsDir = swapped });

        Assert.True(without.Metrics!.MeanIoU < 0.5);
        Assert.Equal(1.0, with.Metrics!.MeanIoU);
        LabelTable.Write(swapped, ["background", "dog", "horse"]);
        Assert.Contains("label 'horse' is not one of the dataset's classes", Assert.Throws<ConfigException>(() => Run(dataset.Config("bad"), new EvalRunOptions { PredictionsDir = swapped })).Message, StringComparison.Ordinal);
    }

    private static EvalOutcome Run(EvalConfig config, EvalRunOptions options) => EvalRunner.Run(config, options, null, TestContext.Current.CancellationToken);

    private static uint Crc(ReadOnlySpan<byte> typeAndData)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in typeAndData)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
            }
        }

        return ~crc;
    }

    /// <summary>Reads the label back from the grayscale image (label * 40); refuses images wider than a bound as the real segmenter refuses elongated ones.</summary>
    private sealed class CopySegmenter(int refuseWiderThan = int.MaxValue) : ISegmenter
    {
        public IReadOnlyList<string> ClassNames { get; } = ["background", "cat", "dog"];

        public LabelMap Segment(RgbImage image, CancellationToken cancellationToken = default)
        {
            if (image.Width > refuseWiderThan)
            {
                throw new ImageTooLargeException($"the {image.Width}x{image.Height} image is too elongated or too large: its long side exceeds the bound of {refuseWiderThan} pixels (test).");
            }

            return new(image.Width, image.Height, [.. Enumerable.Range(0, image.Width * image.Height).Select(i => (byte)(image.Pixels[i * 3] / 40))]);
        }
    }
}
