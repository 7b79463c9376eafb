using OvDiff.Core.Segmentation;

namespace OvDiff.Experiments;

/// <summary>Prototype fitting variants on cached features.</summary>
internal static class Fitting
{
    /// <summary>Today's fitter: each (image, listed class) pair pools the image's split: foreground to the class, background to the class's background.</summary>
    public static Protos Naive(IEnumerable<(ImageRecord Image, int[] Classes)> support)
    {
        int channels = 0;
        var fg = new Dictionary<int, (double[] Sum, long Count)>();
        var bg = new Dictionary<int, (double[] Sum, long Count)>();
        foreach ((ImageRecord image, int[] classes) in support)
        {
            channels = image.Features.Channels;
            ForegroundSplit split = Engine.Split(image);
            if (!split.Foreground.Contains(true))
            {
                continue;
            }

            foreach (int c in classes)
            {
                Add(fg, c, image, split.Foreground);
                Add(bg, c, image, split.Background);
            }
        }

        return Build(fg, bg);
    }

    public static void Add(Dictionary<int, (double[] Sum, long Count)> pools, int cls, ImageRecord image, bool[] mask)
    {
        if (!pools.TryGetValue(cls, out var pool))
        {
            pool = (new double[image.Features.Channels], 0);
        }

        long count = pool.Count;
        Engine.MaskedSum(image.Features, mask, pool.Sum, ref count);
        pools[cls] = (pool.Sum, count);
    }

    public static Protos Build(Dictionary<int, (double[] Sum, long Count)> fg, Dictionary<int, (double[] Sum, long Count)> bg)
    {
        var protos = new Protos();
        for (int c = 1; c < Engine.Labels; c++)
        {
            if (fg.TryGetValue(c, out var f) && f.Count > 0)
            {
                protos.Add(Engine.ToVector(f.Sum, f.Count), c, false);
            }

            if (bg.TryGetValue(c, out var b) && b.Count > 0)
            {
                protos.Add(Engine.ToVector(b.Sum, b.Count), c, true);
            }
        }

        return protos;
    }
}

/// <summary>Prototype levels for experiments.</summary>
internal static class Levels
{
    /// <summary>Adds per-image (and optionally k-means) prototypes from a support list, using the naive split.</summary>
    public static Protos WithPerImage(IEnumerable<(ImageRecord Image, int[] Classes)> support, bool perImageFg, bool perImageBg, int bgParts, int fgParts)
    {
        var list = support.ToList();
        Protos protos = Fitting.Naive(list);
        var fgCells = new Dictionary<int, List<float[]>>();
        var bgCells = new Dictionary<int, List<float[]>>();
        foreach ((ImageRecord image, int[] classes) in list)
        {
            var split = Engine.Split(image);
            if (!split.Foreground.Contains(true))
            {
                continue;
            }

            foreach (int c in classes)
            {
                foreach ((bool[] mask, bool bg) in new[] { (split.Foreground, false), (split.Background, true) })
                {
                    double[] sum = new double[image.Features.Channels];
                    long n = 0;
                    Engine.MaskedSum(image.Features, mask, sum, ref n);
                    if (n > 0 && ((bg && perImageBg) || (!bg && perImageFg)))
                    {
                        protos.Add(Engine.ToVector(sum, n), c, bg);
                    }

                    var cells = bg ? bgCells : fgCells;
                    if (!cells.TryGetValue(c, out var l))
                    {
                        cells[c] = l = [];
                    }

                    for (int i = 0; i < mask.Length; i++)
                    {
                        if (mask[i])
                        {
                            l.Add(image.Features.Data.AsSpan(i * image.Features.Channels, image.Features.Channels).ToArray());
                        }
                    }
                }
            }
        }

        foreach ((var cells, int k, bool bg) in new[] { (fgCells, fgParts, false), (bgCells, bgParts, true) })
        {
            if (k <= 0)
            {
                continue;
            }

            foreach ((int c, List<float[]> l) in cells)
            {
                if (l.Count < k)
                {
                    continue;
                }

                int ch = l[0].Length;
                var flat = new float[l.Count * ch];
                for (int i = 0; i < l.Count; i++)
                {
                    l[i].CopyTo(flat, i * ch);
                }

                var km = OvDiff.Core.Numerics.KMeans.Fit(flat, l.Count, ch, k, 0);
                for (int j = 0; j < km.K; j++)
                {
                    protos.Add(km.Centroids.AsSpan(j * ch, ch).ToArray(), c, bg);
                }
            }
        }

        return protos;
    }
}
