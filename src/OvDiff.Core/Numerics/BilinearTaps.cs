using System.Buffers;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace OvDiff.Core.Numerics;

/// <summary>
/// The taps of one planar bilinear resize (PyTorch's <c>F.interpolate(mode="bilinear", align_corners=False)</c>) and its
/// row operations: per output row, the two source rows are interpolated horizontally once each (kept in a
/// <see cref="SourceRowPair"/> while the next output row uses them again), then blended vertically, vectorised. The float
/// operations and their order are those of the per-pixel formula
/// (h0 · ((w0 · top[x0]) + (w1 · top[x1]))) + (h1 · ((w0 · bottom[x0]) + (w1 · bottom[x1]))), with separate multiplies
/// and adds (no FMA), so the result is the same bits as that formula computed pixel by pixel.
/// </summary>
internal sealed class BilinearTaps
{
    private readonly int[] _x0, _x1, _y0, _yStep;
    private readonly float[] _xLambda, _yLambda;
    private readonly int _srcWidth, _srcHeight, _dstWidth, _dstHeight;

    // Per block of 16 output columns whose taps lie within 32 source floats from the block's first tap: that first tap,
    // else −1; and every column's taps relative to it (the permute path of Horizontal).
    private readonly int[] _blockBase;
    private readonly int[] _x0Local, _x1Local;

    public BilinearTaps(int srcWidth, int dstWidth, int srcHeight, int dstHeight)
    {
        (_srcWidth, _dstWidth, _srcHeight, _dstHeight) = (srcWidth, dstWidth, srcHeight, dstHeight);
        var xStep = new int[dstWidth];
        (_x0, _x1, _xLambda) = (new int[dstWidth], new int[dstWidth], new float[dstWidth]);
        (_y0, _yStep, _yLambda) = (new int[dstHeight], new int[dstHeight], new float[dstHeight]);
        Resampling.LinearTaps(srcWidth, dstWidth, _x0, xStep, _xLambda);
        Resampling.LinearTaps(srcHeight, dstHeight, _y0, _yStep, _yLambda);
        for (int ox = 0; ox < dstWidth; ox++)
        {
            _x1[ox] = _x0[ox] + xStep[ox];
        }

        (_blockBase, _x0Local, _x1Local) = (new int[dstWidth / 16], new int[dstWidth], new int[dstWidth]);
        for (int block = 0; block < _blockBase.Length; block++)
        {
            int first = block * 16, start = _x0[first];
            bool fits = _x1[first + 15] - start < 32 && start + 32 <= srcWidth;
            _blockBase[block] = fits ? start : -1;
            for (int ox = first; ox < first + 16; ox++)
            {
                (_x0Local[ox], _x1Local[ox]) = (_x0[ox] - start, _x1[ox] - start);
            }
        }
    }

    /// <summary>Output row <paramref name="outputRow"/>'s two source rows and their weights (h0 for the upper, h1 for the lower).</summary>
    public (int Top, int Bottom, float H0, float H1) Vertical(int outputRow)
    {
        float h1 = _yLambda[outputRow];
        return (_y0[outputRow], _y0[outputRow] + _yStep[outputRow], 1f - h1, h1);
    }

    /// <summary>Output rows [first, end) of the index space plane · dstHeight + row, from planar source to planar target.</summary>
    public unsafe void Rows(float* source, float* target, int first, int end)
    {
        using var cache = new SourceRowPair(_dstWidth);
        for (int r = first; r < end; r++)
        {
            int plane = r / _dstHeight, oy = r - (plane * _dstHeight);
            (int top, int bottom, float h0, float h1) = Vertical(oy);
            long topRow = ((long)plane * _srcHeight) + top, bottomRow = ((long)plane * _srcHeight) + bottom;
            Blend(Horizontal(source, topRow, bottomRow, cache), Horizontal(source, bottomRow, topRow, cache), h0, h1, new Span<float>(target + ((long)r * _dstWidth), _dstWidth));
        }
    }

    private unsafe float[] Horizontal(float* source, long row, long keep, SourceRowPair cache)
    {
        if (!cache.TryGet(row, keep, out float[] buffer))
        {
            Horizontal(new ReadOnlySpan<float>(source + (row * _srcWidth), _srcWidth), buffer);
        }

        return buffer;
    }

