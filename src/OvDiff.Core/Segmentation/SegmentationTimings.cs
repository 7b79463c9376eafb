using System.Diagnostics;

namespace OvDiff.Core.Segmentation;

/// <summary>
/// Time spent by a segmenter over <see cref="Images"/> calls: in the feature extractors, and in everything else
/// (resizing, cropping, prototype matching, upsampling, averaging, PAMR, argmax), with that split by stage.
/// </summary>
/// <param name="Images">Segment calls timed.</param>
/// <param name="FeatureExtraction">Time inside the feature extractors (their preprocessing and ONNX Runtime calls).</param>
/// <param name="Other">Everything else.</param>
public readonly record struct SegmentationTimings(long Images, TimeSpan FeatureExtraction, TimeSpan Other)
{
    /// <summary>Part of <see cref="Other"/>: the class pre-filter, when there is one.</summary>
    public TimeSpan Prefilter { get; init; }

    /// <summary>Part of <see cref="Other"/>: the short-side resize and the window crops.</summary>
    public TimeSpan Resize { get; init; }

    /// <summary>Part of <see cref="Other"/>: cosine similarities to the prototypes and the per-label maxima on the feature grids.</summary>
    public TimeSpan Matching { get; init; }

    /// <summary>Part of <see cref="Other"/>: grid scores upsampled to the resized image and averaged over the windows.</summary>
    public TimeSpan Averaging { get; init; }

    /// <summary>Part of <see cref="Other"/>: PAMR.</summary>
    public TimeSpan Refinement { get; init; }

    /// <summary>Part of <see cref="Other"/>: scores upsampled to the image's size, arg-max and small-class dropping.</summary>
    public TimeSpan Labelling { get; init; }

    /// <summary>
    /// Label planes carried past matching (upsampled, averaged, refined, arg-maxed), summed over the images: labels that
    /// cannot win are left out (non-candidates, dominated labels), so this is at most images x labels.
    /// </summary>
    public long ScoredLabels { get; init; }

    /// <summary>Mean feature-extraction time per image, in milliseconds.</summary>
    public double ExtractionMillisecondsPerImage => PerImage(FeatureExtraction);

    /// <summary>Mean time per image in everything but the extractors, in milliseconds.</summary>
    public double OtherMillisecondsPerImage => PerImage(Other);

    /// <summary>Mean time per image of <paramref name="span"/> (one of these timings), in milliseconds.</summary>
    public double PerImage(TimeSpan span) => Images == 0 ? 0 : span.TotalMilliseconds / Images;

    /// <summary>The time spent between an earlier snapshot and this one.</summary>
    public SegmentationTimings Since(SegmentationTimings earlier) => new(Images - earlier.Images, FeatureExtraction - earlier.FeatureExtraction, Other - earlier.Other)
    {
        Prefilter = Prefilter - earlier.Prefilter,
        Resize = Resize - earlier.Resize,
        Matching = Matching - earlier.Matching,
        Averaging = Averaging - earlier.Averaging,
        Refinement = Refinement - earlier.Refinement,
        Labelling = Labelling - earlier.Labelling,
        ScoredLabels = ScoredLabels - earlier.ScoredLabels,
    };
}

/// <summary>The stages of one Segment call that <see cref="SegmentationTimings"/> reports.</summary>
internal enum SegmentationStage
{
    Prefilter,
    Resize,
    Extraction,
    Matching,
    Averaging,
    Refinement,
    Labelling,
}

/// <summary>Thread-safe running sums behind <see cref="SegmentationTimings"/>.</summary>
internal sealed class TimingAccumulator
{
    private const int Stages = (int)SegmentationStage.Labelling + 1;
    private readonly long[] _ticks = new long[Stages];
    private long _images;
    private long _totalTicks;
    private long _scoredLabels;

    /// <summary>Adds one call: its total ticks, its per-stage ticks (indexed by <see cref="SegmentationStage"/>) and the label planes it scored.</summary>
    public void Add(long totalTicks, ReadOnlySpan<long> stageTicks, int scoredLabels)
    {
        Interlocked.Increment(ref _images);
        Interlocked.Add(ref _scoredLabels, scoredLabels);
        Interlocked.Add(ref _totalTicks, totalTicks);
        for (int s = 0; s < Stages; s++)
        {
            Interlocked.Add(ref _ticks[s], stageTicks[s]);
        }
    }

    public SegmentationTimings Snapshot()
    {
        TimeSpan Span(SegmentationStage stage) => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _ticks[(int)stage]));
        TimeSpan extraction = Span(SegmentationStage.Extraction);
        return new SegmentationTimings(Interlocked.Read(ref _images), extraction, Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _totalTicks)) - extraction)
        {
            Prefilter = Span(SegmentationStage.Prefilter),
            Resize = Span(SegmentationStage.Resize),
            Matching = Span(SegmentationStage.Matching),
            Averaging = Span(SegmentationStage.Averaging),
            Refinement = Span(SegmentationStage.Refinement),
            Labelling = Span(SegmentationStage.Labelling),
            ScoredLabels = Interlocked.Read(ref _scoredLabels),
        };
    }
}

/// <summary>Per-call stage clock: <see cref="Lap"/> charges the time since the previous lap to a stage.</summary>
internal ref struct StageClock
{
    private readonly Span<long> _ticks;
    private long _last;

    public StageClock(Span<long> ticks)
    {
        _ticks = ticks;
        _last = Stopwatch.GetTimestamp();
        Started = _last;
    }

    public long Started { get; }

    public void Lap(SegmentationStage stage)
    {
        long now = Stopwatch.GetTimestamp();
        _ticks[(int)stage] += now - _last;
        _last = now;
    }
}
