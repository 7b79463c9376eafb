using OvDiff.Core.Numerics;
using OvDiff.Core.Segmentation;

namespace OvDiff.Experiments;

internal sealed record MultiTagOptions(bool FgNeverBackground = false, bool BgInitSingle = false, bool InitAll = false, int Iterations = 2, bool RefineSingle = false, bool IntersectSplitBackground = true, float Margin = 0f, bool PerImageBackground = false, bool PerImageForeground = false);

/// <summary>
/// Multi-tag support fitting: single-tag images give first class means (normalised-cut foreground); each cell of a
/// multi-tag image then goes to the best of its tagged classes or to background; background pools only cells assigned
/// to background (and, optionally, in the split's background); repeated.
/// </summary>
internal static class MultiTag
{
    /// <summary>The cell assignments of the last fit (label per cell: 0 bg, c class, negative = unused).</summary>
    [ThreadStatic]
    public static Dictionary<ImageRecord, int[]>? LastAssignments;

    public static Protos Fit(IReadOnlyList<(ImageRecord Image, int[] Classes)> support, MultiTagOptions o)
    {
        int ch = support[0].Image.Features.Channels;
        // Assignment per image: label per cell (0 bg, c class, -1 left out).
        var assign = new Dictionary<ImageRecord, int[]>();
        foreach ((ImageRecord image, int[] classes) in support)
        {
            ForegroundSplit split = Engine.Split(image);
            int cells = split.Foreground.Length;
            var a = new int[cells];
            for (int i = 0; i < cells; i++)
            {
                a[i] = split.Foreground[i] ? (classes.Length == 1 ? classes[0] : -2) : split.Background[i] ? 0 : -1;
            }

            assign[image] = a;
        }

        // Classes with no single-tag image start from their multi-tag images' split foreground.
        var hasSingle = support.Where(s => s.Classes.Length == 1).Select(s => s.Classes[0]).ToHashSet();
        for (int it = 0; it <= o.Iterations; it++)
        {
            var fg = new Dictionary<int, (double[] Sum, long Count)>();
            var bgAll = (Sum: new double[ch], Count: 0L);
            foreach ((ImageRecord image, int[] classes) in support)
            {
                int[] a = assign[image];
                for (int i = 0; i < a.Length; i++)
                {
                    int l = a[i];
                    if (l == -2)
                    {
                        // Initial multi-tag foreground: counts for tagged classes that have no single-tag image.
                        foreach (int c in classes.Where(c => o.InitAll || !hasSingle.Contains(c)))
                        {
                            AddCell(fg, c, image, i, ch);
                        }
                    }
                    else if (l > 0)
                    {
                        AddCell(fg, l, image, i, ch);
                    }
                    else if (l == 0 && !(o.BgInitSingle && it == 0 && classes.Length > 1))
                    {
                        for (int k = 0; k < ch; k++)
                        {
                            bgAll.Sum[k] += image.Features.Data[(i * ch) + k];
                        }

                        bgAll.Count++;
                    }
                }
            }

            if (it == o.Iterations)
            {
                LastAssignments = assign;
                return Build(support, assign, o, ch);
            }

            var means = fg.ToDictionary(kv => kv.Key, kv => Unit(Engine.ToVector(kv.Value.Sum, kv.Value.Count)));
            float[] bgMean = Unit(Engine.ToVector(bgAll.Sum, bgAll.Count));
            foreach ((ImageRecord image, int[] classes) in support)
            {
                if (classes.Length == 1 && !o.RefineSingle)
                {
                    continue;
                }

                ForegroundSplit split = Engine.Split(image);
                int cells = split.Foreground.Length;
                int[] a = assign[image];
                for (int i = 0; i < cells; i++)
                {
                    ReadOnlySpan<float> cell = image.Unit.AsSpan(i * ch, ch);
                    bool noBg = o.FgNeverBackground && split.Foreground[i];
                    float best = noBg ? float.NegativeInfinity : Dot(cell, bgMean), second = float.NegativeInfinity;
                    int label = 0;
                    foreach (int c in classes)
                    {
                        if (!means.TryGetValue(c, out float[]? m))
                        {
                            continue;
                        }

                        float s = Dot(cell, m);
                        if (s > best)
                        {
                            second = best;
                            best = s;
                            label = c;
                        }
                        else if (s > second)
                        {
                            second = s;
                        }
                    }

                    if (best - second < o.Margin)
                    {
                        a[i] = -1;
                    }
                    else if (label == 0)
                    {
                        a[i] = !o.IntersectSplitBackground || split.Background[i] ? 0 : -1;
                    }
                    else
                    {
                        a[i] = label;
                    }
                }
            }
        }

        throw new InvalidOperationException();
    }

