using System.Numerics.Tensors;
using OvDiff.Core.Numerics;
using OvDiff.Core.Segmentation;

namespace OvDiff.Experiments;

/// <summary>
/// The multi-tag assignment with a multi-modal background: a multi-tag image's cell goes to background when some k-means
/// centroid of the single-tag images' background cells beats every tagged class's mean (Core compares with one mean).
/// </summary>
internal static class BgParts
{
    private static float[] Unit(float[] v)
    {
        Matrix.NormalizeRows(v, 1, v.Length, 1e-6f);
        return v;
    }

    public static Protos Fit(IReadOnlyList<(ImageRecord Image, int[] Classes)> support, int backgroundParts, int iterations = 2, float classBias = 0f, bool intersect = false, bool withMulti = false, bool pureBackground = false)
    {
        // Single-tag masks as ovdiff fit makes them (cleaned, 2 rounds, margin 0.02).
        var single = Enumerable.Range(0, support.Count).Where(i => support[i].Classes.Length == 1).ToList();
        var cleaned = ForegroundCleaning.Clean([.. single.Select(i => new SingleTagImage(support[i].Classes[0], Engine.Split(support[i].Image), support[i].Image.Features))], Engine.Labels, 2, 0.02f);
        int ch = support[0].Image.Features.Channels;
        var fg = new Dictionary<int, (double[] Sum, long Count)>();
        var bg = new Dictionary<int, (double[] Sum, long Count)>();
        var singleFg = Enumerable.Range(0, Engine.Labels).Select(_ => (Sum: new double[ch], Count: 0L)).ToArray();
        var bgCells = new List<float>();
        for (int k = 0; k < single.Count; k++)
        {
            (ImageRecord image, int[] classes) = support[single[k]];
            (bool[] foreground, bool[] background) = cleaned[k];
            int c = classes[0];
            Fitting.Add(fg, c, image, foreground);
            Fitting.Add(bg, c, image, background);
            long n = singleFg[c].Count;
            Engine.MaskedSum(image.Features, foreground, singleFg[c].Sum, ref n);
            singleFg[c].Count = n;
            for (int i = 0; i < background.Length; i++)
            {
                if (background[i])
                {
                    bgCells.AddRange(image.Unit.AsSpan(i * ch, ch).ToArray());
                }
            }
        }

        if (pureBackground)
        {
            // Leave out of the parts' pool every background cell closer to some class's single-tag foreground mean than to
            // the background mean (persons left in a crowd image's background, say).
            var unitFg = singleFg.Select(p => p.Count == 0 ? null : Unit(Engine.ToVector(p.Sum, p.Count))).ToArray();
            int n = bgCells.Count / ch;
            var sum = new double[ch];
            for (int i = 0; i < bgCells.Count; i++)
            {
                sum[i % ch] += bgCells[i];
            }

            float[] bgMean = Unit(Engine.ToVector(sum, n));
            var kept = new List<float>();
            for (int i = 0; i < n; i++)
            {
                var cell = bgCells.GetRange(i * ch, ch).ToArray();
                float b = TensorPrimitives.Dot(cell, bgMean);
                if (!unitFg.Any(f => f is not null && TensorPrimitives.Dot(cell, f) > b))
                {
                    kept.AddRange(cell);
                }
            }

            Console.Error.WriteLine($"pure background: {kept.Count / ch} of {n} cells");
            bgCells = kept;
        }

        KMeansResult km = null!;
        float[] centroids = null!;

        var multi = Enumerable.Range(0, support.Count).Where(i => support[i].Classes.Length > 1).ToList();
        var labels = multi.Select(i =>
        {
            ForegroundSplit split = Engine.Split(support[i].Image);
            return split.Foreground.Select((f, j) => f ? -2 : split.Background[j] ? 0 : -1).ToArray();
        }).ToList();
        var means = new float[]?[Engine.Labels];
        for (int round = 0; round < iterations; round++)
        {
            if (round == 0 || withMulti)
            {
                var pool = new List<float>(bgCells);
                for (int m = 0; withMulti && m < multi.Count; m++)
                {
                    ImageRecord image = support[multi[m]].Image;
                    for (int i = 0; i < labels[m].Length; i++)
                    {
                        if (labels[m][i] == 0)
                        {
                            pool.AddRange(image.Unit.AsSpan(i * ch, ch).ToArray());
                        }
                    }
                }

                km = KMeans.Fit(pool.ToArray(), pool.Count / ch, ch, backgroundParts, 0, 50);
                centroids = km.Centroids;
                Matrix.NormalizeRows(centroids, km.K, ch, 1e-6f);
            }

            var sums = singleFg.Select(p => (Sum: (double[])p.Sum.Clone(), p.Count)).ToArray();
            for (int m = 0; m < multi.Count; m++)
            {
                (ImageRecord image, int[] classes) = support[multi[m]];
                for (int cell = 0; cell < labels[m].Length; cell++)
                {
                    int l = labels[m][cell];
                    foreach (int c in l == -2 ? classes : l > 0 ? [l - 1] : [])
                    {
                        for (int q = 0; q < ch; q++)
                        {
                            sums[c].Sum[q] += image.Features.Data[(cell * ch) + q];
                        }

                        sums[c].Count++;
                    }
                }
            }

            for (int c = 0; c < Engine.Labels; c++)
            {
                if (sums[c].Count > 0)
                {
                    float[] v = Engine.ToVector(sums[c].Sum, sums[c].Count);
                    Matrix.NormalizeRows(v, 1, ch, 1e-6f);
                    means[c] = v;
                }
            }

            for (int m = 0; m < multi.Count; m++)
            {
                (ImageRecord image, int[] classes) = support[multi[m]];
                int cells = labels[m].Length;
                var sim = new float[classes.Length, cells];
                var best = new float[cells];
                var bgSim = new float[km.K];
                for (int i = 0; i < cells; i++)
                {
                    ReadOnlySpan<float> cell = image.Unit.AsSpan(i * ch, ch);
                    float b = float.NegativeInfinity;
                    for (int j = 0; j < km.K; j++)
                    {
                        b = Math.Max(b, TensorPrimitives.Dot(cell, centroids.AsSpan(j * ch, ch)));
                    }

                    best[i] = b;
                    int label = 0;
                    for (int t = 0; t < classes.Length; t++)
                    {
                        float s = means[classes[t]] is { } mean ? TensorPrimitives.Dot(cell, mean) + classBias : float.NegativeInfinity;
                        sim[t, i] = s;
                        if (s > best[i])
                        {
                            best[i] = s;
                            label = classes[t] + 1;
                        }
                    }

                    labels[m][i] = label;
                }

                ForegroundSplit split = Engine.Split(image);
                int share = Math.Max(1, split.Foreground.Count(f => f) / classes.Length);
                var given = new bool[cells];
                for (int t = 0; t < classes.Length; t++)
                {
                    int cls = classes[t];
                    if (means[cls] is null || labels[m].Contains(cls + 1))
                    {
                        continue;
                    }

                    int tt = t;
                    foreach (int i in Enumerable.Range(0, cells).Where(i => !given[i]).OrderByDescending(i => sim[tt, i] - best[i]).ThenBy(i => i).Take(share))
                    {
                        labels[m][i] = cls + 1;
                        given[i] = true;
                    }
                }
            }
        }

        if (intersect)
        {
            for (int m = 0; m < multi.Count; m++)
            {
                ForegroundSplit split = Engine.Split(support[multi[m]].Image);
                for (int i = 0; i < labels[m].Length; i++)
                {
                    labels[m][i] = labels[m][i] == 0 && !split.Background[i] ? -1 : labels[m][i];
                }
            }
        }

        CoreMultiTag.LastMulti = multi.Select((i, m) => (support[i].Image, labels[m])).ToList();
        for (int m = 0; m < multi.Count; m++)
        {
            (ImageRecord image, int[] classes) = support[multi[m]];
            bool[] background = labels[m].Select(l => l == 0).ToArray();
            foreach (int c in classes)
            {
                Fitting.Add(fg, c, image, labels[m].Select(l => l == c + 1 || l == -2).ToArray());
                Fitting.Add(bg, c, image, background);
            }
        }

        return Fitting.Build(fg, bg);
    }
}
