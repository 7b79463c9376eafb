using Microsoft.ML;

namespace OvDiff.ML;

/// <summary>
/// <c>mlContext.Transforms.OvDiffSegment(...)</c>: open-vocabulary semantic segmentation from support images.
/// </summary>
public static class OvDiffCatalog
{
    /// <summary>
    /// Creates an <see cref="OvDiffSegmentEstimator"/> with default options (ResNet18 features, the official protocol).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Label-map output column (also names <c>…Width</c> and <c>…Height</c> columns).</param>
    /// <param name="imageColumnName">Text column of image paths (support images when fitting, targets when transforming).</param>
    /// <param name="labelColumnName">Text column with each support image's class name.</param>
    /// <param name="imageFolder">Folder for relative image paths, or null.</param>
    public static OvDiffSegmentEstimator OvDiffSegment(
        this TransformsCatalog catalog,
        string outputColumnName = OvDiffSegmentOptions.Defaults.OutputColumnName,
        string imageColumnName = OvDiffSegmentOptions.Defaults.ImageColumnName,
        string labelColumnName = OvDiffSegmentOptions.Defaults.LabelColumnName,
        string? imageFolder = null)
        => new(catalog, new OvDiffSegmentOptions
        {
            OutputColumnName = outputColumnName,
            ImageColumnName = imageColumnName,
            LabelColumnName = labelColumnName,
            ImageFolder = imageFolder,
        });

    /// <summary>Creates an <see cref="OvDiffSegmentEstimator"/> from full options.</summary>
    public static OvDiffSegmentEstimator OvDiffSegment(this TransformsCatalog catalog, OvDiffSegmentOptions options)
        => new(catalog, options);
}
