using System.Text.RegularExpressions;
using OvDiff.Core.Images;
using OvDiff.Core.Sharding;
using OvDiff.Eval.Configuration;
using OvDiff.Eval.Metrics;
using OvDiff.Eval.Reports;
using OvDiff.Eval.Running;
using OvDiff.Imaging;
using OvDiff.Testing;

namespace OvDiff.Eval.Tests.Reports;

public sealed partial class HtmlReportTests
{
    // 20 images of 12x8 with background, cat, dog and a void pixel; predictions wrong on a growing share of pixels, so
    // the images' mIoU differ and the best and worst are well defined.
    private static Dictionary<string, LabelMap> Images(int count) =>
        Enumerable.Range(0, count).ToDictionary(i => $"img{i:D3}", i => SyntheticDataset.Map(12, 8, (x, y) => (byte)(x == 0 && y == 0 ? 255 : x < 4 ? 0 : x < 8 ? 1 + (i % 2) : 2 - (i % 2))));

    private static LabelMap Degrade(LabelMap truth, int index) =>
        new(truth.Width, truth.Height, [.. truth.Labels.Select((v, p) => (byte)(v == 255 ? 0 : (p % truth.Width) < index % 12 ? (v + 1) % 3 : v))]);

    [Fact]
    public void Run_WritesSelfContainedReportWithBestAndWorstImages()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, Images(20));
        int n = 0;
        var order = dataset.Labels.Keys.ToList();
        string predictions = dataset.WritePredictions("pred", m => Degrade(m, n++));

        EvalOutcome outcome = EvalRunner.Run(dataset.Config(), new EvalRunOptions { PredictionsDir = predictions }, null, TestContext.Current.CancellationToken);

        string html = File.ReadAllText(Path.Combine(outcome.OutputDir, HtmlReport.FileName));
        Assert.DoesNotMatch(ExternalReference(), html);
        Assert.Contains("Plotly.newPlot", html, StringComparison.Ordinal);
        Assert.Contains("\"type\":\"heatmap\"", html, StringComparison.Ordinal);
        Assert.Contains("\"x\":[\"background\",\"cat\",\"dog\"]", html, StringComparison.Ordinal);

        var (worst, best) = ReportImages.Select(outcome.Counts.Images);
        Assert.Equal(12, DataUri().Matches(html).Count);
        string[] thumbnails = [.. Directory.GetFiles(Path.Combine(outcome.OutputDir, ReportImages.FolderName)).Select(Path.GetFileNameWithoutExtension).Order()!];
        Assert.Equal(worst.Concat(best).Select(i => i.Id).Order(), thumbnails);
        Assert.True(html.IndexOf(worst[0].Id, StringComparison.Ordinal) < html.IndexOf(best[0].Id, StringComparison.Ordinal));
        Assert.True(worst[0].MeanIoU < best[0].MeanIoU);
    }

    [Fact]
    public void Select_RanksByMeanIoUThenId()
    {
        ImageResult[] images = [Result("b", 0.5), Result("a", 0.5), Result("c", 0.1), Result("d", 0.9), Result("e", double.NaN)];

        var (worst, best) = ReportImages.Select(images, perSide: 2);

        Assert.Equal(["c", "a"], worst.Select(i => i.Id));
        Assert.Equal(["d", "a"], best.Select(i => i.Id)); // ties go to the first id on both sides
    }

    [Fact]
    public void Tracker_TiedImages_OnlyTheFirstEnter_AndTheKeptAreWhatSelectShows()
    {
        // Every image perfect (the ground truth scored as predictions): 746 thumbnails were made, one per image, and
        // deleted at the end; the run took 6 s instead of 0.4 s. Now only the first images enter either side.
        ImageResult[] tied = [.. Enumerable.Range(0, 50).Select(i => Result($"id{i:D3}", 1.0))];
        var tracker = new ReportImages.Tracker([], perSide: 3);

        bool[] entered = [.. tied.Select(tracker.Admit)];

        Assert.Equal(3, entered.Count(e => e));
        Assert.True(entered[0] && entered[1] && entered[2]);
        var (worst, best) = ReportImages.Select(tied, perSide: 3);
        Assert.Equal(worst.Concat(best).Select(i => i.Id).Distinct().Order(), tracker.KeptIds.Distinct().Order());

        // Mixed scores: what the tracker keeps is what Select shows.
        var random = new Random(3);
        ImageResult[] mixed = [.. Enumerable.Range(0, 200).Select(i => Result($"m{i:D3}", random.Next(5) / 4.0))];
        var mixedTracker = new ReportImages.Tracker(mixed, perSide: 4);
        var (mixedWorst, mixedBest) = ReportImages.Select(mixed, perSide: 4);
        Assert.Equal(mixedWorst.Concat(mixedBest).Select(i => i.Id).Order(), mixedTracker.KeptIds.Order());
    }

    [Fact]
    public void Report_PrefilterPrecisionAndRecall_HandWorked()
    {
        // Image 1: ground truth {background, cat}, kept {cat, dog}; image 2: ground truth {background, dog}, kept {dog}.
        // Background is not a candidate: present 2, kept 3, both 2: precision 2/3 = 66.67 %, recall 100.00 %, 1.50 kept.
        using var folder = new TempFolder();
        CountsFile counts = Counts(
        [
            Result("one", 0.5) with { GroundTruthClasses = [0, 1], Prefilter = new ImagePrefilter("clip", [1, 2], [], 0) },
            Result("two", 0.5) with { GroundTruthClasses = [0, 2], Prefilter = new ImagePrefilter("clip", [2], [1], 0) },
        ]);

        string html = File.ReadAllText(HtmlReport.Write(folder.Path, counts, folder.Combine("ledger.csv")));

        Assert.Contains("Class pre-filter", html, StringComparison.Ordinal);
        Assert.Contains(">66.67 %<", html, StringComparison.Ordinal);
        Assert.Contains(">100.00 %<", html, StringComparison.Ordinal);
        Assert.Contains(">1.50<", html, StringComparison.Ordinal);
        string without = File.ReadAllText(HtmlReport.Write(folder.Path, Counts([Result("one", 0.5)]), folder.Combine("ledger.csv")));
        Assert.DoesNotContain("Class pre-filter", without, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_ShowsTheLedgersEarlierRunsOfTheSameConfig()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, Images(4));
        string predictions = dataset.WritePredictions("gt", m => m);
        EvalConfig config = dataset.Config();
        EvalRunner.Run(config, new EvalRunOptions { PredictionsDir = predictions }, null, TestContext.Current.CancellationToken);
        EvalRunner.Run(config with { Name = "other" }, new EvalRunOptions { PredictionsDir = predictions, OutputDir = dataset.Combine("other") }, null, TestContext.Current.CancellationToken);
        Thread.Sleep(1100); // ledger timestamps have one-second resolution
        EvalOutcome second = EvalRunner.Run(config, new EvalRunOptions { PredictionsDir = predictions }, null, TestContext.Current.CancellationToken);

        string html = File.ReadAllText(Path.Combine(second.OutputDir, HtmlReport.FileName));

        string trend = html[html.IndexOf("id=\"trend\"", StringComparison.Ordinal)..];
        Assert.Equal(2, TrendRow().Matches(trend).Count);
        Assert.Single(CurrentRow().Matches(trend));
        Assert.Contains("\"type\":\"scatter\"", trend, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_RebuiltFromShardsAndFromTheMergedRun()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, Images(20));
        int n = 0;
        string predictions = dataset.WritePredictions("pred", m => Degrade(m, n++));
        EvalOutcome single = EvalRunner.Run(dataset.Config("single"), new EvalRunOptions { PredictionsDir = predictions }, null, TestContext.Current.CancellationToken);
        string shards = dataset.Combine("shards");
        for (int i = 0; i < 3; i++)
        {
            EvalRunner.Run(dataset.Config(), new EvalRunOptions { PredictionsDir = predictions, Shard = new ShardSpec(i, 3), OutputDir = shards }, null, TestContext.Current.CancellationToken);
        }

        Assert.False(File.Exists(Path.Combine(shards, HtmlReport.FileName)));
        string fromShards = File.ReadAllText(HtmlReport.Write(shards, dataset.Combine("ledger.csv")));
        string merged = dataset.Combine("merged");
        ShardMerger.MergeAndReport(ShardMerger.FindCountsFiles([shards]), merged, dataset.Combine("ledger.csv"));
        string fromMerge = File.ReadAllText(Path.Combine(merged, HtmlReport.FileName));

        string[] expected = [.. DataUri().Matches(File.ReadAllText(Path.Combine(single.OutputDir, HtmlReport.FileName))).Select(m => m.Value)];
        Assert.Equal(12, expected.Length);
        Assert.Equal(expected, DataUri().Matches(fromShards).Select(m => m.Value));
        Assert.Equal(expected, DataUri().Matches(fromMerge).Select(m => m.Value));
        Assert.Equal(12, Directory.GetFiles(Path.Combine(merged, ReportImages.FolderName)).Length);
        Assert.Contains(">20<", fromShards, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(merged, "config.json")));
    }

    [Fact]
    public void LoadCounts_UnfinishedRun_IsAnErrorNamingTheFile()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, CountsFile.FileNameFor(ShardSpec.Whole));
        (Counts([Result("one", 0.5)]) with { ShardImages = 5 }).Save(path);

        var error = Assert.Throws<InvalidDataException>(() => HtmlReport.Write(folder.Path, folder.Combine("ledger.csv")));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("1 of 5", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_RendersInChromium_NotBlank_NoConsoleErrors()
    {
        HeadlessChromium.Require();
        using var dataset = new SyntheticDataset(DatasetKind.Voc, Images(20));
        int n = 0;
        string predictions = dataset.WritePredictions("pred", m => Degrade(m, n++));
        EvalOutcome outcome = EvalRunner.Run(dataset.Config(), new EvalRunOptions { PredictionsDir = predictions }, null, TestContext.Current.CancellationToken);
        string page = Path.Combine(outcome.OutputDir, HtmlReport.FileName);

        // The detector itself: a page that logs an error and throws is caught.
        string broken = dataset.Combine("broken.html");
        File.WriteAllText(broken, "<html><body><p>x</p><script>console.error('report-test'); missing();</script></body></html>");
        Assert.Equal(2, HeadlessChromium.DumpDom(broken).Console.Count);

        (string dom, IReadOnlyList<string> console) = HeadlessChromium.DumpDom(page);
        Assert.Empty(console);
        Assert.True(MainSvg().Matches(dom).Count >= 3, "Plotly drew fewer than 3 charts (class scores, confusion matrix, trend).");

        string png = dataset.Combine("report.png");
        Assert.Empty(HeadlessChromium.Screenshot(page, png, 1280, 2400));
        RgbImage shot = ImageDecoder.Decode(png);
        long ink = 0;
        var colours = new HashSet<int>();
        for (long i = 0; i < shot.PixelCount; i++)
        {
            byte r = shot.Pixels[i * 3], g = shot.Pixels[(i * 3) + 1], b = shot.Pixels[(i * 3) + 2];
            ink += r < 235 || g < 235 || b < 235 ? 1 : 0;
            colours.Add((r << 16) | (g << 8) | b);
        }

        Assert.Equal((1280, 2400), (shot.Width, shot.Height));
        Assert.True(ink > shot.PixelCount / 20, $"Only {ink} of {shot.PixelCount} pixels are not white: the page looks blank.");
        Assert.True(colours.Count > 200, $"Only {colours.Count} colours: charts and images did not render.");
    }

    private static ImageResult Result(string id, double meanIoU) => new(id, meanIoU, meanIoU, 10, [0], [0]);

    private static CountsFile Counts(IReadOnlyList<ImageResult> images) => new()
    {
        Name = "unit",
        Fingerprint = "f",
        Dataset = "synthetic",
        Source = "predictions x",
        ClassNames = ["background", "cat", "dog"],
        ShardImages = images.Count,
        Done = images.Count,
        Scored = images.Count,
        Images = images,
        Counts = [5, 1, 0, 1, 5, 0, 0, 0, 3],
    };

    [GeneratedRegex(@"<(script|img|link|iframe|object|embed)\b[^>]*\b(src|href|data)\s*=\s*[""']?(https?:)?//", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalReference();

    [GeneratedRegex(@"data:image/jpeg;base64,[A-Za-z0-9+/=]+")]
    private static partial Regex DataUri();

    [GeneratedRegex(@"<tr( class=""current"")?><td>\d{4}-")]
    private static partial Regex TrendRow();

    [GeneratedRegex(@"<tr class=""current""><td>")]
    private static partial Regex CurrentRow();

    [GeneratedRegex(@"class=""main-svg""")]
    private static partial Regex MainSvg();
}
