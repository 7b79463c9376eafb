using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Diagnostics;
using OvDiff.Core.Features;
using OvDiff.Core.Images;
using OvDiff.Core.Numerics;

namespace OvDiff.Core.Segmentation;

/// <summary>The label map of one image and, when asked for, the averaged class scores behind it.</summary>
/// <param name="Labels">Label per pixel at the image's resolution (0 = background, i + 1 = class i).</param>
/// <param name="Scores">Null, or (classes + 1) planes of Height x Width scores in [−1, 1] at the image's resolution.</param>
public sealed record SegmentationResult(LabelMap Labels, float[]? Scores);

/// <summary>One prototype's similarity to a pixel's features, with where the prototype came from.</summary>
/// <param name="ExtractorName">The bank the prototype belongs to.</param>
/// <param name="PrototypeIndex">Row in that bank.</param>
/// <param name="Origin">Class, role, level, support image and cluster.</param>
/// <param name="Similarity">Cosine similarity at the pixel.</param>
public sealed record PrototypeMatch(string ExtractorName, int PrototypeIndex, PrototypeOrigin Origin, float Similarity);

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

    /// <summary>Segments <paramref name="image"/>, optionally returning the score planes too.</summary>
    public SegmentationResult Segment(RgbImage image, bool includeScores, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        long started = Stopwatch.GetTimestamp();
        long extraction = 0;
        int labels = _model.ClassNames.Count + 1;
        bool[] candidates = SelectCandidates(image, cancellationToken);

        RgbImage scaled = Rescale(image);

        int height = scaled.Height, width = scaled.Width;

        // Extractors outer, windows inner, as the reference loops: the per-pixel sums then add in its order.
        var crops = Windows(width, height).Select(w => (Window: w, Image: scaled.Crop(w.X1, w.Y1, w.X2 - w.X1, w.Y2 - w.Y1))).ToList();
        var windows = new List<WindowScores>(crops.Count * _plans.Length);
        foreach (BankPlan plan in _plans)
        {
            foreach (((int x1, int y1, int x2, int y2), RgbImage crop) in crops)
            {
                cancellationToken.ThrowIfCancellationRequested();
                long extractStarted = Stopwatch.GetTimestamp();
                FeatureMap features = plan.Extractor.Extract(crop, cancellationToken);
                extraction += Stopwatch.GetTimestamp() - extractStarted;
                float[] gridScores = plan.Score(features, candidates, labels, Options.UseBackgroundPrototypes);
                windows.Add(new WindowScores(gridScores, features.Height, features.Width, x1, y1, x2, y2));
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        float[] sum = Average(windows, labels, width, height);

        if (Options.Pamr is not null)
        {
            Pamr.Refine(scaled.ToPlanarFloats(), 3, sum, labels, height, width, Options.Pamr);
        }

        float[] scores = sum;
        if (scaled != image)
        {
            scores = new float[labels * image.PixelCount];
            Resampling.BilinearPlanar(sum, labels, height, width, scores, image.Height, image.Width);
        }

        var active = new bool[labels];
        Array.Fill(active, true);
        LabelMap result = ArgMax(scores, active, image.Width, image.Height, Options.ScoreThreshold);
        if (Options.MinimumClassArea > 0)
        {
            var area = new long[labels];
            foreach (byte label in result.Labels)
            {
                area[label]++;
            }

            bool dropped = false;
            for (int l = 1; l < labels; l++)
            {
                if (area[l] > 0 && area[l] < Options.MinimumClassArea * result.PixelCount)
                {
                    active[l] = false;
                    dropped = true;
                }
            }

            if (dropped)
            {
                result = ArgMax(scores, active, image.Width, image.Height, Options.ScoreThreshold);
            }
        }

        _timings.Add(extraction, Stopwatch.GetTimestamp() - started - extraction);
        return new SegmentationResult(result, includeScores ? scores : null);
    }

    /// <summary>
    /// The prototypes most similar to the features at pixel (<paramref name="x"/>, <paramref name="y"/>) of the whole
    /// (resized) image, best first, over every bank: what a prediction at that pixel rests on.
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
            var similarities = new float[plan.Bank.Count];
            Matrix.MultiplyByTransposed(cell, 1, plan.Bank.Vectors, plan.Bank.Count, plan.Bank.Channels, similarities);
            for (int p = 0; p < similarities.Length; p++)
            {
                matches.Add(new PrototypeMatch(plan.Bank.ExtractorName, p, plan.Bank.Origins[p], similarities[p]));
            }
        }

        return matches.OrderByDescending(m => m.Similarity).Take(top).ToArray();
    }

    /// <summary>The image with its short side at <see cref="SegmentationOptions.ShortSide"/> (torchvision's truncating size), or itself when that is its size or the option is 0.</summary>
    private RgbImage Rescale(RgbImage image)
    {
        if (Options.ShortSide <= 0)
        {
            return image;
        }

        (int w, int h) = Resampling.ShortSideSizeTruncated(image.Width, image.Height, Options.ShortSide);
        return w == image.Width && h == image.Height ? image : Resampling.ResizeImage(image, w, h, Options.ResizeFilter);
    }

    private bool[] SelectCandidates(RgbImage image, CancellationToken cancellationToken)
    {
        int classes = _model.ClassNames.Count;
        var candidates = new bool[classes];
        if (_prefilter is null)
        {
            Array.Fill(candidates, true);
            return candidates;
        }

        foreach (int index in _prefilter.SelectClasses(image, _model.ClassNames, cancellationToken))
        {
            if ((uint)index >= (uint)classes)
            {
                throw new InvalidOperationException($"The class prefilter returned index {index}, outside the {classes} classes.");
            }

            candidates[index] = true;
        }

        for (int c = 0; c < classes; c++)
        {
            candidates[c] |= _model.IsStuff[c];
        }

        return candidates;
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

    /// <summary>
    /// The average over <paramref name="windows"/> of their grid scores upsampled bilinearly to the window (PyTorch
    /// align_corners=False, the same float operations in the same order as Resampling.BilinearPlanar, so the same bits),
    /// clamped to [−1, 1], summed per pixel in window order and divided by the number of windows covering the pixel:
    /// planar, <paramref name="labels"/> planes of <paramref name="height"/> x <paramref name="width"/>.
    /// Nothing is materialised at window size: per label and window the horizontal pass is done once per grid row, then
    /// the image is walked in bands of rows that stay in cache while every window covering the band blends its two
    /// neighbouring rows into it (vectorised), and the band is divided by its counts. Labels run in parallel.
    /// </summary>
    private static float[] Average(List<WindowScores> windows, int labels, int width, int height)
    {
        int plane = checked(width * height);
        var sum = new float[checked(labels * plane)];
        var counts = new int[plane];
        var taps = new WindowTaps[windows.Count];
        for (int w = 0; w < windows.Count; w++)
        {
            WindowScores window = windows[w];
            taps[w] = WindowTaps.Create(window);
            for (int row = window.Y1; row < window.Y2; row++)
            {
                Span<int> countRow = counts.AsSpan((row * width) + window.X1, window.X2 - window.X1);
                TensorPrimitives.Add(countRow, 1, countRow);
            }
        }

        var inverse = new float[plane];
        for (int i = 0; i < plane; i++)
        {
            inverse[i] = 1f / Math.Max(counts[i], 1);
        }

        const int bandRows = 8;
        Parallel.For(0, labels, l =>
        {
            var horizontal = new float[windows.Count][];
            try
            {
                for (int w = 0; w < windows.Count; w++)
                {
                    WindowScores window = windows[w];
                    int windowWidth = window.X2 - window.X1, gridPlane = window.GridHeight * window.GridWidth;
                    horizontal[w] = ArrayPool<float>.Shared.Rent(window.GridHeight * windowWidth);
                    ReadOnlySpan<float> grid = window.Grid.AsSpan(l * gridPlane, gridPlane);
                    WindowTaps tap = taps[w];
                    for (int gy = 0; gy < window.GridHeight; gy++)
                    {
                        ReadOnlySpan<float> source = grid.Slice(gy * window.GridWidth, window.GridWidth);
                        Span<float> row = horizontal[w].AsSpan(gy * windowWidth, windowWidth);
                        for (int ox = 0; ox < windowWidth; ox++)
                        {
                            int ix = tap.X0[ox];
                            float w1 = tap.XLambda[ox], w0 = 1f - w1;
                            row[ox] = (w0 * source[ix]) + (w1 * source[ix + tap.XStep[ox]]);
                        }
                    }
                }

                for (int bandStart = 0; bandStart < height; bandStart += bandRows)
                {
                    int bandEnd = Math.Min(bandStart + bandRows, height);
                    for (int w = 0; w < windows.Count; w++)
                    {
                        WindowScores window = windows[w];
                        int windowWidth = window.X2 - window.X1;
                        WindowTaps tap = taps[w];
                        for (int y = Math.Max(bandStart, window.Y1); y < Math.Min(bandEnd, window.Y2); y++)
                        {
                            int oy = y - window.Y1;
                            float h1 = tap.YLambda[oy], h0 = 1f - h1;
                            ReadOnlySpan<float> top = horizontal[w].AsSpan(tap.Y0[oy] * windowWidth, windowWidth);
                            ReadOnlySpan<float> bottom = horizontal[w].AsSpan((tap.Y0[oy] + tap.YStep[oy]) * windowWidth, windowWidth);
                            BlendClampAdd(top, bottom, h0, h1, sum.AsSpan((l * plane) + (y * width) + window.X1, windowWidth));
                        }
                    }

                    Span<float> band = sum.AsSpan((l * plane) + (bandStart * width), (bandEnd - bandStart) * width);
                    TensorPrimitives.Multiply(band, inverse.AsSpan(bandStart * width, band.Length), band);
                }
            }
            finally
            {
                foreach (float[]? buffer in horizontal)
                {
                    if (buffer is not null)
                    {
                        ArrayPool<float>.Shared.Return(buffer);
                    }
                }
            }
        });

        return sum;
    }

    /// <summary>target[i] += clamp((h0 · top[i]) + (h1 · bottom[i]), −1, 1), separate multiplies and add (no FMA), as the scalar code.</summary>
    private static void BlendClampAdd(ReadOnlySpan<float> top, ReadOnlySpan<float> bottom, float h0, float h1, Span<float> target)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && target.Length >= Vector<float>.Count)
        {
            var v0 = new Vector<float>(h0);
            var v1 = new Vector<float>(h1);
            var lower = new Vector<float>(-1f);
            var upper = new Vector<float>(1f);
            for (; i <= target.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                Vector<float> value = (v0 * new Vector<float>(top[i..])) + (v1 * new Vector<float>(bottom[i..]));
                value = Vector.Min(Vector.Max(value, lower), upper);
                (new Vector<float>(target[i..]) + value).CopyTo(target[i..]);
            }
        }

        for (; i < target.Length; i++)
        {
            target[i] += Math.Clamp((h0 * top[i]) + (h1 * bottom[i]), -1f, 1f);
        }
    }

    private static LabelMap ArgMax(float[] scores, bool[] active, int width, int height, float threshold)
    {
        // Per block of pixels, plane by plane with a running best: the same strict ">" in label order as a per-pixel loop
        // over labels (NaN compares false in both), so the same labels. Vectorised; blocks in parallel.
        int labels = active.Length;
        int plane = checked(width * height);
        var result = new byte[plane];
        const int block = 16 * 1024;
        Parallel.For(0, (plane + block - 1) / block, b =>
        {
            int first = b * block, length = Math.Min(block, plane - first);
            float[] bestScore = ArrayPool<float>.Shared.Rent(length);
            int[] bestLabel = ArrayPool<int>.Shared.Rent(length);
            try
            {
                ReadOnlySpan<float> background = scores.AsSpan(first, length);
                for (int i = 0; i < length; i++)
                {
                    bestScore[i] = background[i] > threshold ? background[i] : 0f;
                    bestLabel[i] = 0;
                }

                for (int l = 1; l < labels; l++)
                {
                    if (active[l])
                    {
                        ArgMaxPlane(scores.AsSpan((l * plane) + first, length), l, threshold, bestScore.AsSpan(0, length), bestLabel.AsSpan(0, length));
                    }
                }

                for (int i = 0; i < length; i++)
                {
                    result[first + i] = (byte)bestLabel[i];
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(bestScore);
                ArrayPool<int>.Shared.Return(bestLabel);
            }
        });

        return new LabelMap(width, height, result);
    }

    private static void ArgMaxPlane(ReadOnlySpan<float> scorePlane, int label, float threshold, Span<float> bestScore, Span<int> bestLabel)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<float>.Count == Vector<int>.Count)
        {
            var limit = new Vector<float>(threshold);
            var labelVector = new Vector<int>(label);
            for (; i <= scorePlane.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var s = new Vector<float>(scorePlane[i..]);
                s = Vector.ConditionalSelect(Vector.GreaterThan(s, limit), s, Vector<float>.Zero);
                var best = new Vector<float>(bestScore[i..]);
                Vector<int> better = Vector.GreaterThan(s, best);
                Vector.ConditionalSelect(better, s, best).CopyTo(bestScore[i..]);
                Vector.ConditionalSelect(better, labelVector, new Vector<int>(bestLabel[i..])).CopyTo(bestLabel[i..]);
            }
        }

        for (; i < scorePlane.Length; i++)
        {
            float s = scorePlane[i];
            s = s > threshold ? s : 0f;
            if (s > bestScore[i])
            {
                bestScore[i] = s;
                bestLabel[i] = label;
            }
        }
    }

    /// <summary>One window's label scores on its feature grid (planar) and where the window lies in the image.</summary>
    private sealed record WindowScores(float[] Grid, int GridHeight, int GridWidth, int X1, int Y1, int X2, int Y2);

    /// <summary>Bilinear taps from a window's grid to its pixels, per column and per row (Resampling.LinearTaps).</summary>
    private sealed record WindowTaps(int[] X0, int[] XStep, float[] XLambda, int[] Y0, int[] YStep, float[] YLambda)
    {
        public static WindowTaps Create(WindowScores window)
        {
            int windowWidth = window.X2 - window.X1, windowHeight = window.Y2 - window.Y1;
            var taps = new WindowTaps(new int[windowWidth], new int[windowWidth], new float[windowWidth], new int[windowHeight], new int[windowHeight], new float[windowHeight]);
            Resampling.LinearTaps(window.GridWidth, windowWidth, taps.X0, taps.XStep, taps.XLambda);
            Resampling.LinearTaps(window.GridHeight, windowHeight, taps.Y0, taps.YStep, taps.YLambda);
            return taps;
        }
    }

    /// <summary>The prototypes of one bank selected for matching, as one matrix, with the label each column scores.</summary>
    private sealed class BankPlan
    {
        private readonly (int Start, int Length, int Class, bool Background)[] _runs;
        private float[] _normalized = [];
        private float[] _similarity = [];
        private bool[]? _selectedFor;
        private float[] _selectedMatrix = [];
        private int _selectedColumns;
        private (int Start, int Length, int Class, bool Background)[] _selectedRuns = [];

        private BankPlan(PrototypeBank bank, IDenseFeatureExtractor extractor, float[] matrix, int[] columnClass, bool[] columnIsBackground)
        {
            Bank = bank;
            Extractor = extractor;
            Matrix = matrix;
            ColumnClass = columnClass;
            ColumnIsBackground = columnIsBackground;

            // Maximal runs of adjacent columns scoring the same label for the same class (the fitter writes each class's
            // foreground, then background, prototypes together, so a class has two runs): one max-reduction per run.
            var runs = new List<(int, int, int, bool)>();
            for (int start = 0; start < columnClass.Length;)
            {
                int end = start + 1;
                while (end < columnClass.Length && columnClass[end] == columnClass[start] && columnIsBackground[end] == columnIsBackground[start])
                {
                    end++;
                }

                runs.Add((start, end - start, columnClass[start], columnIsBackground[start]));
                start = end;
            }

            _runs = [.. runs];
        }

        public PrototypeBank Bank { get; }

        public IDenseFeatureExtractor Extractor { get; }

        public float[] Matrix { get; }

        public int[] ColumnClass { get; }

        public bool[] ColumnIsBackground { get; }

        public int Columns => ColumnClass.Length;

        public static BankPlan Create(PrototypeBank bank, IDenseFeatureExtractor extractor, PrototypeModel model, SegmentationOptions options)
        {
            var selected = new List<int>();
            var stuffForeground = new List<int>();
            var backgroundCount = new int[model.ClassNames.Count];
            for (int p = 0; p < bank.Count; p++)
            {
                PrototypeOrigin origin = bank.Origins[p];
                if ((origin.Level & options.Levels) == PrototypeLevels.None)
                {
                    continue;
                }

                if (origin.Role == PrototypeRole.Foreground && model.IsStuff[origin.ClassIndex])
                {
                    stuffForeground.Add(p);
                }

                if (origin.Role == PrototypeRole.Background)
                {
                    backgroundCount[origin.ClassIndex]++;
                }
            }

            for (int p = 0; p < bank.Count; p++)
            {
                PrototypeOrigin origin = bank.Origins[p];
                if ((origin.Level & options.Levels) == PrototypeLevels.None)
                {
                    continue;
                }

                if (origin.Role == PrototypeRole.Background)
                {
                    if (!options.UseBackgroundPrototypes || model.IsStuff[origin.ClassIndex])
                    {
                        continue;
                    }

                    // As the reference's filter_proto_bg2allfg, a class with a single background prototype keeps it.
                    if (options.StuffBackgroundFilterThreshold > 0 && backgroundCount[origin.ClassIndex] > 1 && stuffForeground.Any(s => Dot(bank.Vector(p), bank.Vector(s)) > options.StuffBackgroundFilterThreshold))
                    {
                        continue;
                    }
                }

                selected.Add(p);
            }

            var matrix = new float[(long)selected.Count * bank.Channels];
            for (int i = 0; i < selected.Count; i++)
            {
                bank.Vector(selected[i]).CopyTo(matrix.AsSpan(i * bank.Channels, bank.Channels));
            }

            return new BankPlan(
                bank,
                extractor,
                matrix,
                selected.Select(p => bank.Origins[p].ClassIndex).ToArray(),
                selected.Select(p => bank.Origins[p].Role == PrototypeRole.Background).ToArray());
        }

        /// <summary>Label scores on the feature grid: planar, <paramref name="labels"/> planes of grid cells.</summary>
        public float[] Score(FeatureMap features, bool[] candidates, int labels, bool useBackground)
        {
            Select(candidates);
            int cells = (int)features.CellCount, channels = features.Channels, columns = _selectedColumns;
            Span<float> normalized = Rent(ref _normalized, (long)cells * channels);
            features.Data.CopyTo(normalized);
            Numerics.Matrix.NormalizeRows(normalized, cells, channels, 1e-6f);
            Span<float> similarity = Rent(ref _similarity, (long)cells * columns);
            if (columns > 0)
            {
                Numerics.Matrix.MultiplyByTransposed(normalized, cells, _selectedMatrix, columns, channels, similarity);
            }

            var scores = new float[(long)labels * cells];
            Array.Fill(scores, -1f);
            if (!useBackground)
            {
                scores.AsSpan(0, cells).Clear();
            }

            // Max over each run (exact, order-free up to the sign of a zero, which the +0-initialised sum erases), then
            // max into the label's score with the same strict ">" as a column-by-column scan. Blocks of cells in parallel.
            float[] matches = _similarity;
            (int Start, int Length, int Class, bool Background)[] runs = _selectedRuns;
            const int block = 256;
            Parallel.For(0, (cells + block - 1) / block, b =>
            {
                int first = b * block, last = Math.Min(first + block, cells);
                foreach ((int start, int length, int cls, bool background) in runs)
                {
                    int offset = (background ? 0 : cls + 1) * cells;
                    for (int cell = first; cell < last; cell++)
                    {
                        float best = TensorPrimitives.Max(matches.AsSpan((cell * columns) + start, length));
                        if (best > scores[offset + cell])
                        {
                            scores[offset + cell] = best;
                        }
                    }
                }
            });

            return scores;
        }

        /// <summary>
        /// Keeps only the candidate classes' columns (their runs, in order) for matching: a left-out class would score
        /// −1 anyway, and each cosine is computed on its own, so the kept ones come out the same. The selection is kept while
        /// the next image has the same candidate set.
        /// </summary>
        private void Select(bool[] candidates)
        {
            if (_selectedFor is not null && _selectedFor.AsSpan().SequenceEqual(candidates))
            {
                return;
            }

            int channels = Bank.Channels;
            var runs = new List<(int, int, int, bool)>();
            int columns = 0;
            foreach ((int start, int length, int cls, bool background) in _runs)
            {
                if (candidates[cls])
                {
                    runs.Add((columns, length, cls, background));
                    columns += length;
                }
            }

            float[] matrix = Matrix;
            if (columns != Columns)
            {
                matrix = new float[(long)columns * channels];
                int target = 0;
                foreach ((int start, int length, int cls, bool _) in _runs)
                {
                    if (candidates[cls])
                    {
                        Matrix.AsSpan(start * channels, length * channels).CopyTo(matrix.AsSpan(target * channels));
                        target += length;
                    }
                }
            }

            _selectedMatrix = matrix;
            _selectedColumns = columns;
            _selectedRuns = [.. runs];
            _selectedFor = (bool[])candidates.Clone();
        }

        private static Span<float> Rent(ref float[] buffer, long length)
        {
            if (buffer.LongLength < length)
            {
                buffer = new float[length];
            }

            return buffer.AsSpan(0, checked((int)length));
        }

        private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => System.Numerics.Tensors.TensorPrimitives.Dot(a, b);
    }
}
