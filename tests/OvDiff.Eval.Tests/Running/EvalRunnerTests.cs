using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;
using OvDiff.Eval.Configuration;
using OvDiff.Eval.Reports;
using OvDiff.Eval.Running;
using OvDiff.Imaging;

using OvDiff.Testing;
using OvDiff.Core.Sharding;

namespace OvDiff.Eval.Tests.Running;

public sealed class EvalRunnerTests
{
    // Three 4x2 images over classes background(0), cat(1), dog(2), with a void (255) pixel in "b".
    private static Dictionary<string, LabelMap> ThreeImages() => new()
    {
        ["a"] = new LabelMap(4, 2, [0, 0, 1, 1, 0, 0, 1, 1]),
        ["b"] = new LabelMap(4, 2, [2, 2, 0, 255, 2, 2, 0, 0]),
        ["c"] = new LabelMap(4, 2, [0, 1, 1, 1, 0, 0, 0, 0]),
    };

    private static Dictionary<string, LabelMap> ManyImages(int count) =>
        Enumerable.Range(0, count).ToDictionary(i => $"img{i:D3}", i => SyntheticDataset.Map(5, 3, (x, y) => (byte)((x + y + i) % 4 == 3 ? 255 : (x + y + i) % 3)));

    [Fact]
    public void Run_GroundTruthAsPredictions_Is100AndWritesReports()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ThreeImages());
        string predictions = dataset.WritePredictions("gt", m => new LabelMap(m.Width, m.Height, m.Labels), LabelPngFormat.VocPalette);

        EvalOutcome outcome = Run(dataset.Config(), new EvalRunOptions { PredictionsDir = predictions });

        Assert.Equal(1.0, outcome.Metrics!.MeanIoU);
        string[] summary = File.ReadAllLines(Path.Combine(outcome.OutputDir, "summary.csv"));
        Assert.StartsWith("mIoU,mAcc,aAcc,fwIoU,images,skipped,config", summary[0], StringComparison.Ordinal);
        Assert.StartsWith("100.00,100.00,100.00,100.00,3,0,synthetic", summary[1], StringComparison.Ordinal);
        Assert.Equal("class,IoU,Acc,intersection,union,gt_pixels,pred_pixels", File.ReadLines(Path.Combine(outcome.OutputDir, "per_class.csv")).First());
        Assert.Equal(2, File.ReadAllLines(dataset.Combine("ledger.csv")).Length);
    }

    [Fact]
    public void Run_AllBackground_MatchesHandComputation()
    {
        // Scored pixels: a 8, b 7 (one void), c 8 = 23. Background pixels: a 4, b 3, c 5 = 12.
        // All-background prediction: IoU_bg = 12 / 23; IoU_cat = IoU_dog = 0 (in ground truth, never predicted).
        // mIoU = (12/23) / 3 = 17.39%; mAcc = (1 + 0 + 0) / 3 = 33.33%; aAcc = 12/23 = 52.17%;
        // fwIoU = (12 * 12/23) / 23 = 144/529 = 27.22%.
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ThreeImages());
        string predictions = dataset.WritePredictions("bg", m => new LabelMap(m.Width, m.Height, new byte[m.Labels.Length]));

        EvalOutcome outcome = Run(dataset.Config(), new EvalRunOptions { PredictionsDir = predictions });

        Assert.Equal(12.0 / 23 / 3, outcome.Metrics!.MeanIoU, 12);
        Assert.Equal(1.0 / 3, outcome.Metrics.MeanAccuracy, 12);
        Assert.Equal(12.0 / 23, outcome.Metrics.PixelAccuracy, 12);
        Assert.Equal(144.0 / 529, outcome.Metrics.FrequencyWeightedIoU, 12);
        Assert.StartsWith("17.39,33.33,52.17,27.22,3,0", File.ReadAllLines(Path.Combine(outcome.OutputDir, "summary.csv"))[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Run_WritesPerImageResults_HandWorked()
    {
        // All-background predictions. a: 4 bg + 4 cat: IoU_bg = 4/8, IoU_cat = 0: mIoU 25%, accuracy 4/8.
        // b: 3 bg + 4 dog scored (one void): IoU_bg = 3/7, IoU_dog = 0: mIoU 3/14 = 21.43%, accuracy 3/7 = 42.86%.
        // c: 5 bg + 3 cat: IoU_bg = 5/8: mIoU 31.25%, accuracy 62.50%.
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ThreeImages());
        string predictions = dataset.WritePredictions("bg", m => new LabelMap(m.Width, m.Height, new byte[m.Labels.Length]));

        EvalOutcome outcome = Run(dataset.Config(), new EvalRunOptions { PredictionsDir = predictions });

        Assert.Equal(
            [
                "id,mIoU,pixel_acc,scored_pixels,gt_classes,pred_classes,prefilter_kept,prefilter_missed,prefilter_ms",
                "a,25.00,50.00,8,background|cat,background,,,",
                "b,21.43,42.86,7,background|dog,background,,,",
                "c,31.25,62.50,8,background|cat,background,,,",
            ],
            File.ReadAllLines(Path.Combine(outcome.OutputDir, "per_image.csv")));
        Assert.Equal(3.0 / 14, outcome.Counts.Images.Single(i => i.Id == "b").MeanIoU, 12);
    }

    [Fact]
    public void Run_ShardsMerged_EqualSingleRunExactly()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ManyImages(11));
        string predictions = dataset.WritePredictions("shifted", m => new LabelMap(m.Width, m.Height, [.. m.Labels.Select(v => (byte)(v == 255 ? 0 : (v + 1) % 3))]));
        EvalOutcome single = Run(dataset.Config("single"), new EvalRunOptions { PredictionsDir = predictions });

        string shardDir = dataset.Combine("shards");
        var shardFiles = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            EvalOutcome shard = Run(dataset.Config("unused"), new EvalRunOptions { PredictionsDir = predictions, Shard = new ShardSpec(i, 3), OutputDir = shardDir });
            Assert.Null(shard.Metrics);
            shardFiles.Add(shard.CountsPath);
        }

        var (merged, metrics) = ShardMerger.MergeAndReport(ShardMerger.FindCountsFiles([shardDir]), Path.Combine(shardDir, "merged"), dataset.Combine("ledger.csv"));
        var (again, _) = ShardMerger.MergeAndReport(ShardMerger.FindCountsFiles([shardDir]), Path.Combine(shardDir, "merged"), dataset.Combine("ledger.csv"));

        Assert.Equal(single.Counts.Counts, merged.Counts);
        Assert.Equal(11, merged.Scored);
        Assert.Equal(single.Metrics!.MeanIoU, metrics.MeanIoU);
        Assert.Equal(File.ReadAllText(Path.Combine(single.OutputDir, "per_class.csv")), File.ReadAllText(Path.Combine(shardDir, "merged", "per_class.csv")));
        Assert.Equal(12, File.ReadAllLines(Path.Combine(shardDir, "merged", "per_image.csv")).Length);
        Assert.Equal(File.ReadAllText(Path.Combine(single.OutputDir, "per_image.csv")), File.ReadAllText(Path.Combine(shardDir, "merged", "per_image.csv")));
        Assert.Equal(merged.Counts, again.Counts);
        Assert.Equal(3, shardFiles.Distinct().Count());
    }

    [Fact]
    public void Run_ReadAheadOrNot_SameResults()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ManyImages(9));
        string predictions = dataset.WritePredictions("shifted", m => new LabelMap(m.Width, m.Height, [.. m.Labels.Select(v => (byte)(v == 255 ? 0 : (v + 1) % 3))]));

        EvalOutcome ahead = Run(dataset.Config("ahead"), new EvalRunOptions { PredictionsDir = predictions, ReadAhead = 3 });
        EvalOutcome inline = Run(dataset.Config("inline"), new EvalRunOptions { PredictionsDir = predictions, ReadAhead = 0 });
        EvalOutcome segmented = Run(dataset.Config("segmented"), new EvalRunOptions { SegmenterFactory = _ => new BrightnessSegmenter(), ReadAhead = 2 });

        Assert.Equal(inline.Counts.Counts, ahead.Counts.Counts);
        Assert.Equal(File.ReadAllText(Path.Combine(inline.OutputDir, "per_image.csv")), File.ReadAllText(Path.Combine(ahead.OutputDir, "per_image.csv")));
        Assert.Equal(9, segmented.Counts.Scored);

        // Thumbnails: a prediction folder's are made at the end, a segmenter's as images enter; both are the shown ones.
        foreach (EvalOutcome outcome in new[] { ahead, inline, segmented })
        {
            var (worst, best) = ReportImages.Select(outcome.Counts.Images);
            Assert.Equal(worst.Concat(best).Select(i => i.Id).Distinct().Order(), Thumbnails(outcome).Select(Path.GetFileNameWithoutExtension));
        }
    }

    private static string[] Thumbnails(EvalOutcome outcome) =>
        [.. Directory.GetFiles(Path.Combine(outcome.OutputDir, ReportImages.FolderName)).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal)];

    [Fact]
    public void Merge_MissingShard_IsAnError()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ManyImages(4));
        string predictions = dataset.WritePredictions("gt", m => m);
        EvalOutcome shard = Run(dataset.Config(), new EvalRunOptions { PredictionsDir = predictions, Shard = new ShardSpec(1, 2) });

        var error = Assert.Throws<InvalidDataException>(() => ShardMerger.Merge([shard.CountsPath]));

        Assert.Contains("0..1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_CancelledThenResumed_EqualsUninterruptedRun()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ManyImages(9));
        string predictions = dataset.WritePredictions("shifted", m => new LabelMap(m.Width, m.Height, [.. m.Labels.Select(v => (byte)(v == 255 ? 1 : (v + 2) % 3))]));
        EvalOutcome reference = Run(dataset.Config("reference"), new EvalRunOptions { PredictionsDir = predictions });

        using var cancellation = new CancellationTokenSource();
        var stopAfterFour = new SynchronousProgress(p => { if (p.Done == 4) { cancellation.Cancel(); } });
        var options = new EvalRunOptions { PredictionsDir = predictions, Resume = true };
        Assert.ThrowsAny<OperationCanceledException>(() => Run(dataset.Config("resumed"), options, stopAfterFour, cancellation.Token));
        CountsFile saved = CountsFile.Load(Path.Combine(dataset.Combine("resumed"), CountsFile.FileNameFor(ShardSpec.Whole)));
        Assert.Equal(4, saved.Done);

        EvalOutcome resumed = Run(dataset.Config("resumed"), options);

        Assert.Equal(reference.Counts.Counts, resumed.Counts.Counts);
        Assert.Equal(9, resumed.Counts.Scored);
        Assert.Equal(4, saved.Images.Count);
        Assert.Equal(File.ReadAllText(Path.Combine(reference.OutputDir, "per_image.csv")), File.ReadAllText(Path.Combine(resumed.OutputDir, "per_image.csv")));
        Assert.NotEmpty(Thumbnails(reference));
        Assert.Equal(Thumbnails(reference), Thumbnails(resumed));
        Assert.All(Thumbnails(reference), name => Assert.Equal(
            File.ReadAllBytes(Path.Combine(reference.OutputDir, ReportImages.FolderName, name)),
            File.ReadAllBytes(Path.Combine(resumed.OutputDir, ReportImages.FolderName, name))));
    }

    [Fact]
    public void Run_MissingImage_ErrorNamesFileUnlessSkipped()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ThreeImages());
        string predictions = dataset.WritePredictions("gt", m => m);
        string image = Path.Combine(dataset.Root, "JPEGImages", "b.png");
        File.Delete(image);

        var error = Assert.Throws<BadInputException>(() => Run(dataset.Config(), new EvalRunOptions { PredictionsDir = predictions }));
        Assert.Contains(image, error.Message, StringComparison.Ordinal);
        Assert.Equal("b", error.Id);

        EvalOutcome skipped = Run(dataset.Config("skip"), new EvalRunOptions { PredictionsDir = predictions, SkipBad = true });
        Assert.Equal(2, skipped.Counts.Scored);
        Assert.Equal("b", Assert.Single(skipped.Counts.Skipped).Id);
        Assert.Contains("b,", File.ReadAllText(Path.Combine(skipped.OutputDir, "skipped.csv")), StringComparison.Ordinal);
        Assert.StartsWith("100.00,100.00,100.00,100.00,2,1", File.ReadAllLines(Path.Combine(skipped.OutputDir, "summary.csv"))[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Run_PredictionOfWrongSize_ErrorNamesBothSizes()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ThreeImages());
        string predictions = dataset.WritePredictions("small", m => new LabelMap(2, 2, new byte[4]));

        var error = Assert.Throws<BadInputException>(() => Run(dataset.Config(), new EvalRunOptions { PredictionsDir = predictions }));

        Assert.Contains("2x2", error.Message, StringComparison.Ordinal);
        Assert.Contains("4x2", error.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(predictions, "a.png"), error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("EXIF", error.Message, StringComparison.Ordinal);

        // A prediction of a photo turned upright by its EXIF orientation (2x4 for a 4x2 mask) says how to keep the stored pixels.
        string turned = dataset.WritePredictions("turned", m => new LabelMap(m.Height, m.Width, new byte[m.Labels.Length]));
        var turnedError = Assert.Throws<BadInputException>(() => Run(dataset.Config(), new EvalRunOptions { PredictionsDir = turned }));
        Assert.Contains("prediction is 2x4 but the ground truth", turnedError.Message, StringComparison.Ordinal);
        Assert.Contains("turned 90 degrees: was the image turned upright by its EXIF orientation?", turnedError.Message, StringComparison.Ordinal);
        Assert.Contains("--stored-orientation", turnedError.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_LabelOutOfRange_ErrorNamesFileAndValue()
    {
        var labels = ThreeImages();
        labels["c"] = new LabelMap(4, 2, [0, 1, 7, 1, 0, 0, 0, 0]);
        using var dataset = new SyntheticDataset(DatasetKind.Voc, labels);
        string predictions = dataset.WritePredictions("bg", m => new LabelMap(m.Width, m.Height, new byte[m.Labels.Length]));

        var error = Assert.Throws<BadInputException>(() => Run(dataset.Config(), new EvalRunOptions { PredictionsDir = predictions }));

        Assert.Contains(Path.Combine(dataset.Root, "SegmentationClass", "c.png"), error.Message, StringComparison.Ordinal);
        Assert.Contains("ground-truth label value 7", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_TruncatedPrediction_ErrorNamesFile()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ThreeImages());
        string predictions = dataset.WritePredictions("gt", m => m);
        string path = Path.Combine(predictions, "b.png");
        byte[] png = File.ReadAllBytes(path);
        File.WriteAllBytes(path, png[..(png.Length - 20)]);

        var error = Assert.Throws<BadInputException>(() => Run(dataset.Config(), new EvalRunOptions { PredictionsDir = predictions }));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Segmenter_IsScoredAndItsPredictionsSaved()
    {
        // The fake segmenter reads the class back from the image's brightness (label * 40), so it is perfect except on
        // void pixels, which are not scored.
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ThreeImages());
        EvalConfig config = dataset.Config() with { Output = dataset.Config().Output with { SavePredictions = true } };
        EvalConfig? seen = null;

        EvalOutcome outcome = Run(config, new EvalRunOptions { SegmenterFactory = c => { seen = c; return new BrightnessSegmenter(); } });

        Assert.Same(config, seen);
        Assert.Equal(1.0, outcome.Metrics!.MeanIoU);
        Assert.True(File.Exists(Path.Combine(outcome.OutputDir, "predictions", "a.png")));
    }

    [Fact]
    public void Run_ImageWithExifOrientation_IsScoredAsStored_LikeItsGroundTruth()
    {
        // Dataset masks annotate the stored pixels (COCO holds photos tagged with an EXIF orientation). Image "a" becomes
        // a JPEG of its brightness tagged "rotated 180" (EXIF 3): applying the tag would put cat where the mask has
        // background (mIoU 1/3 on that image, silently); the evaluator keeps the stored pixels.
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ThreeImages());
        LabelMap a = dataset.Labels["a"];
        using var bitmap = new SkiaSharp.SKBitmap(a.Width, a.Height, SkiaSharp.SKColorType.Rgba8888, SkiaSharp.SKAlphaType.Unpremul);
        for (int i = 0; i < a.Labels.Length; i++)
        {
            byte brightness = (byte)((a.Labels[i] * 40) + 20);   // mid-band, so JPEG's rounding keeps label = brightness / 40
            bitmap.SetPixel(i % a.Width, i / a.Width, new SkiaSharp.SKColor(brightness, brightness, brightness));
        }

        using (SkiaSharp.SKData jpeg = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Jpeg, 100))
        {
            File.WriteAllBytes(Path.Combine(dataset.Root, "JPEGImages", "a.png"), ExifJpeg.WithOrientation(jpeg.ToArray(), 3));
        }

        Assert.Equal([1, 1, 0, 0, 1, 1, 0, 0], ImageDecoder.Decode(Path.Combine(dataset.Root, "JPEGImages", "a.png")).Pixels.Where((_, i) => i % 3 == 0).Select(v => v / 40));

        EvalOutcome outcome = Run(dataset.Config(), new EvalRunOptions { SegmenterFactory = _ => new BrightnessSegmenter() });

        Assert.Equal(1.0, outcome.Metrics!.MeanIoU);
    }

    [Fact]
    public void Run_PrefilterDecisions_GoToPerImageCsvAndPrecisionRecall()
    {
        // The fake pre-filter keeps "cat" for every image (dog dropped). Present: a cat, b dog, c cat. Kept and present:
        // a, c → precision 2/3 kept; recall 2 of 3 present classes (b's dog missed).
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ThreeImages());

        EvalOutcome outcome = Run(dataset.Config(), new EvalRunOptions { SegmenterFactory = _ => new BrightnessSegmenter { KeepCatOnly = true } });

        string[] rows = File.ReadAllLines(Path.Combine(outcome.OutputDir, "per_image.csv"));
        Assert.EndsWith(",cat,,2.5", rows[1], StringComparison.Ordinal);
        Assert.EndsWith(",cat,dog,2.5", rows[2], StringComparison.Ordinal);
        Assert.Equal(
            ["method,images,precision,recall,kept_per_image,ms_per_image", "test,3,66.67,66.67,1.00,2.5"],
            File.ReadAllLines(Path.Combine(outcome.OutputDir, "prefilter.csv")));
        Assert.Equal([1], outcome.Counts.Images[0].Prefilter!.Kept);

        // The decisions survive the counts file (a resumed or merged run reports them).
        Assert.Equal([2], CountsFile.Load(outcome.CountsPath).Images.Single(i => i.Id == "b").Prefilter!.Dropped);
    }

    [Fact]
    public void Run_ImageOfOtherSizeThanMask_ErrorNamesImageAndBothSizes()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ThreeImages());
        string image = Path.Combine(dataset.Root, "JPEGImages", "c.png");
        LabelPngWriter.Write(image, new LabelMap(5, 2, new byte[10]), LabelPngFormat.Grayscale);

        var error = Assert.Throws<BadInputException>(() => Run(dataset.Config(), new EvalRunOptions { SegmenterFactory = _ => new BrightnessSegmenter() }));

        Assert.Contains(image, error.Message, StringComparison.Ordinal);
        Assert.Contains("5x2", error.Message, StringComparison.Ordinal);
        Assert.Contains("4x2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_ResumeWithOtherPredictions_IsRefused()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ThreeImages());
        string first = dataset.WritePredictions("first", m => m);
        string second = dataset.WritePredictions("second", m => m);
        Run(dataset.Config(), new EvalRunOptions { PredictionsDir = first });

        var error = Assert.Throws<ConfigException>(() => Run(dataset.Config(), new EvalRunOptions { PredictionsDir = second, Resume = true }));

        Assert.Contains("another run", error.Message, StringComparison.Ordinal);
        Assert.Contains($"predictions: {first} saved, {second} now", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_ResumeWithOtherSegmenterOptionsOrModel_IsRefusedNamingWhatDiffers()
    {
        // Resuming with other segmenter options (or a refitted model at the same path) once mixed two runs' counts.
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ManyImages(6));
        using var cancellation = new CancellationTokenSource();
        var stopAfterTwo = new SynchronousProgress(p => { if (p.Done == 2) { cancellation.Cancel(); } });
        EvalRunOptions With(string area, string model) => new() { Resume = true, SegmenterFactory = _ => new BrightnessSegmenter(new() { ["inference.minimumClassArea"] = area, ["model.sha256"] = model }) };
        Assert.ThrowsAny<OperationCanceledException>(() => Run(dataset.Config(), With("0.1", "aaaa"), stopAfterTwo, cancellation.Token));

        var options = Assert.Throws<ConfigException>(() => Run(dataset.Config(), With("0.2", "aaaa")));
        var model = Assert.Throws<ConfigException>(() => Run(dataset.Config(), With("0.1", "bbbb")));
        EvalConfig shorter = dataset.Config() with { Protocol = new ProtocolConfig { ShortSide = 320 } };
        var protocol = Assert.Throws<ConfigException>(() => Run(shorter, With("0.1", "aaaa")));

        Assert.Contains("inference.minimumClassArea: 0.1 saved, 0.2 now", options.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("model.sha256", options.Message, StringComparison.Ordinal);
        Assert.Contains("model.sha256: aaaa saved, bbbb now", model.Message, StringComparison.Ordinal);
        Assert.Contains("config.protocol.shortSide: 448 saved, 320 now", protocol.Message, StringComparison.Ordinal);
        Assert.Equal(6, Run(dataset.Config(), With("0.1", "aaaa")).Counts.Done);   // the same run resumes
    }

    [Fact]
    public void Merge_ShardsRunWithOtherSegmenterOptions_IsRefusedNamingThem()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ManyImages(4));
        string shards = dataset.Combine("shards");
        EvalRunOptions Shard(int i, string area) => new() { Shard = new ShardSpec(i, 2), OutputDir = shards, SegmenterFactory = _ => new BrightnessSegmenter(new() { ["inference.minimumClassArea"] = area }) };
        Run(dataset.Config(), Shard(0, "0.1"));
        Run(dataset.Config(), Shard(1, "0.3"));

        var error = Assert.Throws<InvalidDataException>(() => ShardMerger.Merge(ShardMerger.FindCountsFiles([shards])));

        Assert.Contains("inference.minimumClassArea: 0.3 there, 0.1 in", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_OutputFolderInUse_IsRefusedNamingIt_ShardsLockSeparately()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ThreeImages());
        string predictions = dataset.WritePredictions("gt", m => m);
        string output = dataset.Combine("busy");
        using (OutputFolderLock.Acquire(output, ShardSpec.Whole))
        {
            var error = Assert.Throws<ConfigException>(() => Run(dataset.Config(), new EvalRunOptions { PredictionsDir = predictions, OutputDir = output }));
            Assert.Contains(output, error.Message, StringComparison.Ordinal);
            Assert.Contains("another ovdiff eval is writing to this folder", error.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(output, "config.json")));

            // Another shard of a run may share the folder.
            Assert.Null(Run(dataset.Config(), new EvalRunOptions { PredictionsDir = predictions, OutputDir = output, Shard = new ShardSpec(0, 2) }).Metrics);
        }

        Assert.NotNull(Run(dataset.Config(), new EvalRunOptions { PredictionsDir = predictions, OutputDir = output }).Metrics);
    }

    [Fact]
    public void Run_ResumeOfCountsWithoutImageResults_IsRefused()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ThreeImages());
        string predictions = dataset.WritePredictions("gt", m => m);
        EvalOutcome first = Run(dataset.Config(), new EvalRunOptions { PredictionsDir = predictions });
        (first.Counts with { FormatVersion = 1, Images = [], Done = 1, Scored = 1 }).Save(first.CountsPath);

        var error = Assert.Throws<ConfigException>(() => Run(dataset.Config(), new EvalRunOptions { PredictionsDir = predictions, Resume = true }));

        Assert.Contains(first.CountsPath, error.Message, StringComparison.Ordinal);
        Assert.Contains("per-image", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_NoPredictionsNoSegmenter_IsAConfigError()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, ThreeImages());
        Assert.Throws<ConfigException>(() => Run(dataset.Config(), new EvalRunOptions()));
    }

    [Fact]
    public void Run_RealVocDev_GroundTruth100AndBackgroundEqualsLabelCounts()
    {
        string voc = SharedData.RequireFolder("VOC2012");
        EvalConfig config = ConfigLoader.Load(Path.Combine(RepoPaths.Configs, "voc21-dev.json"), [SharedData.DatasetRootOverride("VOC2012")]);
        using var output = new TempFolder();
        config = config with { Output = new OutputConfig { Dir = output.Combine("gt"), Ledger = output.Combine("ledger.csv") } };

        EvalOutcome truth = Run(config, new EvalRunOptions { PredictionsDir = Path.Combine(voc, "SegmentationClass") });
        Assert.Equal("100.00", ReportWriter.Percent(truth.Metrics!.MeanIoU));

        // Independent counts: decode each mask's colours with SkiaSharp and invert the VOC colour map.
        long background = 0, scored = 0;
        foreach (string id in File.ReadLines(Path.Combine(voc, "ImageSets", "Segmentation", "dev.txt")).Where(l => l.Length > 0))
        {
            RgbImage colours = ImageDecoder.Decode(Path.Combine(voc, "SegmentationClass", id + ".png"));
            for (int i = 0; i < colours.PixelCount; i++)
            {
                Assert.True(VocColormap.TryGetIndex(colours.Pixels[i * 3], colours.Pixels[(i * 3) + 1], colours.Pixels[(i * 3) + 2], out byte label));
                scored += label == 255 ? 0 : 1;
                background += label == 0 ? 1 : 0;
            }
        }

        // The dev split's label counts (docs/evaluation.md): 91,401,122 background of 125,323,315 scored pixels.
        Assert.Equal((91_401_122L, 125_323_315L), (background, scored));

        // All background: IoU_bg = bg / scored, every other class (all present in dev) has IoU 0: mIoU = IoU_bg / 21
        // = 91401122 / 125323315 / 21 = 3.4729646%.
        string predictions = output.Combine("bg");
        foreach (string id in File.ReadLines(Path.Combine(voc, "ImageSets", "Segmentation", "dev.txt")).Where(l => l.Length > 0))
        {
            LabelMap gt = new LabelPngReader().Read(Path.Combine(voc, "SegmentationClass", id + ".png"));
            LabelPngWriter.Write(Path.Combine(predictions, id + ".png"), new LabelMap(gt.Width, gt.Height, new byte[gt.Labels.Length]), LabelPngFormat.Grayscale);
        }

        EvalOutcome allBackground = Run(config with { Output = config.Output with { Dir = output.Combine("bgout") } }, new EvalRunOptions { PredictionsDir = predictions });
        Assert.Equal((double)background / scored / 21, allBackground.Metrics!.MeanIoU, 12);
        Assert.Equal((double)background / scored, allBackground.Metrics.PixelAccuracy, 12);
        Assert.Equal("3.47", ReportWriter.Percent(allBackground.Metrics.MeanIoU));
    }

    private static EvalOutcome Run(EvalConfig config, EvalRunOptions options, IProgress<EvalProgress>? progress = null, CancellationToken? cancellationToken = null) =>
        EvalRunner.Run(config, options, progress, cancellationToken ?? TestContext.Current.CancellationToken);

    private sealed class SynchronousProgress(Action<EvalProgress> report) : IProgress<EvalProgress>
    {
        public void Report(EvalProgress value) => report(value);
    }

    private sealed class BrightnessSegmenter(Dictionary<string, string>? identity = null) : IIdentifiedSegmenter
    {
        public IReadOnlyList<string> ClassNames { get; } = ["background", "cat", "dog"];

        public IReadOnlyDictionary<string, string> IdentityParts { get; } = identity ?? [];

        public bool KeepCatOnly { get; init; }

        public LabelMap Segment(RgbImage image, CancellationToken cancellationToken = default) =>
            new(image.Width, image.Height, [.. Enumerable.Range(0, image.Width * image.Height).Select(i => (byte)(image.Pixels[i * 3] / 40))]);

        public SegmentationOutcome SegmentWithPrefilter(RgbImage image, CancellationToken cancellationToken = default) =>
            new(Segment(image, cancellationToken), KeepCatOnly ? new PrefilterOutcome("test", [1], [2], [float.NaN, 1f, 0f], 2.5) : null);
    }
}
