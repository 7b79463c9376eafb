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

    /// <summary>Segments one image and says what its class pre-filter decided (null when it has none).</summary>
    SegmentationOutcome SegmentWithPrefilter(RgbImage image, CancellationToken cancellationToken = default) => new(Segment(image, cancellationToken), null);
}

/// <summary>A label map and, when a class pre-filter ran, its decision in label terms.</summary>
public sealed record SegmentationOutcome(LabelMap Labels, PrefilterOutcome? Prefilter);

/// <summary>A class pre-filter's decision for one image, as labels of the segmenter's <see cref="ISegmenter.ClassNames"/>.</summary>
/// <param name="Method">The pre-filter's name ("clip", "support").</param>
/// <param name="Kept">Labels the pre-filter kept, ascending (stuff classes, which it does not decide, are not listed).</param>
/// <param name="Dropped">Labels the pre-filter left out, ascending.</param>
/// <param name="Scores">One score per label on the pre-filter's scale (NaN for background and unscored classes).</param>
/// <param name="Milliseconds">Wall time of the decision.</param>
public sealed record PrefilterOutcome(string Method, IReadOnlyList<int> Kept, IReadOnlyList<int> Dropped, IReadOnlyList<float> Scores, double Milliseconds)
{
    /// <summary>The same decision with every label mapped through <paramref name="map"/> (e.g. model labels to a dataset's).</summary>
    public PrefilterOutcome MapLabels(Func<int, int> map, int labelCount)
    {
        ArgumentNullException.ThrowIfNull(map);
        var scores = new float[labelCount];
        Array.Fill(scores, float.NaN);
        for (int l = 0; l < Scores.Count; l++)
        {
            scores[map(l)] = Scores[l];
        }

        return new PrefilterOutcome(Method, Kept.Select(map).Order().ToArray(), Dropped.Select(map).Order().ToArray(), scores, Milliseconds);
    }
}
