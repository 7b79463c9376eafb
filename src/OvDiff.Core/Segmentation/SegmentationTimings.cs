using System.Diagnostics;

namespace OvDiff.Core.Segmentation;

/// <summary>
/// Time spent by a segmenter over <see cref="Images"/> calls: in the feature extractors, and in everything else
/// (resizing, cropping, prototype matching, upsampling, averaging, PAMR, argmax).
/// </summary>
public readonly record struct SegmentationTimings(long Images, TimeSpan FeatureExtraction, TimeSpan Other)
{
    /// <summary>Mean feature-extraction time per image, in milliseconds.</summary>
    public double ExtractionMillisecondsPerImage => Images == 0 ? 0 : FeatureExtraction.TotalMilliseconds / Images;

    /// <summary>Mean time per image in everything but the extractors, in milliseconds.</summary>
    public double OtherMillisecondsPerImage => Images == 0 ? 0 : Other.TotalMilliseconds / Images;
}

/// <summary>Thread-safe running sums behind <see cref="SegmentationTimings"/>.</summary>
internal sealed class TimingAccumulator
{
    private long _images;
    private long _extractionTicks;
    private long _otherTicks;

    public void Add(long extractionTicks, long otherTicks)
    {
        Interlocked.Increment(ref _images);
        Interlocked.Add(ref _extractionTicks, extractionTicks);
        Interlocked.Add(ref _otherTicks, otherTicks);
    }

    public SegmentationTimings Snapshot() => new(
        Interlocked.Read(ref _images),
        Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _extractionTicks)),
        Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _otherTicks)));
}
