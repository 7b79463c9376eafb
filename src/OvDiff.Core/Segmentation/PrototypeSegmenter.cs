using System.Buffers;
using System.Diagnostics;
using OvDiff.Core.Features;
using OvDiff.Core.Images;
using OvDiff.Core.Numerics;

namespace OvDiff.Core.Segmentation;

/// <summary>
/// OVDiff's segmenter (stage 3): each pixel takes the label of its most similar prototype. Class score = max cosine
/// similarity over the class's foreground prototypes; background score = max over the candidate classes' background
/// prototypes; scores from sliding windows and from all extractors are averaged, upsampled bilinearly, thresholded and
/// arg-maxed. The extractors are used, not owned; one segmenter must not be used from two threads at once.
/// </summary>
public sealed class PrototypeSegmenter : ISegmenter
{
    private readonly PrototypeModel _model;
    private readonly BankPlan[] _plans;
    private readonly IClassPrefilter? _prefilter;
    private readonly TimingAccumulator _timings = new();

    /// <summary>
    /// Prepares matching for <paramref name="model"/> with one extractor per bank (matched by name; an extractor missing
    /// for a bank, or of another feature dimension, is an error naming both).
    /// </summary>
    public PrototypeSegmenter(PrototypeModel model, IReadOnlyList<IDenseFeatureExtractor> extractors, SegmentationOptions? options = null, IClassPrefilter? prefilter = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(extractors);
        Options = options ?? new SegmentationOptions();
        Options.Validate();
        if ((Options.Levels & ~model.FitOptions.Levels) != PrototypeLevels.None)
        {
            throw new ArgumentException($"The model was fitted with prototype levels {model.FitOptions.Levels}; {Options.Levels} were asked for.", nameof(options));
        }

        _model = model;
        _prefilter = prefilter;
        _plans = model.Banks.Select(bank =>
        {
            IDenseFeatureExtractor extractor = extractors.FirstOrDefault(e => e.Name == bank.ExtractorName)
                ?? throw new ArgumentException($"The model needs feature extractor '{bank.ExtractorName}', which was not given (given: {string.Join(", ", extractors.Select(e => e.Name))}).", nameof(extractors));
            if (extractor.Channels != bank.Channels)
            {
                throw new ArgumentException($"Extractor '{extractor.Name}' gives {extractor.Channels} channels but the model's bank has {bank.Channels}.", nameof(extractors));
            }

            return BankPlan.Create(bank, extractor, model, Options);
        }).ToArray();
    }

    /// <summary>Where the time of <see cref="Segment(RgbImage, bool, CancellationToken)"/> went, summed over every call so far.</summary>
    public SegmentationTimings Timings => _timings.Snapshot();

