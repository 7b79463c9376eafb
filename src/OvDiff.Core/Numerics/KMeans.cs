namespace OvDiff.Core.Numerics;

/// <summary>The outcome of <see cref="KMeans.Fit"/>.</summary>
/// <param name="Centroids">K x Dimension, row-major.</param>
/// <param name="K">Number of clusters actually formed.</param>
/// <param name="Dimension">Point dimension.</param>
/// <param name="Assignments">The centroid index of each point.</param>
/// <param name="Iterations">Lloyd iterations run.</param>
/// <param name="Inertia">Sum of squared distances of points to their centroid (float64).</param>
public sealed record KMeansResult(float[] Centroids, int K, int Dimension, int[] Assignments, int Iterations, double Inertia);

/// <summary>Euclidean k-means (Lloyd) with k-means++ seeding, deterministic for a seed (like sklearn's KMeans).</summary>
public static class KMeans
{
    /// <summary>
    /// Clusters <paramref name="count"/> points of <paramref name="dimension"/> floats (row-major in <paramref name="points"/>)
    /// into at most <paramref name="k"/> clusters. When there are fewer distinct points than k, k shrinks to that number.
    /// Stops when no assignment changes or the centroid shift (sum of squared moves) falls below <paramref name="tolerance"/>
    /// times the mean per-dimension variance, or after <paramref name="maxIterations"/>.
    /// </summary>
    public static KMeansResult Fit(ReadOnlySpan<float> points, int count, int dimension, int k, int seed = 0, int maxIterations = 300, double tolerance = 1e-4) => throw new NotImplementedException();
}
