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

/// <summary>
/// Writes a finished run's reports with CsvHelper under the invariant culture: <c>per_class.csv</c>,
/// <c>summary.csv</c>, <c>skipped.csv</c> (when images were skipped), and appends the summary row to the results ledger
/// (created with a header when new), so runs can be compared over time.
/// </summary>
public static class ReportWriter
{
    private static readonly CsvWriterOptions Csv = CsvWriterOptions.Default with { FormatProvider = CultureInfo.InvariantCulture };

    /// <summary>Computes the metrics of <paramref name="counts"/> and writes every report; returns the metrics.</summary>
    public static SegmentationMetrics WriteReports(string outputDir, string ledgerPath, CountsFile counts)
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
        string skippedPath = Path.Combine(outputDir, "skipped.csv");
        if (counts.Skipped.Count > 0)
        {
            WriteCsv(skippedPath, counts.Skipped);
        }
        else
        {
            File.Delete(skippedPath);
        }

        AppendLedger(ledgerPath, summary);
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
