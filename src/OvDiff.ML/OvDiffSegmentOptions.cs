using OvDiff.Core.Segmentation;

namespace OvDiff.ML;

/// <summary>
/// Options of <see cref="OvDiffSegmentEstimator"/>. Column names are those of the user's data; defaults in brackets.
/// </summary>
public sealed record OvDiffSegmentOptions
{
    /// <summary>Text column with image paths, read when fitting (support images) and when transforming (targets). ["ImagePath"]</summary>
    public string ImageColumnName { get; init; } = Defaults.ImageColumnName;

    /// <summary>Text column with the class name of each support image, read by <c>Fit</c> only. ["Label"]</summary>
    public string LabelColumnName { get; init; } = Defaults.LabelColumnName;

    /// <summary>Output column: the label map as a variable-length <c>byte</c> vector, row-major (0 = background, i + 1 = class i). ["SegmentationLabels"]</summary>
    public string OutputColumnName { get; init; } = Defaults.OutputColumnName;

    /// <summary>Output columns with the label map's width and height are named <c>{OutputColumnName}Width</c> and <c>{OutputColumnName}Height</c>.</summary>
    public string WidthColumnName => OutputColumnName + "Width";

    /// <summary>See <see cref="WidthColumnName"/>.</summary>
    public string HeightColumnName => OutputColumnName + "Height";

    /// <summary>If set, an output column with the (classes + 1) score planes per pixel as a float vector. [null]</summary>
    public string? ScoresColumnName { get; init; }

    /// <summary>Folder that relative image paths are resolved against (like <c>LoadImages</c>' imageFolder); null = as given. [null]</summary>
    public string? ImageFolder { get; init; }

    /// <summary>The classes, in label order. Null = the distinct labels of the support data, in order of first appearance. [null]</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>Names of the dense feature extractors (see <c>DenseFeatureExtractors</c>); their cosine similarities are averaged. ["resnet18-layer4"]</summary>
    public IReadOnlyList<string> FeatureExtractors { get; init; } = [Defaults.FeatureExtractor];

    /// <summary>Prototype fitting options.</summary>
    public PrototypeFitOptions Fit { get; init; } = new();

    /// <summary>Inference options.</summary>
    public SegmentationOptions Segmentation { get; init; } = new();

    internal static class Defaults
    {
        public const string ImageColumnName = "ImagePath";
        public const string LabelColumnName = "Label";
        public const string OutputColumnName = "SegmentationLabels";
        public const string FeatureExtractor = Onnx.DenseFeatureExtractors.Default;
    }
}
