using OvDiff.Core.Numerics;

namespace OvDiff.Experiments;

/// <summary>Shrinkage LDA on L2-normalised pooled region features: a discriminative region classifier.</summary>
internal sealed class Lda
{
    private readonly double[][] _w;
    private readonly double[] _b;
    private readonly int[] _classes;

    private Lda(double[][] w, double[] b, int[] classes)
    {
        _w = w;
        _b = b;
        _classes = classes;
    }

    public static Lda Fit(List<(float[] X, int Y)> samples, double shrink)
    {
        int d = samples[0].X.Length;
        int[] classes = samples.Select(s => s.Y).Distinct().Order().ToArray();
        var means = classes.ToDictionary(c => c, c => new double[d]);
        var counts = classes.ToDictionary(c => c, _ => 0);
        foreach ((float[] x, int y) in samples)
        {
            for (int k = 0; k < d; k++)
            {
                means[y][k] += x[k];
            }

            counts[y]++;
        }

        foreach (int c in classes)
        {
            for (int k = 0; k < d; k++)
            {
                means[c][k] /= counts[c];
            }
        }

        var cov = new double[d * d];
        foreach ((float[] x, int y) in samples)
        {
            var diff = new double[d];
            for (int k = 0; k < d; k++)
            {
                diff[k] = x[k] - means[y][k];
            }

            for (int i = 0; i < d; i++)
            {
                double di = diff[i];
                for (int j = i; j < d; j++)
                {
                    cov[(i * d) + j] += di * diff[j];
                }
            }
        }

        double trace = 0;
        for (int i = 0; i < d; i++)
        {
            for (int j = i; j < d; j++)
            {
                cov[(i * d) + j] /= samples.Count;
                cov[(j * d) + i] = cov[(i * d) + j];
            }

            trace += cov[(i * d) + i];
        }

        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j < d; j++)
            {
                cov[(i * d) + j] *= 1 - shrink;
            }

            cov[(i * d) + i] += shrink * trace / d;
        }

        double[] l = Cholesky(cov, d);
        var w = new double[classes.Length][];
        var b = new double[classes.Length];
        for (int c = 0; c < classes.Length; c++)
        {
            w[c] = Solve(l, d, means[classes[c]]);
            b[c] = -0.5 * Dot(w[c], means[classes[c]]);
        }

        return new Lda(w, b, classes);
    }

    /// <summary>Scores per class (same order as Classes).</summary>
    public (int Best, double Margin, double[] Scores) Classify(float[] x)
    {
        var s = new double[_classes.Length];
        for (int c = 0; c < s.Length; c++)
        {
            double v = _b[c];
            for (int k = 0; k < x.Length; k++)
            {
                v += _w[c][k] * x[k];
            }

            s[c] = v;
        }

        int best = Array.IndexOf(s, s.Max());
        double second = s.Where((_, i) => i != best).DefaultIfEmpty(double.NegativeInfinity).Max();
        return (_classes[best], s[best] - second, s);
    }

    public IReadOnlyList<int> Classes => _classes;

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
        {
            s += a[i] * b[i];
        }

        return s;
    }

    private static double[] Cholesky(double[] a, int n)
    {
        var l = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double sum = a[(i * n) + j];
                for (int k = 0; k < j; k++)
                {
                    sum -= l[(i * n) + k] * l[(j * n) + k];
                }

                l[(i * n) + j] = i == j ? Math.Sqrt(Math.Max(sum, 1e-12)) : sum / l[(j * n) + j];
            }
        }

        return l;
    }

    private static double[] Solve(double[] l, int n, double[] b)
    {
        var y = new double[n];
        for (int i = 0; i < n; i++)
        {
            double s = b[i];
            for (int k = 0; k < i; k++)
            {
                s -= l[(i * n) + k] * y[k];
            }

            y[i] = s / l[(i * n) + i];
        }

        var x = new double[n];
        for (int i = n - 1; i >= 0; i--)
        {
            double s = y[i];
            for (int k = i + 1; k < n; k++)
            {
                s -= l[(k * n) + i] * x[k];
            }

            x[i] = s / l[(i * n) + i];
        }

        return x;
    }

    /// <summary>Pooled, L2-normalised region feature of the cells where mask(cell).</summary>
    public static float[]? Pool(ImageRecord image, Func<int, bool> mask)
    {
        int ch = image.Features.Channels, cells = (int)image.Features.CellCount;
        var sum = new double[ch];
        long n = 0;
        for (int cell = 0; cell < cells; cell++)
        {
            if (mask(cell))
            {
                for (int k = 0; k < ch; k++)
                {
                    sum[k] += image.Features.Data[(cell * ch) + k];
                }

                n++;
            }
        }

        if (n == 0)
        {
            return null;
        }

        float[] v = Engine.ToVector(sum, n);
        Matrix.NormalizeRows(v, 1, ch, 1e-6f);
        return v;
    }

    /// <summary>Training regions: each support image's cells assigned to each class (and to background, class 0).</summary>
    public static List<(float[] X, int Y)> Samples(IEnumerable<(ImageRecord Image, int[] Classes)> support, Dictionary<ImageRecord, int[]> assignments, bool background)
    {
        var samples = new List<(float[], int)>();
        foreach ((ImageRecord image, int[] classes) in support)
        {
            int[] a = assignments[image];
            foreach (int c in classes.Concat(background ? [0] : []))
            {
                float[]? v = Pool(image, cell => a[cell] == c || (a[cell] == -2 && c > 0));
                if (v is not null)
                {
                    samples.Add((v, c));
                }
            }
        }

        return samples;
    }

    /// <summary>Region check with LDA: keep first-pass classes covering at least minArea whose pooled region LDA assigns to them.</summary>
    public bool[] Select(ImageRecord image, GridScores first, double minArea, double margin)
    {
        int cells = first.Height * first.Width;
        var label = new int[cells];
        var area = new int[Engine.Labels];
        for (int cell = 0; cell < cells; cell++)
        {
            float best = Math.Max(first.Planes[cell], 0f);
            int bl = 0;
            for (int l = 1; l < Engine.Labels; l++)
            {
                float s = first.Planes[(l * cells) + cell];
                if (s > best)
                {
                    best = s;
                    bl = l;
                }
            }

            label[cell] = bl;
            area[bl]++;
        }

        var keep = new bool[Engine.Labels];
        int top = Enumerable.Range(1, Engine.Labels - 1).MaxBy(l => area[l]);
        for (int c = 1; c < Engine.Labels; c++)
        {
            if (area[c] == 0 || area[c] < minArea * cells)
            {
                continue;
            }

            float[] r = Pool(image, cell => label[cell] == c)!;
            (int best, double m, _) = Classify(r);
            keep[c] = best == c && m >= margin;
        }

        if (!keep.Contains(true))
        {
            keep[top] = true;
        }

        return keep;
    }
}