    private static Protos Build(IReadOnlyList<(ImageRecord Image, int[] Classes)> support, Dictionary<ImageRecord, int[]> assign, MultiTagOptions o, int ch)
    {
        var fg = new Dictionary<int, (double[] Sum, long Count)>();
        var bg = new Dictionary<int, (double[] Sum, long Count)>();
        var protos = new Protos();
        var extra = new List<(float[] V, int C, bool Bg)>();
        var hasSingle = support.Where(s => s.Classes.Length == 1).Select(s => s.Classes[0]).ToHashSet();
        foreach ((ImageRecord image, int[] classes) in support)
        {
            int[] a = assign[image];
            var imgFg = new Dictionary<int, (double[] Sum, long Count)>();
            var imgBg = (Sum: new double[ch], Count: 0L);
            for (int i = 0; i < a.Length; i++)
            {
                if (a[i] > 0)
                {
                    AddCell(fg, a[i], image, i, ch);
                    AddCell(imgFg, a[i], image, i, ch);
                }
                else if (a[i] == -2)
                {
                    foreach (int c in classes.Where(c => !hasSingle.Contains(c)))
                    {
                        AddCell(fg, c, image, i, ch);
                        AddCell(imgFg, c, image, i, ch);
                    }
                }
                else if (a[i] == 0)
                {
                    foreach (int c in classes)
                    {
                        AddCell(bg, c, image, i, ch);
                    }

                    for (int k = 0; k < ch; k++)
                    {
                        imgBg.Sum[k] += image.Features.Data[(i * ch) + k];
                    }

                    imgBg.Count++;
                }
            }

            if (o.PerImageBackground && imgBg.Count > 0)
            {
                foreach (int c in classes)
                {
                    extra.Add((Engine.ToVector(imgBg.Sum, imgBg.Count), c, true));
                }
            }

            if (o.PerImageForeground)
            {
                foreach ((int c, var p) in imgFg)
                {
                    extra.Add((Engine.ToVector(p.Sum, p.Count), c, false));
                }
            }
        }

        Protos built = Fitting.Build(fg, bg);
        foreach ((float[] v, int c, bool b) in extra)
        {
            built.Add(v, c, b);
        }

        return built;
    }

    private static void AddCell(Dictionary<int, (double[] Sum, long Count)> pools, int cls, ImageRecord image, int cell, int ch)
    {
        if (!pools.TryGetValue(cls, out var pool))
        {
            pool = (new double[ch], 0);
        }

        for (int k = 0; k < ch; k++)
        {
            pool.Sum[k] += image.Features.Data[(cell * ch) + k];
        }

        pools[cls] = (pool.Sum, pool.Count + 1);
    }

    private static float[] Unit(float[] v)
    {
        Matrix.NormalizeRows(v, 1, v.Length, 1e-6f);
        return v;
    }

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => System.Numerics.Tensors.TensorPrimitives.Dot(a, b);
}

/// <summary>The product's multi-tag fitting (Core's MultiTagAssignment) on cached features, class means only.</summary>
internal static class CoreMultiTag
{
    /// <summary>The multi-tag images of the last fit and their cell labels (0 background, c + 1 class c, -1 unused).</summary>
    [ThreadStatic]
    public static List<(ImageRecord Image, int[] Labels)>? LastMulti;

    /// <summary>The support masks (single-tag images' cleaned masks) of the last <see cref="FitCleaned"/>, support order.</summary>
    [ThreadStatic]
    public static (bool[] Foreground, bool[] Background)[]? LastMasks;

    /// <summary>The background parts of the last fit (unit rows), if any.</summary>
    [ThreadStatic]
    public static float[]? LastParts;

