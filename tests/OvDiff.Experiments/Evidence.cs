namespace OvDiff.Experiments;

/// <summary>Per-class evidence from a first pass over all classes, on the feature grid.</summary>
internal sealed record ClassEvidence(double[] Area, double[] MaxScore, double[] MeanScore);

internal static class Evidence
{
    public static ClassEvidence FirstPass(GridScores grid) => FirstPass(grid, 0f);

    /// <summary>As <see cref="FirstPass(GridScores)"/>, with <paramref name="backgroundBias"/> added to the background score.</summary>
    public static ClassEvidence FirstPass(GridScores grid, float backgroundBias)
    {
        int cells = grid.Height * grid.Width;
        int[] winners = Winners(grid, backgroundBias);
        var area = new double[Engine.Labels];
        var max = new double[Engine.Labels];
        var sum = new double[Engine.Labels];
        Array.Fill(max, -1);
        for (int cell = 0; cell < cells; cell++)
        {
            for (int l = 1; l < Engine.Labels; l++)
            {
                max[l] = Math.Max(max[l], grid.Planes[(l * cells) + cell]);
            }

            int label = winners[cell];
            area[label]++;
            sum[label] += label == 0 ? Math.Max(grid.Planes[cell] + backgroundBias, 0f) : grid.Planes[(label * cells) + cell];
        }

        var mean = new double[Engine.Labels];
        for (int l = 0; l < Engine.Labels; l++)
        {
            mean[l] = area[l] > 0 ? sum[l] / area[l] : 0;
            area[l] /= cells;
        }

        return new ClassEvidence(area, max, mean);
    }

    /// <summary>
    /// The first pass's label of each grid cell: the best class, or background (0) unless a class beats the background score
    /// plus <paramref name="backgroundBias"/> and 0.
    /// </summary>
    public static int[] Winners(GridScores grid, float backgroundBias = 0f)
    {
        int cells = grid.Height * grid.Width;
        var winners = new int[cells];
        for (int cell = 0; cell < cells; cell++)
        {
            float best = Math.Max(grid.Planes[cell] + backgroundBias, 0f);
            for (int l = 1; l < Engine.Labels; l++)
            {
                float s = grid.Planes[(l * cells) + cell];
                if (s > best)
                {
                    best = s;
                    winners[cell] = l;
                }
            }
        }

        return winners;
    }

    /// <summary>Keeps classes whose first-pass area is at least <paramref name="threshold"/> (the largest class always).</summary>
    public static bool[] ByArea(ClassEvidence e, double threshold, double relative = 0)
    {
        var keep = new bool[Engine.Labels];
        int top = Enumerable.Range(1, Engine.Labels - 1).MaxBy(l => (e.Area[l], e.MaxScore[l]));
        double maxArea = e.Area[top];
        for (int l = 1; l < Engine.Labels; l++)
        {
            keep[l] = e.Area[l] > 0 && e.Area[l] >= threshold && e.Area[l] >= relative * maxArea;
        }

        keep[top] = true;
        return keep;
    }
}

/// <summary>Region check: each first-pass class region is pooled and re-classified against fg prototypes.</summary>
internal static class RegionCheck
{
    public static bool[] Select(ImageRecord image, GridScores first, Protos reference, float[] referenceFlat, double minArea, int knn, double minScoreMargin = double.NegativeInfinity)
    {
        int cells = first.Height * first.Width, ch = image.Features.Channels;
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

            var sum = new double[ch];
            for (int cell = 0; cell < cells; cell++)
            {
                if (label[cell] == c)
                {
                    for (int k = 0; k < ch; k++)
                    {
                        sum[k] += image.Features.Data[(cell * ch) + k];
                    }
                }
            }

            float[] pooled = Engine.ToVector(sum, area[c]);
            OvDiff.Core.Numerics.Matrix.NormalizeRows(pooled, 1, ch, 1e-6f);
            int p = reference.Vectors.Count;
            var sim = new float[p];
            OvDiff.Core.Numerics.Matrix.MultiplyByTransposed(pooled, 1, referenceFlat, p, ch, sim);
            // Vote of the k nearest fg prototypes.
            var votes = Enumerable.Range(0, p).Where(j => !reference.Background[j]).OrderByDescending(j => sim[j]).Take(knn).GroupBy(j => reference.Class[j]).Select(g => (Class: g.Key, Votes: g.Count(), Best: g.Max(j => sim[j]))).OrderByDescending(v => v.Votes).ThenByDescending(v => v.Best).First();
            if (votes.Class == c)
            {
                keep[c] = true;
            }
        }

        if (!keep.Contains(true) && area[top] > 0)
        {
            keep[top] = true;
        }

        return keep;
    }
}

/// <summary>Greedy backward elimination: drop the smallest class while it covers less than t of the grid.</summary>
internal static class Elimination
{
    public static bool[] Select(GridScores first, double threshold, bool[]? start = null)
    {
        int cells = first.Height * first.Width;
        var keep = start is null ? Enumerable.Repeat(true, Engine.Labels).ToArray() : (bool[])start.Clone();
        keep[0] = false;
        while (true)
        {
            var area = new int[Engine.Labels];
            for (int cell = 0; cell < cells; cell++)
            {
                float best = Math.Max(first.Planes[cell], 0f);
                int bl = 0;
                for (int l = 1; l < Engine.Labels; l++)
                {
                    if (!keep[l])
                    {
                        continue;
                    }

                    float s = first.Planes[(l * cells) + cell];
                    if (s > best)
                    {
                        best = s;
                        bl = l;
                    }
                }

                area[bl]++;
            }

            int worst = -1;
            for (int l = 1; l < Engine.Labels; l++)
            {
                if (keep[l] && (worst < 0 || area[l] < area[worst]))
                {
                    worst = l;
                }
            }

            int alive = keep.Count(k => k);
            if (worst < 0 || alive <= 1 || area[worst] >= threshold * cells)
            {
                return keep;
            }

            keep[worst] = false;
        }
    }
}
