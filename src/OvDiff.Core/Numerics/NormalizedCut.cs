using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using OvDiff.Core.Features;

namespace OvDiff.Core.Numerics;

/// <summary>Options of the TokenCut / MaskCut normalised cut (defaults as in CutLER's MaskCut).</summary>
public sealed record NormalizedCutOptions
{
    /// <summary>Affinity threshold τ: W_ij = 1 where cos(f_i, f_j) &gt; τ, else <see cref="Epsilon"/>. Default 0.15 (MaskCut).</summary>
    public float Tau { get; init; } = 0.15f;

    /// <summary>Affinity given to pairs at or below τ. Default 1e-5.</summary>
    public float Epsilon { get; init; } = 1e-5f;

    /// <summary>
    /// Lanczos steps per run (capped at the number of cells − 1, where the solve is exact). Default 60. When the Ritz
    /// residual is still above 1e-6 the run restarts from its Ritz vector, at most <see cref="LanczosRestarts"/> times.
    /// </summary>
    public int LanczosIterations { get; init; } = 60;

    /// <summary>Explicit restarts of the Lanczos run when it has not converged. Default 4.</summary>
    public int LanczosRestarts { get; init; } = 4;

    /// <summary>
    /// Flip the partition when at least this many of the 4 grid corners fall in the foreground. Default 3, as CutLER's
    /// MaskCut (<c>nc &gt;= 3</c>); TokenCut has no corner rule (use 5 to disable it).
    /// </summary>
    public int CornerFlipThreshold { get; init; } = 3;

    /// <summary>Keep only the connected component of the foreground that contains the seed. Default true.</summary>
    public bool KeepSeedComponent { get; init; } = true;
}

/// <summary>One foreground/background bipartition of a feature grid.</summary>
/// <param name="Foreground">Per grid cell, true where foreground.</param>
/// <param name="Eigenvector">
/// The second generalised eigenvector of (D − W, D), D-normalised (yᵀ D y = 1, as scipy's eigh), sign-aligned so the
/// foreground side is the one above the mean; 0 at excluded cells.
/// </param>
/// <param name="SeedIndex">
/// The cell with the largest sign-aligned eigenvector value (MaskCut's seed after the flip decision); −1 when fewer than
/// two cells take part.
/// </param>
public sealed record NormalizedCutResult(bool[] Foreground, float[] Eigenvector, int SeedIndex);

/// <summary>
/// Training-free foreground discovery by normalised cut on dense features (TokenCut; MaskCut repeats it).
/// The second generalised eigenvector of (D − W) y = λ D y is D^-1/2 u with u the second largest eigenvector of
/// D^-1/2 W D^-1/2, found by Lanczos (full reorthogonalisation, float64) with the known top eigenvector √d deflated.
/// W is held explicitly: dense float for up to <see cref="DenseLimit"/> cells, else as a bit matrix of the threshold
/// test (W = ε + (1 − ε)·B), so no cell-pair similarity is ever recomputed.
/// </summary>
public static class NormalizedCut
{
    /// <summary>Largest number of participating cells for which W is stored as dense floats (4096² floats = 64 MiB).</summary>
    public const int DenseLimit = 4096;

    private const double ResidualTolerance = 1e-6;

    /// <summary>
    /// Splits the grid at the mean of the second generalised eigenvector; the side of the seed argmax |v| is foreground,
    /// unless that side covers at least <see cref="NormalizedCutOptions.CornerFlipThreshold"/> grid corners, in which case
    /// the other side is; the final seed is the argmax of the sign-aligned vector and only its 4-connected component is
    /// kept. (CutLER's MaskCut tests the corners of the above-mean side before looking at the seed, so its corner rule only
    /// acts for one sign of the eigenvector; this order gives the same answer for both signs.) Cells where <paramref name="exclude"/> is true (if given) take no
    /// part: their rows and columns of W are removed (not MaskCut's zeroed features, which leave them an ε affinity), the
    /// mean is over the remaining cells, and they are never foreground.
    /// </summary>
    public static NormalizedCutResult Bipartition(FeatureMap features, NormalizedCutOptions? options = null, ReadOnlySpan<bool> exclude = default) =>
        Bipartition(features, options, exclude, forceBitAffinity: false);