    /// <summary><paramref name="into"/>[ox] = (w0 · line[x0]) + (w1 · line[x1]) for every output column.</summary>
    public unsafe void Horizontal(ReadOnlySpan<float> line, Span<float> into)
    {
        int ox = 0;
        fixed (float* source = line)
        fixed (float* output = into)
        {
            if (Avx512F.IsSupported && line.Length >= _srcWidth)
            {
                // Sixteen columns at a time from the 32 source floats their taps lie in: both taps permuted out of two
                // loads (no gather), the same multiplies and add as the scalar loop. Blocks that do not fit are left to
                // the paths below, which start where this one stops.
                fixed (int* lower = _x0Local, upper = _x1Local)
                fixed (float* lambda = _xLambda)
                {
                    Vector512<float> one = Vector512<float>.One;
                    for (; ox < _blockBase.Length * 16 && _blockBase[ox / 16] >= 0; ox += 16)
                    {
                        float* window = source + _blockBase[ox / 16];
                        Vector512<float> low = Avx512F.LoadVector512(window), high = Avx512F.LoadVector512(window + 16);
                        Vector512<float> w1 = Avx512F.LoadVector512(lambda + ox), w0 = one - w1;
                        Vector512<float> a = Avx512F.PermuteVar16x32x2(low, Avx512F.LoadVector512(lower + ox), high);
                        Vector512<float> b = Avx512F.PermuteVar16x32x2(low, Avx512F.LoadVector512(upper + ox), high);
                        Avx512F.Store(output + ox, (w0 * a) + (w1 * b));
                    }
                }
            }

            if (Avx2.IsSupported && _dstWidth >= Vector256<float>.Count)
            {
                // Eight columns at a time: both taps gathered, the same multiplies and add as the scalar loop.
                fixed (int* lower = _x0, upper = _x1)
                fixed (float* lambda = _xLambda)
                {
                    Vector256<float> one = Vector256<float>.One;
                    for (; ox <= _dstWidth - Vector256<float>.Count; ox += Vector256<float>.Count)
                    {
                        Vector256<float> w1 = Avx.LoadVector256(lambda + ox), w0 = one - w1;
                        Vector256<float> a = Avx2.GatherVector256(source, Avx.LoadVector256(lower + ox), 4);
                        Vector256<float> b = Avx2.GatherVector256(source, Avx.LoadVector256(upper + ox), 4);
                        Avx.Store(output + ox, (w0 * a) + (w1 * b));
                    }
                }
            }

            for (; ox < _dstWidth; ox++)
            {
                float w1 = _xLambda[ox], w0 = 1f - w1;
                output[ox] = (w0 * source[_x0[ox]]) + (w1 * source[_x1[ox]]);
            }
        }
    }

    /// <summary>row[i] = (h0 · top[i]) + (h1 · bottom[i]), separate multiplies and add.</summary>
    public static void Blend(ReadOnlySpan<float> top, ReadOnlySpan<float> bottom, float h0, float h1, Span<float> row)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && row.Length >= Vector<float>.Count)
        {
            var v0 = new Vector<float>(h0);
            var v1 = new Vector<float>(h1);
            for (; i <= row.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                ((v0 * new Vector<float>(top[i..])) + (v1 * new Vector<float>(bottom[i..]))).CopyTo(row[i..]);
            }
        }

        for (; i < row.Length; i++)
        {
            row[i] = (h0 * top[i]) + (h1 * bottom[i]);
        }
    }
}

/// <summary>
/// Two horizontally resampled source rows (pooled buffers of the output width), kept while consecutive output rows use
/// them again.
/// </summary>
internal sealed class SourceRowPair : IDisposable
{
    private readonly float[] _a, _b;
    private long _tagA = -1, _tagB = -1; // which source row each buffer holds

    public SourceRowPair(int width)
    {
        _a = ArrayPool<float>.Shared.Rent(width);
        _b = ArrayPool<float>.Shared.Rent(width);
    }

    /// <summary>
    /// True with the buffer holding source row <paramref name="row"/>; else false with the buffer to compute it into (the
    /// one not holding <paramref name="keep"/>, the other row the current output row needs), now tagged with it.
    /// </summary>
    public bool TryGet(long row, long keep, out float[] buffer)
    {
        if (_tagA == row || _tagB == row)
        {
            buffer = _tagA == row ? _a : _b;
            return true;
        }

        if (_tagA != keep)
        {
            (buffer, _tagA) = (_a, row);
        }
        else
        {
            (buffer, _tagB) = (_b, row);
        }

        return false;
    }

    public void Dispose()
    {
        ArrayPool<float>.Shared.Return(_a);
        ArrayPool<float>.Shared.Return(_b);
    }
}
