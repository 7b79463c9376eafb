using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace OvDiff.Core.Numerics;

/// <summary>Options of PAMR (pixel-adaptive mask refinement; Araslanov &amp; Roth 2020), as used by OVDiff and TCL.</summary>
public sealed record PamrOptions
{
    /// <summary>Refinement iterations. Default 10.</summary>
    public int Iterations { get; init; } = 10;

    /// <summary>Dilations of the 3x3 neighbourhood. Default 1, 2, 4, 8, 12, 24.</summary>
    public IReadOnlyList<int> Dilations { get; init; } = [1, 2, 4, 8, 12, 24];
}

/// <summary>
/// PAMR: repeatedly replaces each pixel's class scores by an affinity-weighted sum of its dilated 8-neighbours' scores
/// (replicate padding). The logits are −|I_i − I_j| / (1e-8 + 0.1 · σ_i), with σ_i the unbiased standard deviation, per
/// image channel, of the 9 · len(dilations) values of all the dilated 3x3 windows (the centre counted once per dilation);
/// the logits are averaged over image channels and then soft-maxed over the 8 · len(dilations) neighbours
/// (the reference's LocalAffinityAbs / LocalStDev / LocalAffinityCopy, 1-stage-wseg pamr.py).
/// Computed in float32 as the reference's PyTorch module is, vectorised along image rows: the affinities with
/// TensorPrimitives (exp included), the propagation one offset at a time over every class's row while that offset's
/// affinities are in cache.
/// </summary>
public static class Pamr
{
    /// <summary>
    /// Refines <paramref name="scores"/> (planar: <paramref name="classes"/> planes of height x width) in place, guided by
    /// <paramref name="image"/> (planar float: <paramref name="imageChannels"/> planes of height x width, any consistent scale).
    /// </summary>
    public static void Refine(ReadOnlySpan<float> image, int imageChannels, Span<float> scores, int classes, int height, int width, PamrOptions? options = null)
    {
        options ??= new PamrOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(imageChannels);
        ArgumentOutOfRangeException.ThrowIfNegative(classes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Iterations);
        long plane = (long)height * width;
        if (plane * imageChannels > image.Length || plane * classes > scores.Length)
        {
            throw new ArgumentException("image or scores is too short for the given planes and size.");
        }

        if (options.Dilations.Count == 0)
        {
            throw new ArgumentException("PAMR needs at least one dilation.", nameof(options));
        }

        foreach (int d in options.Dilations)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(d, nameof(options));
        }

        if (classes == 0 || options.Iterations == 0)
        {
            return;
        }

        (int Dy, int Dx)[] offsets = Offsets(options.Dilations);
        int n = (int)plane;
        int count = offsets.Length;
        float[] affinity = ArrayPool<float>.Shared.Rent(checked(count * n));
        float[] spare = ArrayPool<float>.Shared.Rent(checked(classes * n));
        try
        {
            Affinities(image, imageChannels, height, width, options.Dilations.Count, offsets, affinity);

            // Each pass reads one buffer and writes the other; rows are independent within a pass, so large maps run
            // them in parallel. Per row, one offset's affinities serve every class while they are in cache.
            Span<float> current = scores[..(classes * n)];
            Span<float> next = spare.AsSpan(0, classes * n);
            for (int it = 0; it < options.Iterations; it++)
            {
                Propagate(current, next, affinity, offsets, classes, height, width);
                Span<float> swap = current;
                current = next;
                next = swap;
            }

            if (options.Iterations % 2 == 1)
            {
                current.CopyTo(scores);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(affinity);
            ArrayPool<float>.Shared.Return(spare);
        }
    }

    // The 8 neighbour offsets of each dilation, in the reference kernel order (row-major 3x3 without the centre).
    private static (int Dy, int Dx)[] Offsets(IReadOnlyList<int> dilations)
    {
        var offsets = new (int, int)[dilations.Count * 8];
        int p = 0;
        foreach (int d in dilations)
        {
            for (int ky = -1; ky <= 1; ky++)
            {
                for (int kx = -1; kx <= 1; kx++)
                {
                    if (ky != 0 || kx != 0)
                    {
                        offsets[p++] = (ky * d, kx * d);
                    }
                }
            }
        }

        return offsets;
    }

