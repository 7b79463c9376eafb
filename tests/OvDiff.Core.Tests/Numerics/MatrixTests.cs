using OvDiff.Core.Numerics;

namespace OvDiff.Core.Tests.Numerics;

public sealed class MatrixTests
{
    [Fact]
    public void AddColumnSums_AddsEachColumnToTheRunningSums()
    {
        // Rows (1, 2, 3) and (4, 5, 6.5) onto sums (10, 0, -1): (10+1+4, 0+2+5, -1+3+6.5) = (15, 7, 8.5).
        double[] sums = [10, 0, -1];
        Matrix.AddColumnSums([1f, 2f, 3f, 4f, 5f, 6.5f], 2, 3, sums);
        Assert.Equal([15d, 7d, 8.5d], sums);
    }

    [Fact]
    public void NormalizeRows_KnownAnswer_AndZeroRowStaysZero()
    {
        // Row 0: (3, 4) has norm 5 -> (0.6, 0.8). Row 1: zero row / 1e-12 stays zero.
        float[] m = [3f, 4f, 0f, 0f];
        Matrix.NormalizeRows(m, 2, 2);
        Assert.Equal(0.6f, m[0], 6);
        Assert.Equal(0.8f, m[1], 6);
        Assert.Equal(0f, m[2]);
        Assert.Equal(0f, m[3]);
    }

    [Fact]
    public void MultiplyByTransposed_SmallKnownAnswer()
    {
        // A = [[1,2,3],[4,5,6]], B = [[1,0,1],[0,1,0],[2,2,2]]
        // A·Bᵀ = [[1+3, 2, 2+4+6], [4+6, 5, 8+10+12]] = [[4,2,12],[10,5,30]]
        float[] a = [1, 2, 3, 4, 5, 6];
        float[] b = [1, 0, 1, 0, 1, 0, 2, 2, 2];
        float[] r = new float[6];
        Matrix.MultiplyByTransposed(a, 2, b, 3, 3, r);
        Assert.Equal([4f, 2f, 12f, 10f, 5f, 30f], r);
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(7, 17, 5)]
    [InlineData(13, 33, 64)]
    [InlineData(200, 150, 512)] // above the parallel threshold (200*150*512 = 15.4M)
    public void MultiplyByTransposed_MatchesFloat64Reference(int rowsA, int rowsB, int cols)
    {
        bool hardware = Matrix.UseVector512;
        try
        {
            // Both kernels where the machine has AVX-512 (the flag is read once per call, so concurrent tests are safe).
            foreach (bool wide in hardware ? [true, false] : new[] { false })
            {
                Matrix.UseVector512 = wide;
                CheckAgainstReference(rowsA, rowsB, cols);
            }
        }
        finally
        {
            Matrix.UseVector512 = hardware;
        }
    }

    private static void CheckAgainstReference(int rowsA, int rowsB, int cols)
    {
        var random = new Random(rowsA * 1000 + rowsB);
        float[] a = RandomMatrix(random, rowsA * cols);
        float[] b = RandomMatrix(random, rowsB * cols);
        float[] r = new float[rowsA * rowsB + 3];
        r[^1] = 42f; // past the product: must stay untouched
        Matrix.MultiplyByTransposed(a, rowsA, b, rowsB, cols, r);
        for (int i = 0; i < rowsA; i++)
        {
            for (int j = 0; j < rowsB; j++)
            {
                double expected = 0, magnitude = 0;
                for (int k = 0; k < cols; k++)
                {
                    expected += (double)a[i * cols + k] * b[j * cols + k];
                    magnitude += Math.Abs((double)a[i * cols + k] * b[j * cols + k]);
                }

                // float32 accumulation error bound: ~cols * 2^-24 * sum|a_k b_k|; 1e-5 relative is generous for cols <= 512.
                Assert.True(Math.Abs(r[i * rowsB + j] - expected) <= 1e-5 * magnitude + 1e-7, $"({i},{j}): {r[i * rowsB + j]} vs {expected}");
            }
        }

        Assert.Equal(42f, r[^1]);
    }

    [Fact]
    public void MultiplyByTransposed_RejectsShortResult()
    {
        Assert.Throws<ArgumentException>(() => Matrix.MultiplyByTransposed(new float[4], 2, new float[4], 2, 2, new float[3]));
    }

    private static float[] RandomMatrix(Random random, int length)
    {
        float[] m = new float[length];
        for (int i = 0; i < length; i++)
        {
            m[i] = (float)(random.NextDouble() * 2 - 1);
        }

        return m;
    }
}
