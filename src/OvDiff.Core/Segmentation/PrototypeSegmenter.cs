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
        int labels = _model.ClassNames.Count + 1;
        bool[] candidates = SelectCandidates(image, cancellationToken);

        RgbImage scaled = image;
        if (Options.ShortSide > 0)
        {
            (int w, int h) = Resampling.ShortSideSize(image.Width, image.Height, Options.ShortSide);
            if (w != image.Width || h != image.Height)
            {
                scaled = Resampling.ResizeImage(image, w, h, Options.ResizeFilter);
            }
        }

        int height = scaled.Height, width = scaled.Width;
        long plane = (long)height * width;
        var sum = new float[labels * plane];
        var counts = new int[plane];
        foreach ((int x1, int y1, int x2, int y2) in Windows(width, height))
        {
            RgbImage crop = scaled.Crop(x1, y1, x2 - x1, y2 - y1);
            foreach (BankPlan plan in _plans)
            {
                cancellationToken.ThrowIfCancellationRequested();
                FeatureMap features = plan.Extractor.Extract(crop, cancellationToken);
                float[] gridScores = plan.Score(features, candidates, labels, Options.UseBackgroundPrototypes);
                AddWindow(gridScores, labels, features.Height, features.Width, sum, counts, width, height, x1, y1, x2, y2);
            }
        }

        for (long i = 0; i < plane; i++)
        {
            float inverse = 1f / Math.Max(counts[i], 1);
            for (int l = 0; l < labels; l++)
            {
                sum[(l * plane) + i] *= inverse;
            }
        }

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

        RgbImage scaled = image;
        if (Options.ShortSide > 0)
        {
            (int w, int h) = Resampling.ShortSideSize(image.Width, image.Height, Options.ShortSide);
            scaled = Resampling.ResizeImage(image, w, h, Options.ResizeFilter);
        }

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

    private static void AddWindow(float[] gridScores, int labels, int gridHeight, int gridWidth, float[] sum, int[] counts, int width, int height, int x1, int y1, int x2, int y2)
    {
        int windowWidth = x2 - x1, windowHeight = y2 - y1;
        var upsampled = new float[(long)labels * windowWidth * windowHeight];
        Resampling.BilinearPlanar(gridScores, labels, gridHeight, gridWidth, upsampled, windowHeight, windowWidth);
        long plane = (long)width * height;
        long windowPlane = (long)windowWidth * windowHeight;
        for (int l = 0; l < labels; l++)
        {
            for (int row = 0; row < windowHeight; row++)
            {
                Span<float> target = sum.AsSpan((int)((l * plane) + ((long)(y1 + row) * width) + x1), windowWidth);
                ReadOnlySpan<float> source = upsampled.AsSpan((int)((l * windowPlane) + ((long)row * windowWidth)), windowWidth);
                for (int i = 0; i < windowWidth; i++)
                {
                    target[i] += Math.Clamp(source[i], -1f, 1f);
                }
            }
        }

        for (int row = y1; row < y2; row++)
        {
            for (int col = x1; col < x2; col++)
            {
                counts[(row * width) + col]++;
            }
        }
    }

    private static LabelMap ArgMax(float[] scores, bool[] active, int width, int height, float threshold)
    {
        int labels = active.Length;
        long plane = (long)width * height;
        var result = new byte[plane];
        for (long i = 0; i < plane; i++)
        {
            int best = 0;
            float bestScore = scores[i] > threshold ? scores[i] : 0f;
            for (int l = 1; l < labels; l++)
            {
                if (!active[l])
                {
                    continue;
                }

                float s = scores[(l * plane) + i];
                s = s > threshold ? s : 0f;
                if (s > bestScore)
                {
                    bestScore = s;
                    best = l;
                }
            }

            result[i] = (byte)best;
        }

        return new LabelMap(width, height, result);
    }

    /// <summary>The prototypes of one bank selected for matching, as one matrix, with the label each column scores.</summary>
    private sealed class BankPlan
    {
        private BankPlan(PrototypeBank bank, IDenseFeatureExtractor extractor, float[] matrix, int[] columnClass, bool[] columnIsBackground)
        {
            Bank = bank;
            Extractor = extractor;
            Matrix = matrix;
            ColumnClass = columnClass;
            ColumnIsBackground = columnIsBackground;
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

                    if (options.StuffBackgroundFilterThreshold > 0 && stuffForeground.Any(s => Dot(bank.Vector(p), bank.Vector(s)) > options.StuffBackgroundFilterThreshold))
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
            int cells = (int)features.CellCount, channels = features.Channels;
            float[] normalized = features.Data.ToArray();
            Numerics.Matrix.NormalizeRows(normalized, cells, channels, 1e-6f);
            var similarity = new float[(long)cells * Columns];
            if (Columns > 0)
            {
                Numerics.Matrix.MultiplyByTransposed(normalized, cells, Matrix, Columns, channels, similarity);
            }

            var scores = new float[(long)labels * cells];
            Array.Fill(scores, -1f);
            if (!useBackground)
            {
                scores.AsSpan(0, cells).Clear();
            }

            for (int cell = 0; cell < cells; cell++)
            {
                ReadOnlySpan<float> row = similarity.AsSpan(cell * Columns, Columns);
                for (int col = 0; col < row.Length; col++)
                {
                    int cls = ColumnClass[col];
                    if (!candidates[cls])
                    {
                        continue;
                    }

                    int label = ColumnIsBackground[col] ? 0 : cls + 1;
                    ref float target = ref scores[(label * cells) + cell];
                    if (row[col] > target)
                    {
                        target = row[col];
                    }
                }
            }

            return scores;
        }

        private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => System.Numerics.Tensors.TensorPrimitives.Dot(a, b);
    }
}
