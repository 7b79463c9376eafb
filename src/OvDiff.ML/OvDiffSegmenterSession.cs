using System.Collections.Concurrent;
using OvDiff.Core.Features;
using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;
using OvDiff.Onnx;

namespace OvDiff.ML;

/// <summary>
/// A ready-to-run segmenter for a fitted model state: it creates and owns the feature extractors (ONNX Runtime
/// sessions) that the state names and the class pre-filter its options ask for, and disposes them with itself. <see cref="Segment"/> may be called from several threads
/// at once: where every extractor supports concurrent calls (the ONNX Runtime ones do), each concurrent call gets its own
/// <see cref="PrototypeSegmenter"/> (they share the extractors; one more is made only when all are busy); otherwise calls
/// take turns.
/// </summary>
public sealed class OvDiffSegmenterSession : IDisposable
{
    private readonly FeatureExtractorSet _extractors;
    private readonly SegmentationOptions _options;
    private readonly IClassPrefilter? _prefilter;
    private readonly IDisposable? _ownedPrefilter;
    private readonly ConcurrentBag<PrototypeSegmenter> _idle = [];

    private OvDiffSegmenterSession(OvDiffModelState state, FeatureExtractorSet extractors, PrototypeSegmenter segmenter, SegmentationOptions options, IClassPrefilter? prefilter, IDisposable? ownedPrefilter)
    {
        _ownedPrefilter = ownedPrefilter;
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
    /// with the state's options, or with <paramref name="options"/> when given. The class pre-filter is
    /// <paramref name="prefilter"/> when given, else the one the options name (<see cref="CreatePrefilter"/>, owned by the session).
    /// </summary>
    public static OvDiffSegmenterSession Create(OvDiffModelState state, SegmentationOptions? options = null, IClassPrefilter? prefilter = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        SegmentationOptions chosen = options ?? state.Segmentation;
        IClassPrefilter? owned = prefilter is null ? CreatePrefilter(chosen.Prefilter) : null;
        FeatureExtractorSet? extractors = null;
        try
        {
            extractors = DenseFeatureExtractors.CreateSet(state.FeatureExtractors);
            IClassPrefilter? used = prefilter ?? owned;
            return new OvDiffSegmenterSession(state, extractors, new PrototypeSegmenter(state.Model, extractors.Extractors, chosen, used), chosen, used, owned as IDisposable);
        }
        catch
        {
            extractors?.Dispose();
            (owned as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The pre-filter <paramref name="options"/> name: none, the support-only one, or CLIP ViT-B/16 from the model folder
    /// (<paramref name="store"/>, default <see cref="ModelStore.Default"/>; a missing file is a
    /// <see cref="ModelFileNotFoundException"/> naming it). The caller disposes a disposable result.
    /// </summary>
    public static IClassPrefilter? CreatePrefilter(ClassPrefilterOptions options, ModelStore? store = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Kind switch
        {
            ClassPrefilterKind.None => null,
            ClassPrefilterKind.Support => new SupportEvidencePrefilter(options),
            ClassPrefilterKind.Clip => ClipClassPrefilter.FromStore(store ?? ModelStore.Default, options),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Kind, "Unknown class pre-filter."),
        };
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _extractors.Dispose();
        _ownedPrefilter?.Dispose();
    }
}
