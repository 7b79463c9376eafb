namespace OvDiff.Core.Numerics;

/// <summary>Dense row-major float matrix kernels used by prototype matching and clustering.</summary>
public static class Matrix
{
    /// <summary>
    /// L2-normalises each of the <paramref name="rows"/> rows (length <paramref name="cols"/>) of <paramref name="matrix"/> in place.
    /// A row whose norm is below <paramref name="epsilon"/> is divided by <paramref name="epsilon"/> (so an all-zero row stays zero).
    /// </summary>
    public static void NormalizeRows(Span<float> matrix, int rows, int cols, float epsilon = 1e-12f) => throw new NotImplementedException();

    /// <summary>
    /// result[i * rowsB + j] = dot(a row i, b row j) for a (rowsA x cols) and b (rowsB x cols), both row-major:
    /// the product A·Bᵀ. With unit rows this is the cosine-similarity matrix. Blocked and vectorised; uses all cores
    /// when the product is large.
    /// </summary>
    public static void MultiplyByTransposed(ReadOnlySpan<float> a, int rowsA, ReadOnlySpan<float> b, int rowsB, int cols, Span<float> result) => throw new NotImplementedException();
}
