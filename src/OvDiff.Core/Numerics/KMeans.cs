using System.Numerics;
using System.Numerics.Tensors;

namespace OvDiff.Core.Numerics;

/// <summary>The outcome of <see cref="KMeans.Fit"/>.</summary>
/// <param name="Centroids">K x Dimension, row-major.</param>
/// <param name="K">Number of clusters actually formed.</param>
/// <param name="Dimension">Point dimension.</param>
/// <param name="Assignments">The centroid index of each point.</param>
/// <param name="Iterations">Lloyd iterations run.</param>
/// <param name="Inertia">Sum of squared distances of points to their centroid (float64).</param>
public sealed record KMeansResult(float[] Centroids, int K, int Dimension, int[] Assignments, int Iterations, double Inertia);

/// <summary>
/// Euclidean k-means (Lloyd) with k-means++ seeding, deterministic for a seed (like sklearn's KMeans): sklearn's greedy
/// k-means++ (first centre uniform, then 2 + ⌊ln k⌋ candidates per step drawn ∝ D², keeping the one that lowers the
/// potential most), driven by <c>new Random(seed)</c>. Empty clusters are re-seeded with the points farthest from their
/// centroids (as sklearn's relocation). A final assignment step makes <see cref="KMeansResult.Assignments"/> and
/// <see cref="KMeansResult.Inertia"/> consistent with the returned centroids.
/// </summary>
public static class KMeans
{
    // Points per block of the distance computation (block x k distances live at once).
    private const int BlockRows = 4096;

    /// <summary>
    /// Clusters <paramref name="count"/> points of <paramref name="dimension"/> floats (row-major in <paramref name="points"/>)
    /// into at most <paramref name="k"/> clusters. When there are fewer distinct points than k, k shrinks to that number.
    /// Stops when no assignment changes or the centroid shift (sum of squared moves) falls below <paramref name="tolerance"/>
    /// times the mean per-dimension variance, or after <paramref name="maxIterations"/>. <paramref name="cancellationToken"/>
    /// is checked at each seeded centre and each iteration (tens of thousands of parts take minutes).
    /// </summary>
    public static KMeansResult Fit(ReadOnlySpan<float> points, int count, int dimension, int k, int seed = 0, int maxIterations = 300, double tolerance = 1e-4, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        ArgumentOutOfRangeException.ThrowIfNegative(maxIterations);
        ArgumentOutOfRangeException.ThrowIfNegative(tolerance);
        if ((long)count * dimension > points.Length)
        {
            throw new ArgumentException($"points needs {(long)count * dimension} values, has {points.Length}.", nameof(points));
        }

        points = points[..(count * dimension)];
        k = Math.Min(k, CountDistinct(points, count, dimension, k));
        var random = new Random(seed);
        float[] centroids = Seed(points, count, dimension, k, random, cancellationToken);

        double toleranceAbsolute = tolerance * MeanVariance(points, count, dimension);
        int[] assignments = new int[count];
        float[] distances = new float[count];
        float[] previous = new float[centroids.Length];
        double[] sums = new double[centroids.Length];
        long[] sizes = new long[k];
        Array.Fill(assignments, -1);
        int iterations = 0;
        while (iterations < maxIterations)
        {
            cancellationToken.ThrowIfCancellationRequested();
            bool changed = Assign(points, count, dimension, centroids, k, assignments, distances);
            if (!changed && iterations > 0)
            {
                break;
            }

            iterations++;
            centroids.CopyTo(previous, 0);
            UpdateCentroids(points, count, dimension, k, assignments, distances, sums, sizes, centroids);
            double shift = 0;
            for (int i = 0; i < centroids.Length; i++)
            {
                double move = (double)centroids[i] - previous[i];
                shift += move * move;
            }

            if (shift <= toleranceAbsolute)
            {
                break;
            }
        }

        Assign(points, count, dimension, centroids, k, assignments, distances);
        double inertia = 0;
        for (int i = 0; i < count; i++)
        {
            inertia += SquaredDistance(points.Slice(i * dimension, dimension), centroids.AsSpan(assignments[i] * dimension, dimension));
        }

        return new KMeansResult(centroids, k, dimension, assignments, iterations, inertia);
    }

