using OvDiff.Core.Segmentation;
using OvDiff.Core.Sharding;
using OvDiff.Eval.Configuration;

namespace OvDiff.Eval.Running;

/// <summary>
/// Builds the segmenter a config describes (its <see cref="EvalConfig.Segmenter"/> and <see cref="EvalConfig.Protocol"/>
/// sections). The CLI receives one from whoever composes it; a segmenter that is <see cref="IDisposable"/> is disposed
/// after the run.
/// </summary>
public delegate ISegmenter SegmenterFactory(EvalConfig config);

/// <summary>How one evaluation run is carried out (the config says what is evaluated).</summary>
public sealed record EvalRunOptions
{
    /// <summary>A folder of predicted label PNGs named &lt;id&gt;.png (palette or grayscale class indices); when set, no segmenter runs. Default: none.</summary>
    public string? PredictionsDir { get; init; }

    /// <summary>Builds the segmenter when <see cref="PredictionsDir"/> is not set. Default: none.</summary>
    public SegmenterFactory? SegmenterFactory { get; init; }

    /// <summary>Report folder; overrides the config's output.dir. Default: the config's.</summary>
    public string? OutputDir { get; init; }

    /// <summary>The slice to evaluate. Default: the whole split.</summary>
    public ShardSpec Shard { get; init; } = ShardSpec.Whole;

    /// <summary>Continue from this shard's saved counts when they match the run. Default: false (start afresh).</summary>
    public bool Resume { get; init; }

    /// <summary>Leave out (and count) images with bad input instead of stopping. Default: false.</summary>
    public bool SkipBad { get; init; }

    /// <summary>
    /// How many images are read and decoded ahead on another thread while the current one is segmented and scored;
    /// 0 reads each in the scoring loop. Default: 3 (whole-image eval of 200 VOC images on 2 cores: 7 % less wall time
    /// than 0, since ONNX Runtime's threads sleep between runs instead of spinning; while they spun, reading ahead only
    /// competed with them; docs/results.md).
    /// </summary>
    public int ReadAhead { get; init; } = 3;

    /// <summary>The longest time between two checkpoints. Default: 2 seconds.</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>Progress after each image.</summary>
/// <param name="Done">Ids of the shard done so far (scored or skipped).</param>
/// <param name="Total">Ids in the shard.</param>
/// <param name="Skipped">Ids skipped under --skip-bad.</param>
/// <param name="ImagesPerSecond">Throughput of this session.</param>
/// <param name="Remaining">Estimated time to finish.</param>
public readonly record struct EvalProgress(int Done, int Total, int Skipped, double ImagesPerSecond, TimeSpan Remaining);

/// <summary>
/// Bad input for one image (missing file, size mismatch, label out of range, unreadable file). Stops the run unless
/// <see cref="EvalRunOptions.SkipBad"/> is set, in which case it is counted in <see cref="CountsFile.Skipped"/>.
/// </summary>
public sealed class BadInputException : Exception
{
    /// <summary>Creates the exception for image <paramref name="id"/>.</summary>
    public BadInputException(string id, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Id = id;
    }

    /// <summary>The image id.</summary>
    public string Id { get; }
}
