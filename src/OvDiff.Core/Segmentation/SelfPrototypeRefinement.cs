using System.Numerics.Tensors;
using OvDiff.Core.Features;
using OvDiff.Core.Numerics;

namespace OvDiff.Core.Segmentation;

/// <summary>
/// Test-time refinement with the image's own prototypes (an OvDiff extension, not in the reference): on one window's grid,
/// each cell takes its best label (scores at or below the threshold count as 0; background wins ties); every label that
/// wins a cell gets a prototype, the mean of its cells' features; its score plane becomes
/// (1 − α) · support score + α · cosine to that prototype. An object matches itself better than it matches other images'
/// objects, so the labels follow the image's own regions more closely.
/// </summary>
internal static class SelfPrototypeRefinement
{
    /// <summary>
    /// The best label of each cell of planar grid scores: scores at or below <paramref name="threshold"/> count as 0, the
    /// first (lowest) label wins ties, background (label 0) when nothing is above 0, as the final arg-max decides.
    /// </summary>
    public static int[] GridLabels(float[] scores, int cells, int labels, float threshold, float backgroundBias = 0f)
    {
        var winner = new int[cells];
        for (int cell = 0; cell < cells; cell++)
        {
            float background = scores[cell] + backgroundBias;
            float best = background > threshold ? background : 0f;
            for (int l = 1; l < labels; l++)
            {
                float s = scores[(l * cells) + cell];
                s = s > threshold ? s : 0f;
                if (s > best)
                {
                    best = s;
                    winner[cell] = l;
                }
            }
        }

        return winner;
    }

    /// <summary>Refines <paramref name="scores"/> (planar, <paramref name="labels"/> planes of the grid) in place.</summary>
    public static void Apply(FeatureMap features, float[] scores, int labels, float alpha, float threshold)
    {
        int cells = (int)features.CellCount, channels = features.Channels;
        int[] winner = GridLabels(scores, cells, labels, threshold);

        float[] unit = features.Data.AsSpan(0, cells * channels).ToArray();
        Matrix.NormalizeRows(unit, cells, channels, 1e-6f);
        var sum = new double[channels];
        var prototype = new float[channels];
        for (int l = 0; l < labels; l++)
        {
            Array.Clear(sum);
            long count = 0;
            for (int cell = 0; cell < cells; cell++)
            {
                if (winner[cell] == l)
                {
                    ReadOnlySpan<float> f = features.Data.AsSpan(cell * channels, channels);
                    for (int c = 0; c < channels; c++)
                    {
                        sum[c] += f[c];
                    }

                    count++;
                }
            }

            if (count == 0)
            {
                continue;
            }

            for (int c = 0; c < channels; c++)
            {
                prototype[c] = (float)(sum[c] / count);
            }

            Matrix.NormalizeRows(prototype, 1, channels, 1e-6f);
            Span<float> plane = scores.AsSpan(l * cells, cells);
            for (int cell = 0; cell < cells; cell++)
            {
                plane[cell] = ((1 - alpha) * plane[cell]) + (alpha * TensorPrimitives.Dot(unit.AsSpan(cell * channels, channels), prototype));
            }
        }
    }
}