    /// <summary>As the public overload; <paramref name="forceBitAffinity"/> uses the bit-matrix W at any size (for tests).</summary>
    internal static NormalizedCutResult Bipartition(FeatureMap features, NormalizedCutOptions? options, ReadOnlySpan<bool> exclude, bool forceBitAffinity)
    {
        ArgumentNullException.ThrowIfNull(features);
        options ??= new NormalizedCutOptions();
        int total = checked((int)features.CellCount);
        if (!exclude.IsEmpty && exclude.Length != total)
        {
            throw new ArgumentException($"exclude needs one value per cell ({total}), has {exclude.Length}.", nameof(exclude));
        }

        var included = new List<int>(total);
        for (int i = 0; i < total; i++)
        {
            if (exclude.IsEmpty || !exclude[i])
            {
                included.Add(i);
            }
        }

        int[] cells = included.ToArray();
        int n = cells.Length;
        bool[] foreground = new bool[total];
        float[] eigenvector = new float[total];
        if (n < 2)
        {
            return new NormalizedCutResult(foreground, eigenvector, -1);
        }

        int channels = features.Channels;
        float[] f = new float[(long)n * channels];
        for (int i = 0; i < n; i++)
        {
            features.Data.AsSpan(cells[i] * channels, channels).CopyTo(f.AsSpan(i * channels));
        }

        Matrix.NormalizeRows(f, n, channels);
        double[] y;
        using (IAffinity affinity = n <= DenseLimit && !forceBitAffinity
            ? DenseAffinity.Build(f, n, channels, options.Tau, options.Epsilon)
            : BitAffinity.Build(f, n, channels, options.Tau, options.Epsilon))
        {
            y = SecondGeneralisedEigenvector(affinity, n, options.LanczosIterations, options.LanczosRestarts);
        }

        double mean = y.Average();
        bool[] above = new bool[n];
        int seed = 0;
        for (int i = 0; i < n; i++)
        {
            above[i] = y[i] > mean;
            seed = Math.Abs(y[i]) > Math.Abs(y[seed]) ? i : seed;
        }

        // The seed's side first (sign-independent), then the corner rule on that side.
        bool flip = !above[seed];
        int corners = 0;
        foreach (int corner in (int[])[0, features.Width - 1, total - features.Width, total - 1])
        {
            int local = Array.BinarySearch(cells, corner);
            corners += local >= 0 && above[local] != flip ? 1 : 0;
        }

        flip ^= corners >= options.CornerFlipThreshold;
        int finalSeed = 0;
        for (int i = 0; i < n; i++)
        {
            if (flip)
            {
                y[i] = -y[i];
                above[i] = !above[i];
            }

            finalSeed = y[i] > y[finalSeed] ? i : finalSeed;
            eigenvector[cells[i]] = (float)y[i];
            foreground[cells[i]] = above[i];
        }

        int seedIndex = cells[finalSeed];
        if (options.KeepSeedComponent)
        {
            foreground = Morphology.ComponentContaining(foreground, features.Height, features.Width, seedIndex);
        }

        return new NormalizedCutResult(foreground, eigenvector, seedIndex);
    }

    /// <summary>
    /// MaskCut: up to <paramref name="maxMasks"/> successive bipartitions, each excluding the cells of earlier masks.
    /// Stops early when fewer than two cells remain or a bipartition finds no foreground.
    /// </summary>
    public static IReadOnlyList<NormalizedCutResult> MaskCut(FeatureMap features, int maxMasks = 3, NormalizedCutOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentOutOfRangeException.ThrowIfNegative(maxMasks);
        var results = new List<NormalizedCutResult>();
        bool[] excluded = new bool[features.CellCount];
        for (int m = 0; m < maxMasks; m++)
        {
            NormalizedCutResult result = Bipartition(features, options, excluded);
            if (result.SeedIndex < 0 || !result.Foreground.Contains(true))
            {
                break;
            }

            results.Add(result);
            for (int i = 0; i < excluded.Length; i++)
            {
                excluded[i] |= result.Foreground[i];
            }
        }

        return results;
    }