    /// <summary>Float64 squared Euclidean distance.</summary>
    internal static double SquaredDistance(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double d = (double)x[i] - y[i];
            sum += d * d;
        }

        return sum;
    }

    // Distinct rows, counted up to limit (enough to know whether k must shrink).
    private static int CountDistinct(ReadOnlySpan<float> points, int count, int dimension, int limit)
    {
        var buckets = new Dictionary<int, List<int>>();
        int distinct = 0;
        for (int i = 0; i < count && distinct < limit; i++)
        {
            ReadOnlySpan<float> row = points.Slice(i * dimension, dimension);
            var hash = new HashCode();
            foreach (float v in row)
            {
                hash.Add(v == 0f ? 0f : v); // -0 and +0 are the same point
            }

            int key = hash.ToHashCode();
            if (!buckets.TryGetValue(key, out List<int>? rows))
            {
                buckets[key] = [i];
                distinct++;
                continue;
            }

            bool seen = false;
            foreach (int j in rows)
            {
                if (TensorPrimitives.Distance(row, points.Slice(j * dimension, dimension)) == 0f)
                {
                    seen = true;
                    break;
                }
            }

            if (!seen)
            {
                rows.Add(i);
                distinct++;
            }
        }

        return distinct;
    }

    // sklearn _kmeans_plusplus: greedy with 2 + floor(ln k) local trials. Distances are float32 (‖x − c‖ via
    // TensorPrimitives.Distance, exactly 0 for a point equal to a centre); potentials are float64 sums in index order.
    private static float[] Seed(ReadOnlySpan<float> points, int count, int dimension, int k, Random random, CancellationToken cancellationToken)
    {
        float[] centroids = new float[k * dimension];
        int trials = 2 + (int)Math.Log(k);
        int first = random.Next(count);
        points.Slice(first * dimension, dimension).CopyTo(centroids);
        float[] closest = new float[count];
        float[] candidateDistances = new float[trials * count];
        int[] candidates = new int[trials];
        candidates[0] = first;
        CandidateDistances(points, count, dimension, candidates.AsSpan(0, 1), null, candidateDistances);
        candidateDistances.AsSpan(0, count).CopyTo(closest);

        double[] cumulative = new double[count];
        for (int c = 1; c < k; c++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            double running = 0;
            for (int i = 0; i < count; i++)
            {
                running += closest[i];
                cumulative[i] = running;
            }

            for (int t = 0; t < trials; t++)
            {
                candidates[t] = Sample(cumulative, random.NextDouble() * running);
            }

            CandidateDistances(points, count, dimension, candidates, closest, candidateDistances);
            int best = 0;
            double bestPotential = double.PositiveInfinity;
            for (int t = 0; t < trials; t++)
            {
                double potential = 0;
                foreach (float d in candidateDistances.AsSpan(t * count, count))
                {
                    potential += d;
                }

                if (potential < bestPotential)
                {
                    bestPotential = potential;
                    best = t;
                }
            }

            points.Slice(candidates[best] * dimension, dimension).CopyTo(centroids.AsSpan(c * dimension));
            candidateDistances.AsSpan(best * count, count).CopyTo(closest);
        }

        return centroids;
    }

    // output[t * count + i] = min(closest[i], ‖x_i − x_candidate[t]‖²) (no min when closest is null). Each point row is
    // read once per group of 4 candidates: (x − c)² accumulated in vectors, exactly 0 for a point equal to a candidate.
    private static void CandidateDistances(ReadOnlySpan<float> points, int count, int dimension, ReadOnlySpan<int> candidates, float[]? closest, float[] output)
    {
        int[] ids = candidates.ToArray();
        SpanParallel.For(points, count, (long)dimension * ids.Length, (data, start, end) =>
        {
            Span<float> distances = stackalloc float[4];
            for (int t0 = 0; t0 < ids.Length; t0 += 4)
            {
                int group = Math.Min(4, ids.Length - t0);
                ReadOnlySpan<float> c0 = data.Slice(ids[t0] * dimension, dimension);
                ReadOnlySpan<float> c1 = data.Slice(ids[t0 + Math.Min(1, group - 1)] * dimension, dimension);
                ReadOnlySpan<float> c2 = data.Slice(ids[t0 + Math.Min(2, group - 1)] * dimension, dimension);
                ReadOnlySpan<float> c3 = data.Slice(ids[t0 + Math.Min(3, group - 1)] * dimension, dimension);
                for (int i = start; i < end; i++)
                {
                    SquaredDistances4(data.Slice(i * dimension, dimension), c0, c1, c2, c3, distances);
                    for (int g = 0; g < group; g++)
                    {
                        output[((t0 + g) * count) + i] = closest is null ? distances[g] : MathF.Min(closest[i], distances[g]);
                    }
                }
            }
        });
    }

    private static void SquaredDistances4(ReadOnlySpan<float> x, ReadOnlySpan<float> c0, ReadOnlySpan<float> c1, ReadOnlySpan<float> c2, ReadOnlySpan<float> c3, Span<float> result)
    {
        int width = Vector<float>.Count;
        Vector<float> s0 = Vector<float>.Zero, s1 = Vector<float>.Zero, s2 = Vector<float>.Zero, s3 = Vector<float>.Zero;
        int d = 0;
        for (; d <= x.Length - width; d += width)
        {
            var xv = new Vector<float>(x[d..]);
            Vector<float> e0 = xv - new Vector<float>(c0[d..]);
            Vector<float> e1 = xv - new Vector<float>(c1[d..]);
            Vector<float> e2 = xv - new Vector<float>(c2[d..]);
            Vector<float> e3 = xv - new Vector<float>(c3[d..]);
            s0 = Vector.FusedMultiplyAdd(e0, e0, s0);
            s1 = Vector.FusedMultiplyAdd(e1, e1, s1);
            s2 = Vector.FusedMultiplyAdd(e2, e2, s2);
            s3 = Vector.FusedMultiplyAdd(e3, e3, s3);
        }

        float r0 = Vector.Sum(s0), r1 = Vector.Sum(s1), r2 = Vector.Sum(s2), r3 = Vector.Sum(s3);
        for (; d < x.Length; d++)
        {
            float e0 = x[d] - c0[d], e1 = x[d] - c1[d], e2 = x[d] - c2[d], e3 = x[d] - c3[d];
            r0 += e0 * e0;
            r1 += e1 * e1;
            r2 += e2 * e2;
            r3 += e3 * e3;
        }

        result[0] = r0;
        result[1] = r1;
        result[2] = r2;
        result[3] = r3;
    }

    // First index whose cumulative weight exceeds r (so a zero-weight point, already a centre, is never drawn while r < total).
    private static int Sample(double[] cumulative, double r)
    {
        int lo = 0, hi = cumulative.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (cumulative[mid] > r)
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        return lo;
    }

    private static double MeanVariance(ReadOnlySpan<float> points, int count, int dimension)
    {
        double total = 0;
        double[] mean = new double[dimension];
        for (int i = 0; i < count; i++)
        {
            for (int d = 0; d < dimension; d++)
            {
                mean[d] += points[(i * dimension) + d];
            }
        }

        for (int d = 0; d < dimension; d++)
        {
            mean[d] /= count;
        }

        for (int i = 0; i < count; i++)
        {
            for (int d = 0; d < dimension; d++)
            {
                double v = points[(i * dimension) + d] - mean[d];
                total += v * v;
            }
        }

        return total / count / dimension;
    }

    // Nearest centroid of every point via ‖x‖² − 2 x·c + ‖c‖² (blocked A·Bᵀ); distances[i] gets the squared distance.
    private static bool Assign(ReadOnlySpan<float> points, int count, int dimension, float[] centroids, int k, int[] assignments, float[] distances)
    {
        float[] centroidNorms = new float[k];
        for (int c = 0; c < k; c++)
        {
            ReadOnlySpan<float> centroid = centroids.AsSpan(c * dimension, dimension);
            centroidNorms[c] = TensorPrimitives.Dot(centroid, centroid);
        }

        bool changed = false;
        int block = Math.Min(BlockRows, count);
        float[] products = new float[block * k];
        for (int start = 0; start < count; start += block)
        {
            int rows = Math.Min(block, count - start);
            ReadOnlySpan<float> chunk = points.Slice(start * dimension, rows * dimension);
            Matrix.MultiplyByTransposed(chunk, rows, centroids, k, dimension, products);
            for (int r = 0; r < rows; r++)
            {
                ReadOnlySpan<float> row = products.AsSpan(r * k, k);
                int best = 0;
                float bestValue = centroidNorms[0] - (2f * row[0]);
                for (int c = 1; c < k; c++)
                {
                    float value = centroidNorms[c] - (2f * row[c]);
                    if (value < bestValue)
                    {
                        bestValue = value;
                        best = c;
                    }
                }

                int i = start + r;
                ReadOnlySpan<float> point = chunk.Slice(r * dimension, dimension);
                distances[i] = MathF.Max(0f, TensorPrimitives.Dot(point, point) + bestValue);
                changed |= assignments[i] != best;
                assignments[i] = best;
            }
        }

        return changed;
    }

    // Means of the assigned points (float64 sums); empty clusters take the farthest points from their centroids.
    internal static void UpdateCentroids(ReadOnlySpan<float> points, int count, int dimension, int k, int[] assignments, float[] distances, double[] sums, long[] sizes, float[] centroids)
    {
        Array.Clear(sums);
        Array.Clear(sizes);
        for (int i = 0; i < count; i++)
        {
            int c = assignments[i];
            sizes[c]++;
            Span<double> sum = sums.AsSpan(c * dimension, dimension);
            ReadOnlySpan<float> point = points.Slice(i * dimension, dimension);
            for (int d = 0; d < dimension; d++)
            {
                sum[d] += point[d];
            }
        }

        int empty = 0;
        for (int c = 0; c < k; c++)
        {
            empty += sizes[c] == 0 ? 1 : 0;
        }

        if (empty > 0)
        {
            // Farthest points first (stable by index for determinism); move each to an empty cluster.
            int[] order = Enumerable.Range(0, count).ToArray();
            Array.Sort(order, (x, y) => distances[y] != distances[x] ? distances[y].CompareTo(distances[x]) : x.CompareTo(y));
            int next = 0;
            for (int c = 0; c < k && next < count; c++)
            {
                if (sizes[c] != 0)
                {
                    continue;
                }

                int i = order[next++];
                int old = assignments[i];
                ReadOnlySpan<float> point = points.Slice(i * dimension, dimension);
                Span<double> oldSum = sums.AsSpan(old * dimension, dimension);
                Span<double> newSum = sums.AsSpan(c * dimension, dimension);
                for (int d = 0; d < dimension; d++)
                {
                    oldSum[d] -= point[d];
                    newSum[d] = point[d];
                }

                sizes[old]--;
                sizes[c] = 1;
                assignments[i] = c;
                distances[i] = 0f;
            }
        }

        for (int c = 0; c < k; c++)
        {
            if (sizes[c] == 0)
            {
                continue; // only when a relocation emptied a singleton: keep the old centroid
            }

            Span<float> centroid = centroids.AsSpan(c * dimension, dimension);
            ReadOnlySpan<double> sum = sums.AsSpan(c * dimension, dimension);
            for (int d = 0; d < dimension; d++)
            {
                centroid[d] = (float)(sum[d] / sizes[c]);
            }
        }
    }
}
