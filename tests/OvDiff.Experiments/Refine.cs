using OvDiff.Core.Numerics;

namespace OvDiff.Experiments;

/// <summary>Test-time refinement: prototypes from the test image's own first-pass labels, mixed into the scores.</summary>
internal static class Refine
{
    public static GridScores SelfPrototypes(ImageRecord image, GridScores first, bool[] candidates, float alpha, int iterations = 1, float margin = 0f)
    {
        if (alpha <= 0)
        {
            return first;
        }

        int cells = first.Height * first.Width, ch = image.Features.Channels;
        GridScores current = first;
        for (int it = 0; it < iterations; it++)
        {
            var label = new int[cells];
            var keep = new bool[cells];
            for (int cell = 0; cell < cells; cell++)
            {
                float best = Math.Max(first.Planes[cell], 0f), second = float.NegativeInfinity;
                int bl = 0;
                for (int l = 1; l < Engine.Labels; l++)
                {
                    float s = current.Planes[(l * cells) + cell];
                    if (s > best)
                    {
                        second = best;
                        best = s;
                        bl = l;
                    }
                    else if (s > second)
                    {
                        second = s;
                    }
                }

                label[cell] = bl;
                keep[cell] = best - second >= margin;
            }

            var planes = (float[])first.Planes.Clone();
            for (int l = 0; l < Engine.Labels; l++)
            {
                var sum = new double[ch];
                long n = 0;
                for (int cell = 0; cell < cells; cell++)
                {
                    if (label[cell] == l && keep[cell])
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
                    continue;
                }

                float[] p = Engine.ToVector(sum, n);
                Matrix.NormalizeRows(p, 1, ch, 1e-6f);
                var sim = new float[cells];
                Matrix.MultiplyByTransposed(image.Unit, cells, p, 1, ch, sim);
                for (int cell = 0; cell < cells; cell++)
                {
                    planes[(l * cells) + cell] = ((1 - alpha) * first.Planes[(l * cells) + cell]) + (alpha * sim[cell]);
                }
            }

            current = new GridScores(first.Height, first.Width, planes);
        }

        return current;
    }
}
