using System.Globalization;
using System.Reflection;
using CsvHelper;
using OvDiff.Core.IO;
using OvDiff.Eval.Metrics;
using OvDiff.Eval.Running;

namespace OvDiff.Eval.Reports;

/// <summary>One row of per_class.csv: IoU and Acc in percent (two decimals, "NaN" where undefined), then the counts.</summary>
[CsvRecord]
public sealed partial record PerClassRow(
    [property: CsvColumn("class")] string Class,
    [property: CsvColumn("IoU")] string IoU,
    [property: CsvColumn("Acc")] string Acc,
    [property: CsvColumn("intersection")] long Intersection,
    [property: CsvColumn("union")] long Union,
    [property: CsvColumn("gt_pixels")] long GroundTruthPixels,
    [property: CsvColumn("pred_pixels")] long PredictedPixels);

/// <summary>One row of summary.csv and of the results ledger: metrics in percent with two decimals, then the run's identity.</summary>
[CsvRecord]
public sealed partial record SummaryRow(
    [property: CsvColumn("mIoU")] string MIoU,
    [property: CsvColumn("mAcc")] string MAcc,
    [property: CsvColumn("aAcc")] string AAcc,
    [property: CsvColumn("fwIoU")] string FwIoU,
    [property: CsvColumn("images")] int Images,
    [property: CsvColumn("skipped")] int Skipped,
    [property: CsvColumn("config")] string Config,
    [property: CsvColumn("dataset")] string Dataset,
    [property: CsvColumn("source")] string Source,
    [property: CsvColumn("timestamp")] string Timestamp,
    [property: CsvColumn("code_version")] string CodeVersion,
    [property: CsvColumn("output_dir")] string OutputDir);

/// <summary>The row of prefilter.csv: the class pre-filter's precision and recall (percent) against the classes present in the ground truth, classes kept and milliseconds per image.</summary>
[CsvRecord]
public sealed partial record PrefilterRow(
    [property: CsvColumn("method")] string Method,
    [property: CsvColumn("images")] int Images,
    [property: CsvColumn("precision")] string Precision,
    [property: CsvColumn("recall")] string Recall,
    [property: CsvColumn("kept_per_image")] string KeptPerImage,
    [property: CsvColumn("ms_per_image")] string MillisecondsPerImage);

/// <summary>One column of per_image.csv: its header and how a value is written from an image's result and the class names.</summary>
/// <param name="Header">The column header.</param>
/// <param name="Value">The value of one row.</param>
public sealed record PerImageColumn(string Header, Func<ImageResult, IReadOnlyList<string>, string> Value);

/// <summary>The columns of per_image.csv, in order. A new per-image figure is one more entry here (and a property of <see cref="ImageResult"/>).</summary>
public static class PerImageColumns
{
    /// <summary>
    /// id, mIoU and pixel accuracy in percent (two decimals, "NaN" where undefined), scored pixels, the class names in the
    /// ground truth and in the prediction (separated by '|'), and, when a class pre-filter ran, the classes it kept, the
    /// present classes it left out, and its milliseconds (empty otherwise).
    /// </summary>
    public static IReadOnlyList<PerImageColumn> All { get; } =
    [
        new("id", (image, _) => image.Id),
        new("mIoU", (image, _) => ReportWriter.Percent(image.MeanIoU)),
        new("pixel_acc", (image, _) => ReportWriter.Percent(image.PixelAccuracy)),
        new("scored_pixels", (image, _) => image.ScoredPixels.ToString(CultureInfo.InvariantCulture)),
        new("gt_classes", (image, names) => ClassList(image.GroundTruthClasses, names)),
        new("pred_classes", (image, names) => ClassList(image.PredictedClasses, names)),
        new("prefilter_kept", (image, names) => image.Prefilter is { } p ? ClassList(p.Kept, names) : ""),
        new("prefilter_missed", (image, names) => image.Prefilter is { } p ? ClassList(p.Dropped.Where(image.GroundTruthClasses.Contains), names) : ""),
        new("prefilter_ms", (image, _) => image.Prefilter is { } p ? p.Milliseconds.ToString("F1", CultureInfo.InvariantCulture) : ""),
    ];

    /// <summary>Class names of <paramref name="classes"/> separated by '|'.</summary>
    public static string ClassList(IEnumerable<int> classes, IReadOnlyList<string> names) => string.Join('|', classes.Select(c => names[c]));
}

/// <summary>
/// Writes a finished run's reports with CsvHelper under the invariant culture: <c>per_class.csv</c>,
/// <c>summary.csv</c>, <c>per_image.csv</c> (one row per scored image, by id), <c>skipped.csv</c> (when images were
/// skipped), <c>report.html</c> (<see cref="HtmlReport"/>), and appends the summary row to the results ledger
/// (created with a header when new), so runs can be compared over time.
/// </summary>
public static class ReportWriter
{
    private static readonly CsvWriterOptions Csv = CsvWriterOptions.Default with { FormatProvider = CultureInfo.InvariantCulture };

