using OvDiff.Core.Features;
using OvDiff.Core.Images;
using OvDiff.Core.Numerics;

namespace OvDiff.Core.Segmentation;

/// <summary>
/// Builds a <see cref="PrototypeModel"/> from support images (OVDiff stage 2): each image is resized, its dense features
/// are extracted by every extractor, it is split into foreground and background on the first extractor's grid, and the
/// masked features are pooled into class-mean, per-image and k-means part prototypes, for foreground and background.
/// </summary>
public static class PrototypeFitter
{
    /// <summary>
    /// Fits a model for <paramref name="classNames"/> from <paramref name="examples"/>. Every class needs at least one
    /// support image with a non-empty foreground; an example whose class is not listed is an error naming it.
    /// The extractors are used, not owned.
    /// </summary>
    public static PrototypeModel Fit(
        IEnumerable<SupportExample> examples,
        IReadOnlyList<string> classNames,
        IReadOnlyList<IDenseFeatureExtractor> extractors,
        PrototypeFitOptions? options = null,
        IProgress<StepProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(classNames);
        ArgumentNullException.ThrowIfNull(extractors);
        options ??= new PrototypeFitOptions();
        options.Validate();
        if (extractors.Count == 0)
        {
            throw new ArgumentException("At least one feature extractor is needed.", nameof(extractors));
        }

        if (extractors.Select(e => e.Name).Distinct(StringComparer.Ordinal).Count() != extractors.Count)
        {
            throw new ArgumentException("Feature extractor names must be distinct.", nameof(extractors));
        }

        // Names compare as ClassNames says: trimmed, ignoring case.
        classNames = [.. classNames.Select(ClassNaming.Normalize)];
        var classIndex = new Dictionary<string, int>(ClassNaming.Comparer);
        for (int i = 0; i < classNames.Count; i++)
        {
            if (!classIndex.TryAdd(classNames[i], i))
            {
                throw new ArgumentException($"Class names must be distinct (compared ignoring case and surrounding spaces): '{classNames[i]}' repeats '{classNames[classIndex[classNames[i]]]}'.", nameof(classNames));
            }
        }

        foreach (string stuffClass in options.StuffClasses)
        {
            if (!classIndex.ContainsKey(ClassNaming.Normalize(stuffClass)))
            {
                throw new ArgumentException($"Stuff class '{stuffClass}' is not one of the classes ({string.Join(", ", classNames)}).", nameof(options));
            }
        }

        // pooled[extractor][class] collects masked cell features per support image.
        var pooled = extractors.Select(_ => classNames.Select(_ => new ClassPool()).ToArray()).ToArray();
        var supports = new List<SupportImageRecord>();
        var multiTag = new List<(MultiTagImage Image, string Source, FeatureMap[] Maps)>();
        var singleTag = new List<(SingleTagImage Image, string Source, FeatureMap[] Maps)>();
        var eachTagAlone = new HashSet<int>();   // support records of multi-tag images fitted once per tag (0 multi-tag rounds)
        long done = 0, total = examples is ICollection<SupportExample> collection ? collection.Count : -1;
        foreach (SupportExample example in examples)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!classIndex.TryGetValue(ClassNaming.Normalize(example.ClassName), out int cls))
            {
                throw new ArgumentException($"Support image '{example.Source}' has class '{example.ClassName}', which is not one of the classes ({string.Join(", ", classNames)}).", nameof(examples));
            }

            // Its other tags among the fitted classes (a tag outside them cannot be assigned and is ignored).
            int[] classes = [cls, .. example.AlsoShows.Where(classIndex.ContainsKey).Select(t => classIndex[t]).Where(c => c != cls).Distinct()];
            example.Attribution?.Validate(example.Source);
            RgbImage image = example.Load(cancellationToken);
            if (options.SupportShortSide > 0)
            {
                (int w, int h) = Resampling.ShortSideSize(image.Width, image.Height, options.SupportShortSide);
                try
                {
                    ImageTooLargeException.ThrowIfLongSideAbove(image.Width, image.Height, w, h, options.SupportShortSide, options.MaxLongSide, "PrototypeFitOptions.MaxLongSide; ovdiff fit --max-long-side");
                }
                catch (ImageTooLargeException e)
                {
                    throw new ImageTooLargeException($"Support image '{example.Source}': {e.Message}");
                }

                image = Resampling.ResizeImage(image, w, h, ImageFilter.Lanczos3);
            }

            var maps = new FeatureMap[extractors.Count];
            for (int e = 0; e < extractors.Count; e++)
            {
                maps[e] = extractors[e].Extract(image, cancellationToken);
            }

