using System.Text.Json.Serialization;
using OvDiff.Core.Numerics;

namespace OvDiff.Core.Segmentation;

/// <summary>How each support image is split into foreground and background before pooling.</summary>
public enum ForegroundSplitMode
{
    /// <summary>No split: the whole image is foreground and there is no background (ablation only).</summary>
    None = 0,

    /// <summary>
    /// Training-free class-agnostic split: MaskCut (normalised cuts) on the first extractor's features. Without attribution
    /// maps the seed's segment is foreground (with the corner rule) and the rest, eroded, is background; with attribution
    /// maps the segments (plus the remainder) are ranked by mean attribution as the reference ranks CutLER's masks.
    /// </summary>
    NormalizedCut = 1,

    /// <summary>
    /// 2-means on the (centred) features; the cluster holding more of the grid's border cells is background, the other
    /// foreground; the background is eroded. Simple and robust on coarse CNN grids.
    /// </summary>
    BorderClusters = 2,
}

/// <summary>Options of <see cref="PrototypeFitter"/>. Defaults follow the official OVDiff code where it has one.</summary>
public sealed record PrototypeFitOptions
{
    /// <summary>Support images are resized so their short side is this many pixels before feature extraction. Default 448 (the inference scale).</summary>
    public int SupportShortSide { get; init; } = 448;

    /// <summary>
    /// The longest side a support image may have once resized to <see cref="SupportShortSide"/>; a longer one is refused
    /// with <see cref="Images.ImageTooLargeException"/> naming it, before it is resized. Default 4096.
    /// </summary>
    public int MaxLongSide { get; init; } = 4096;

    /// <summary>The foreground/background split. Default <see cref="ForegroundSplitMode.NormalizedCut"/>.</summary>
    public ForegroundSplitMode Split { get; init; } = ForegroundSplitMode.NormalizedCut;

    /// <summary>Normalised-cut settings for the split.</summary>
    public NormalizedCutOptions NormalizedCut { get; init; } = new();

    /// <summary>
    /// Subtract each image's mean feature before the normalised cut. Non-negative CNN features (ResNet after ReLU) have
    /// pairwise cosines all above τ, which leaves the cut nothing to separate; ViT keys are near zero-mean already. Default true.
    /// </summary>
    public bool CenterFeaturesForSplit { get; init; } = true;

    /// <summary>MaskCut segments per image (reference: 3). Default 3.</summary>
    public int MaskCutSegments { get; init; } = 3;

    /// <summary>Erosion steps applied to the background mask (reference: one <c>binary_erosion</c>). Default 1.</summary>
    public int BackgroundErosion { get; init; } = 1;

    /// <summary>Background cells must have attribution below this (reference 0.2). Default 0.2.</summary>
    public float AttributionBackgroundThreshold { get; init; } = 0.2f;

    /// <summary>Without any segment, foreground = attribution above this (reference fallback 0.5). Default 0.5.</summary>
    public float AttributionForegroundThreshold { get; init; } = 0.5f;

    /// <summary>Which prototype levels to compute. Default all three (reference <c>all</c>).</summary>
    public PrototypeLevels Levels { get; init; } = PrototypeLevels.All;

    /// <summary>k-means clusters per class and role (reference K=32). Default 32.</summary>
    public int PartCount { get; init; } = 32;

    /// <summary>k-means seed (reference <c>random_state=0</c>). Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// Support images tagged with several classes: rounds of sharing their cells out among their classes and the
    /// background (<see cref="MultiTagAssignment"/>); 0 fits each tag alone with the image's split (what other classes it
    /// shows then lands in its foreground or background). Default 2.
    /// </summary>
    public int MultiTagIterations { get; init; } = 2;

    /// <summary>
    /// How many k-means parts of the single-tag support images' background cells (first extractor, unit cells,
    /// <see cref="Seed"/>) form the model's <see cref="PrototypeModel.SharedBackground"/>: background of no class in
    /// particular. Support images tagged with several classes are shared out against them (a cell goes to the background
    /// when one part is more similar than each of its tagged classes' means), so indoor walls and floors find a background
    /// like them instead of joining a chair or a table; the support pre-filter can use them in its first pass
    /// (<see cref="ClassPrefilterOptions.SupportSharedBackground"/>). 0 = none: multi-tag images are compared with one
    /// background mean over every background cell, recomputed each round. Not in the reference. Default 0 (<c>ovdiff
    /// fit</c> uses 32, chosen by cross-validation with ResNet18).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int SharedBackgroundParts { get; init; }

    /// <summary>
    /// Rounds of cleaning the foreground of each support image fitted with one class by its class's other support images
    /// (<see cref="ForegroundCleaning"/>): foreground cells closer to the class's background mean than to its foreground
    /// mean (by less than <see cref="ForegroundCleaningMargin"/>) move to the background. Not in the reference; 0 = off.
    /// Default 0 (<c>ovdiff fit</c> uses 2, chosen by cross-validation with ResNet18). Keeps every support image's feature
    /// maps in memory until the end of the fit.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int ForegroundCleaningRounds { get; init; }

    /// <summary>
    /// How much closer (in cosine) to its class's foreground mean than to its background mean a cell must be to stay
    /// foreground in <see cref="ForegroundCleaningRounds"/>. Default 0.02.
    /// </summary>
    public float ForegroundCleaningMargin { get; init; } = 0.02f;

    /// <summary>Names of "stuff" classes (sky, wall, grass…): no background prototypes of their own. Default none.</summary>
    public IReadOnlyList<string> StuffClasses { get; init; } = [];

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(SupportShortSide, 16, nameof(SupportShortSide));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxLongSide, nameof(MaxLongSide));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaskCutSegments, nameof(MaskCutSegments));
        ArgumentOutOfRangeException.ThrowIfNegative(BackgroundErosion, nameof(BackgroundErosion));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(PartCount, nameof(PartCount));
        ArgumentOutOfRangeException.ThrowIfNegative(MultiTagIterations, nameof(MultiTagIterations));
        ArgumentOutOfRangeException.ThrowIfNegative(SharedBackgroundParts, nameof(SharedBackgroundParts));
        ArgumentOutOfRangeException.ThrowIfNegative(ForegroundCleaningRounds, nameof(ForegroundCleaningRounds));
        if (!float.IsFinite(ForegroundCleaningMargin) || ForegroundCleaningMargin is < -1f or > 1f)
        {
            throw new ArgumentOutOfRangeException(nameof(ForegroundCleaningMargin), ForegroundCleaningMargin, "A cosine margin must be in [-1, 1].");
        }
        if (Levels == PrototypeLevels.None)
        {
            throw new ArgumentOutOfRangeException(nameof(Levels), Levels, "At least one prototype level is needed.");
        }
    }
}
