using OvDiff.Core.Features;
using OvDiff.Core.Images;

namespace OvDiff.Onnx;

/// <summary>
/// Several dense feature extractors used together (an ensemble: the segmenter averages per-extractor cosine similarities).
/// Owns the extractors given to it and disposes them all.
/// </summary>
public sealed class FeatureExtractorSet : IDisposable
{
    private readonly IDenseFeatureExtractor[] _extractors;
    private bool _disposed;

    /// <summary>Takes ownership of <paramref name="extractors"/> (at least one; names must be distinct).</summary>
    public FeatureExtractorSet(IEnumerable<IDenseFeatureExtractor> extractors)
    {
        ArgumentNullException.ThrowIfNull(extractors);
        _extractors = extractors.ToArray();
        if (_extractors.Length == 0)
        {
            throw new ArgumentException("A feature extractor set needs at least one extractor.", nameof(extractors));
        }

        var duplicate = _extractors.GroupBy(e => e.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Two extractors are named '{duplicate.Key}'; names identify the features in model files.", nameof(extractors));
        }
    }

    /// <summary>The extractors, in the order given.</summary>
    public IReadOnlyList<IDenseFeatureExtractor> Extractors => _extractors;

    /// <summary>One feature map per extractor, in the order of <see cref="Extractors"/>.</summary>
    public IReadOnlyList<FeatureMap> ExtractAll(RgbImage image, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var maps = new FeatureMap[_extractors.Length];
        for (var i = 0; i < maps.Length; i++)
        {
            maps[i] = _extractors[i].Extract(image, cancellationToken);
        }

        return maps;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        List<Exception>? failures = null;
        foreach (var extractor in _extractors)
        {
            try
            {
                extractor.Dispose();
            }
            catch (Exception ex)
            {
                (failures ??= []).Add(ex);
            }
        }

        if (failures is not null)
        {
            throw new AggregateException("Disposing the feature extractors failed.", failures);
        }
    }
}
