using OvDiff.Core.Segmentation;

namespace OvDiff.ML;

/// <summary>
/// Options of <see cref="OvDiffSegmentEstimator"/>. Column names are those of the user's data; defaults in brackets.
/// </summary>
public sealed record OvDiffSegmentOptions
{
    /// <summary>
    /// The image column, read when fitting (support images) and when transforming (targets): either text (image paths,
    /// resolved against <see cref="ImageFolder"/>) or a vector of bytes holding encoded images (JPEG, PNG, ...: what
    /// <c>LoadRawImageBytes</c> produces). The fitted model expects the same kind of column it was fitted on. ["ImagePath"]
    /// </summary>
    public string ImageColumnName { get; init; } = Defaults.ImageColumnName;

    /// <summary>Text column with the class name of each support image, read by <c>Fit</c> only. ["Label"]</summary>
    public string LabelColumnName { get; init; } = Defaults.LabelColumnName;

    /// <summary>Output column: the label map as a variable-length <c>byte</c> vector, row-major (0 = background, i + 1 = class i). ["SegmentationLabels"]</summary>
    public string OutputColumnName { get; init; } = Defaults.OutputColumnName;

    /// <summary>Output columns with the label map's width and height are named <c>{OutputColumnName}Width</c> and <c>{OutputColumnName}Height</c>.</summary>
    public string WidthColumnName => OutputColumnName + "Width";

    /// <summary>See <see cref="WidthColumnName"/>.</summary>
    public string HeightColumnName => OutputColumnName + "Height";

    /// <summary>
    /// Output column naming the labels present in each label map: a vector of keys whose <c>KeyValues</c> annotation holds
    /// the label names ("background", then the classes), so that key <c>k</c> is label <c>k - 1</c> of <see cref="OutputColumnName"/>.
    /// Named <c>{OutputColumnName}Classes</c>; it survives <c>mlContext.Model.Save</c>/<c>Load</c>.
    /// </summary>
    public string ClassesColumnName => OutputColumnName + "Classes";

    /// <summary>
    /// Whether an image that cannot be read when transforming (empty or missing path, truncated or corrupt data) gives an
    /// empty label map (width and height 0) and is counted, instead of failing the cursor. Saved with the model. [false]
    /// </summary>
    public bool SkipBadImages { get; init; }

    /// <summary>
    /// Optional support column, read by <c>Fit</c> when present: each row's attribution map (a vector of Single, [H, W]),
    /// e.g. the cross-attention of <c>OvDiffSampleSupport</c>; the foreground/background split then ranks its segments by it
    /// (the reference's split). Null ignores it. ["Attribution"]
    /// </summary>
    public string? AttributionColumnName { get; init; } = "Attribution";

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