    /// <summary>
    /// output = one PAMR pass over masks: per row and class, the offsets in order, each a fused multiply-add of its
    /// affinities and the (clamped) neighbour row into the output row, which stays in cache (columns whose neighbour would
    /// fall outside take the scalar path).
    /// </summary>
    private static unsafe void Propagate(Span<float> masks, Span<float> output, float[] affinity, (int Dy, int Dx)[] offsets, int classes, int height, int width)
    {
        int n = height * width, count = offsets.Length;
        fixed (float* target = output)
        {
            nint address = (nint)target;
            int length = output.Length;
            SpanParallel.For(masks, height, (long)classes * count * width, (source, firstRow, endRow) =>
            {
                var into = new Span<float>((float*)address, length);
                for (int y = firstRow; y < endRow; y++)
                {
                    ReadOnlySpan<float> rowAffinity = affinity.AsSpan(y * count * width, count * width);
                    for (int c = 0; c < classes; c++)
                    {
                        ReadOnlySpan<float> mask = source.Slice(c * n, n);
                        Span<float> result = into.Slice((c * n) + (y * width), width);
                        result.Clear();
                        for (int p = 0; p < count; p++)
                        {
                            (int dy, int dx) = offsets[p];
                            ReadOnlySpan<float> aff = rowAffinity.Slice(p * width, width);
                            ReadOnlySpan<float> row = mask.Slice(Clamp(y + dy, height) * width, width);
                            int lo = Math.Clamp(-dx, 0, width), hi = Math.Clamp(width - dx, lo, width);
                            for (int x = 0; x < lo; x++)
                            {
                                result[x] = MathF.FusedMultiplyAdd(aff[x], row[Clamp(x + dx, width)], result[x]);
                            }

                            if (hi > lo)
                            {
                                Span<float> inner = result[lo..hi];
                                TensorPrimitives.FusedMultiplyAdd(aff[lo..hi], row.Slice(lo + dx, hi - lo), inner, inner);
                            }

                            for (int x = hi; x < width; x++)
                            {
                                result[x] = MathF.FusedMultiplyAdd(aff[x], row[Clamp(x + dx, width)], result[x]);
                            }
                        }
                    }
                }
            });
        }
    }

