using System.Collections.Concurrent;
using OvDiff.Core.Features;
using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;
using OvDiff.Onnx;

namespace OvDiff.ML;

/// <summary>
/// A ready-to-run segmenter for a fitted model state: it creates and owns the feature extractors (ONNX Runtime
/// sessions) that the state names, and disposes them with itself. <see cref="Segment"/> may be called from several threads
/// at once: where every extractor supports concurrent calls (the ONNX Runtime ones do), each concurrent call gets its own
/// <see cref="PrototypeSegmenter"/> (they share the extractors; one more is made only when all are busy); otherwise calls
/// take turns.
/// </summary>
public sealed class OvDiffSegmenterSession : IDisposable
{
    private readonly FeatureExtractorSet _extractors;
    private readonly SegmentationOptions _options;
    private readonly IClassPrefilter? _prefilter;
    private readonly ConcurrentBag<PrototypeSegmenter> _idle = [];

    private OvDiffSegmenterSession(OvDiffModelState state, FeatureExtractorSet extractors, PrototypeSegmenter segmenter, SegmentationOptions options, IClassPrefilter? prefilter)
    {
        State = state;
        _extractors = extractors;
        Segmenter = segmenter;
        _options = options;
        _prefilter = prefilter;
        _idle.Add(segmenter);
    }

    /// <summary>The model state.</summary>
    public OvDiffModelState State { get; }

    /// <summary>The extractors this session owns.</summary>
    public IReadOnlyList<IDenseFeatureExtractor> Extractors => _extractors.Extractors;

    /// <summary>The first segmenter, for callers that need its details (not thread-safe: one call at a time, and not while
    /// <see cref="Segment"/> runs on other threads).</summary>
    public PrototypeSegmenter Segmenter { get; }

    /// <summary>Segments <paramref name="image"/>; thread-safe.</summary>
    public SegmentationResult Segment(RgbImage image, bool includeScores, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (!_extractors.Extractors.All(e => e.SupportsConcurrentExtract))
        {
            lock (Segmenter)
            {
                return Segmenter.Segment(image, includeScores, cancellationToken);
            }
        }

        if (!_idle.TryTake(out PrototypeSegmenter? segmenter))
        {
            segmenter = new PrototypeSegmenter(State.Model, _extractors.Extractors, _options, _prefilter);
        }

        try
        {
            return segmenter.Segment(image, includeScores, cancellationToken);
        }
        finally
        {
            _idle.Add(segmenter);
        }
    }

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
            SegmentationOptions chosen = options ?? state.Segmentation;
            return new OvDiffSegmenterSession(state, extractors, new PrototypeSegmenter(state.Model, extractors.Extractors, chosen, prefilter), chosen, prefilter);
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
