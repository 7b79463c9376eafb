using OvDiff.Core.Numerics;

namespace OvDiff.Core.Tests.Numerics;

public sealed class KMeansTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    public void WellSeparatedClusters_RecoverExactCentroidsAndInertia(int seed)
    {
        // Around (0,0), (100,0), (0,100): offsets (±1,0), (0,±1) average to the centre exactly; each point is at
        // squared distance 1 from it, so inertia = 3 clusters * 4 points * 1 = 12.
        float[][] centres = [[0, 0], [100, 0], [0, 100]];
        float[][] offsets = [[1, 0], [-1, 0], [0, 1], [0, -1]];
        var points = new List<float>();
        foreach (float[] o in offsets)
        {
            foreach (float[] c in centres)
            {
                points.Add(c[0] + o[0]);
                points.Add(c[1] + o[1]);
            }
        }

        KMeansResult result = KMeans.Fit(points.ToArray(), 12, 2, 3, seed, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(3, result.K);
        var found = Enumerable.Range(0, 3).Select(c => (result.Centroids[c * 2], result.Centroids[c * 2 + 1])).OrderBy(p => p).ToArray();
        Assert.Equal([(0f, 0f), (0f, 100f), (100f, 0f)], found);
        Assert.Equal(12.0, result.Inertia, 9);
        for (int i = 0; i < 12; i++)
        {
            // Point i belongs to centre i % 3; all of a centre's points share one label.
            Assert.Equal(result.Assignments[i % 3], result.Assignments[i]);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(11)]
    public void OneDimensional_HandComputed(int seed)
    {
        // {1,2,3} and {10,12}: means 2 and 11; inertia (1+0+1) + (1+1) = 4.
        float[] points = [10, 1, 12, 2, 3];
        KMeansResult result = KMeans.Fit(points, 5, 1, 2, seed, cancellationToken: TestContext.Current.CancellationToken);
        float[] sorted = result.Centroids.Order().ToArray();
        Assert.Equal([2f, 11f], sorted);
        Assert.Equal(4.0, result.Inertia, 9);
        Assert.Equal(result.Assignments[0], result.Assignments[2]);
        Assert.Equal(result.Assignments[1], result.Assignments[3]);
        Assert.Equal(result.Assignments[1], result.Assignments[4]);
        Assert.NotEqual(result.Assignments[0], result.Assignments[1]);
    }

    [Fact]
    public void FewerDistinctPointsThanK_ShrinksK()
    {
        float[] points = [5, 5, 7, 5, 7, -0f, 0f];
        KMeansResult result = KMeans.Fit(points, 7, 1, 5, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(3, result.K); // {5, 7, 0}: -0 and +0 are one point
        Assert.Equal([0f, 5f, 7f], result.Centroids.Order().ToArray());
        Assert.Equal(0.0, result.Inertia);
    }

    [Fact]
    public void CancelledToken_StopsTheSeedingAndTheIterations()
    {
        float[] points = [0, 1, 2, 3, 10, 11];
        var cancelled = new CancellationToken(canceled: true);
        Assert.Throws<OperationCanceledException>(() => KMeans.Fit(points, 6, 1, 3, cancellationToken: cancelled));   // at the second centre
        Assert.Throws<OperationCanceledException>(() => KMeans.Fit(points, 6, 1, 1, cancellationToken: cancelled));   // one centre: at the first iteration
        Assert.Equal(3, KMeans.Fit(points, 6, 1, 3, cancellationToken: CancellationToken.None).K);
    }

    [Fact]
    public void RandomData_IsDeterministic_AndAFixedPointOfLloyd()
    {
        var random = new Random(3);
        const int n = 600, d = 5, k = 6;
        float[] points = Enumerable.Range(0, n * d).Select(_ => (float)random.NextDouble()).ToArray();
        KMeansResult a = KMeans.Fit(points, n, d, k, seed: 42, tolerance: 0, cancellationToken: TestContext.Current.CancellationToken);
        KMeansResult b = KMeans.Fit(points, n, d, k, seed: 42, tolerance: 0, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(a.Centroids, b.Centroids);
        Assert.Equal(a.Assignments, b.Assignments);
        Assert.True(a.Iterations < 300);

        // Converged: each point's label is its nearest centroid and each centroid is the mean of its points (float64).
        double inertia = 0;
        var sums = new double[k * d];
        var sizes = new int[k];
        for (int i = 0; i < n; i++)
        {
            double[] dist = new double[k];
            for (int c = 0; c < k; c++)
            {
                for (int j = 0; j < d; j++)
                {
                    double diff = points[i * d + j] - a.Centroids[c * d + j];
                    dist[c] += diff * diff;
                }
            }

            Assert.True(dist[a.Assignments[i]] <= dist.Min() + 1e-5);
            inertia += dist[a.Assignments[i]];
            sizes[a.Assignments[i]]++;
            for (int j = 0; j < d; j++)
            {
                sums[a.Assignments[i] * d + j] += points[i * d + j];
            }
        }

        Assert.Equal(inertia, a.Inertia, 6);
        for (int c = 0; c < k; c++)
        {
            Assert.True(sizes[c] > 0);
            for (int j = 0; j < d; j++)
            {
                Assert.Equal(sums[c * d + j] / sizes[c], a.Centroids[c * d + j], 5);
            }
        }
    }

    [Fact]
    public void EmptyCluster_IsReseededFromFarthestPoint()
    {
        // Points 0, 1, 10 all assigned to cluster 0 (centroid 0.5 previously): squared distances .25, .25, 90.25.
        // Cluster 1 is empty -> takes point 10 (farthest); cluster 0 becomes mean(0, 1) = 0.5.
        float[] points = [0, 1, 10];
        int[] assignments = [0, 0, 0];
        float[] distances = [0.25f, 0.25f, 90.25f];
        float[] centroids = [0.5f, 123f];
        KMeans.UpdateCentroids(points, 3, 1, 2, assignments, distances, new double[2], new long[2], centroids);
        Assert.Equal([0.5f, 10f], centroids);
        Assert.Equal([0, 0, 1], assignments);
    }
}
