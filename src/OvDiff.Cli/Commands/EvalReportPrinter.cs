using System.Globalization;
using OvDiff.Eval.Metrics;
using OvDiff.Eval.Reports;
using OvDiff.Eval.Running;
using Spectre.Console;

namespace OvDiff.Cli.Commands;

/// <summary>Prints an evaluation's per-class table and summary with Spectre.Console (plain text when not a terminal).</summary>
internal static class EvalReportPrinter
{
    public static void Print(TextWriter writer, CountsFile counts, SegmentationMetrics? metrics, string outputDir, string? countsPath)
    {
        bool terminal = ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected;
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });
        if (!terminal)
        {
            console.Profile.Width = 120;
        }

        if (metrics is null)
        {
            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Shard {counts.ShardIndex}/{counts.ShardCount}: {counts.Scored} images scored, {counts.Skipped.Count} skipped; counts saved to {countsPath}."));
            console.WriteLine("Merge all shards with: ovdiff eval merge <folders or counts files> --out DIR");
            return;
        }

        var table = new Table().Title(Markup.Escape($"{counts.Name}: {counts.Dataset}")).AddColumns("class", "IoU", "Acc", "gt pixels");
        foreach (ClassScore score in metrics.Classes)
        {
            table.AddRow(Markup.Escape(score.Name), ReportWriter.Percent(score.IoU), ReportWriter.Percent(score.Accuracy), score.GroundTruthPixels.ToString(CultureInfo.InvariantCulture));
        }

        console.Write(table);
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"mIoU {ReportWriter.Percent(metrics.MeanIoU)}  mAcc {ReportWriter.Percent(metrics.MeanAccuracy)}  aAcc {ReportWriter.Percent(metrics.PixelAccuracy)}  fwIoU {ReportWriter.Percent(metrics.FrequencyWeightedIoU)}  images {counts.Scored}  skipped {counts.Skipped.Count}  ({counts.Seconds:F2} s, {counts.Done / Math.Max(counts.Seconds, 1e-9):F1} images/s)"));
        if (PrefilterStats.Compute(counts.Images) is { } prefilter)
        {
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Pre-filter {prefilter.Method}: precision {ReportWriter.Percent(prefilter.Precision)}  recall {ReportWriter.Percent(prefilter.Recall)} (against the classes in the ground truth)  {prefilter.KeptPerImage:F2} classes kept per image  {prefilter.MillisecondsPerImage:F1} ms per image"));
        }

        if (counts.Skipped.Count > 0)
        {
            console.WriteLine($"warning: {counts.Skipped.Count} images skipped for bad input (listed in skipped.csv), e.g. {counts.Skipped[0].Reason}");
        }

        console.WriteLine($"Reports in {outputDir}");
    }
}
