using System.Collections.Concurrent;
using OvDiff.Core.Features;
using OvDiff.Core.Numerics;
using OvDiff.Core.Segmentation;

namespace OvDiff.Experiments;

/// <summary>A set of unit prototypes with the label each scores (0 = background prototype of class Owner).</summary>
internal sealed class Protos
{
    public List<float[]> Vectors { get; } = [];

    public List<int> Class { get; } = [];

    public List<bool> Background { get; } = [];

    public void Add(float[] vector, int cls, bool background)
    {
        float[] v = (float[])vector.Clone();
        Matrix.NormalizeRows(v, 1, v.Length, 1e-6f);
        Vectors.Add(v);
        Class.Add(cls);
        Background.Add(background);
    }

    public float[] Flat(int channels)
    {
        var flat = new float[Vectors.Count * channels];
        for (int i = 0; i < Vectors.Count; i++)
        {
            Vectors[i].CopyTo(flat, i * channels);
        }

        return flat;
    }
}

/// <summary>Per-image scores on the feature grid: 21 planes (label 0 = background), -1 where a label is not a candidate.</summary>
internal sealed record GridScores(int Height, int Width, float[] Planes);

internal static class Engine
{
    public const int Labels = 21;

    /// <summary>Every label a candidate (read only: shared by every experiment).</summary>
    public static readonly bool[] AllClasses = Enumerable.Repeat(true, Labels).ToArray();

    /// <summary>Scores at half resolution against every second ground-truth pixel (EXP_FAST=1): 4x faster, for ranking settings.</summary>
    public static readonly bool Fast = Environment.GetEnvironmentVariable("EXP_FAST") == "1";

    private static readonly ConcurrentDictionary<(string, int), ForegroundSplit> Splits = new();

    public static ForegroundSplit Split(ImageRecord image, PrototypeFitOptions? options = null, int variant = 0)
        => Splits.GetOrAdd((image.Id, variant), _ => ForegroundSplitter.Split((image.Original ?? image).Features, null, options ?? DefaultFit));

    /// <summary>The fit options of the splits (EXP_EROSION overrides the background erosion).</summary>
    private static readonly PrototypeFitOptions DefaultFit = new() { BackgroundErosion = int.Parse(Environment.GetEnvironmentVariable("EXP_EROSION") ?? "1", System.Globalization.CultureInfo.InvariantCulture) };

    /// <summary>Mean of raw features over masked cells.</summary>
    public static float[] MaskedSum(FeatureMap map, bool[] mask, double[] sum, ref long count)
    {
        int c = map.Channels;
        for (int i = 0; i < mask.Length; i++)
        {
            if (mask[i])
            {
                for (int k = 0; k < c; k++)
                {
                    sum[k] += map.Data[(i * c) + k];
                }

                count++;
            }
        }

        return [];
    }

    public static float[] ToVector(double[] sum, long count) => sum.Select(s => (float)(s / Math.Max(count, 1))).ToArray();

    /// <summary>Cosine similarity of every cell with every prototype: cells x P.</summary>
    public static float[] Similarities(ImageRecord image, float[] flat, int count)
    {
        int cells = (int)image.Features.CellCount;
        var sim = new float[cells * count];
        Matrix.MultiplyByTransposed(image.Unit, cells, flat, count, image.Features.Channels, sim);
        return sim;
    }

    /// <summary>Grid scores: class = max over its fg prototypes, background = max over candidate classes' bg prototypes.</summary>
    public static GridScores Score(ImageRecord image, Protos protos, float[] flat, bool[] candidates, bool useBackground = true)
    {
        int cells = (int)image.Features.CellCount, p = protos.Vectors.Count;
        float[] sim = Similarities(image, flat, p);
        var planes = new float[Labels * cells];
        Array.Fill(planes, -1f);
        if (!useBackground)
        {
            Array.Clear(planes, 0, cells);
        }

        for (int j = 0; j < p; j++)
        {
            int cls = protos.Class[j];
            if (cls != 0 && !candidates[cls])
            {
                // Class 0 owns background prototypes of no class (always used).
                continue;
            }

            bool bg = protos.Background[j];
            if (bg && !useBackground)
            {
                continue;
            }

            int offset = (bg ? 0 : cls) * cells;
            for (int cell = 0; cell < cells; cell++)
            {
                float s = sim[(cell * p) + j];
                if (s > planes[offset + cell])
                {
                    planes[offset + cell] = s;
                }
            }
        }

        return new GridScores(image.Features.Height, image.Features.Width, planes);
    }