    /// <summary>The options in force.</summary>
    public SegmentationOptions Options { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames => _model.LabelNames;

    /// <summary>Number of prototypes matched per bank after level selection and stuff filtering.</summary>
    public IReadOnlyList<int> ActivePrototypeCounts => _plans.Select(p => p.Columns).ToArray();

    /// <inheritdoc />
    public LabelMap Segment(RgbImage image, CancellationToken cancellationToken = default) => Segment(image, includeScores: false, cancellationToken).Labels;

    /// <inheritdoc />
    public SegmentationOutcome SegmentWithPrefilter(RgbImage image, CancellationToken cancellationToken = default)
    {
        SegmentationResult result = Segment(image, includeScores: false, cancellationToken);
        return new SegmentationOutcome(result.Labels, result.Prefilter is { } decision ? ToOutcome(decision) : null);
    }

    /// <summary>Segments <paramref name="image"/>, optionally returning the score planes too.</summary>
    public SegmentationResult Segment(RgbImage image, bool includeScores, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        Span<long> stageTicks = stackalloc long[(int)SegmentationStage.Labelling + 1];
        var clock = new StageClock(stageTicks);
        int labels = _model.ClassNames.Count + 1;

        RgbImage scaled = Rescale(image);
        int height = scaled.Height, width = scaled.Width;

        // Extractors outer, windows inner, as the reference loops: the per-pixel sums then add in its order.
        // With flip test-time augmentation each window is followed by its mirror image.
        var crops = Windows(width, height)
            .Select(w => (Window: w, Image: scaled.Crop(w.X1, w.Y1, w.X2 - w.X1, w.Y2 - w.Y1)))
            .SelectMany(c => Options.FlipTestTime ? new[] { (c.Window, c.Image, Mirrored: false), (c.Window, Image: c.Image.MirrorHorizontally(), Mirrored: true) } : [(c.Window, c.Image, Mirrored: false)])
            .ToList();
        clock.Lap(SegmentationStage.Resize);
        var extracted = new List<(BankPlan Plan, (int X1, int Y1, int X2, int Y2) Window, bool Mirrored, FeatureMap Features)>(crops.Count * _plans.Length);
        foreach (BankPlan plan in _plans)
        {
            if (Options.BatchWindows)
            {
                // One batch per window size; the features keep the windows' order.
                var features = new FeatureMap[crops.Count];
                foreach (IGrouping<(int, int), int> size in Enumerable.Range(0, crops.Count).GroupBy(i => (crops[i].Image.Width, crops[i].Image.Height)))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    int[] members = [.. size];
                    IReadOnlyList<FeatureMap> batch = plan.Extractor.ExtractBatch([.. members.Select(i => crops[i].Image)], cancellationToken);
                    for (int k = 0; k < members.Length; k++)
                    {
                        features[members[k]] = batch[k];
                    }
                }

                extracted.AddRange(crops.Select((crop, i) => (plan, crop.Window, crop.Mirrored, features[i])));
                clock.Lap(SegmentationStage.Extraction);
                continue;
            }

            foreach (((int x1, int y1, int x2, int y2) window, RgbImage crop, bool mirrored) in crops)
            {
                cancellationToken.ThrowIfCancellationRequested();
                extracted.Add((plan, window, mirrored, plan.Extractor.Extract(crop, cancellationToken)));
                clock.Lap(SegmentationStage.Extraction);
            }
        }

        (bool[] candidates, ClassPrefilterDecision? decision) = SelectCandidates(image, extracted, labels, cancellationToken);
        clock.Lap(SegmentationStage.Prefilter);
        var windows = new List<WindowScores>(extracted.Count);
        foreach ((BankPlan plan, (int x1, int y1, int x2, int y2), bool mirrored, FeatureMap features) in extracted)
        {
            float[] gridScores = plan.Score(features, candidates, labels, Options.UseBackgroundPrototypes);
            if (Options.SelfPrototypeWeight > 0)
            {
                SelfPrototypeRefinement.Apply(features, gridScores, labels, Options.SelfPrototypeWeight, Options.ScoreThreshold);
            }

            windows.Add(new WindowScores(gridScores, features.Height, features.Width, x1, y1, x2, y2, mirrored));
        }

        clock.Lap(SegmentationStage.Matching);
        cancellationToken.ThrowIfCancellationRequested();

        // Labels that cannot win (non-candidates, and labels another one dominates) are left out of everything below.
        LabelPruning.Pruned? pruned = includeScores ? null : LabelPruning.Find(windows, labels, Options.ScoreThreshold);
        LabelMap? result = null;
        float[] scores = [];
        int scoredLabels = labels;
        if (pruned is not null)
        {
            scoredLabels = pruned.Kept.Length;
            result = Label(image, scaled, LabelPruning.Select(windows, pruned.Kept), pruned.Kept.Length, [.. pruned.Kept.Select(l => (byte)l)], keepScores: false, ref clock, out scores, out bool[] active);
            if (!pruned.IsSafeWith(label => !active[Array.IndexOf(pruned.Kept, label)]))
            {
                result = null; // the area rule dropped every label that dominated a left-out one: score them all
                scoredLabels += labels;
            }
        }

        result ??= Label(image, scaled, windows, labels, null, includeScores, ref clock, out scores, out _);
        _timings.Add(Stopwatch.GetTimestamp() - clock.Started, stageTicks, scoredLabels);
        return new SegmentationResult(result, includeScores ? scores : null) { Prefilter = decision };
    }

