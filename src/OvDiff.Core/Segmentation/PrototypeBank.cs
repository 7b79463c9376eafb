namespace OvDiff.Core.Segmentation;

/// <summary>
/// The prototypes of one feature extractor: unit-length vectors (row-major, <see cref="Count"/> x <see cref="Channels"/>)
/// and, for each, where it came from.
/// </summary>
public sealed class PrototypeBank
{
    /// <summary>Creates a bank; <paramref name="vectors"/> must hold origins.Count rows of <paramref name="channels"/> floats.</summary>
    public PrototypeBank(string extractorName, int channels, float[] vectors, IReadOnlyList<PrototypeOrigin> origins)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(extractorName);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentNullException.ThrowIfNull(vectors);
        ArgumentNullException.ThrowIfNull(origins);
        if (vectors.LongLength != (long)origins.Count * channels)
        {
            throw new ArgumentException($"Bank '{extractorName}': {origins.Count} prototypes of {channels} channels need {(long)origins.Count * channels} floats, got {vectors.LongLength}.", nameof(vectors));
        }

        ExtractorName = extractorName;
        Channels = channels;
        Vectors = vectors;
        Origins = origins;
    }

    /// <summary>The <c>IDenseFeatureExtractor.Name</c> these prototypes were pooled from.</summary>
    public string ExtractorName { get; }

    /// <summary>Feature dimension.</summary>
    public int Channels { get; }

    /// <summary>Unit-length prototype vectors, row-major.</summary>
    public float[] Vectors { get; }

    /// <summary>Provenance of each prototype, in row order.</summary>
    public IReadOnlyList<PrototypeOrigin> Origins { get; }

    /// <summary>Number of prototypes.</summary>
    public int Count => Origins.Count;

    /// <summary>The vector of prototype <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> Vector(int index) => Vectors.AsSpan(index * Channels, Channels);
}