    /// <summary>
    /// The second smallest generalised eigenvector y of (D − W, D), normalised to yᵀ D y = 1 (sign arbitrary), where
    /// D = diag(W·1).
    /// </summary>
    internal static double[] SecondGeneralisedEigenvector(IAffinity w, int n, int iterations, int restarts)
    {
        double[] degree = w.Degrees();
        double[] invSqrt = new double[n];
        double[] top = new double[n];
        for (int i = 0; i < n; i++)
        {
            invSqrt[i] = 1 / Math.Sqrt(degree[i]);
            top[i] = Math.Sqrt(degree[i]);
        }

        Scale(top, 1 / Norm(top));

        // M x = D^-1/2 W D^-1/2 x.
        float[] scratch = new float[n];
        double[] product = new double[n];
        void Apply(double[] x, double[] result)
        {
            for (int i = 0; i < n; i++)
            {
                scratch[i] = (float)(x[i] * invSqrt[i]);
            }

            w.Multiply(scratch, product);
            for (int i = 0; i < n; i++)
            {
                result[i] = product[i] * invSqrt[i];
            }
        }

        // Deterministic start vector.
        var random = new Random(12345);
        double[] start = new double[n];
        for (int i = 0; i < n; i++)
        {
            start[i] = random.NextDouble() - 0.5;
        }

        int steps = Math.Max(1, Math.Min(iterations, n - 1));
        double[] u = start;
        for (int run = 0; run <= restarts; run++)
        {
            double residual;
            (u, residual) = Lanczos(Apply, u, top, steps);
            if (residual <= ResidualTolerance)
            {
                break;
            }
        }

        for (int i = 0; i < n; i++)
        {
            u[i] *= invSqrt[i];
        }

        return u;
    }

    // One Lanczos run of up to `steps` steps from `start`, with `deflate` projected out and full reorthogonalisation.
    // Returns the Ritz vector of the largest Ritz value and its residual ‖M u − θ u‖.
    private static (double[] Vector, double Residual) Lanczos(Action<double[], double[]> apply, double[] start, double[] deflate, int steps)
    {
        int n = start.Length;
        var basis = new List<double[]>();
        double[] q = (double[])start.Clone();
        Orthogonalise(q, deflate, basis);
        double norm = Norm(q);
        if (norm == 0)
        {
            q = Enumerable.Range(0, n).Select(i => (double)((i * 7919) % 13) - 6).ToArray();
            Orthogonalise(q, deflate, basis);
            norm = Norm(q);
        }

        Scale(q, 1 / norm);
        var alpha = new List<double>();
        var beta = new List<double>();
        double[] w = new double[n];
        for (int j = 0; j < steps; j++)
        {
            basis.Add(q);
            apply(q, w);
            double a = Dot(w, q);
            alpha.Add(a);
            Orthogonalise(w, deflate, basis);
            Orthogonalise(w, deflate, basis); // twice is enough (Kahan-Parlett)
            double b = Norm(w);
            if (b < 1e-12 || j == steps - 1)
            {
                break;
            }

            beta.Add(b);
            q = new double[n];
            for (int i = 0; i < n; i++)
            {
                q[i] = w[i] / b;
            }
        }

        int m = alpha.Count;
        double[] t = new double[m * m];
        for (int i = 0; i < m; i++)
        {
            t[(i * m) + i] = alpha[i];
            if (i + 1 < m)
            {
                t[(i * m) + i + 1] = t[((i + 1) * m) + i] = beta[i];
            }
        }

        (double[] values, double[] vectors) = SymmetricEigen.Jacobi(t, m);
        double theta = values[m - 1];
        double[] u = new double[n];
        for (int j = 0; j < m; j++)
        {
            double s = vectors[(j * m) + m - 1];
            double[] v = basis[j];
            for (int i = 0; i < n; i++)
            {
                u[i] += s * v[i];
            }
        }

        Scale(u, 1 / Norm(u));
        apply(u, w);
        double residual = 0;
        for (int i = 0; i < n; i++)
        {
            double r = w[i] - (theta * u[i]);
            residual += r * r;
        }

        return (u, Math.Sqrt(residual));
    }

    private static void Orthogonalise(double[] x, double[] deflate, List<double[]> basis)
    {
        Subtract(x, deflate, Dot(x, deflate));
        foreach (double[] v in basis)
        {
            Subtract(x, v, Dot(x, v));
        }
    }

    private static void Subtract(double[] x, double[] v, double factor)
    {
        for (int i = 0; i < x.Length; i++)
        {
            x[i] -= factor * v[i];
        }
    }

