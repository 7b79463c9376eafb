using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using OvDiff.Core.Numerics;

namespace OvDiff.Core.Segmentation;

/// <summary>Rows of score planes at the resized scale, plane by plane: what <see cref="RowLabelling"/> reads.</summary>
internal interface IScoreRows
{
    /// <summary>Width of a row.</summary>
    int Width { get; }

    /// <summary>Number of rows per plane.</summary>
    int Height { get; }

    /// <summary>Row <paramref name="y"/> of plane <paramref name="plane"/>; <paramref name="scratch"/> (at least <see cref="Width"/> floats) may hold it.</summary>
    ReadOnlySpan<float> Row(int plane, int y, Span<float> scratch);
}

/// <summary>Materialised planar score planes.</summary>
internal sealed class PlanarScoreRows(float[] planes, int height, int width) : IScoreRows
{
    public int Width => width;

    public int Height => height;

    public ReadOnlySpan<float> Row(int plane, int y, Span<float> scratch) => planes.AsSpan(checked((((plane * height) + y) * width)), width);
}

/// <summary>
/// The average over sliding windows of their grid scores upsampled bilinearly to the window (PyTorch align_corners=False,
/// through the same BilinearTaps as Resampling.BilinearPlanar, so the same bits), clamped to [−1, 1],
/// summed per pixel in window order and divided by the number of windows covering the pixel, row by row on demand.
/// Nothing is materialised at window size: per label and window the horizontal pass is done once per grid row (here, in
/// parallel over labels); a row then blends, for every window covering it, that window's two neighbouring grid rows into
/// it (vectorised), and is multiplied by its inverse counts. Owns pooled buffers: dispose it.
/// </summary>
internal sealed class WindowRows : IScoreRows, IDisposable
{
    private readonly List<WindowScores> _windows;
    private readonly BilinearTaps[] _taps; // per window: grid → window pixels
    private readonly float[]? _inverseCounts; // null with one window
    private readonly float[][] _horizontal; // per window: planes x gridHeight x windowWidth

    public WindowRows(List<WindowScores> windows, int planes, int width, int height)
    {
        (_windows, Width, Height) = (windows, width, height);
        int plane = checked(width * height);
        _taps = new BilinearTaps[windows.Count];
        _horizontal = new float[windows.Count][];
        for (int w = 0; w < windows.Count; w++)
        {
            WindowScores window = windows[w];
            _taps[w] = new BilinearTaps(window.GridWidth, window.X2 - window.X1, window.GridHeight, window.Y2 - window.Y1);
            _horizontal[w] = ArrayPool<float>.Shared.Rent(checked(planes * window.GridHeight * (window.X2 - window.X1)));
        }

        // One window covers every pixel at most once: every count is 0 or 1 and x · 1 = x, so the division is skipped.
        if (windows.Count > 1)
        {
            var counts = new int[plane];
            foreach (WindowScores window in windows)
            {
                for (int row = window.Y1; row < window.Y2; row++)
                {
                    Span<int> countRow = counts.AsSpan((row * width) + window.X1, window.X2 - window.X1);
                    TensorPrimitives.Add(countRow, 1, countRow);
                }
            }

            _inverseCounts = ArrayPool<float>.Shared.Rent(plane);
            for (int i = 0; i < plane; i++)
            {
                _inverseCounts[i] = 1f / Math.Max(counts[i], 1);
            }
        }

        Parallel.For(0, planes, l =>
        {
            for (int w = 0; w < windows.Count; w++)
            {
                WindowScores window = windows[w];
                int windowWidth = window.X2 - window.X1, gridPlane = window.GridHeight * window.GridWidth;
                ReadOnlySpan<float> grid = window.Grid.AsSpan(l * gridPlane, gridPlane);
                for (int gy = 0; gy < window.GridHeight; gy++)
                {
                    Span<float> row = _horizontal[w].AsSpan(((l * window.GridHeight) + gy) * windowWidth, windowWidth);
                    _taps[w].Horizontal(grid.Slice(gy * window.GridWidth, window.GridWidth), row);
                    if (window.Mirrored)
                    {
                        row.Reverse(); // the mirror's pixel x is the window's pixel width − 1 − x
                    }
                }
            }
        });
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>
    /// The averaged planes, materialised: planar, <paramref name="planes"/> planes of <see cref="Height"/> x
    /// <see cref="Width"/> into <paramref name="sum"/> (at least that long), planes in parallel.
    /// </summary>
    public void AverageInto(float[] sum, int planes)
    {
        int plane = checked(Width * Height);
        Parallel.For(0, planes, l =>
        {
            for (int y = 0; y < Height; y++)
            {
                Row(l, y, sum.AsSpan((l * plane) + (y * Width), Width));
            }
        });
    }

    public ReadOnlySpan<float> Row(int plane, int y, Span<float> scratch)
    {
        Span<float> target = scratch[..Width];
        target.Clear();
        for (int w = 0; w < _windows.Count; w++)
        {
            WindowScores window = _windows[w];
            if (y < window.Y1 || y >= window.Y2)
            {
                continue;
            }

            int windowWidth = window.X2 - window.X1, oy = y - window.Y1;
            (int top, int bottom, float h0, float h1) = _taps[w].Vertical(oy);
            ReadOnlySpan<float> planeRows = _horizontal[w].AsSpan(plane * window.GridHeight * windowWidth, window.GridHeight * windowWidth);
            BlendClampAdd(planeRows.Slice(top * windowWidth, windowWidth), planeRows.Slice(bottom * windowWidth, windowWidth), h0, h1, target.Slice(window.X1, windowWidth));
        }

        if (_inverseCounts is not null)
        {
            TensorPrimitives.Multiply(target, _inverseCounts.AsSpan(y * Width, Width), target);
        }

        return target;
    }

    public void Dispose()
    {
        foreach (float[] buffer in _horizontal)
        {
            ArrayPool<float>.Shared.Return(buffer);
        }

        if (_inverseCounts is not null)
        {
            ArrayPool<float>.Shared.Return(_inverseCounts);
        }
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
}
