namespace OvDiff.Core.Numerics;

/// <summary>Dense symmetric eigen-decomposition in float64 (cyclic Jacobi rotations); for small matrices.</summary>
internal static class SymmetricEigen
{
    /// <summary>
    /// Eigenvalues (ascending) and eigenvectors of the symmetric n x n row-major <paramref name="matrix"/>:
    /// column j of <c>vectors</c> (vectors[i * n + j]) belongs to values[j]. The input is not modified.
    /// </summary>
    public static (double[] Values, double[] Vectors) Jacobi(ReadOnlySpan<double> matrix, int n, int maxSweeps = 100)
    {
        double[] a = matrix[..(n * n)].ToArray();
        double[] v = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            v[(i * n) + i] = 1;
        }

        for (int sweep = 0; sweep < maxSweeps; sweep++)
        {
            double off = 0, total = 0;
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double x = a[(i * n) + j] * a[(i * n) + j];
                    total += x;
                    off += i != j ? x : 0;
                }
            }

            if (off <= 1e-30 * Math.Max(total, 1e-300))
            {
                break;
            }

            for (int p = 0; p < n - 1; p++)
            {
                for (int q = p + 1; q < n; q++)
                {
                    double apq = a[(p * n) + q];
                    if (apq == 0)
                    {
                        continue;
                    }

                    // Rotation angle that zeroes a[p, q] (Golub & Van Loan, sym.schur2).
                    double theta = (a[(q * n) + q] - a[(p * n) + p]) / (2 * apq);
                    double t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt((theta * theta) + 1));
                    if (theta == 0)
                    {
                        t = 1;
                    }

                    double c = 1 / Math.Sqrt((t * t) + 1), s = t * c;
                    for (int k = 0; k < n; k++)
                    {
                        double akp = a[(k * n) + p], akq = a[(k * n) + q];
                        a[(k * n) + p] = (c * akp) - (s * akq);
                        a[(k * n) + q] = (s * akp) + (c * akq);
                    }

                    for (int k = 0; k < n; k++)
                    {
                        double apk = a[(p * n) + k], aqk = a[(q * n) + k];
                        a[(p * n) + k] = (c * apk) - (s * aqk);
                        a[(q * n) + k] = (s * apk) + (c * aqk);
                    }

                    for (int k = 0; k < n; k++)
                    {
                        double vkp = v[(k * n) + p], vkq = v[(k * n) + q];
                        v[(k * n) + p] = (c * vkp) - (s * vkq);
                        v[(k * n) + q] = (s * vkp) + (c * vkq);
                    }
                }
            }
        }

        int[] order = Enumerable.Range(0, n).OrderBy(i => a[(i * n) + i]).ToArray();
        double[] values = new double[n];
        double[] vectors = new double[n * n];
        for (int j = 0; j < n; j++)
        {
            values[j] = a[(order[j] * n) + order[j]];
            for (int i = 0; i < n; i++)
            {
                vectors[(i * n) + j] = v[(i * n) + order[j]];
            }
        }

        return (values, vectors);
    }
}
