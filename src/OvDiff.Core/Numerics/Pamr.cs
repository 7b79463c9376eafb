using System.Numerics.Tensors;

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
        float[] affinity = Affinities(image, imageChannels, height, width, options.Dilations, offsets);
        int n = (int)plane;
        int count = offsets.Length;

        // One pass per iteration over rows; each row's affinities (count x width, contiguous) serve every class while
        // they are in cache. Rows are independent within a pass, so large maps run them in parallel.
        float[] next = new float[(long)classes * n];
        for (int it = 0; it < options.Iterations; it++)
        {
            SpanParallel.For(scores[..(classes * n)], height, (long)classes * count * width, (masks, firstRow, endRow) =>
            {
                for (int y = firstRow; y < endRow; y++)
                {
                    ReadOnlySpan<float> rowAffinity = affinity.AsSpan(y * count * width, count * width);
                    for (int c = 0; c < classes; c++)
                    {
                        PropagateRow(masks.Slice(c * n, n), next.AsSpan((c * n) + (y * width), width), rowAffinity, offsets, y, height, width);
                    }
                }
            });
            next.AsSpan().CopyTo(scores);
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

    // affinity[(y * count + p) * width + x]: softmax over p of the channel-mean logits (see the class summary).
    private static float[] Affinities(ReadOnlySpan<float> image, int channels, int height, int width, IReadOnlyList<int> dilations, (int Dy, int Dx)[] offsets)
    {
        int n = height * width;
        int count = offsets.Length;
        float[] affinity = new float[(long)count * n];
        int windowSize = 9 * dilations.Count;
        int dilationCount = dilations.Count;
        SpanParallel.For(image, height, (long)width * count * channels * 3, (img0, firstRow, endRow) =>
        {
            Span<double> logits = stackalloc double[count];
            for (int y = firstRow; y < endRow; y++)
            {
                AffinityRow(img0, channels, height, width, dilationCount, windowSize, offsets, y, logits, affinity);
            }
        });
        return affinity;
    }

    private static void AffinityRow(ReadOnlySpan<float> image, int channels, int height, int width, int dilationCount, int windowSize, (int Dy, int Dx)[] offsets, int y, Span<double> logits, float[] affinity)
    {
        int n = height * width;
        int count = offsets.Length;
        for (int x = 0; x < width; x++)
        {
            int i = (y * width) + x;
            logits.Clear();
            for (int c = 0; c < channels; c++)
            {
                ReadOnlySpan<float> img = image.Slice(c * n, n);
                double centre = img[i];

                // Unbiased std over the dilated windows: the centre once per dilation plus every neighbour.
                double sum = centre * dilationCount, sumSq = 0;
                for (int p = 0; p < count; p++)
                {
                    sum += img[Clamp(y + offsets[p].Dy, height) * width + Clamp(x + offsets[p].Dx, width)];
                }

                double mean = sum / windowSize;
                sumSq = (centre - mean) * (centre - mean) * dilationCount;
                for (int p = 0; p < count; p++)
                {
                    double v = img[Clamp(y + offsets[p].Dy, height) * width + Clamp(x + offsets[p].Dx, width)] - mean;
                    sumSq += v * v;
                }

                float std = (float)Math.Sqrt(sumSq / (windowSize - 1));
                float scale = 1e-8f + (0.1f * std);
                for (int p = 0; p < count; p++)
                {
                    float v = img[Clamp(y + offsets[p].Dy, height) * width + Clamp(x + offsets[p].Dx, width)];
                    logits[p] += -MathF.Abs((float)centre - v) / scale;
                }
            }

            double max = double.NegativeInfinity;
            for (int p = 0; p < count; p++)
            {
                logits[p] /= channels;
                max = Math.Max(max, logits[p]);
            }

            double total = 0;
            for (int p = 0; p < count; p++)
            {
                logits[p] = Math.Exp(logits[p] - max);
                total += logits[p];
            }

            for (int p = 0; p < count; p++)
            {
                affinity[((((long)y * count) + p) * width) + x] = (float)(logits[p] / total);
            }
        }
    }

    // output[x] = sum_p affinity[p, x] * mask[clamped neighbour p of (y, x)] for one row; vectorised over the unclamped x range.
    private static void PropagateRow(ReadOnlySpan<float> mask, Span<float> output, ReadOnlySpan<float> rowAffinity, (int Dy, int Dx)[] offsets, int y, int height, int width)
    {
        output.Clear();
        for (int p = 0; p < offsets.Length; p++)
        {
            (int dy, int dx) = offsets[p];
            ReadOnlySpan<float> aff = rowAffinity.Slice(p * width, width);
            ReadOnlySpan<float> source = mask.Slice(Clamp(y + dy, height) * width, width);
            int lo = Math.Clamp(-dx, 0, width), hi = Math.Clamp(width - dx, lo, width);
            for (int x = 0; x < lo; x++)
            {
                output[x] += aff[x] * source[Clamp(x + dx, width)];
            }

            if (hi > lo)
            {
                Span<float> target = output[lo..hi];
                TensorPrimitives.FusedMultiplyAdd(aff[lo..hi], source.Slice(lo + dx, hi - lo), target, target);
            }

            for (int x = hi; x < width; x++)
            {
                output[x] += aff[x] * source[Clamp(x + dx, width)];
            }
        }
    }

    private static int Clamp(int value, int size) => value < 0 ? 0 : (value >= size ? size - 1 : value);
}
