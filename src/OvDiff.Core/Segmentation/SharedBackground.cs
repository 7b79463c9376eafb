namespace OvDiff.Core.Segmentation;

/// <summary>
/// Background of no class in particular: unit-length k-means parts of the single-tag support images' background cells on
/// one extractor's features (<see cref="PrototypeFitOptions.SharedBackgroundParts"/>). The fitter shares multi-tag support
/// images out against them, and the support pre-filter's first pass can score them as background
/// (<see cref="ClassPrefilterOptions.SupportSharedBackground"/>).
/// </summary>
public sealed class SharedBackground
{
    /// <summary>Creates the parts; <paramref name="vectors"/> holds one or more rows of <paramref name="channels"/> floats.</summary>
    public SharedBackground(string extractorName, int channels, float[] vectors)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(extractorName);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentNullException.ThrowIfNull(vectors);
        if (vectors.Length == 0 || vectors.Length % channels != 0)
        {
            throw new ArgumentException($"Shared background of '{extractorName}': {vectors.Length} floats are not one or more rows of {channels} channels.", nameof(vectors));
        }

        ExtractorName = extractorName;
        Channels = channels;
        Vectors = vectors;
    }

    /// <summary>The extractor whose features the parts are in (the fit's first).</summary>
    public string ExtractorName { get; }

    /// <summary>Feature dimension.</summary>
    public int Channels { get; }

    /// <summary>Unit-length part vectors, row-major.</summary>
    public float[] Vectors { get; }

    /// <summary>Number of parts.</summary>
    public int Count => Vectors.Length / Channels;
}
