using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using OvDiff.Core.Numerics;

namespace OvDiff.Core.Segmentation;

/// <summary>Averages the class scores of overlapping sliding windows into one score image.</summary>
internal static class WindowAveraging
{
    /// <summary>
    /// The average over <paramref name="windows"/> of their grid scores upsampled bilinearly to the window (PyTorch
    /// align_corners=False, the same float operations in the same order as Resampling.BilinearPlanar, so the same bits),
    /// clamped to [−1, 1], summed per pixel in window order and divided by the number of windows covering the pixel:
    /// planar, <paramref name="labels"/> planes of <paramref name="height"/> x <paramref name="width"/>.
    /// Nothing is materialised at window size: per label and window the horizontal pass is done once per grid row, then
    /// the image is walked in bands of rows that stay in cache while every window covering the band blends its two
    /// neighbouring rows into it (vectorised), and the band is divided by its counts. Labels run in parallel.
    /// The result goes into <paramref name="sum"/> (at least labels x height x width; cleared here), so callers may reuse it.
    /// </summary>
    public static void Average(List<WindowScores> windows, int labels, int width, int height, float[] sum)
    {
        int plane = checked(width * height);
        sum.AsSpan(0, checked(labels * plane)).Clear();
        var counts = new int[plane];
        var taps = new WindowTaps[windows.Count];
        for (int w = 0; w < windows.Count; w++)
        {
            WindowScores window = windows[w];
            taps[w] = WindowTaps.Create(window);
            for (int row = window.Y1; row < window.Y2; row++)
            {
                Span<int> countRow = counts.AsSpan((row * width) + window.X1, window.X2 - window.X1);
                TensorPrimitives.Add(countRow, 1, countRow);
            }
        }

        var inverse = new float[plane];
        for (int i = 0; i < plane; i++)
        {
            inverse[i] = 1f / Math.Max(counts[i], 1);
        }

        const int bandRows = 8;
        Parallel.For(0, labels, l =>
        {
            var horizontal = new float[windows.Count][];
            try
            {
                for (int w = 0; w < windows.Count; w++)
                {
                    WindowScores window = windows[w];
                    int windowWidth = window.X2 - window.X1, gridPlane = window.GridHeight * window.GridWidth;
                    horizontal[w] = ArrayPool<float>.Shared.Rent(window.GridHeight * windowWidth);
                    ReadOnlySpan<float> grid = window.Grid.AsSpan(l * gridPlane, gridPlane);
                    WindowTaps tap = taps[w];
                    for (int gy = 0; gy < window.GridHeight; gy++)
                    {
                        ReadOnlySpan<float> source = grid.Slice(gy * window.GridWidth, window.GridWidth);
                        Span<float> row = horizontal[w].AsSpan(gy * windowWidth, windowWidth);
                        for (int ox = 0; ox < windowWidth; ox++)
                        {
                            int ix = tap.X0[ox];
                            float w1 = tap.XLambda[ox], w0 = 1f - w1;
                            row[ox] = (w0 * source[ix]) + (w1 * source[ix + tap.XStep[ox]]);
                        }
                    }
                }

                for (int bandStart = 0; bandStart < height; bandStart += bandRows)
                {
                    int bandEnd = Math.Min(bandStart + bandRows, height);
                    for (int w = 0; w < windows.Count; w++)
                    {
                        WindowScores window = windows[w];
                        int windowWidth = window.X2 - window.X1;
                        WindowTaps tap = taps[w];
                        for (int y = Math.Max(bandStart, window.Y1); y < Math.Min(bandEnd, window.Y2); y++)
                        {
                            int oy = y - window.Y1;
                            float h1 = tap.YLambda[oy], h0 = 1f - h1;
                            ReadOnlySpan<float> top = horizontal[w].AsSpan(tap.Y0[oy] * windowWidth, windowWidth);
                            ReadOnlySpan<float> bottom = horizontal[w].AsSpan((tap.Y0[oy] + tap.YStep[oy]) * windowWidth, windowWidth);
                            BlendClampAdd(top, bottom, h0, h1, sum.AsSpan((l * plane) + (y * width) + window.X1, windowWidth));
                        }
                    }

                    Span<float> band = sum.AsSpan((l * plane) + (bandStart * width), (bandEnd - bandStart) * width);
                    TensorPrimitives.Multiply(band, inverse.AsSpan(bandStart * width, band.Length), band);
                }
            }
            finally
            {
                foreach (float[]? buffer in horizontal)
                {
                    if (buffer is not null)
                    {
                        ArrayPool<float>.Shared.Return(buffer);
                    }
                }
            }
        });
    }

    /// <summary>target[i] += clamp((h0 · top[i]) + (h1 · bottom[i]), −1, 1), separate multiplies and add (no FMA), as the scalar code.</summary>
    private static void BlendClampAdd(ReadOnlySpan<float> top, ReadOnlySpan<float> bottom, float h0, float h1, Span<float> target)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && target.Length >= Vector<float>.Count)
        {
            var v0 = new Vector<float>(h0);
            var v1 = new Vector<float>(h1);
            var lower = new Vector<float>(-1f);
            var upper = new Vector<float>(1f);
            for (; i <= target.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                Vector<float> value = (v0 * new Vector<float>(top[i..])) + (v1 * new Vector<float>(bottom[i..]));
                value = Vector.Min(Vector.Max(value, lower), upper);
                (new Vector<float>(target[i..]) + value).CopyTo(target[i..]);
            }
        }

        for (; i < target.Length; i++)
        {
            target[i] += Math.Clamp((h0 * top[i]) + (h1 * bottom[i]), -1f, 1f);
        }
    }

    /// <summary>Bilinear taps from a window's grid to its pixels, per column and per row (Resampling.LinearTaps).</summary>
    private sealed record WindowTaps(int[] X0, int[] XStep, float[] XLambda, int[] Y0, int[] YStep, float[] YLambda)
    {
        public static WindowTaps Create(WindowScores window)
        {
            int windowWidth = window.X2 - window.X1, windowHeight = window.Y2 - window.Y1;
            var taps = new WindowTaps(new int[windowWidth], new int[windowWidth], new float[windowWidth], new int[windowHeight], new int[windowHeight], new float[windowHeight]);
            Resampling.LinearTaps(window.GridWidth, windowWidth, taps.X0, taps.XStep, taps.XLambda);
            Resampling.LinearTaps(window.GridHeight, windowHeight, taps.Y0, taps.YStep, taps.YLambda);
            return taps;
        }
    }
}
