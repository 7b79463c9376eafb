namespace OvDiff.Core.Numerics;

/// <summary>Parallel loops over index ranges of a read-only float span (spans cannot be captured by lambdas).</summary>
internal static class SpanParallel
{
    /// <summary>Below this much total work (items x work per item) the loop runs on the calling thread.</summary>
    private const long Threshold = 1L << 20;

    /// <summary>
    /// The threshold for loops whose work per item is counted in output values of a few operations each (resampling
    /// and labelling rows): below this many values a loop runs on the calling thread.
    /// </summary>
    public const long OutputValuesThreshold = 1L << 16;

    /// <summary>The body of one range [start, end) over the shared data.</summary>
    public delegate void RangeBody(ReadOnlySpan<float> data, int start, int end);

    /// <summary>
    /// Runs <paramref name="body"/> over [0, count) in contiguous chunks (four per core), in parallel when the work
    /// (count x <paramref name="workPerItem"/>) reaches <paramref name="threshold"/> (default 2^20).
    /// </summary>
    public static unsafe void For(ReadOnlySpan<float> data, int count, long workPerItem, RangeBody body, long threshold = Threshold)
    {
        int workers = Environment.ProcessorCount;
        if (count * workPerItem < threshold || workers == 1 || count < 2)
        {
            body(data, 0, count);
            return;
        }

        int chunks = Math.Min(count, workers * 4);
        int chunkSize = (count + chunks - 1) / chunks;
        int length = data.Length;
        fixed (float* pointer = data)
        {
            nint address = (nint)pointer;
            Parallel.For(0, (count + chunkSize - 1) / chunkSize, chunk =>
            {
                int start = chunk * chunkSize;
                body(new ReadOnlySpan<float>((float*)address, length), start, Math.Min(count, start + chunkSize));
            });
        }
    }
}
