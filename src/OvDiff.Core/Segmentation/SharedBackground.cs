using OvDiff.Core.Numerics;

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

    /// <summary>
    /// The shared background of <paramref name="background"/> on <paramref name="extractorName"/>: <paramref name="parts"/>
    /// k-means centroids (seed <paramref name="seed"/>) of the cells scaled to unit length, each scaled to unit length;
    /// null when there is no cell. Fewer parts when there are fewer distinct cells.
    /// </summary>
    /// <param name="extractorName">The extractor whose features the cells are.</param>
    /// <param name="background">Blocks of raw background cells (row-major, <paramref name="channels"/> wide) and their counts.</param>
    /// <param name="channels">Feature width.</param>
    /// <param name="parts">Number of parts (at least 1).</param>
    /// <param name="seed">k-means seed.</param>
    /// <param name="cancellationToken">Checked during the k-means (many parts of many cells take minutes).</param>
    internal static SharedBackground? Fit(string extractorName, IEnumerable<(float[] Cells, int Count)> background, int channels, int parts, int seed, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parts);
        var blocks = background.Where(b => b.Count > 0).ToList();
        long total = blocks.Sum(b => (long)b.Count);
        if (total == 0)
        {
            return null;
        }

        var unit = new float[checked(total * channels)];
        long offset = 0;
        foreach ((float[] cells, int count) in blocks)
        {
            Span<float> block = unit.AsSpan(checked((int)(offset * channels)), count * channels);
            cells.AsSpan(0, count * channels).CopyTo(block);
            Matrix.NormalizeRows(block, count, channels, 1e-6f);
            offset += count;
        }

        KMeansResult km = KMeans.Fit(unit, checked((int)total), channels, parts, seed, cancellationToken: cancellationToken);
        float[] centroids = km.Centroids;
        Matrix.NormalizeRows(centroids, km.K, channels, 1e-6f);
        return new SharedBackground(extractorName, channels, centroids);
    }
}
