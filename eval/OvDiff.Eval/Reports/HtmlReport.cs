using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using CsvHelper;
using Fluid;
using OvDiff.Core.IO;
using OvDiff.Core.Sharding;
using OvDiff.Eval.Metrics;
using OvDiff.Eval.Running;
using OvDiff.Imaging;

namespace OvDiff.Eval.Reports;

/// <summary>
/// Writes <c>report.html</c> for a finished (or merged, or sharded and complete) run from what the run left in its
/// folder: the counts file(s) with the confusion matrix and per-image results, <c>config.json</c>, <c>summary.csv</c>,
/// the best and worst images' thumbnails, and the results ledger's earlier runs of the same config. The page is one
/// self-contained file (plotly.js, styles and images inlined): it opens offline. Charts are drawn with Plotly.NET, the
/// page is a Liquid template (Fluid) embedded in this assembly.
/// </summary>
public static class HtmlReport
{
    /// <summary>The report's file name in a run folder.</summary>
    public const string FileName = "report.html";

    private static readonly Lazy<IFluidTemplate> Template = new(ParseTemplate);
    private static readonly TemplateOptions Options = CreateOptions();

    /// <summary>
    /// Builds the report of the run in <paramref name="runDir"/> and writes it there atomically; returns its path.
    /// The run must be complete: a whole run's counts-0-of-1.json, or all shards' counts files.
    /// </summary>
    /// <param name="runDir">The run's output folder.</param>
    /// <param name="ledgerPath">The results ledger to take earlier runs from (may not exist).</param>
    public static string Write(string runDir, string ledgerPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(runDir);
        ArgumentException.ThrowIfNullOrEmpty(ledgerPath);
        return Write(runDir, LoadCounts(Path.GetFullPath(runDir)), ledgerPath);
    }

    /// <summary>Builds the report of <paramref name="counts"/> (a complete run whose folder is <paramref name="runDir"/>) and writes it there; returns its path.</summary>
    public static string Write(string runDir, CountsFile counts, string ledgerPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(runDir);
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentException.ThrowIfNullOrEmpty(ledgerPath);
        runDir = Path.GetFullPath(runDir);
        string html = Render(runDir, counts, Path.GetFullPath(ledgerPath));
        string path = Path.Combine(runDir, FileName);
        AtomicFile.WriteAllBytes(path, Encoding.UTF8.GetBytes(html));
        return path;
    }

    /// <summary>
    /// Parses the template and loads plotly.js now (both are kept for the process; a failure is kept too and surfaces
    /// when a report is written). A run calls it on another thread when it starts, so its report is written sooner.
    /// </summary>
    internal static void Warm()
    {
        _ = Template.Value;
        _ = ReportCharts.PlotlyJs;
    }

    /// <summary>A run folder's complete counts: its whole-run counts file, else the sum of its shards' (which must all be there and complete).</summary>
    public static CountsFile LoadCounts(string runDir)
    {
        ArgumentException.ThrowIfNullOrEmpty(runDir);
        if (!Directory.Exists(runDir))
        {
            throw new DirectoryNotFoundException($"Run folder '{runDir}' does not exist.");
        }

        string whole = Path.Combine(runDir, CountsFile.FileNameFor(ShardSpec.Whole));
        CountsFile counts = File.Exists(whole) ? CountsFile.Load(whole) : ShardMerger.Merge(ShardMerger.FindCountsFiles([runDir]));
        return counts.IsComplete
            ? counts
            : throw new InvalidDataException($"{whole}: the run is not finished ({counts.Done} of {counts.ShardImages} images); finish it with --resume first.");
    }

