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
    private OvDiffSegmenterSession(OvDiffModelState state, IReadOnlyList<IDenseFeatureExtractor> extractors, PrototypeSegmenter segmenter)
    {
        State = state;
        Extractors = extractors;
        Segmenter = segmenter;
    }

    /// <summary>The model state.</summary>
    public OvDiffModelState State { get; }

    /// <summary>The extractors this session owns.</summary>
    public IReadOnlyList<IDenseFeatureExtractor> Extractors { get; }

    /// <summary>The segmenter (not thread-safe: one call at a time).</summary>
    public PrototypeSegmenter Segmenter { get; }

    /// <summary>
    /// Creates the extractors named in <paramref name="state"/> (see <see cref="DenseFeatureExtractors"/>) and a segmenter
    /// with the state's options, or with <paramref name="options"/> when given; <paramref name="prefilter"/> is optional.
    /// </summary>
    public static OvDiffSegmenterSession Create(OvDiffModelState state, SegmentationOptions? options = null, IClassPrefilter? prefilter = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        var extractors = new List<IDenseFeatureExtractor>();
        try
        {
            foreach (string name in state.FeatureExtractors)
            {
                extractors.Add(DenseFeatureExtractors.Create(name));
            }

            return new OvDiffSegmenterSession(state, extractors, new PrototypeSegmenter(state.Model, extractors, options ?? state.Segmentation, prefilter));
        }
        catch
        {
            extractors.ForEach(e => e.Dispose());
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (IDenseFeatureExtractor extractor in Extractors)
        {
            extractor.Dispose();
        }
    }
}