            ForegroundSplit split = ForegroundSplitter.Split(maps[0], example.Attribution, options);
            if (classes.Length > 1 && options.MultiTagIterations > 0)
            {
                // Shared out among its classes once every image has been seen (MultiTagAssignment).
                multiTag.Add((new MultiTagImage(classes, split, maps[0]), example.Source, maps));
            }
            else if (classes.Length == 1 && options.ForegroundCleaningRounds > 0)
            {
                // Cleaned with its class's other images once every image has been seen (ForegroundCleaning).
                singleTag.Add((new SingleTagImage(cls, split, maps[0]), example.Source, maps));
            }
            else
            {
                foreach (int c in classes)
                {
                    if (classes.Length > 1)
                    {
                        eachTagAlone.Add(supports.Count);   // the record AddSupport adds next
                    }

                    AddSupport(pooled, supports, c, example.Source, split.Height, split.Width, split.Foreground, split.Background, maps);
                }
            }

            done++;
            progress?.Report(new StepProgress("fit", done, total, example.Source));
        }

        if (singleTag.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            (bool[] Foreground, bool[] Background)[] cleaned = ForegroundCleaning.Clean([.. singleTag.Select(s => s.Image)], classNames.Count, options.ForegroundCleaningRounds, options.ForegroundCleaningMargin, cancellationToken);
            for (int s = 0; s < singleTag.Count; s++)
            {
                (SingleTagImage image, string source, FeatureMap[] maps) = singleTag[s];
                AddSupport(pooled, supports, image.Class, source, image.Split.Height, image.Split.Width, cleaned[s].Foreground, cleaned[s].Background, maps);
            }
        }

        // The shared background: parts of the single-tag images' backgrounds (cleaned). A multi-tag image fitted once per tag
        // (0 multi-tag rounds) is left out: its background for one tag holds its other tags' objects, and it came once per tag.
        SharedBackground? sharedBackground = null;
        if (options.SharedBackgroundParts > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(new StepProgress("shared background", 0, 1));   // its k-means can take minutes: say what runs
            sharedBackground = SharedBackground.Fit(extractors[0].Name, pooled[0].SelectMany(pool => pool.Background).Where(b => !eachTagAlone.Contains(b.Support)).Select(b => (b.Cells, b.Count)), extractors[0].Channels, options.SharedBackgroundParts, options.Seed, cancellationToken);
            progress?.Report(new StepProgress("shared background", 1, 1, $"{sharedBackground?.Count ?? 0} parts"));
        }

        if (multiTag.Count > 0)
        {
            int channels = extractors[0].Channels;
            var singleForeground = pooled[0].Select(pool => Sum(pool.Foreground, channels)).ToArray();
            (double[] Sum, long Count) singleBackground = Sum(pooled[0].SelectMany(pool => pool.Background), channels);
            int[][] labels = MultiTagAssignment.Assign([.. multiTag.Select(m => m.Image)], classNames.Count, singleForeground, singleBackground, options.MultiTagIterations, sharedBackground?.Vectors);
            for (int m = 0; m < multiTag.Count; m++)
            {
                (MultiTagImage image, string source, FeatureMap[] maps) = multiTag[m];
                bool[] background = MultiTagAssignment.BackgroundOf(labels[m]);
                foreach (int c in image.Classes)
                {
                    AddSupport(pooled, supports, c, source, image.Split.Height, image.Split.Width, MultiTagAssignment.ForegroundOf(labels[m], c), background, maps);
                }
            }
        }

        for (int c = 0; c < classNames.Count; c++)
        {
            if (pooled[0][c].ForegroundCells == 0)
            {
                throw new InvalidOperationException(pooled[0][c].Images == 0
                    ? $"Class '{classNames[c]}' has no support image."
                    : $"Class '{classNames[c]}' has {pooled[0][c].Images} support image(s) but no foreground was found in any of them.");
            }
        }

        var banks = new PrototypeBank[extractors.Count];
        for (int e = 0; e < extractors.Count; e++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var vectors = new List<float[]>();
            var origins = new List<PrototypeOrigin>();
            for (int c = 0; c < classNames.Count; c++)
            {
                cancellationToken.ThrowIfCancellationRequested();   // k-means of a class can take seconds
                ClassPool pool = pooled[e][c];
                AddPrototypes(pool.Foreground, pool.Channels, c, PrototypeRole.Foreground, options, vectors, origins, cancellationToken);
                AddPrototypes(pool.Background, pool.Channels, c, PrototypeRole.Background, options, vectors, origins, cancellationToken);
                progress?.Report(new StepProgress("prototypes", (long)e * classNames.Count + c + 1, (long)extractors.Count * classNames.Count, classNames[c]));
            }

            int channels = extractors[e].Channels;
            var flat = new float[(long)vectors.Count * channels];
            for (int i = 0; i < vectors.Count; i++)
            {
                vectors[i].CopyTo(flat, (long)i * channels);
            }

            Matrix.NormalizeRows(flat, vectors.Count, channels, 1e-6f);
            banks[e] = new PrototypeBank(extractors[e].Name, channels, flat, origins);
        }

        var stuff = new HashSet<string>(options.StuffClasses.Select(ClassNaming.Normalize), ClassNaming.Comparer);
        return new PrototypeModel(classNames.ToArray(), classNames.Select(stuff.Contains).ToArray(), supports, banks, options, sharedBackground);
    }

    /// <summary>Records one support image of class <paramref name="cls"/> with its masks (on the split grid) and pools its cells for every extractor.</summary>
    private static void AddSupport(ClassPool[][] pooled, List<SupportImageRecord> supports, int cls, string source, int height, int width, bool[] foregroundMask, bool[] backgroundMask, FeatureMap[] maps)
    {
        int supportIndex = supports.Count;
        supports.Add(new SupportImageRecord(cls, source, height, width, foregroundMask, backgroundMask));
        for (int e = 0; e < maps.Length; e++)
        {
            FeatureMap map = maps[e];
            bool[] fg = ForegroundSplitter.ResampleMask(foregroundMask, height, width, map.Height, map.Width);
            bool[] bg = ForegroundSplitter.ResampleMask(backgroundMask, height, width, map.Height, map.Width);
            (float[] Cells, int Count) foreground = Gather(map, fg);

            // As the reference (gen_proto_vit.py skips an image whose foreground is empty on the grid), such an
            // image contributes no background either.
            (float[] Cells, int Count) background = foreground.Count == 0 ? ([], 0) : Gather(map, bg);
            pooled[e][cls].Add(supportIndex, foreground, background, map.Channels);
        }
    }

    /// <summary>Float64 column sums and the row count of gathered cells.</summary>
    private static (double[] Sum, long Count) Sum(IEnumerable<(int Support, float[] Cells, int Count)> parts, int channels)
    {
        var sum = new double[channels];
        long count = 0;
        foreach ((_, float[] cells, int n) in parts)
        {
            Matrix.AddColumnSums(cells, n, channels, sum);
            count += n;
        }

        return (sum, count);
    }

    private static void AddPrototypes(List<(int Support, float[] Cells, int Count)> perImage, int channels, int cls, PrototypeRole role, PrototypeFitOptions options, List<float[]> vectors, List<PrototypeOrigin> origins, CancellationToken cancellationToken)
    {
        long total = perImage.Sum(p => (long)p.Count);
        if (total == 0)
        {
            return;
        }

        if (options.Levels.HasFlag(PrototypeLevels.ClassMean))
        {
            var mean = new double[channels];
            foreach ((_, float[] cells, int count) in perImage)
            {
                Matrix.AddColumnSums(cells, count, channels, mean);
            }

            vectors.Add(ToMean(mean, total));
            origins.Add(new PrototypeOrigin(cls, role, PrototypeLevels.ClassMean, -1, -1, total));
        }

        if (options.Levels.HasFlag(PrototypeLevels.PerImage))
        {
            foreach ((int support, float[] cells, int count) in perImage)
            {
                if (count == 0)
                {
                    continue;
                }

                var mean = new double[channels];
                Matrix.AddColumnSums(cells, count, channels, mean);
                vectors.Add(ToMean(mean, count));
                origins.Add(new PrototypeOrigin(cls, role, PrototypeLevels.PerImage, support, -1, count));
            }
        }

        if (options.Levels.HasFlag(PrototypeLevels.Parts))
        {
            var all = new float[total * channels];
            long offset = 0;
            foreach ((_, float[] cells, int count) in perImage)
            {
                Array.Copy(cells, 0, all, offset, (long)count * channels);
                offset += (long)count * channels;
            }

            KMeansResult km = KMeans.Fit(all, checked((int)total), channels, options.PartCount, options.Seed, cancellationToken: cancellationToken);
            var sizes = new long[km.K];
            foreach (int a in km.Assignments)
            {
                sizes[a]++;
            }

            for (int k = 0; k < km.K; k++)
            {
                vectors.Add(km.Centroids.AsSpan(k * channels, channels).ToArray());
                origins.Add(new PrototypeOrigin(cls, role, PrototypeLevels.Parts, -1, k, sizes[k]));
            }
        }
    }

    private static float[] ToMean(double[] sum, long count)
    {
        var mean = new float[sum.Length];
        for (int c = 0; c < sum.Length; c++)
        {
            mean[c] = (float)(sum[c] / count);
        }

        return mean;
    }

    private static (float[] Cells, int Count) Gather(FeatureMap map, bool[] mask)
    {
        int count = mask.Count(m => m);
        var cells = new float[(long)count * map.Channels];
        int row = 0;
        for (int i = 0; i < mask.Length; i++)
        {
            if (mask[i])
            {
                Array.Copy(map.Data, (long)i * map.Channels, cells, (long)row * map.Channels, map.Channels);
                row++;
            }
        }

        return (cells, count);
    }

    private sealed class ClassPool
    {
        public List<(int Support, float[] Cells, int Count)> Foreground { get; } = [];

        public List<(int Support, float[] Cells, int Count)> Background { get; } = [];

        public int Images { get; private set; }

        public int Channels { get; private set; }

        public long ForegroundCells { get; private set; }

        public void Add(int support, (float[] Cells, int Count) foreground, (float[] Cells, int Count) background, int channels)
        {
            Images++;
            Channels = channels;
            ForegroundCells += foreground.Count;
            Foreground.Add((support, foreground.Cells, foreground.Count));
            Background.Add((support, background.Cells, background.Count));
        }
    }
}