    private static string Render(string runDir, CountsFile counts, string ledgerPath)
    {
        var matrix = new ConfusionMatrix(counts.ClassNames.Count, counts.Counts);
        SegmentationMetrics metrics = SegmentationMetrics.Compute(matrix, counts.ClassNames);
        string? configJson = ReadConfig(runDir);
        string? finished = ReadSummaryTimestamp(runDir);
        var warnings = new List<string>();
        if (!counts.HasImageResults)
        {
            warnings.Add("These counts were written by an older ovdiff without per-image results: no best and worst images.");
        }

        if (counts.Skipped.Count > 0)
        {
            warnings.Add($"{counts.Skipped.Count} images were skipped for bad input (skipped.csv), e.g. {counts.Skipped[0].Reason}");
        }

        var (worst, best) = ReportImages.Select(counts.HasImageResults ? counts.Images : []);
        IReadOnlyList<LedgerEntry> history = LedgerHistory.SameConfig(LedgerHistory.Read(ledgerPath), counts.Name, counts.Dataset, finished);
        var view = new ReportView
        {
            Title = $"{counts.Name}: mIoU {ReportWriter.Percent(metrics.MeanIoU)}",
            Subtitle = $"{counts.Dataset} · {counts.Source}",
            Tiles = Tiles(counts, metrics),
            Warnings = warnings,
            Facts = Facts(counts, runDir, configJson, finished),
            ConfigJson = configJson,
            ClassChart = ReportCharts.ClassScores(counts.ClassNames, [.. metrics.Classes.Select(c => c.IoU * 100)], [.. metrics.Classes.Select(c => c.Accuracy * 100)]),
            ClassRows = [.. metrics.Classes.Select(c => new ClassRowView(c.Name, ReportWriter.Percent(c.IoU), ReportWriter.Percent(c.Accuracy), Count(c.GroundTruthPixels), Count(c.PredictedPixels)))],
            ConfusionChart = ReportCharts.Confusion(counts.ClassNames, RowPercent(matrix)),
            Prefilter = Prefilter(counts),
            ImageGroups =
            [
                new ImageGroupView("worst", $"Worst {worst.Count} images", "Lowest per-image mIoU (over the classes in the image's ground truth or prediction): image | ground truth | prediction.", [.. worst.Select(i => Image(runDir, i, counts.ClassNames))]),
                new ImageGroupView("best", $"Best {best.Count} images", "Highest per-image mIoU: image | ground truth | prediction.", [.. best.Select(i => Image(runDir, i, counts.ClassNames))]),
            ],
            ConfigName = counts.Name,
            LedgerPath = ledgerPath,
            TrendChart = history.Count == 0 ? null : ReportCharts.Trend(
                [.. history.Select(e => e.Timestamp.Replace('T', ' ').TrimEnd('Z'))],
                [.. history.Select(e => LedgerHistory.ParsePercent(e.MeanIoU))],
                [.. history.Select(e => LedgerHistory.ParsePercent(e.MeanAccuracy))],
                [.. history.Select(e => $"{e.Source} ({e.CodeVersion})")]),
            TrendRows = [.. history.Select(e => new TrendRowView(e.Timestamp, e.MeanIoU, e.MeanAccuracy, e.PixelAccuracy, e.Images, e.Source, e.CodeVersion, string.Equals(Path.GetFullPath(e.OutputDir), runDir, StringComparison.Ordinal) && e.Timestamp == finished))],
            TrendNote = $"No runs of config “{counts.Name}” on this dataset in the results ledger ({ledgerPath}).",
            PlotlyJs = ReportCharts.PlotlyJs,
            CodeVersion = ReportWriter.CodeVersion(),
            Generated = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
            RunDir = runDir,
        };

        return Template.Value.Render(new TemplateContext(view, Options), HtmlEncoder.Default);
    }

    private static List<TileView> Tiles(CountsFile counts, SegmentationMetrics metrics)
    {
        var tiles = new List<TileView>
        {
            new(ReportWriter.Percent(metrics.MeanIoU), "mIoU %"),
            new(ReportWriter.Percent(metrics.MeanAccuracy), "mAcc %"),
            new(ReportWriter.Percent(metrics.PixelAccuracy), "aAcc %"),
            new(ReportWriter.Percent(metrics.FrequencyWeightedIoU), "fwIoU %"),
        };
        if (counts.HasImageResults && counts.Images.Count > 0)
        {
            double[] perImage = [.. counts.Images.Select(i => i.MeanIoU).Where(v => !double.IsNaN(v)).Order()];
            double median = perImage.Length == 0 ? double.NaN : (perImage[(perImage.Length - 1) / 2] + perImage[perImage.Length / 2]) / 2;
            tiles.Add(new(ReportWriter.Percent(median), "median image mIoU %"));
        }

        tiles.Add(new(counts.Skipped.Count == 0 ? Count(counts.Scored) : $"{Count(counts.Scored)} (+{counts.Skipped.Count} skipped)", "images scored"));
        if (counts.Seconds > 0)
        {
            tiles.Add(new((counts.Done / counts.Seconds).ToString("F1", CultureInfo.InvariantCulture), "images/s"));
        }

        return tiles;
    }

