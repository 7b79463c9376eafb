using OvDiff.Core.Images;

namespace OvDiff.Core.Segmentation;

/// <summary>
/// Anything that turns an image into a label map at the image's own resolution over a fixed, ordered class list.
/// The evaluator scores any <see cref="ISegmenter"/>; OvDiff's prototype segmenter is one.
/// </summary>
public interface ISegmenter
{
    /// <summary>The class names, in label order (index 0 is usually "background").</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>Segments one image; the result has the image's width and height.</summary>
    LabelMap Segment(RgbImage image, CancellationToken cancellationToken = default);
}