    private static double Dot(double[] x, double[] y) => TensorPrimitives.Dot<double>(x, y);

    private static double Norm(double[] x) => Math.Sqrt(Dot(x, x));

    private static void Scale(double[] x, double factor) => TensorPrimitives.Multiply<double>(x, factor, x);

    /// <summary>The thresholded affinity W as an operator.</summary>
    internal interface IAffinity : IDisposable
    {
        /// <summary>d = W·1 (float64).</summary>
        double[] Degrees();

        /// <summary>result = W·x.</summary>
        void Multiply(float[] x, double[] result);
    }

    /// <summary>W as dense floats (1 or ε), in a pooled buffer (MaskCut builds one per mask).</summary>
    internal sealed class DenseAffinity(float[] w, int n) : IAffinity
    {
        public static DenseAffinity Build(float[] f, int n, int channels, float tau, float epsilon)
        {
            float[] w = ArrayPool<float>.Shared.Rent(n * n);
            Span<float> values = w.AsSpan(0, n * n);
            Matrix.MultiplyByTransposed(f, n, f, n, channels, values);
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = values[i] > tau ? 1f : epsilon;
            }

            return new DenseAffinity(w, n);
        }

        public void Dispose() => ArrayPool<float>.Shared.Return(w);

        public double[] Degrees()
        {
            double[] d = new double[n];
            for (int i = 0; i < n; i++)
            {
                double sum = 0;
                foreach (float v in w.AsSpan(i * n, n))
                {
                    sum += v;
                }

                d[i] = sum;
            }

            return d;
        }

        public void Multiply(float[] x, double[] result)
        {
            if (n < 512)
            {
                for (int i = 0; i < n; i++)
                {
                    result[i] = TensorPrimitives.Dot(w.AsSpan(i * n, n), x);
                }

                return;
            }

            Parallel.For(0, n, i => result[i] = TensorPrimitives.Dot(w.AsSpan(i * n, n), x));
        }
    }

    /// <summary>W = ε + (1 − ε)·B with B the bit matrix of cos &gt; τ (n² / 8 bytes).</summary>
    internal sealed class BitAffinity(ulong[] bits, int n, int words, float epsilon) : IAffinity
    {
        private const int BlockRows = 256;

        public void Dispose()
        {
        }

        public static BitAffinity Build(float[] f, int n, int channels, float tau, float epsilon)
        {
            int words = (n + 63) / 64;
            ulong[] bits = new ulong[(long)n * words];
            float[] block = new float[BlockRows * n];
            for (int start = 0; start < n; start += BlockRows)
            {
                int rows = Math.Min(BlockRows, n - start);
                Matrix.MultiplyByTransposed(f.AsSpan(start * channels, rows * channels), rows, f, n, channels, block);
                for (int r = 0; r < rows; r++)
                {
                    ReadOnlySpan<float> row = block.AsSpan(r * n, n);
                    Span<ulong> target = bits.AsSpan((start + r) * words, words);
                    for (int j = 0; j < n; j++)
                    {
                        if (row[j] > tau)
                        {
                            target[j >> 6] |= 1UL << (j & 63);
                        }
                    }
                }
            }

            return new BitAffinity(bits, n, words, epsilon);
        }

        public double[] Degrees()
        {
            double[] d = new double[n];
            for (int i = 0; i < n; i++)
            {
                long ones = 0;
                foreach (ulong word in bits.AsSpan(i * words, words))
                {
                    ones += BitOperations.PopCount(word);
                }

                d[i] = ones + ((double)epsilon * (n - ones));
            }

            return d;
        }

        public void Multiply(float[] x, double[] result)
        {
            double sum = 0;
            foreach (float v in x)
            {
                sum += v;
            }

            double baseline = epsilon * sum;
            double scale = 1.0 - epsilon;
            Parallel.For(0, n, i =>
            {
                ReadOnlySpan<ulong> row = bits.AsSpan(i * words, words);
                double acc = 0;
                for (int wIndex = 0; wIndex < row.Length; wIndex++)
                {
                    ulong word = row[wIndex];
                    int offset = wIndex << 6;
                    while (word != 0)
                    {
                        acc += x[offset + BitOperations.TrailingZeroCount(word)];
                        word &= word - 1;
                    }
                }

                result[i] = baseline + (scale * acc);
            });
        }
    }
}
