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
        for (int i = 0; i < groundTruth.Length; i++)
        {
            pairs[(groundTruth[i] << 8) | prediction[i]]++;
        }

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