    // affinity[(y * count + p) * width + x]: softmax over p of the channel-mean logits (see the class summary), row by
    // row: the logits per pixel (eight pixels at a time in registers where no neighbour is clamped), then the softmax
    // over whole rows.
    private static unsafe void Affinities(ReadOnlySpan<float> image, int channels, int height, int width, int dilationCount, (int Dy, int Dx)[] offsets, float[] affinity)
    {
        int count = offsets.Length;
        fixed (float* output = affinity)
        {
            nint address = (nint)output;
            int length = affinity.Length;
            SpanParallel.For(image, height, (long)width * count * channels * 8, (img, firstRow, endRow) =>
            {
                var all = new Span<float>((float*)address, length);
                float[] scratch = ArrayPool<float>.Shared.Rent(2 * width);
                try
                {
                    for (int y = firstRow; y < endRow; y++)
                    {
                        Span<float> logits = all.Slice(y * count * width, count * width);
                        Logits(img, channels, height, width, dilationCount, offsets, y, logits);
                        Softmax(logits, count, width, channels, scratch.AsSpan(0, width), scratch.AsSpan(width, width));
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(scratch);
                }
            });
        }
    }

    /// <summary>logits[p * width + x] = −Σ_channels |I(y, x) − I(neighbour p)| / (1e-8 + 0.1 σ(y, x)) for row y (times the reciprocal).</summary>
    private static unsafe void Logits(ReadOnlySpan<float> image, int channels, int height, int width, int dilationCount, (int Dy, int Dx)[] offsets, int y, Span<float> logits)
    {
        int n = height * width, count = offsets.Length;
        int reach = offsets.Max(o => Math.Abs(o.Dx));
        int innerStart = Math.Min(reach, width), innerEnd = Math.Max(innerStart, width - reach);
        int vectorEnd = Vector256.IsHardwareAccelerated ? innerStart + ((innerEnd - innerStart) / Vector256<float>.Count * Vector256<float>.Count) : innerStart;
        Span<int> rows = stackalloc int[count];
        for (int p = 0; p < count; p++)
        {
            rows[p] = Clamp(y + offsets[p].Dy, height) * width;
        }

        logits.Clear();
        fixed (float* imageStart = image)
        fixed (float* logitStart = logits)
        {
            for (int c = 0; c < channels; c++)
            {
                float* channel = imageStart + ((long)c * n);
                for (int x = innerStart; x < vectorEnd; x += Vector256<float>.Count)
                {
                    LogitsVector(channel, rows, offsets, y * width, x, width, dilationCount, logitStart);
                }

                for (int x = 0; x < width; x++)
                {
                    if (x == innerStart && vectorEnd > innerStart)
                    {
                        x = vectorEnd - 1;
                        continue;
                    }

                    LogitsScalar(channel, rows, offsets, y * width, x, width, dilationCount, logitStart);
                }
            }
        }
    }

    private static unsafe void LogitsVector(float* channel, ReadOnlySpan<int> rows, (int Dy, int Dx)[] offsets, int centreRow, int x, int width, int dilationCount, float* logits)
    {
        int count = offsets.Length, windowSize = 9 * dilationCount;
        Vector256<float> centre = Vector256.Load(channel + centreRow + x);
        Vector256<float> sum = centre * dilationCount;
        for (int p = 0; p < count; p++)
        {
            sum += Vector256.Load(channel + rows[p] + x + offsets[p].Dx);
        }

        Vector256<float> mean = sum / windowSize;
        Vector256<float> deviation = centre - mean;
        Vector256<float> squares = deviation * deviation * dilationCount;
        for (int p = 0; p < count; p++)
        {
            deviation = Vector256.Load(channel + rows[p] + x + offsets[p].Dx) - mean;
            squares = Vector256.FusedMultiplyAdd(deviation, deviation, squares);
        }

        Vector256<float> inverseScale = Vector256<float>.One / ((Vector256.Sqrt(squares / (windowSize - 1)) * 0.1f) + Vector256.Create(1e-8f));
        for (int p = 0; p < count; p++)
        {
            float* logit = logits + ((long)p * width) + x;
            Vector256<float> term = Vector256.Abs(centre - Vector256.Load(channel + rows[p] + x + offsets[p].Dx)) * inverseScale;
            (Vector256.Load(logit) - term).Store(logit);
        }
    }

    private static unsafe void LogitsScalar(float* channel, ReadOnlySpan<int> rows, (int Dy, int Dx)[] offsets, int centreRow, int x, int width, int dilationCount, float* logits)
    {
        int count = offsets.Length, windowSize = 9 * dilationCount;
        float centre = channel[centreRow + x];
        float sum = centre * dilationCount;
        for (int p = 0; p < count; p++)
        {
            sum += channel[rows[p] + Clamp(x + offsets[p].Dx, width)];
        }

        float mean = sum / windowSize;
        float deviation = centre - mean;
        float squares = deviation * deviation * dilationCount;
        for (int p = 0; p < count; p++)
        {
            deviation = channel[rows[p] + Clamp(x + offsets[p].Dx, width)] - mean;
            squares = MathF.FusedMultiplyAdd(deviation, deviation, squares);
        }

        float inverseScale = 1f / ((MathF.Sqrt(squares / (windowSize - 1)) * 0.1f) + 1e-8f);
        for (int p = 0; p < count; p++)
        {
            logits[((long)p * width) + x] -= MathF.Abs(centre - channel[rows[p] + Clamp(x + offsets[p].Dx, width)]) * inverseScale;
        }
    }

    /// <summary>The channel mean of each logit, then per column the softmax over the <paramref name="count"/> rows.</summary>
    private static void Softmax(Span<float> logits, int count, int width, int channels, Span<float> maximum, Span<float> total)
    {
        TensorPrimitives.Divide(logits, channels, logits);
        logits[..width].CopyTo(maximum);
        for (int p = 1; p < count; p++)
        {
            TensorPrimitives.Max(maximum, logits.Slice(p * width, width), maximum);
        }

        total.Clear();
        for (int p = 0; p < count; p++)
        {
            Span<float> logit = logits.Slice(p * width, width);
            TensorPrimitives.Subtract(logit, maximum, logit);
            TensorPrimitives.Exp(logit, logit);
            TensorPrimitives.Add(total, logit, total);
        }

        TensorPrimitives.Reciprocal(total, total);
        for (int p = 0; p < count; p++)
        {
            Span<float> logit = logits.Slice(p * width, width);
            TensorPrimitives.Multiply(logit, total, logit);
        }
    }

    private static int Clamp(int value, int size) => value < 0 ? 0 : (value >= size ? size - 1 : value);
}
