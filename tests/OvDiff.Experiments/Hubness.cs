using OvDiff.Core.Numerics;

namespace OvDiff.Experiments;

/// <summary>
/// Hubness of the class prototypes (CSLS, Conneau et al. 2018): a prototype close to many cells of images that do not show
/// its class wins cells everywhere. Measured on the support set alone: r_c = mean of the K largest cosines between class
/// c's foreground prototype and the cells of the support images not tagged c.
/// </summary>
internal static class Hubness
{
    public static double[] OfClasses(Fold fold, Protos protos, int k)
    {
        var r = new double[Engine.Labels];
        int channels = fold.Test[0].Features.Channels;
        for (int j = 0; j < protos.Vectors.Count; j++)
        {
            int c = protos.Class[j];
            if (protos.Background[j] || c == 0)
            {
                continue;
            }

            var top = new PriorityQueue<float, float>();
            foreach ((ImageRecord image, int[] classes) in fold.Support)
            {
                if (classes.Contains(c))
                {
                    continue;
                }

                int cells = (int)image.Features.CellCount;
                var sim = new float[cells];
                Matrix.MultiplyByTransposed(image.Unit, cells, protos.Vectors[j], 1, channels, sim);
                foreach (float s in sim)
                {
                    if (top.Count < k)
                    {
                        top.Enqueue(s, s);
                    }
                    else if (s > top.Peek())
                    {
                        top.DequeueEnqueue(s, s);
                    }
                }
            }

            double sum = 0;
            int n = top.Count;
            while (top.Count > 0)
            {
                sum += top.Dequeue();
            }

            r[c] = Math.Max(r[c], sum / Math.Max(n, 1));
        }

        return r;
    }

    /// <summary>The grid with weight x (r_c - mean r) taken from each class plane (not from background, not from non-candidates).</summary>
    public static GridScores Apply(GridScores grid, double[] r, double weight)
    {
        double mean = r.Skip(1).Average();
        int cells = grid.Height * grid.Width;
        float[] planes = (float[])grid.Planes.Clone();
        for (int c = 1; c < Engine.Labels; c++)
        {
            float bias = (float)(weight * (r[c] - mean));
            for (int cell = 0; cell < cells; cell++)
            {
                int at = (c * cells) + cell;
                if (planes[at] != -1f)
                {
                    planes[at] -= bias;
                }
            }
        }

        return grid with { Planes = planes };
    }
}
