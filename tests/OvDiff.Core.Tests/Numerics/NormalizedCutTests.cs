using OvDiff.Core.Features;
using OvDiff.Core.Numerics;

namespace OvDiff.Core.Tests.Numerics;

public sealed class NormalizedCutTests
{
    private const int Channels = 16;

    // Cells inside any of the rectangles (y0, x0, y1, x1 exclusive) get direction `objectAxis`, others axis 1; small noise.
    private static FeatureMap Scene(int h, int w, int seed, params (int Y0, int X0, int Y1, int X1, int Axis)[] objects)
    {
        var random = new Random(seed);
        float[] data = new float[h * w * Channels];
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < w; x++)
            {
                int axis = 1;
                foreach (var o in objects)
                {
                    axis = y >= o.Y0 && y < o.Y1 && x >= o.X0 && x < o.X1 ? o.Axis : axis;
                }

                int cell = (y * w + x) * Channels;
                for (int c = 0; c < Channels; c++)
                {
                    data[cell + c] = (float)((random.NextDouble() - 0.5) * 0.04);
                }

                data[cell + axis] += 1f;
            }
        }

        return new FeatureMap(h, w, Channels, data);
    }

    private static bool[] Rect(int h, int w, int y0, int x0, int y1, int x1)
    {
        bool[] mask = new bool[h * w];
        for (int y = y0; y < y1; y++)
        {
            for (int x = x0; x < x1; x++)
            {
                mask[y * w + x] = true;
            }
        }

        return mask;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // the bit-matrix W used above DenseLimit cells
    public void SquareObject_IsRecoveredExactly(bool bits)
    {
        // 4x5 object (direction e0) on a 12x12 background (e1): cos across groups ≈ 0 < τ, within ≈ 1 > τ, so W is two
        // cliques joined by ε; the second eigenvector is two-valued and the cut is exactly the object (IoU 1).
        FeatureMap map = Scene(12, 12, 1, (3, 4, 7, 9, 0));
        NormalizedCutResult result = NormalizedCut.Bipartition(map, null, default, bits);
        Assert.Equal(Rect(12, 12, 3, 4, 7, 9), result.Foreground);
        Assert.True(result.Foreground[result.SeedIndex]);
        Assert.True(result.Eigenvector[result.SeedIndex] > 0);
    }

    [Fact]
    public void CornerRule_OverridesTheSeed()
    {
        // B = three 2x2 blocks in three corners (12 cells, e0); A = the rest (88 cells, e1, connected, 1 corner).
        // Two cliques: the D-weighted mean of y is 0, so |y_B| / |y_A| ≈ (88/12)² and the seed argmax |y| lies in B.
        // No rule (threshold 5): the seed's side B is foreground, then only the seed's 2x2 block is kept.
        // Corner rule (threshold 3): the seed's side B covers 3 corners -> flip to A (connected, so kept whole).
        FeatureMap map = Scene(10, 10, 2, (0, 0, 2, 2, 0), (0, 8, 2, 10, 0), (8, 0, 10, 2, 0));
        bool[][] blocks = [Rect(10, 10, 0, 0, 2, 2), Rect(10, 10, 0, 8, 2, 10), Rect(10, 10, 8, 0, 10, 2)];
        bool[] a = Enumerable.Range(0, 100).Select(i => !blocks.Any(block => block[i])).ToArray();

        NormalizedCutResult maskCut = NormalizedCut.Bipartition(map);
        Assert.Equal(a, maskCut.Foreground);
        Assert.True(a[maskCut.SeedIndex]);

        NormalizedCutResult tokenCut = NormalizedCut.Bipartition(map, new NormalizedCutOptions { CornerFlipThreshold = 5 });
        Assert.Contains(blocks, block => block.SequenceEqual(tokenCut.Foreground));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LanczosEigenvector_MatchesDenseFloat64Jacobi(bool bits)
    {
        // Three noisy groups of different sizes on a 9x8 grid (72 cells; 60 Lanczos steps + restarts).
        FeatureMap map = Scene(9, 8, 3, (0, 0, 4, 5, 0), (5, 2, 9, 8, 2));
        var options = new NormalizedCutOptions { Tau = 0.15f, Epsilon = 1e-5f };
        NormalizedCutResult result = NormalizedCut.Bipartition(map, options, default, bits);

        int n = 72;
        double[] w = new double[n * n];
        double[] d = new double[n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double dot = 0, ni = 0, nj = 0;
                for (int c = 0; c < Channels; c++)
                {
                    double a = map.Data[i * Channels + c], b = map.Data[j * Channels + c];
                    dot += a * b;
                    ni += a * a;
                    nj += b * b;
                }

                w[i * n + j] = dot / Math.Sqrt(ni * nj) > 0.15 ? 1 : 1e-5;
                d[i] += w[i * n + j];
            }
        }

        // M = D^-1/2 W D^-1/2; second largest eigenvector u; y = D^-1/2 u has yᵀ D y = 1.
        double[] m = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                m[i * n + j] = w[i * n + j] / Math.Sqrt(d[i] * d[j]);
            }
        }

        (double[] values, double[] vectors) = SymmetricEigen.Jacobi(m, n);
        Assert.Equal(1.0, values[n - 1], 9); // top eigenvalue of the normalised affinity
        double[] y = Enumerable.Range(0, n).Select(i => vectors[i * n + n - 2] / Math.Sqrt(d[i])).ToArray();
        double sign = Math.Sign(y.Zip(result.Eigenvector, (a, b) => a * b).Sum());
        for (int i = 0; i < n; i++)
        {
            Assert.True(Math.Abs(sign * y[i] - result.Eigenvector[i]) < 1e-4, $"{i}: {sign * y[i]} vs {result.Eigenvector[i]}");
        }
    }

    [Fact]
    public void ExcludedCells_TakeNoPart()
    {
        FeatureMap map = Scene(12, 12, 4, (3, 4, 7, 9, 0));
        bool[] exclude = Rect(12, 12, 0, 0, 12, 2); // two left columns
        NormalizedCutResult result = NormalizedCut.Bipartition(map, exclude: exclude);
        Assert.Equal(Rect(12, 12, 3, 4, 7, 9), result.Foreground);
        for (int i = 0; i < exclude.Length; i++)
        {
            Assert.True(!exclude[i] || result.Eigenvector[i] == 0f);
        }

        // Everything excluded but one cell: nothing to cut.
        bool[] all = Enumerable.Repeat(true, 144).ToArray();
        all[5] = false;
        NormalizedCutResult none = NormalizedCut.Bipartition(map, exclude: all);
        Assert.Equal(-1, none.SeedIndex);
        Assert.DoesNotContain(true, none.Foreground);
    }

    [Fact]
    public void MaskCut_FindsTwoObjectsInTurn()
    {
        // Two separate 3x3 objects of the same feature: the first cut's fg side holds both, the seed component keeps one;
        // the second cut (first excluded) finds the other.
        FeatureMap map = Scene(12, 12, 5, (2, 2, 5, 5, 0), (7, 7, 10, 10, 0));
        IReadOnlyList<NormalizedCutResult> masks = NormalizedCut.MaskCut(map, maxMasks: 2);
        Assert.Equal(2, masks.Count);
        bool[] a = Rect(12, 12, 2, 2, 5, 5), b = Rect(12, 12, 7, 7, 10, 10);
        bool firstIsA = masks[0].Foreground.SequenceEqual(a);
        Assert.Equal(firstIsA ? a : b, masks[0].Foreground);
        Assert.Equal(firstIsA ? b : a, masks[1].Foreground);
    }

    [Fact]
    public void BitAffinity_AgreesWithDense()
    {
        var random = new Random(9);
        const int n = 70, c = 6;
        float[] f = Enumerable.Range(0, n * c).Select(_ => (float)(random.NextDouble() - 0.3)).ToArray();
        Matrix.NormalizeRows(f, n, c);
        using var dense = NormalizedCut.DenseAffinity.Build(f, n, c, 0.15f, 1e-5f);
        using var bits = NormalizedCut.BitAffinity.Build(f, n, c, 0.15f, 1e-5f);
        double[] dd = dense.Degrees(), db = bits.Degrees();
        float[] x = Enumerable.Range(0, n).Select(_ => (float)random.NextDouble()).ToArray();
        double[] rd = new double[n], rb = new double[n];
        dense.Multiply(x, rd);
        bits.Multiply(x, rb);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(dd[i], db[i], 4);
            Assert.Equal(rd[i], rb[i], 4);
        }

        Assert.Contains(dd, v => v > 2 && v < n - 1); // a non-trivial threshold pattern
    }
}
