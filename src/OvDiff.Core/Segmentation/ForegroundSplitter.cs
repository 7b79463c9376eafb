using OvDiff.Core.Features;
using OvDiff.Core.Numerics;

namespace OvDiff.Core.Segmentation;

/// <summary>Foreground and background cells of one support image on a feature grid (disjoint).</summary>
public sealed record ForegroundSplit(int Height, int Width, bool[] Foreground, bool[] Background);

/// <summary>
/// The class-agnostic, training-free split of a support image into foreground and background (OVDiff stage 2).
/// </summary>
public static class ForegroundSplitter
{
    /// <summary>
    /// Splits the grid of <paramref name="features"/>. Without <paramref name="attribution"/>: the first MaskCut segment
    /// (seed and corner rules) is foreground, its complement eroded is background. With attribution (resampled to the grid):
    /// the MaskCut segments and the remainder are ranked by mean attribution; foreground = the top segment; background = the
    /// lowest segment's cells with attribution below the threshold, eroded; without any segment the attribution thresholds
    /// alone decide (reference fallback).
    /// </summary>
    public static ForegroundSplit Split(FeatureMap features, AttributionMap? attribution, PrototypeFitOptions options)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(options);
        int height = features.Height, width = features.Width, cells = height * width;
        if (options.Split == ForegroundSplitMode.None)
        {
            return new ForegroundSplit(height, width, Enumerable.Repeat(true, cells).ToArray(), new bool[cells]);
        }

        if (options.CenterFeaturesForSplit)
        {
            features = Center(features);
        }

        if (options.Split == ForegroundSplitMode.BorderClusters && attribution is null)
        {
            bool[] fg = BorderClusters(features, options.Seed);
            return new ForegroundSplit(height, width, fg, ErodeBackground(fg.Select(f => !f).ToArray(), height, width, options.BackgroundErosion));
        }

        if (attribution is null)
        {
            NormalizedCutResult cut = NormalizedCut.Bipartition(features, options.NormalizedCut);
            bool[] rest = cut.Foreground.Select(f => !f).ToArray();
            return new ForegroundSplit(height, width, cut.Foreground, ErodeBackground(rest, height, width, options.BackgroundErosion));
        }

