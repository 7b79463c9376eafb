using System.Buffers;
using System.Numerics;
using OvDiff.Core.Images;

namespace OvDiff.Core.Segmentation;

/// <summary>
/// Per pixel, the label with the highest score above a threshold (background, label 0, when none is), over the active
/// labels only.
/// </summary>
internal static class LabelArgMax
{
    /// <summary>The label map of <paramref name="scores"/> (planar, one plane per entry of <paramref name="active"/>); ties keep the lower label.</summary>
    public static LabelMap Compute(float[] scores, bool[] active, int width, int height, float threshold)
    {
        // Per block of pixels, plane by plane with a running best: the same strict ">" in label order as a per-pixel loop
        // over labels (NaN compares false in both), so the same labels. Vectorised; blocks in parallel.
        int labels = active.Length;
        int plane = checked(width * height);
        var result = new byte[plane];
        const int block = 16 * 1024;
        Parallel.For(0, (plane + block - 1) / block, b =>
        {
            int first = b * block, length = Math.Min(block, plane - first);
            float[] bestScore = ArrayPool<float>.Shared.Rent(length);
            int[] bestLabel = ArrayPool<int>.Shared.Rent(length);
            try
            {
                ReadOnlySpan<float> background = scores.AsSpan(first, length);
                for (int i = 0; i < length; i++)
                {
                    bestScore[i] = background[i] > threshold ? background[i] : 0f;
                    bestLabel[i] = 0;
                }

                for (int l = 1; l < labels; l++)
                {
                    if (active[l])
                    {
                        ArgMaxPlane(scores.AsSpan((l * plane) + first, length), l, threshold, bestScore.AsSpan(0, length), bestLabel.AsSpan(0, length));
                    }
                }

                for (int i = 0; i < length; i++)
                {
                    result[first + i] = (byte)bestLabel[i];
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(bestScore);
                ArrayPool<int>.Shared.Return(bestLabel);
            }
        });

        return new LabelMap(width, height, result);
    }

    private static void ArgMaxPlane(ReadOnlySpan<float> scorePlane, int label, float threshold, Span<float> bestScore, Span<int> bestLabel)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<float>.Count == Vector<int>.Count)
        {
            var limit = new Vector<float>(threshold);
            var labelVector = new Vector<int>(label);
            for (; i <= scorePlane.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var s = new Vector<float>(scorePlane[i..]);
                s = Vector.ConditionalSelect(Vector.GreaterThan(s, limit), s, Vector<float>.Zero);
                var best = new Vector<float>(bestScore[i..]);
                Vector<int> better = Vector.GreaterThan(s, best);
                Vector.ConditionalSelect(better, s, best).CopyTo(bestScore[i..]);
                Vector.ConditionalSelect(better, labelVector, new Vector<int>(bestLabel[i..])).CopyTo(bestLabel[i..]);
            }
        }

        for (; i < scorePlane.Length; i++)
        {
            float s = scorePlane[i];
            s = s > threshold ? s : 0f;
            if (s > bestScore[i])
            {
                bestScore[i] = s;
                bestLabel[i] = label;
            }
        }
    }
}