    /// <summary>
    /// Averages the windows' grid scores at the resized scale, refines them (PAMR), upsamples them to the image's size
    /// and arg-maxes them with the small-class rule. Plane p is label <paramref name="labelOfPlane"/>[p] (null: p).
    /// Without PAMR and kept scores all of it runs row by row (<see cref="RowLabelling"/> over <see cref="WindowRows"/>):
    /// nothing of image size but the labels is written, and the averaging's time is counted as labelling.
    /// </summary>
    private LabelMap Label(RgbImage image, RgbImage scaled, List<WindowScores> windows, int planes, byte[]? labelOfPlane, bool keepScores, ref StageClock clock, out float[] scores, out bool[] active)
    {
        int height = scaled.Height, width = scaled.Width;
        using var averaged = new WindowRows(windows, planes, width, height);
        if (!keepScores && Options.Pamr is null)
        {
            scores = [];
            LabelMap fused = RowLabelling.Label(averaged, planes, image.Width, image.Height, Options.ScoreThreshold, Options.MinimumClassArea, labelOfPlane, out active);
            clock.Lap(SegmentationStage.Labelling);
            return fused;
        }

        // The score buffer at the resized scale comes from the pool unless the caller keeps it as the scores.
        bool resize = scaled != image;
        int sumLength = planes * height * width;
        bool sumIsScores = keepScores && !resize;
        float[] sum = sumIsScores ? new float[sumLength] : ArrayPool<float>.Shared.Rent(sumLength);
        try
        {
            averaged.AverageInto(sum, planes);
            clock.Lap(SegmentationStage.Averaging);

            if (Options.Pamr is not null)
            {
                float[] guide = ArrayPool<float>.Shared.Rent(3 * height * width);
                scaled.ToPlanarFloats(guide);
                Pamr.Refine(guide, 3, sum, planes, height, width, Options.Pamr);
                ArrayPool<float>.Shared.Return(guide);
                clock.Lap(SegmentationStage.Refinement);
            }

            scores = [];
            IScoreRows rows = new PlanarScoreRows(sum, height, width);
            if (keepScores)
            {
                scores = sum;
                if (resize)
                {
                    scores = new float[checked(planes * (int)image.PixelCount)];
                    Resampling.BilinearPlanar(sum.AsSpan(0, sumLength), planes, height, width, scores, image.Height, image.Width);
                }

                rows = new PlanarScoreRows(scores, image.Height, image.Width);
            }

            LabelMap result = RowLabelling.Label(rows, planes, image.Width, image.Height, Options.ScoreThreshold, Options.MinimumClassArea, labelOfPlane, out active);
            clock.Lap(SegmentationStage.Labelling);
            return result;
        }
        finally
        {
            if (!sumIsScores)
            {
                ArrayPool<float>.Shared.Return(sum);
            }
        }
    }

    /// <summary>
    /// The prototypes most similar to the features at pixel (<paramref name="x"/>, <paramref name="y"/>) of the whole
    /// (resized) image, best first, over every bank and only among the prototypes this segmenter matches (the levels in
    /// use, background prototypes when on, after the stuff filter): what a prediction at that pixel rests on.
    /// </summary>
    public IReadOnlyList<PrototypeMatch> Explain(RgbImage image, int x, int y, int top = 5, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        if ((uint)x >= (uint)image.Width || (uint)y >= (uint)image.Height)
        {
            throw new ArgumentOutOfRangeException(nameof(x), $"Pixel ({x}, {y}) is outside the {image.Width}x{image.Height} image.");
        }

        RgbImage scaled = Rescale(image);

        var matches = new List<PrototypeMatch>();
        foreach (BankPlan plan in _plans)
        {
            FeatureMap features = plan.Extractor.Extract(scaled, cancellationToken);
            int gy = Math.Min(features.Height - 1, (int)((long)y * features.Height / image.Height));
            int gx = Math.Min(features.Width - 1, (int)((long)x * features.Width / image.Width));
            float[] cell = features.Cell(gy, gx).ToArray();
            Matrix.NormalizeRows(cell, 1, cell.Length, 1e-6f);
            // Only the prototypes the segmenter matches (levels in use, background on or off, the stuff filter).
            var similarities = new float[plan.Columns];
            Matrix.MultiplyByTransposed(cell, 1, plan.Matrix, plan.Columns, plan.Bank.Channels, similarities);
            for (int column = 0; column < similarities.Length; column++)
            {
                int p = plan.PrototypeIndices[column];
                matches.Add(new PrototypeMatch(plan.Bank.ExtractorName, p, plan.Bank.Origins[p], similarities[column]));
            }
        }

        return matches.OrderByDescending(m => m.Similarity).Take(top).ToArray();
    }

