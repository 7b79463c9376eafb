using System.Globalization;
using CsvHelper;

namespace OvDiff.Eval.Reports;

/// <summary>One run in the results ledger, as written by <see cref="ReportWriter"/> (percent values as text, "NaN" kept).</summary>
/// <param name="MeanIoU">mIoU, percent.</param>
/// <param name="MeanAccuracy">mAcc, percent.</param>
/// <param name="PixelAccuracy">aAcc, percent.</param>
/// <param name="Images">Images scored.</param>
/// <param name="Config">The config's name.</param>
/// <param name="Dataset">The dataset's description.</param>
/// <param name="Source">Predictions folder or segmenter.</param>
/// <param name="Timestamp">When the run finished (UTC, ISO 8601).</param>
/// <param name="CodeVersion">The code version that wrote it.</param>
/// <param name="OutputDir">The run's report folder.</param>
public sealed record LedgerEntry(string MeanIoU, string MeanAccuracy, string PixelAccuracy, string Images, string Config, string Dataset, string Source, string Timestamp, string CodeVersion, string OutputDir);

/// <summary>Reads the results ledger (runs/ledger.csv) by column name, so columns added later do not break it.</summary>
public static class LedgerHistory
{
    private static readonly string[] Columns = ["mIoU", "mAcc", "aAcc", "images", "config", "dataset", "source", "timestamp", "code_version", "output_dir"];

    /// <summary>Every entry of the ledger at <paramref name="path"/>, in file order; none when it does not exist.</summary>
    public static IReadOnlyList<LedgerEntry> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path) || new FileInfo(path).Length == 0)
        {
            return [];
        }

        using CsvReader csv = CsvReader.FromFile(path, new CsvReaderOptions { Separator = ',', TrackLineNumbers = true });
        csv.ReadHeader();
        var fields = new int[Columns.Length];
        for (int i = 0; i < Columns.Length; i++)
        {
            if (!csv.TryGetFieldIndex(Columns[i], out fields[i]))
            {
                throw new InvalidDataException($"'{path}': the results ledger has no '{Columns[i]}' column.");
            }
        }

        var entries = new List<LedgerEntry>();
        while (csv.Read())
        {
            string Field(int i) => csv.GetString(fields[i]);
            entries.Add(new LedgerEntry(Field(0), Field(1), Field(2), Field(3), Field(4), Field(5), Field(6), Field(7), Field(8), Field(9)));
        }

        return entries;
    }

    /// <summary>The entries of the same config and dataset finished no later than <paramref name="until"/> (all when null), oldest first.</summary>
    public static IReadOnlyList<LedgerEntry> SameConfig(IEnumerable<LedgerEntry> entries, string config, string dataset, string? until) =>
        [.. entries
            .Where(e => e.Config == config && e.Dataset == dataset && (until is null || string.CompareOrdinal(e.Timestamp, until) <= 0))
            .OrderBy(e => e.Timestamp, StringComparer.Ordinal)];

    /// <summary>A ledger percent as a number (NaN when it is not one).</summary>
    public static double ParsePercent(string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) ? number : double.NaN;
}
