using System.Text.Json.Serialization;
using OvDiff.Core.Numerics;

namespace OvDiff.Core.Segmentation;

/// <summary>A square sliding window and its step, in pixels of the resized image.</summary>
/// <param name="Crop">Window side.</param>
/// <param name="Stride">Step between windows.</param>
public sealed record SlidingWindow(int Crop, int Stride);

/// <summary>
/// Inference options of <see cref="PrototypeSegmenter"/>. Defaults are the official OVDiff protocol: short side 448
/// (Lanczos), windows 448/224 and 336/224 plus the full image, all prototype levels, background prototypes on, stuff
/// filter 0.85, scores at or below 0 zeroed before the argmax, PAMR off.
/// </summary>
public sealed record SegmentationOptions
{
    /// <summary>
    /// The image's short side is resized to this before scoring, the long side to <c>int(ShortSide * long / short)</c>
    /// (truncated, as the reference's torchvision resize); 0 keeps the original size. Default 448.
    /// </summary>
    public int ShortSide { get; init; } = 448;

    /// <summary>
    /// The longest side an image may have once resized to <see cref="ShortSide"/> (or as is, when that is 0). A longer
    /// one, from an extreme aspect ratio (2000x3 becomes 298,666x448) or a huge original, is refused with
    /// <see cref="Images.ImageTooLargeException"/> before anything is allocated for it. Default 4096 (an aspect ratio
    /// up to 9.1:1 at short side 448).
    /// </summary>
    public int MaxLongSide { get; init; } = 4096;

    /// <summary>Filter for that resize. Default Lanczos-3 (the reference uses PIL's LANCZOS).</summary>
    public ImageFilter ResizeFilter { get; init; } = ImageFilter.Lanczos3;

    /// <summary>Sliding windows (crop, stride). Default (448, 224) and (336, 224).</summary>
    public IReadOnlyList<SlidingWindow> Windows { get; init; } = [new(448, 224), new(336, 224)];

    /// <summary>
    /// Windows of one size go to each extractor as one batch (<see cref="Features.IDenseFeatureExtractor.ExtractBatch"/>)
    /// instead of one call each; the features agree within float rounding (1e-5 relative) and the labels came out the
    /// same. Default true: with ResNet18 on 2 CPU cores the official protocol's feature passes took 17 % less time
    /// batched (docs/results.md).
    /// </summary>
    public bool BatchWindows { get; init; } = true;

    /// <summary>Also score the whole image as one window. Default true.</summary>
    public bool IncludeFullImage { get; init; } = true;

    /// <summary>
    /// Each window is also segmented mirrored left to right, and the mirror's scores, mirrored back in pixel space, are
    /// averaged with the window's (mmsegmentation's flip test-time augmentation). Doubles the feature passes. Not in the
    /// reference. Default false. With ResNet18 on VOC dev, flipping alone gained +0.3 / +0.7 mIoU in cross-validation, and
    /// +1.3 / +1.9 together with stride 16 and a first-pass background bias (docs/results.md). Left out of JSON when
    /// false, so model files and run identities written before the option existed read the same.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool FlipTestTime { get; init; }

    /// <summary>Prototype levels used for matching (must have been fitted). Default all.</summary>
    public PrototypeLevels Levels { get; init; } = PrototypeLevels.All;

    /// <summary>Score the background class with the candidate classes' background prototypes; when false the background score is 0 (reference <c>--bgmode zero</c>). Default true.</summary>
    public bool UseBackgroundPrototypes { get; init; } = true;

    /// <summary>Background prototypes with cosine similarity above this to any stuff class's foreground prototype are dropped (reference <c>--filter_bg_thres</c>); 0 disables. Default 0.85.</summary>
    public float StuffBackgroundFilterThreshold { get; init; } = 0.85f;

    /// <summary>Scores at or below this are zeroed before the argmax (reference <c>--thresholds 0.0</c>). Default 0.</summary>
    public float ScoreThreshold { get; init; }

    /// <summary>
    /// Classes whose predicted area is below this fraction of the image are dropped and their pixels re-assigned
    /// (a prediction-based pre-filter: confusion between classes is the main error without a CLIP pre-filter); 0 disables.
    /// Not in the reference. Default 0.
    /// </summary>
    public float MinimumClassArea { get; init; }

    /// <summary>
    /// Weight α of the image's own prototypes (<see cref="SelfPrototypeRefinement"/>): per window, each label's scores become
    /// (1 − α) · support score + α · cosine to the mean feature of the cells it won. Not in the reference; 0 disables. Default 0.
    /// </summary>
    public float SelfPrototypeWeight { get; init; }

    /// <summary>The class pre-filter run before matching. Default none.</summary>
    public ClassPrefilterOptions Prefilter { get; init; } = new();

    /// <summary>PAMR refinement of the averaged scores at the resized scale (reference <c>--pamr</c>, off by default). Null = off.</summary>
    public PamrOptions? Pamr { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ShortSide, nameof(ShortSide));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxLongSide, nameof(MaxLongSide));
        foreach (SlidingWindow window in Windows)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(window.Crop, nameof(Windows));
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(window.Stride, nameof(Windows));
        }

        if (Windows.Count == 0 && !IncludeFullImage)
        {
            throw new ArgumentOutOfRangeException(nameof(Windows), "No window to score: give at least one sliding window or include the full image.");
        }

        if (Levels == PrototypeLevels.None)
        {
            throw new ArgumentOutOfRangeException(nameof(Levels), Levels, "At least one prototype level is needed.");
        }

        if (SelfPrototypeWeight is < 0 or > 1 || float.IsNaN(SelfPrototypeWeight))
        {
            throw new ArgumentOutOfRangeException(nameof(SelfPrototypeWeight), SelfPrototypeWeight, "Must be in [0, 1].");
        }

        ArgumentNullException.ThrowIfNull(Prefilter, nameof(Prefilter));
        Prefilter.Validate();
        if (MinimumClassArea is < 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MinimumClassArea), MinimumClassArea, "Must be in [0, 1).");
        }
    }
}
