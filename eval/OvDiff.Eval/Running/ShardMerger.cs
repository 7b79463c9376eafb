using OvDiff.Core.Sharding;
using OvDiff.Eval.Metrics;
using OvDiff.Eval.Reports;

namespace OvDiff.Eval.Running;

/// <summary>
/// Sums the counts files of a sharded run (<c>ovdiff eval merge</c>). All shards 0..n-1 of one run (same fingerprint)
/// must be present and complete; the merged counts are exactly a single run's, because sums of counts do not depend
/// on the order of images.
/// </summary>
public static class ShardMerger
{
    /// <summary>Finds counts files: each path is a counts file or a folder whose counts-*-of-*.json files are taken (not its sub-folders, so a merged report may live inside it).</summary>
    public static IReadOnlyList<string> FindCountsFiles(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var files = new List<string>();
        foreach (string path in paths)
        {
            if (Directory.Exists(path))
            {
                files.AddRange(Directory.GetFiles(path, "counts-*-of-*.json", SearchOption.TopDirectoryOnly).Order(StringComparer.Ordinal));
            }
            else if (File.Exists(path))
            {
                files.Add(Path.GetFullPath(path));
            }
            else
            {
                throw new FileNotFoundException($"'{path}' is neither a counts file nor a folder.", path);
            }
        }

        return files.Count == 0 ? throw new InvalidDataException($"No counts file (counts-<i>-of-<n>.json) in {string.Join(", ", paths.Select(p => $"'{p}'"))}: give the --out folder of an ovdiff eval run (or its counts files).") : files;
    }

    /// <summary>Merges the shard counts in <paramref name="countsFiles"/> into one complete run's counts.</summary>
    public static CountsFile Merge(IReadOnlyList<string> countsFiles)
    {
        ArgumentNullException.ThrowIfNull(countsFiles);
        var shards = countsFiles.Select(f => (Path: f, Counts: CountsFile.Load(f))).OrderBy(s => s.Counts.ShardIndex).ToList();
        if (shards.Count == 0)
        {
            throw new InvalidDataException("No counts files to merge.");
        }

        CountsFile first = shards[0].Counts;
        foreach ((string path, CountsFile shard) in shards)
        {
            if (shard.Identity is null)
            {
                throw new InvalidDataException($"{path}: written by an older ovdiff (format {shard.FormatVersion}), which did not record everything that decides a run; rerun that shard.");
            }

            IReadOnlyList<string> differences = new RunIdentity(shard.Identity).Differences(new RunIdentity(first.Identity!), "there", $"in {shards[0].Path}");
            if (differences.Count > 0 || shard.ShardCount != first.ShardCount || !shard.ClassNames.SequenceEqual(first.ClassNames))
            {
                string what = differences.Count > 0 ? string.Join("; ", differences) : $"shard count {shard.ShardCount} there, {first.ShardCount} in {shards[0].Path}";
                throw new InvalidDataException($"{path}: belongs to another run than {shards[0].Path}: {what}.");
            }

            if (!shard.IsComplete)
            {
                throw new InvalidDataException($"{path}: shard {shard.ShardIndex}/{shard.ShardCount} is incomplete ({shard.Done} of {shard.ShardImages} images); finish it with --resume.");
            }
        }

        int[] indices = [.. shards.Select(s => s.Counts.ShardIndex)];
        if (!indices.SequenceEqual(Enumerable.Range(0, first.ShardCount)))
        {
            throw new InvalidDataException($"Shards {string.Join(", ", indices)} given, but the run has shards 0..{first.ShardCount - 1} (each exactly once).");
        }

        var matrix = new ConfusionMatrix(first.ClassNames.Count);
        foreach ((_, CountsFile shard) in shards)
        {
            matrix.Add(new ConfusionMatrix(shard.ClassNames.Count, shard.Counts));
        }

        return first with
        {
            ShardIndex = 0,
            ShardCount = 1,
            ShardImages = shards.Sum(s => s.Counts.ShardImages),
            Done = shards.Sum(s => s.Counts.Done),
            Scored = shards.Sum(s => s.Counts.Scored),
            Skipped = [.. shards.SelectMany(s => s.Counts.Skipped)],
            Images = shards.All(s => s.Counts.HasImageResults) ? [.. shards.SelectMany(s => s.Counts.Images)] : [],
            Counts = matrix.Counts,
            Seconds = shards.Sum(s => s.Counts.Seconds),
        };
    }

    /// <summary>Merges and writes the reports (and the merged counts as counts-0-of-1.json) to <paramref name="outputDir"/>.</summary>
    public static (CountsFile Counts, SegmentationMetrics Metrics) MergeAndReport(IReadOnlyList<string> countsFiles, string outputDir, string ledgerPath)
    {
        CountsFile merged = Merge(countsFiles);
        using OutputFolderLock outputLock = OutputFolderLock.Acquire(outputDir, ShardSpec.Whole);
        EvalRunner.ThrowIfNothingScored(merged, countsFiles[0]);
        merged.Save(Path.Combine(outputDir, CountsFile.FileNameFor(ShardSpec.Whole)));
        CopyReportInputs(countsFiles, outputDir, merged);
        return (merged, ReportWriter.WriteReports(outputDir, ledgerPath, merged));
    }

    /// <summary>Brings the shards' config.json and the merged run's best and worst thumbnails into the merged folder (shards may live elsewhere).</summary>
    private static void CopyReportInputs(IReadOnlyList<string> countsFiles, string outputDir, CountsFile merged)
    {
        string[] shardDirs = [.. countsFiles.Select(f => Path.GetDirectoryName(Path.GetFullPath(f))!).Distinct(StringComparer.Ordinal)];
        string config = Path.Combine(outputDir, "config.json");
        if (shardDirs.Select(d => Path.Combine(d, "config.json")).FirstOrDefault(File.Exists) is { } shardConfig && !SamePath(shardConfig, config))
        {
            File.Copy(shardConfig, config, overwrite: true);
        }

        var (worst, best) = ReportImages.Select(merged.Images);
        foreach (string id in worst.Concat(best).Select(i => i.Id).Distinct(StringComparer.Ordinal))
        {
            string target = ReportImages.ThumbnailPath(outputDir, id);
            if (shardDirs.Select(d => ReportImages.ThumbnailPath(d, id)).FirstOrDefault(File.Exists) is { } source && !SamePath(source, target))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(source, target, overwrite: true);
            }
        }
    }

    private static bool SamePath(string a, string b) => string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), StringComparison.Ordinal);
}