    private static List<FactView> Facts(CountsFile counts, string runDir, string? configJson, string? finished)
    {
        var facts = new List<FactView>
        {
            new("config", counts.Name),
            new("dataset", counts.Dataset),
            new("classes", $"{counts.ClassNames.Count}: {string.Join(", ", counts.ClassNames)}"),
            new("predictions from", counts.Source),
        };
        if (ModelPath(configJson) is { } model)
        {
            var file = new FileInfo(model);
            facts.Add(new("model", file.Exists
                ? string.Create(CultureInfo.InvariantCulture, $"{model} ({file.Length / 1048576.0:F1} MB, modified {file.LastWriteTimeUtc:yyyy-MM-dd HH:mm} UTC)")
                : $"{model} (no longer there)"));
        }

        facts.Add(new("images", $"{Count(counts.Scored)} scored, {counts.Skipped.Count} skipped, of {Count(counts.ShardImages)}" ));
        facts.Add(new("time", counts.Seconds > 0 ? string.Create(CultureInfo.InvariantCulture, $"{counts.Seconds:F1} s ({counts.Done / counts.Seconds:F1} images/s)") : "not recorded"));
        facts.Add(new("finished", finished is null ? "unknown (no summary.csv)" : finished.Replace('T', ' ').TrimEnd('Z') + " UTC"));
        facts.Add(new("run folder", runDir));
        return facts;
    }

    private static ImageView Image(string runDir, ImageResult image, IReadOnlyList<string> classNames)
    {
        string thumbnail = ReportImages.ThumbnailPath(runDir, image.Id);
        string? dataUri = File.Exists(thumbnail) ? "data:image/jpeg;base64," + Convert.ToBase64String(File.ReadAllBytes(thumbnail)) : null;
        var legend = image.GroundTruthClasses.Union(image.PredictedClasses).Order().Select(c =>
        {
            (byte r, byte g, byte b) = VocColormap.GetColor((byte)c);
            bool inTruth = image.GroundTruthClasses.Contains(c), inPrediction = image.PredictedClasses.Contains(c);
            string where = inTruth && inPrediction ? "" : inTruth ? "(missed)" : "(not in ground truth)";
            return new LegendView(classNames[c], $"#{r:x2}{g:x2}{b:x2}", where);
        });
        return new ImageView(image.Id, ReportWriter.Percent(image.MeanIoU), ReportWriter.Percent(image.PixelAccuracy), dataUri, [.. legend]);
    }

    /// <summary>Pre-filter precision and recall over the images with kept classes; null when no pre-filter ran.</summary>
    private static PrefilterView? Prefilter(CountsFile counts)
    {
        ImageResult[] filtered = counts.HasImageResults ? [.. counts.Images.Where(i => i.Prefilter is not null)] : [];
        if (filtered.Length == 0)
        {
            return null;
        }

        // Background is never a pre-filter candidate: it is not counted as present.
        int k = counts.ClassNames.Count;
        int excluded = string.Equals(counts.ClassNames[0], "background", StringComparison.OrdinalIgnoreCase) ? 0 : -1;
        var present = new long[k];
        var kept = new long[k];
        var both = new long[k];
        foreach (ImageResult image in filtered)
        {
            var truth = new HashSet<int>(image.GroundTruthClasses.Where(c => c != excluded));
            foreach (int c in truth)
            {
                present[c]++;
            }

            foreach (int c in image.Prefilter!.Kept.Where(c => c != excluded))
            {
                kept[c]++;
                both[c] += truth.Contains(c) ? 1 : 0;
            }
        }

        static string Ratio(long numerator, long denominator) => denominator == 0 ? "NaN" : ReportWriter.Percent((double)numerator / denominator);
        return new PrefilterView(
            filtered.Length,
            Ratio(both.Sum(), kept.Sum()) + " %",
            Ratio(both.Sum(), present.Sum()) + " %",
            ((double)kept.Sum() / filtered.Length).ToString("F2", CultureInfo.InvariantCulture),
            excluded == 0 ? counts.ClassNames[0] : null,
            [.. Enumerable.Range(0, k).Where(c => c != excluded).Select(c => new PrefilterClassView(counts.ClassNames[c], present[c], kept[c], both[c], Ratio(both[c], kept[c]), Ratio(both[c], present[c])))]);
    }