        float[] attr = ResampleToGrid(attribution, height, width);
        IReadOnlyList<NormalizedCutResult> masks = NormalizedCut.MaskCut(features, options.MaskCutSegments, options.NormalizedCut);
        return RankSegments(masks.Select(m => m.Foreground).ToList(), attr, height, width, options);
    }

    /// <summary>
    /// The reference's segment ranking: segment 0 is the remainder (cells in no mask); each segment's score is its mean
    /// attribution; each cell goes to the highest-scoring segment containing it; foreground = cells of the top segment;
    /// background = cells of the lowest segment with attribution below <see cref="PrototypeFitOptions.AttributionBackgroundThreshold"/>, eroded.
    /// </summary>
    public static ForegroundSplit RankSegments(IReadOnlyList<bool[]> masks, ReadOnlySpan<float> attribution, int height, int width, PrototypeFitOptions options)
    {
        ArgumentNullException.ThrowIfNull(masks);
        ArgumentNullException.ThrowIfNull(options);
        int cells = height * width;
        var nonEmpty = masks.Where(m => m.Any(v => v)).ToList();
        var foreground = new bool[cells];
        var background = new bool[cells];
        if (nonEmpty.Count == 0)
        {
            for (int i = 0; i < cells; i++)
            {
                foreground[i] = attribution[i] > options.AttributionForegroundThreshold;
                background[i] = attribution[i] < options.AttributionBackgroundThreshold;
            }

            return new ForegroundSplit(height, width, foreground, ErodeBackground(background, height, width, options.BackgroundErosion));
        }

        var segments = new List<bool[]>(nonEmpty.Count + 1);
        var remainder = new bool[cells];
        for (int i = 0; i < cells; i++)
        {
            remainder[i] = !nonEmpty.Any(m => m[i]);
        }

        segments.Add(remainder);
        segments.AddRange(nonEmpty);
        var scores = new double[segments.Count];
        for (int s = 0; s < segments.Count; s++)
        {
            double sum = 0;
            long count = 0;
            for (int i = 0; i < cells; i++)
            {
                if (segments[s][i])
                {
                    sum += attribution[i];
                    count++;
                }
            }

            scores[s] = count == 0 ? double.NegativeInfinity : sum / count;
        }

        int top = 0, bottom = -1;
        for (int s = 0; s < segments.Count; s++)
        {
            if (scores[s] > scores[top])
            {
                top = s;
            }

            if (!double.IsNegativeInfinity(scores[s]) && (bottom < 0 || scores[s] < scores[bottom]))
            {
                bottom = s;
            }
        }

        for (int i = 0; i < cells; i++)
        {
            // Assign each cell to its best-scoring segment (argmax of mask x score).
            int best = -1;
            for (int s = 0; s < segments.Count; s++)
            {
                if (segments[s][i] && (best < 0 || scores[s] > scores[best]))
                {
                    best = s;
                }
            }

            foreground[i] = best == top;
            background[i] = best == bottom && bottom != top && attribution[i] < options.AttributionBackgroundThreshold;
        }

        return new ForegroundSplit(height, width, foreground, ErodeBackground(background, height, width, options.BackgroundErosion));
    }

    /// <summary>
    /// Resamples a mask to another grid as the reference does: bilinear interpolation of 0/1, then any positive value counts.
    /// </summary>
    public static bool[] ResampleMask(bool[] mask, int height, int width, int targetHeight, int targetWidth)
    {
        ArgumentNullException.ThrowIfNull(mask);
        if (height == targetHeight && width == targetWidth)
        {
            return mask;
        }

        float[] source = mask.Select(m => m ? 1f : 0f).ToArray();
        var target = new float[targetHeight * targetWidth];
        Resampling.BilinearPlanar(source, 1, height, width, target, targetHeight, targetWidth);
        return target.Select(v => v > 0f).ToArray();
    }

    /// <summary>
    /// <paramref name="steps"/> erosions of the background; 0 leaves it as is (Morphology.Erode, like scipy, would read
    /// 0 iterations as "until nothing changes" and erase the whole mask).
    /// </summary>
    private static bool[] ErodeBackground(bool[] mask, int height, int width, int steps)
        => steps == 0 ? mask : Morphology.Erode(mask, height, width, steps);

    private static bool[] BorderClusters(FeatureMap features, int seed)
    {
        int height = features.Height, width = features.Width;
        float[] unit = features.Data.ToArray();
        Matrix.NormalizeRows(unit, (int)features.CellCount, features.Channels, 1e-6f);
        KMeansResult km = KMeans.Fit(unit, (int)features.CellCount, features.Channels, 2, seed);
        if (km.K < 2)
        {
            return Enumerable.Repeat(true, height * width).ToArray();
        }

        var border = new long[2];
        var size = new long[2];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int a = km.Assignments[(y * width) + x];
                size[a]++;
                if (y == 0 || x == 0 || y == height - 1 || x == width - 1)
                {
                    border[a]++;
                }
            }
        }

        // Background: the cluster with the larger share of its cells on the border.
        int background = (double)border[0] / Math.Max(size[0], 1) >= (double)border[1] / Math.Max(size[1], 1) ? 0 : 1;
        return km.Assignments.Select(a => a != background).ToArray();
    }

    /// <summary>Subtracts the per-image mean feature from every cell (non-negative CNN features otherwise all look alike to a cosine).</summary>
    private static FeatureMap Center(FeatureMap features)
    {
        int channels = features.Channels;
        long cells = features.CellCount;
        var mean = new double[channels];
        Matrix.AddColumnSums(features.Data, cells, channels, mean);

        var centered = new float[features.Data.LongLength];
        for (long i = 0; i < cells; i++)
        {
            for (int c = 0; c < channels; c++)
            {
                centered[(i * channels) + c] = (float)(features.Data[(i * channels) + c] - (mean[c] / cells));
            }
        }

        return new FeatureMap(features.Height, features.Width, channels, centered);
    }

    private static float[] ResampleToGrid(AttributionMap attribution, int height, int width)
    {
        var target = new float[height * width];
        Resampling.BilinearPlanar(attribution.Values, 1, attribution.Height, attribution.Width, target, height, width);
        return target;
    }
}