    /// <summary>
    /// Computes the metrics of <paramref name="counts"/> and writes every report; returns the metrics. The summary row is
    /// appended to the ledger unless <paramref name="appendLedger"/> is false (reports rewritten for a run already there).
    /// </summary>
    public static SegmentationMetrics WriteReports(string outputDir, string ledgerPath, CountsFile counts, bool appendLedger = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(outputDir);
        ArgumentException.ThrowIfNullOrEmpty(ledgerPath);
        ArgumentNullException.ThrowIfNull(counts);
        var matrix = new ConfusionMatrix(counts.ClassNames.Count, counts.Counts);
        SegmentationMetrics metrics = SegmentationMetrics.Compute(matrix, counts.ClassNames);
        Directory.CreateDirectory(outputDir);

        WriteCsv(Path.Combine(outputDir, "per_class.csv"), metrics.Classes.Select(c =>
            new PerClassRow(c.Name, Percent(c.IoU), Percent(c.Accuracy), c.Intersection, c.Union, c.GroundTruthPixels, c.PredictedPixels)));
        SummaryRow summary = Summarise(metrics, counts, outputDir);
        WriteCsv(Path.Combine(outputDir, "summary.csv"), [summary]);
        if (counts.HasImageResults)
        {
            WritePerImage(Path.Combine(outputDir, "per_image.csv"), counts);
        }

        string prefilterPath = Path.Combine(outputDir, "prefilter.csv");
        if (PrefilterStats.Compute(counts.Images) is { } prefilter)
        {
            WriteCsv(prefilterPath, [new PrefilterRow(prefilter.Method, prefilter.Images, Percent(prefilter.Precision), Percent(prefilter.Recall),
                prefilter.KeptPerImage.ToString("F2", CultureInfo.InvariantCulture), prefilter.MillisecondsPerImage.ToString("F1", CultureInfo.InvariantCulture))]);
        }
        else
        {
            File.Delete(prefilterPath);
        }

        string skippedPath = Path.Combine(outputDir, "skipped.csv");
        if (counts.Skipped.Count > 0)
        {
            WriteCsv(skippedPath, counts.Skipped);
        }
        else
        {
            File.Delete(skippedPath);
        }

        if (appendLedger)
        {
            AppendLedger(ledgerPath, summary);
        }

        HtmlReport.Write(outputDir, counts, ledgerPath);
        return metrics;
    }

    /// <summary>A fraction as a percent with two decimals ("NaN" when undefined), invariant culture.</summary>
    public static string Percent(double fraction) =>
        double.IsNaN(fraction) ? "NaN" : (fraction * 100).ToString("F2", CultureInfo.InvariantCulture);

    /// <summary>The code version: the OvDiff.Eval assembly's informational version (with the commit when the build recorded it).</summary>
    public static string CodeVersion() =>
        typeof(ReportWriter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    private static SummaryRow Summarise(SegmentationMetrics metrics, CountsFile counts, string outputDir) => new(
        Percent(metrics.MeanIoU),
        Percent(metrics.MeanAccuracy),
        Percent(metrics.PixelAccuracy),
        Percent(metrics.FrequencyWeightedIoU),
        counts.Scored,
        counts.Skipped.Count,
        counts.Name,
        counts.Dataset,
        counts.Source,
        DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        CodeVersion(),
        outputDir);

    private static void WriteCsv<T>(string path, IEnumerable<T> rows) =>
        AtomicFile.Write(path, stream =>
        {
            using CsvWriter csv = CsvWriter.Create(stream, Csv, leaveOpen: true);
            csv.WriteRecords(rows);
        });

    private static void WritePerImage(string path, CountsFile counts) =>
        AtomicFile.Write(path, stream =>
        {
            using CsvWriter csv = CsvWriter.Create(stream, Csv with { HasHeader = false }, leaveOpen: true);
            IReadOnlyList<PerImageColumn> columns = PerImageColumns.All;
            csv.WriteHeader([.. columns.Select(c => c.Header)]);
            var fields = new string[columns.Count];
            foreach (ImageResult image in counts.Images.OrderBy(i => i.Id, StringComparer.Ordinal))
            {
                for (int c = 0; c < columns.Count; c++)
                {
                    fields[c] = columns[c].Value(image, counts.ClassNames);
                }

                csv.WriteRecord(fields);
            }
        });

    private static void AppendLedger(string ledgerPath, SummaryRow summary)
    {
        string? folder = Path.GetDirectoryName(Path.GetFullPath(ledgerPath));
        if (folder is not null)
        {
            Directory.CreateDirectory(folder);
        }

        bool isNew = !File.Exists(ledgerPath) || new FileInfo(ledgerPath).Length == 0;
        using var stream = new FileStream(ledgerPath, FileMode.Append, FileAccess.Write, FileShare.Read);
        using CsvWriter csv = CsvWriter.Create(stream, Csv with { HasHeader = isNew }, leaveOpen: false);
        csv.WriteRecords([summary]);
    }
}
