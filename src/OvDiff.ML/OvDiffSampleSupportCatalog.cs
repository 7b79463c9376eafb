using Microsoft.ML;

namespace OvDiff.ML;

/// <summary>
/// <c>mlContext.Transforms.OvDiffSampleSupport(...)</c>: support images for class names from Stable Diffusion, the stage
/// before <c>mlContext.Transforms.OvDiffSegment(...)</c> in a pipeline from class names to a fitted segmenter.
/// </summary>
public static class OvDiffSampleSupportCatalog
{
    /// <summary>Creates an <see cref="OvDiffSampleSupportEstimator"/> with the reference's sampling settings.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="modelFolder">A Stable Diffusion folder in the diffusers ONNX layout.</param>
    /// <param name="storeFolder">The support store the images go to (reused when it exists with the same settings).</param>
    /// <param name="classColumnName">Input text column: the class name.</param>
    /// <param name="indexColumnName">Input numeric column: the image's index within its class.</param>
    /// <param name="imageColumnName">Output text column: the image's path (what OvDiffSegment reads).</param>
    /// <param name="attributionColumnName">Output column: the attribution map (what OvDiffSegment's Fit reads).</param>
    public static OvDiffSampleSupportEstimator OvDiffSampleSupport(
        this TransformsCatalog catalog,
        string modelFolder,
        string storeFolder,
        string classColumnName = "Label",
        string indexColumnName = "Index",
        string imageColumnName = "ImagePath",
        string attributionColumnName = "Attribution")
        => new(catalog, new OvDiffSampleSupportOptions
        {
            ModelFolder = modelFolder,
            StoreFolder = storeFolder,
            ClassColumnName = classColumnName,
            IndexColumnName = indexColumnName,
            ImageColumnName = imageColumnName,
            AttributionColumnName = attributionColumnName,
        });

    /// <summary>Creates an <see cref="OvDiffSampleSupportEstimator"/> from full options.</summary>
    public static OvDiffSampleSupportEstimator OvDiffSampleSupport(this TransformsCatalog catalog, OvDiffSampleSupportOptions options)
        => new(catalog, options);
}

/// <summary>One requested support image: a class name and the image's index within the class. Load a list with <c>mlContext.Data.LoadFromEnumerable</c>.</summary>
public sealed class OvDiffSupportRequest
{
    /// <summary>The class name.</summary>
    public string Label { get; set; } = "";

    /// <summary>The image's index within its class, from 0.</summary>
    public int Index { get; set; }

    /// <summary>Rows for <paramref name="perClass"/> images of each of <paramref name="classNames"/> (the reference samples 32).</summary>
    public static IEnumerable<OvDiffSupportRequest> For(IEnumerable<string> classNames, int perClass = 32)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perClass);
        return classNames.SelectMany(c => Enumerable.Range(0, perClass).Select(i => new OvDiffSupportRequest { Label = c, Index = i })).ToList();
    }
}