    /// <summary>Each row as percent of its sum; NaN for a class absent from the ground truth.</summary>
    private static double[][] RowPercent(ConfusionMatrix matrix)
    {
        int k = matrix.ClassCount;
        var rows = new double[k][];
        for (int gt = 0; gt < k; gt++)
        {
            long total = 0;
            for (int pred = 0; pred < k; pred++)
            {
                total += matrix[gt, pred];
            }

            rows[gt] = new double[k];
            for (int pred = 0; pred < k; pred++)
            {
                rows[gt][pred] = total == 0 ? double.NaN : Math.Round(100.0 * matrix[gt, pred] / total, 2);
            }
        }

        return rows;
    }

    private static string? ReadConfig(string runDir)
    {
        string path = Path.Combine(runDir, "config.json");
        return File.Exists(path) ? File.ReadAllText(path) : null;
    }

    private static string? ModelPath(string? configJson)
    {
        if (configJson is null)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(configJson);
            return document.RootElement.TryGetProperty("segmenter", out JsonElement segmenter)
                && segmenter.TryGetProperty("model", out JsonElement model)
                && model.ValueKind == JsonValueKind.String ? model.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? ReadSummaryTimestamp(string runDir)
    {
        string path = Path.Combine(runDir, "summary.csv");
        if (!File.Exists(path))
        {
            return null;
        }

        using CsvReader csv = CsvReader.FromFile(path, new CsvReaderOptions { Separator = ',' });
        csv.ReadHeader();
        return csv.TryGetFieldIndex("timestamp", out int field) && csv.Read() ? csv.GetString(field) : null;
    }

    private static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static IFluidTemplate ParseTemplate()
    {
        const string name = "OvDiff.Eval.Reports.report.liquid";
        using Stream stream = typeof(HtmlReport).Assembly.GetManifestResourceStream(name) ?? throw new InvalidOperationException($"Missing embedded template '{name}'.");
        using var reader = new StreamReader(stream);
        return new FluidParser().TryParse(reader.ReadToEnd(), out IFluidTemplate template, out string error)
            ? template
            : throw new InvalidOperationException($"report.liquid does not parse: {error}");
    }

    private static TemplateOptions CreateOptions()
    {
        var options = new TemplateOptions();
        options.MemberAccessStrategy.MemberNameStrategy = MemberNameStrategies.SnakeCase;
        foreach (Type type in (Type[])[typeof(ReportView), typeof(TileView), typeof(FactView), typeof(ClassRowView), typeof(PrefilterView), typeof(PrefilterClassView), typeof(ImageGroupView), typeof(ImageView), typeof(LegendView), typeof(TrendRowView)])
        {
            options.MemberAccessStrategy.Register(type);
        }

        return options;
    }

    private sealed record ReportView
    {
        public required string Title { get; init; }

        public required string Subtitle { get; init; }

        public required IReadOnlyList<TileView> Tiles { get; init; }

        public required IReadOnlyList<string> Warnings { get; init; }

        public required IReadOnlyList<FactView> Facts { get; init; }

        public string? ConfigJson { get; init; }

        public required string ClassChart { get; init; }

        public required IReadOnlyList<ClassRowView> ClassRows { get; init; }

        public required string ConfusionChart { get; init; }

        public PrefilterView? Prefilter { get; init; }

        public required IReadOnlyList<ImageGroupView> ImageGroups { get; init; }

        public required string ConfigName { get; init; }

        public required string LedgerPath { get; init; }

        public string? TrendChart { get; init; }

        public required IReadOnlyList<TrendRowView> TrendRows { get; init; }

        public required string TrendNote { get; init; }

        public required string PlotlyJs { get; init; }

        public required string CodeVersion { get; init; }

        public required string Generated { get; init; }

        public required string RunDir { get; init; }
    }

    private sealed record TileView(string Value, string Label);

    private sealed record FactView(string Key, string Value);

    private sealed record ClassRowView(string Name, string Iou, string Acc, string GtPixels, string PredPixels);

    private sealed record PrefilterView(int Images, string Precision, string Recall, string MeanKept, string? Excluded, IReadOnlyList<PrefilterClassView> Classes);

    private sealed record PrefilterClassView(string Name, long Present, long Kept, long Both, string Precision, string Recall);

    private sealed record ImageGroupView(string Anchor, string Title, string Note, IReadOnlyList<ImageView> Images);

    private sealed record ImageView(string Id, string Miou, string PixelAccuracy, string? DataUri, IReadOnlyList<LegendView> Legend);

    private sealed record LegendView(string Name, string Color, string Where);

    private sealed record TrendRowView(string Timestamp, string Miou, string Macc, string Aacc, string Images, string Source, string CodeVersion, bool Current);
}
