using OvDiff.Core.Images;

namespace OvDiff.Core.Segmentation;

/// <summary>
/// A per-pixel attribution map of a support image (how strongly the class name "caused" each pixel; e.g. the diffusion
/// model's cross-attention), min-max normalised to [0, 1], row-major.
/// </summary>
public sealed record AttributionMap(int Height, int Width, float[] Values)
{
    /// <summary>Checks the shape.</summary>
    public void Validate(string source)
    {
        if (Height <= 0 || Width <= 0 || Values is null || Values.LongLength != (long)Height * Width)
        {
            throw new ArgumentException($"Attribution map of '{source}' must hold {Height}x{Width} values.");
        }
    }
}

/// <summary>
/// One support image of a class. The image is loaded lazily (<paramref name="Load"/>) so that a large support set is
/// streamed rather than held in memory.
/// </summary>
/// <param name="ClassName">The class this image shows (with <see cref="AlsoShows"/>, one of the classes it shows).</param>
/// <param name="Source">A path or identifier, kept in the model for explanation.</param>
/// <param name="Load">Decodes the image; errors must name <paramref name="Source"/>.</param>
/// <param name="Attribution">Optional attribution map (any resolution) used to rank segments.</param>
public sealed record SupportExample(string ClassName, string Source, Func<CancellationToken, RgbImage> Load, AttributionMap? Attribution = null)
{
    /// <summary>
    /// The other classes the image shows (its other tags). The fitter shares the image's foreground out among all its
    /// classes and keeps every tagged class out of their backgrounds (<see cref="PrototypeFitOptions.MultiTagIterations"/>).
    /// Default none.
    /// </summary>
    public IReadOnlyList<string> AlsoShows { get; init; } = [];
}

/// <summary>A source of support images for a set of classes: a folder per class, a tagged-image list, a diffusion sampler…</summary>
public interface ISupportSource
{
    /// <summary>The classes this source covers, in order.</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>Enumerates the support images (each class's images may be interleaved with others').</summary>
    IEnumerable<SupportExample> Enumerate(CancellationToken cancellationToken = default);
}

/// <summary>Progress of a long step: <paramref name="Completed"/> of <paramref name="Total"/> items (Total may be -1 when unknown).</summary>
public readonly record struct StepProgress(string Step, long Completed, long Total, string? Item = null);
