namespace OvDiff.Eval.Metrics;

/// <summary>
/// Pixel counts per (ground-truth class, predicted class) pair over a whole dataset, as <c>long</c>: row = ground
/// truth, column = prediction, <c>Counts[gt * ClassCount + pred]</c>. Pixels whose ground truth is the ignore label are
/// not counted. Sums of matrices are exact, so shards merge into the same numbers as one run.
/// </summary>
public sealed class ConfusionMatrix
{
    /// <summary>Creates an all-zero matrix for <paramref name="classCount"/> classes (1 to 255).</summary>
    public ConfusionMatrix(int classCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(classCount, 255);
        ClassCount = classCount;
        Counts = new long[classCount * classCount];
    }

    /// <summary>Creates a matrix over existing counts (length classCount²); the array is copied.</summary>
    public ConfusionMatrix(int classCount, ReadOnlySpan<long> counts)
        : this(classCount)
    {
        if (counts.Length != Counts.Length)
        {
            throw new ArgumentException($"Expected {Counts.Length} counts for {classCount} classes, got {counts.Length}.", nameof(counts));
        }

        counts.CopyTo(Counts);
    }

    /// <summary>Number of classes K.</summary>
    public int ClassCount { get; }

    /// <summary>The K×K counts, row-major, row = ground truth.</summary>
    public long[] Counts { get; }

    /// <summary>Pixels of ground-truth class <paramref name="groundTruth"/> predicted as <paramref name="prediction"/>.</summary>
    public long this[int groundTruth, int prediction] => Counts[(groundTruth * ClassCount) + prediction];

    /// <summary>Total counted pixels.</summary>
    public long Total => Counts.Sum();

    /// <summary>Adds <paramref name="other"/>'s counts to these.</summary>
    public void Add(ConfusionMatrix other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.ClassCount != ClassCount)
        {
            throw new ArgumentException($"Cannot add a {other.ClassCount}-class matrix to a {ClassCount}-class one.", nameof(other));
        }

        for (int i = 0; i < Counts.Length; i++)
        {
            Counts[i] += other.Counts[i];
        }
    }

    /// <summary>Sets every count to zero (to reuse the matrix for the next image).</summary>
    public void Clear() => Array.Clear(Counts);

    /// <summary>Adds one count for each (gt, pred) pair; <see cref="PixelPairCounter"/> is the fast path for whole images.</summary>
    public void Add(int groundTruth, int prediction, long count = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(groundTruth);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(groundTruth, ClassCount);
        ArgumentOutOfRangeException.ThrowIfNegative(prediction);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(prediction, ClassCount);
        Counts[(groundTruth * ClassCount) + prediction] += count;
    }
}