    /// <summary>
    /// The image with its short side at <see cref="SegmentationOptions.ShortSide"/> (torchvision's truncating size), or
    /// itself when that is its size or the option is 0; <see cref="ImageTooLargeException"/> when its long side would
    /// exceed <see cref="SegmentationOptions.MaxLongSide"/> or its score planes would not fit one array.
    /// </summary>
    private RgbImage Rescale(RgbImage image)
    {
        (int w, int h) = Options.ShortSide <= 0 ? (image.Width, image.Height) : Resampling.ShortSideSizeTruncated(image.Width, image.Height, Options.ShortSide);
        ImageTooLargeException.ThrowIfLongSideAbove(image.Width, image.Height, w, h, Options.ShortSide, Options.MaxLongSide, "SegmentationOptions.MaxLongSide; protocol.maxLongSide in an eval config");
        long scores = (long)(_model.ClassNames.Count + 1) * image.PixelCount;
        if (scores > Array.MaxLength)
        {
            throw new ImageTooLargeException($"the {image.Width}x{image.Height} image needs {scores} score values at its own resolution ({_model.ClassNames.Count + 1} labels), more than one array holds; resize it.");
        }

        return w == image.Width && h == image.Height ? image : Resampling.ResizeImage(image, w, h, Options.ResizeFilter);
    }

    /// <summary>
    /// The candidate classes: all, or the pre-filter's choice plus the stuff classes. The pre-filter's first-pass evidence
    /// (when it asks for it) scores every class on the windows already extracted.
    /// </summary>
    private (bool[] Candidates, ClassPrefilterDecision? Decision) SelectCandidates(RgbImage image, List<(BankPlan Plan, (int X1, int Y1, int X2, int Y2) Window, bool Mirrored, FeatureMap Features)> extracted, int labels, CancellationToken cancellationToken)
    {
        int classes = _model.ClassNames.Count;
        var candidates = new bool[classes];
        if (_prefilter is null)
        {
            Array.Fill(candidates, true);
            return (candidates, null);
        }

        long started = Stopwatch.GetTimestamp();
        var input = new ClassPrefilterInput(image, _model.ClassNames, _model.IsStuff, () =>
        {
            var all = new bool[classes];
            Array.Fill(all, true);
            SharedBackground? shared = Options.Prefilter.SupportSharedBackground ? _model.SharedBackground : null;
            var grids = extracted.Select(e => (e.Plan.Score(e.Features, all, labels, Options.UseBackgroundPrototypes, shared?.ExtractorName == e.Plan.Bank.ExtractorName ? shared : null), (int)e.Features.CellCount));
            return FirstPassEvidence.FromGrids(grids, labels, Options.ScoreThreshold, Options.Prefilter.SupportBackgroundBias);
        }, _model.SupportImageShares);
        ClassPrefilterDecision decision = _prefilter.Select(input, cancellationToken);
        foreach (int index in decision.Kept)
        {
            if ((uint)index >= (uint)classes)
            {
                throw new InvalidOperationException($"The class pre-filter '{_prefilter.Name}' returned index {index}, outside the {classes} classes.");
            }

            candidates[index] = true;
        }

        for (int c = 0; c < classes; c++)
        {
            candidates[c] |= _model.IsStuff[c];
        }

        return (candidates, decision with { Milliseconds = Stopwatch.GetElapsedTime(started).TotalMilliseconds });
    }

    private PrefilterOutcome ToOutcome(ClassPrefilterDecision decision)
    {
        var scores = new float[_model.ClassNames.Count + 1];
        scores[0] = float.NaN;
        for (int c = 0; c < _model.ClassNames.Count; c++)
        {
            scores[c + 1] = decision.Scores[c];
        }

        return new PrefilterOutcome(
            decision.Method,
            decision.Kept.Where(c => !_model.IsStuff[c]).Select(c => c + 1).ToArray(),
            Enumerable.Range(0, _model.ClassNames.Count).Where(c => !_model.IsStuff[c] && !decision.Kept.Contains(c)).Select(c => c + 1).ToArray(),
            scores,
            decision.Milliseconds);
    }

    /// <summary>The reference's window grid: per (crop, stride) a grid of windows clamped inside the image, then the full image.</summary>
    internal IEnumerable<(int X1, int Y1, int X2, int Y2)> Windows(int width, int height)
    {
        foreach (SlidingWindow window in Options.Windows)
        {
            int rows = (Math.Max(height - window.Crop + window.Stride - 1, 0) / window.Stride) + 1;
            int cols = (Math.Max(width - window.Crop + window.Stride - 1, 0) / window.Stride) + 1;
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < cols; c++)
                {
                    int y2 = Math.Min((r * window.Stride) + window.Crop, height);
                    int x2 = Math.Min((c * window.Stride) + window.Crop, width);
                    yield return (Math.Max(x2 - window.Crop, 0), Math.Max(y2 - window.Crop, 0), x2, y2);
                }
            }
        }

        if (Options.IncludeFullImage)
        {
            yield return (0, 0, width, height);
        }
    }
}
