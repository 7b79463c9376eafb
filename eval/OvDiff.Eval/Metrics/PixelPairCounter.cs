using System.Runtime.Intrinsics;

namespace OvDiff.Eval.Metrics;

/// <summary>Which map held a label outside the class range.</summary>
public enum LabelSource
{
    /// <summary>The ground truth.</summary>
    GroundTruth = 0,

    /// <summary>The prediction.</summary>
    Prediction = 1,
}

/// <summary>A label value outside [0, K) (and not the ignore label) found in an image, with how many pixels hold it.</summary>
/// <param name="Source">Ground truth or prediction.</param>
/// <param name="Value">The offending value.</param>
/// <param name="PixelCount">How many (scored) pixels hold it.</param>
public readonly record struct LabelRangeError(LabelSource Source, int Value, long PixelCount);

/// <summary>
/// Scores one image pair into a <see cref="ConfusionMatrix"/> quickly and safely: every pixel pair is first counted
/// in a 256×256 table (one increment per pixel, no branches), the table is then checked and folded into the K×K
/// matrix. A ground-truth value ≥ K other than the ignore label, or a predicted value ≥ K where the ground truth is
/// scored, leaves the matrix untouched and is returned as a <see cref="LabelRangeError"/>. Predictions at ignored
/// pixels are not checked (a copy of the ground truth, 255 border included, is a valid prediction).
/// Reuse one instance per thread: it holds a 256 KiB table.
/// </summary>
public sealed class PixelPairCounter
{
    private readonly int[] _pairs = new int[256 * 256];

    /// <summary>Adds the pixels of <paramref name="groundTruth"/> against <paramref name="prediction"/> to <paramref name="matrix"/>.</summary>
    /// <returns>Null when the image was counted; the first out-of-range label otherwise (nothing counted).</returns>
    public LabelRangeError? Accumulate(ReadOnlySpan<byte> groundTruth, ReadOnlySpan<byte> prediction, ConfusionMatrix matrix, int ignoreIndex)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        if (groundTruth.Length != prediction.Length)
        {
            throw new ArgumentException($"Ground truth has {groundTruth.Length} pixels, prediction {prediction.Length}.", nameof(prediction));
        }

        Span<int> pairs = _pairs;
        pairs.Clear();
        CountPairs(groundTruth, prediction, pairs);

        int classes = matrix.ClassCount;
        for (int gt = 0; gt < 256; gt++)
        {
            ReadOnlySpan<int> row = pairs.Slice(gt << 8, 256);
            if (gt == ignoreIndex || !row.ContainsAnyExcept(0))
            {
                continue;
            }

            if (gt >= classes)
            {
                return new LabelRangeError(LabelSource.GroundTruth, gt, Sum(row));
            }

            int badPrediction = row[classes..].IndexOfAnyExcept(0);
            if (badPrediction >= 0)
            {
                int value = classes + badPrediction;
                return new LabelRangeError(LabelSource.Prediction, value, CountPredicted(pairs, value, classes));
            }
        }

        long[] counts = matrix.Counts;
        for (int gt = 0; gt < classes; gt++)
        {
            ReadOnlySpan<int> row = pairs.Slice(gt << 8, classes);
            int offset = gt * classes;
            for (int pred = 0; pred < classes; pred++)
            {
                counts[offset + pred] += row[pred];
            }
        }

        return null;
    }

    /// <summary>
    /// pairs[(gt &lt;&lt; 8) | pred] += 1 for every pixel. Label maps are made of long runs, so the count is kept in a
    /// register while the pair repeats, and whole 32-pixel blocks equal to the current pair are added at once.
    /// </summary>
    private static void CountPairs(ReadOnlySpan<byte> groundTruth, ReadOnlySpan<byte> prediction, Span<int> pairs)
    {
        if (groundTruth.IsEmpty)
        {
            return;
        }

        int current = (groundTruth[0] << 8) | prediction[0];
        int run = 0;
        int i = 0;
        int blockSize = Vector256<byte>.Count;
        if (Vector256.IsHardwareAccelerated)
        {
            while (i <= groundTruth.Length - blockSize)
            {
                var gt = Vector256.Create(groundTruth.Slice(i, blockSize));
                var pred = Vector256.Create(prediction.Slice(i, blockSize));
                if (gt == Vector256.Create((byte)(current >> 8)) && pred == Vector256.Create((byte)current))
                {
                    run += blockSize;
                    i += blockSize;
                    continue;
                }

                CountRuns(groundTruth, prediction, i, i + blockSize, pairs, ref current, ref run);
                i += blockSize;
            }
        }

        CountRuns(groundTruth, prediction, i, groundTruth.Length, pairs, ref current, ref run);
        pairs[current] += run;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void CountRuns(ReadOnlySpan<byte> groundTruth, ReadOnlySpan<byte> prediction, int start, int end, Span<int> pairs, ref int current, ref int run)
    {
        for (int i = start; i < end; i++)
        {
            int pair = (groundTruth[i] << 8) | prediction[i];
            if (pair != current)
            {
                pairs[current] += run;
                current = pair;
                run = 0;
            }

            run++;
        }
    }

    private static long Sum(ReadOnlySpan<int> row)
    {
        long total = 0;
        foreach (int count in row)
        {
            total += count;
        }

        return total;
    }

    private static long CountPredicted(ReadOnlySpan<int> pairs, int value, int classes)
    {
        long total = 0;
        for (int gt = 0; gt < classes; gt++)
        {
            total += pairs[(gt << 8) | value];
        }

        return total;
    }
}
