using OvDiff.Core.Images;

namespace OvDiff.Core.Segmentation;

/// <summary>The label map of one image and, when asked for, the averaged class scores behind it.</summary>
/// <param name="Labels">Label per pixel at the image's resolution (0 = background, i + 1 = class i).</param>
/// <param name="Scores">Null, or (classes + 1) planes of Height x Width scores in [−1, 1] at the image's resolution.</param>
public sealed record SegmentationResult(LabelMap Labels, float[]? Scores)
{
    /// <summary>What the class pre-filter decided for this image; null when none ran.</summary>
    public ClassPrefilterDecision? Prefilter { get; init; }
}
