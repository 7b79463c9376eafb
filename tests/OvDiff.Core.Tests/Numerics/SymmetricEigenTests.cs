using OvDiff.Core.Numerics;

namespace OvDiff.Core.Tests.Numerics;

public sealed class SymmetricEigenTests
{
    [Fact]
    public void TwoByTwo_KnownAnswer()
    {
        // [[2,1],[1,2]]: eigenvalues 1 (vector (1,-1)/√2) and 3 (vector (1,1)/√2).
        (double[] values, double[] vectors) = SymmetricEigen.Jacobi([2, 1, 1, 2], 2);
        Assert.Equal(1, values[0], 12);
        Assert.Equal(3, values[1], 12);
        Assert.Equal(1, Math.Abs(vectors[0] - vectors[2]) / Math.Sqrt(2), 12); // column 0 ∝ (1,-1)
        Assert.Equal(Math.Abs(vectors[1]), Math.Abs(vectors[3]), 12); // column 1 ∝ (1,1)
    }

    [Fact]
    public void Random_ReconstructsMatrix()
    {
        const int n = 9;
        var random = new Random(1);
        double[] m = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                m[i * n + j] = m[j * n + i] = random.NextDouble() - 0.5;
            }
        }

        (double[] values, double[] vectors) = SymmetricEigen.Jacobi(m, n);
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                // A = V diag(λ) Vᵀ
                double sum = 0;
                for (int k = 0; k < n; k++)
                {
                    sum += vectors[i * n + k] * values[k] * vectors[j * n + k];
                }

                Assert.Equal(m[i * n + j], sum, 10);
            }

            Assert.True(i == 0 || values[i] >= values[i - 1]);
        }
    }
}
