using OvDiff.Core.Features;
using OvDiff.Core.Segmentation;
using OvDiff.Onnx;

namespace OvDiff.ML;

/// <summary>
/// A ready-to-run segmenter for a fitted model state: it creates and owns the feature extractors (ONNX Runtime
/// sessions) that the state names, and disposes them with itself.
/// </summary>
public sealed class OvDiffSegmenterSession : IDisposable
{
    private readonly FeatureExtractorSet _extractors;

    private OvDiffSegmenterSession(OvDiffModelState state, FeatureExtractorSet extractors, PrototypeSegmenter segmenter)
    {
        State = state;
        _extractors = extractors;
        Segmenter = segmenter;
    }

    /// <summary>The model state.</summary>
    public OvDiffModelState State { get; }

    /// <summary>The extractors this session owns.</summary>
    public IReadOnlyList<IDenseFeatureExtractor> Extractors => _extractors.Extractors;

    /// <summary>The segmenter (not thread-safe: one call at a time).</summary>
    public PrototypeSegmenter Segmenter { get; }

    /// <summary>
    /// Creates the extractors named in <paramref name="state"/> (see <see cref="DenseFeatureExtractors"/>) and a segmenter
    /// with the state's options, or with <paramref name="options"/> when given; <paramref name="prefilter"/> is optional.
    /// </summary>
    public static OvDiffSegmenterSession Create(OvDiffModelState state, SegmentationOptions? options = null, IClassPrefilter? prefilter = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        FeatureExtractorSet extractors = DenseFeatureExtractors.CreateSet(state.FeatureExtractors);
        try
        {
            return new OvDiffSegmenterSession(state, extractors, new PrototypeSegmenter(state.Model, extractors.Extractors, options ?? state.Segmentation, prefilter));
        }
        catch
        {
            extractors.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _extractors.Dispose();
}