    /// <summary>The product's multi-tag fit; <paramref name="masks"/>, when given, replace the single-tag images' splits (same order as support).</summary>
    public static Protos Fit(IReadOnlyList<(ImageRecord Image, int[] Classes)> support, int iterations = 2, IReadOnlyList<(bool[] Foreground, bool[] Background)>? masks = null, int backgroundParts = 0)
    {
        var backgroundBlocks = new List<(float[] Cells, int Count)>();
        int ch = support[0].Image.Features.Channels;
        var fg = new Dictionary<int, (double[] Sum, long Count)>();
        var bg = new Dictionary<int, (double[] Sum, long Count)>();
        var singleFg = Enumerable.Range(0, Engine.Labels).Select(_ => (Sum: new double[ch], Count: 0L)).ToArray();
        var singleBg = (Sum: new double[ch], Count: 0L);
        var multi = new List<(ImageRecord Image, MultiTagImage Tagged)>();
        for (int i = 0; i < support.Count; i++)
        {
            (ImageRecord image, int[] classes) = support[i];
            var split = Engine.Split(image);
            if (classes.Length > 1 && iterations > 0)
            {
                multi.Add((image, new MultiTagImage(classes, split, image.Features)));
                continue;
            }

            (bool[] foreground, bool[] background) = masks?[i] ?? (split.Foreground, split.Background);
            float[] cells = [.. Enumerable.Range(0, background.Length).Where(j => background[j]).SelectMany(j => image.Features.Data.AsSpan(j * ch, ch).ToArray())];
            backgroundBlocks.Add((cells, cells.Length / ch));
            foreach (int c in classes)
            {
                Fitting.Add(fg, c, image, foreground);
                Fitting.Add(bg, c, image, background);
                long n = singleFg[c].Count;
                Engine.MaskedSum(image.Features, foreground, singleFg[c].Sum, ref n);
                singleFg[c].Count = n;
                long m = singleBg.Count;
                Engine.MaskedSum(image.Features, background, singleBg.Sum, ref m);
                singleBg.Count = m;
            }
        }

        float[]? parts = backgroundParts > 0 ? SharedBackground.Fit("resnet18-layer4", backgroundBlocks, ch, backgroundParts, 0)?.Vectors : null;
        LastParts = parts;
        int[][] labels = MultiTagAssignment.Assign([.. multi.Select(m => m.Tagged)], Engine.Labels, singleFg, singleBg, iterations, parts);
        LastMulti = multi.Select((m, i) => (m.Image, labels[i])).ToList();
        for (int i = 0; i < multi.Count; i++)
        {
            bool[] background = MultiTagAssignment.BackgroundOf(labels[i]);
            foreach (int c in multi[i].Tagged.Classes)
            {
                Fitting.Add(fg, c, multi[i].Image, MultiTagAssignment.ForegroundOf(labels[i], c));
                Fitting.Add(bg, c, multi[i].Image, background);
            }
        }

        return Fitting.Build(fg, bg);
    }

    /// <summary>The product's fit with <see cref="ForegroundCleaning"/> of the single-tag images (as <c>ovdiff fit</c>).</summary>
    public static Protos FitCleaned(IReadOnlyList<(ImageRecord Image, int[] Classes)> support, int rounds, float margin, int backgroundParts = 0)
    {
        var single = Enumerable.Range(0, support.Count).Where(i => support[i].Classes.Length == 1).ToList();
        var cleaned = ForegroundCleaning.Clean([.. single.Select(i => new SingleTagImage(support[i].Classes[0], Engine.Split(support[i].Image), support[i].Image.Features))], Engine.Labels, rounds, margin);
        var masks = new (bool[] Foreground, bool[] Background)[support.Count];
        for (int i = 0; i < support.Count; i++)
        {
            ForegroundSplit split = Engine.Split(support[i].Image);
            masks[i] = (split.Foreground, split.Background);
        }

        for (int k = 0; k < single.Count; k++)
        {
            masks[single[k]] = cleaned[k];
        }

        LastMasks = masks;
        return Fit(support, masks: masks, backgroundParts: backgroundParts);
    }
}
