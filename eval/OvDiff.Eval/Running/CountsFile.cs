using System.Text.Json;
using System.Text.Json.Serialization;
using OvDiff.Eval.Metrics;
using OvDiff.Core.IO;
using OvDiff.Core.Sharding;

namespace OvDiff.Eval.Running;

/// <summary>An image left out under --skip-bad, with the reason.</summary>
/// <param name="Id">The image id.</param>
/// <param name="Reason">What was wrong (names the file and value).</param>
[CsvHelper.CsvRecord]
public sealed partial record SkippedImage(string Id, string Reason);

/// <summary>
/// The state of one shard's run, saved as JSON: the confusion counts so far, how far through the shard's ids it got,
/// and what identifies the run (config name, fingerprint of dataset and prediction source, classes, shard). It is both
/// the checkpoint that <c>--resume</c> continues from and the input of <c>ovdiff eval merge</c>. Saved atomically
/// (written to a temporary file, then renamed), so a crash leaves the previous checkpoint intact.
/// </summary>
public sealed record CountsFile
{
    /// <summary>The format version this build writes: 2 added <see cref="Images"/>, 3 <see cref="Identity"/>.</summary>
    public const int CurrentFormatVersion = 3;

    /// <summary>File format version.</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>The config's name.</summary>
    public required string Name { get; init; }

    /// <summary>A hash of <see cref="Identity"/>: what must match to resume or merge.</summary>
    public required string Fingerprint { get; init; }

    /// <summary>
    /// The parts of the run's <see cref="RunIdentity"/> (effective config, split ids, prediction folder or segmenter:
    /// model content hash, extractors, options in force), so that a mismatch can be named; null in files written
    /// before format 3.
    /// </summary>
    public IReadOnlyDictionary<string, string>? Identity { get; init; }

    /// <summary>Human-readable dataset description.</summary>
    public required string Dataset { get; init; }

    /// <summary>Where predictions come from (folder or segmenter model).</summary>
    public required string Source { get; init; }

    /// <summary>Class names in label order.</summary>
    public required IReadOnlyList<string> ClassNames { get; init; }

    /// <summary>The shard's 0-based index.</summary>
    public int ShardIndex { get; init; }

    /// <summary>The number of shards.</summary>
    public int ShardCount { get; init; } = 1;

    /// <summary>How many ids this shard has.</summary>
    public int ShardImages { get; init; }

    /// <summary>How many of the shard's ids are done (scored or skipped): the resume position.</summary>
    public int Done { get; init; }

    /// <summary>How many images were scored.</summary>
    public int Scored { get; init; }

    /// <summary>Images skipped under --skip-bad.</summary>
    public IReadOnlyList<SkippedImage> Skipped { get; init; } = [];

    /// <summary>Each scored image's own result, in the order scored (per_image.csv, the report's best and worst images).</summary>
    public IReadOnlyList<ImageResult> Images { get; init; } = [];

    /// <summary>The K×K confusion counts, row = ground truth.</summary>
    public required long[] Counts { get; init; }

    /// <summary>Seconds spent so far (over all resumed sessions).</summary>
    public double Seconds { get; init; }

    /// <summary>Whether every id of the shard is done.</summary>
    public bool IsComplete => Done == ShardImages;

    /// <summary>Whether <see cref="Images"/> holds a result for every scored image (counts written before format 2 have none).</summary>
    [JsonIgnore]
    public bool HasImageResults => Images.Count == Scored;

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = false,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The file name of shard <paramref name="shard"/>'s counts in an output folder.</summary>
    public static string FileNameFor(ShardSpec shard) => $"counts-{shard.Index}-of-{shard.Count}.json";

    /// <summary>Saves atomically to <paramref name="path"/>.</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        AtomicFile.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(this, Options));
    }

    /// <summary>Loads a counts file; a malformed one is an <see cref="InvalidDataException"/> naming it.</summary>
    public static CountsFile Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            CountsFile counts = JsonSerializer.Deserialize<CountsFile>(File.ReadAllBytes(path), Options)
                ?? throw new InvalidDataException($"{path}: empty counts file.");
            if (counts.Counts.Length != counts.ClassNames.Count * counts.ClassNames.Count)
            {
                throw new InvalidDataException($"{path}: {counts.Counts.Length} counts for {counts.ClassNames.Count} classes.");
            }

            string? inconsistent =
                counts.ShardCount < 1 || counts.ShardIndex < 0 || counts.ShardIndex >= counts.ShardCount ? $"shard {counts.ShardIndex} of {counts.ShardCount}"
                : counts.Done < 0 || counts.Done > counts.ShardImages ? $"done = {counts.Done} of {counts.ShardImages} images"
                : counts.Scored < 0 || counts.Scored + counts.Skipped.Count != counts.Done ? $"scored {counts.Scored} + skipped {counts.Skipped.Count} != done {counts.Done}"
                : counts.Counts.Any(c => c < 0) ? "a negative count"
                : null;
            if (inconsistent is not null)
            {
                throw new InvalidDataException($"{path}: inconsistent counts file ({inconsistent}); it was edited or damaged: remove it and rerun.");
            }

            return counts;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid counts file ({e.Message}).", e);
        }
    }
}