    /// <summary>Upsamples grid scores as the segmenter does (grid to scaled image, then to full size), thresholds at 0, arg-maxes; min-area rule.</summary>
    /// <summary>Per label, a factor on the minimum class area (null: 1 for every label); set per fold by an experiment.</summary>
    public static double[]? MinimumAreaScale;

    public static byte[] Predict(ImageRecord image, GridScores grid, float minimumArea, out float[] full)
    {
        int cells = grid.Height * grid.Width;
        var active = new bool[Labels];
        var used = new List<int>();
        for (int l = 0; l < Labels; l++)
        {
            if (l == 0 || grid.Planes.AsSpan(l * cells, cells).ContainsAnyExcept(-1f))
            {
                used.Add(l);
                active[l] = true;
            }
        }

        var compact = new float[used.Count * cells];
        for (int i = 0; i < used.Count; i++)
        {
            grid.Planes.AsSpan(used[i] * cells, cells).CopyTo(compact.AsSpan(i * cells));
        }

        int w = Fast ? image.HalfWidth : image.Width, h = Fast ? image.HalfHeight : image.Height;
        full = new float[used.Count * w * h];
        if (Fast)
        {
            Resampling.BilinearPlanar(compact, used.Count, grid.Height, grid.Width, full, h, w);
        }
        else
        {
            int sw = image.ScaledWidth, sh = image.ScaledHeight;
            var scaled = new float[used.Count * sw * sh];
            Resampling.BilinearPlanar(compact, used.Count, grid.Height, grid.Width, scaled, sh, sw);
            for (int i = 0; i < scaled.Length; i++)
            {
                scaled[i] = Math.Clamp(scaled[i], -1f, 1f);
            }

            Resampling.BilinearPlanar(scaled, used.Count, sh, sw, full, h, w);
        }
        byte[] labels = ArgMax(full, used, w * h, null);
        if (minimumArea > 0)
        {
            var area = new long[Labels];
            foreach (byte l in labels)
            {
                area[l]++;
            }

            var keep = new bool[used.Count];
            bool dropped = false;
            for (int i = 0; i < used.Count; i++)
            {
                double scale = MinimumAreaScale?[used[i]] ?? 1;
                keep[i] = used[i] == 0 || area[used[i]] == 0 || area[used[i]] >= minimumArea * scale * labels.Length;
                dropped |= !keep[i];
            }

            if (dropped)
            {
                labels = ArgMax(full, used, w * h, keep);
            }
        }

        return labels;
    }

    public static float Threshold = 0f;

    public static byte[] ArgMax(float[] full, List<int> used, int plane, bool[]? keep)
    {
        float t = Threshold;
        var labels = new byte[plane];
        for (int px = 0; px < plane; px++)
        {
            float bg = full[px];
            float best = bg > t ? bg : t;
            int label = 0;
            for (int i = 1; i < used.Count; i++)
            {
                if (keep is not null && !keep[i])
                {
                    continue;
                }

                float s = full[(i * plane) + px];
                s = s > t ? s : t;
                if (s > best)
                {
                    best = s;
                    label = used[i];
                }
            }

            labels[px] = (byte)label;
        }

        return labels;
    }

    public static void Accumulate(long[] confusion, byte[] truth, byte[] prediction)
    {
        for (int i = 0; i < truth.Length; i++)
        {
            byte t = truth[i];
            if (t < Labels)
            {
                confusion[(t * Labels) + prediction[i]]++;
            }
        }
    }

    public static double[] IoU(long[] confusion)
    {
        var iou = new double[Labels];
        for (int c = 0; c < Labels; c++)
        {
            long tp = confusion[(c * Labels) + c], row = 0, col = 0;
            for (int k = 0; k < Labels; k++)
            {
                row += confusion[(c * Labels) + k];
                col += confusion[(k * Labels) + c];
            }

            long union = row + col - tp;
            iou[c] = union == 0 ? double.NaN : (double)tp / union;
        }

        return iou;
    }

    public static double Mean(double[] iou) => iou.Where(v => !double.IsNaN(v)).Average() * 100;
}
