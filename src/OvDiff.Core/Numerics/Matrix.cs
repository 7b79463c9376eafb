using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace OvDiff.Core.Numerics;

/// <summary>Dense row-major float matrix kernels used by prototype matching and clustering.</summary>
public static class Matrix
{
    // Register tile of the AVX2 kernel: MR rows of A times NR rows of B (two Vector256 per tile row).
    private const int MR = 6;
    private const int NR = 16;

    // Below this many multiply-adds the product runs on the calling thread.
    private const long ParallelThreshold = 1L << 22;

    /// <summary>
    /// L2-normalises each of the <paramref name="rows"/> rows (length <paramref name="cols"/>) of <paramref name="matrix"/> in place.
    /// A row whose norm is below <paramref name="epsilon"/> is divided by <paramref name="epsilon"/> (so an all-zero row stays zero).
    /// </summary>
    public static void NormalizeRows(Span<float> matrix, int rows, int cols, float epsilon = 1e-12f)
    {
        CheckShape(matrix.Length, rows, cols, nameof(matrix));
        for (int i = 0; i < rows; i++)
        {
            Span<float> row = matrix.Slice(i * cols, cols);
            float norm = TensorPrimitives.Norm(row);
            TensorPrimitives.Multiply(row, 1f / MathF.Max(norm, epsilon), row);
        }
    }

    /// <summary>
    /// result[i * rowsB + j] = dot(a row i, b row j) for a (rowsA x cols) and b (rowsB x cols), both row-major:
    /// the product A·Bᵀ. With unit rows this is the cosine-similarity matrix. Blocked and vectorised; uses all cores
    /// when the product is large.
    /// </summary>
    public static void MultiplyByTransposed(ReadOnlySpan<float> a, int rowsA, ReadOnlySpan<float> b, int rowsB, int cols, Span<float> result)
    {
        CheckShape(a.Length, rowsA, cols, nameof(a));
        CheckShape(b.Length, rowsB, cols, nameof(b));
        if ((long)rowsA * rowsB > result.Length)
        {
            throw new ArgumentException($"result needs {(long)rowsA * rowsB} values, has {result.Length}.", nameof(result));
        }

        if (rowsA == 0 || rowsB == 0)
        {
            return;
        }

        if (cols == 0)
        {
            result[..(rowsA * rowsB)].Clear();
            return;
        }

        if (!Fma.IsSupported || !Vector256.IsHardwareAccelerated)
        {
            MultiplyByTransposedPortable(a, rowsA, b, rowsB, cols, result);
            return;
        }

        // Pack B into panels of NR rows, transposed: packed[(panel * cols + k) * NR + jj] = b[(panel * NR + jj) * cols + k].
        int panels = (rowsB + NR - 1) / NR;
        long packedLength = (long)panels * cols * NR;
        if (packedLength > Array.MaxLength)
        {
            MultiplyByTransposedPortable(a, rowsA, b, rowsB, cols, result);
            return;
        }

        float[] packed = ArrayPool<float>.Shared.Rent((int)packedLength);
        try
        {
            PackPanels(b, rowsB, cols, packed);
            int blocks = (rowsA + MR - 1) / MR;
            long work = (long)rowsA * rowsB * cols;
            if (work < ParallelThreshold || Environment.ProcessorCount == 1)
            {
                MultiplyBlocks(a, rowsA, packed, rowsB, cols, result, 0, blocks);
            }
            else
            {
                // Chunks of micro-blocks, several per core for load balance. Spans cannot be captured by the lambda,
                // so the pinned buffers travel as pointers (each chunk writes its own rows of the result).
                int chunkBlocks = Math.Max(1, Math.Min(16, blocks / (Environment.ProcessorCount * 4)));
                int chunks = (blocks + chunkBlocks - 1) / chunkBlocks;
                int aLength = rowsA * cols;
                int resultLength = rowsA * rowsB;
                unsafe
                {
                    fixed (float* aPointer = a)
                    fixed (float* resultPointer = result)
                    {
                        nint aAddress = (nint)aPointer;
                        nint resultAddress = (nint)resultPointer;
                        Parallel.For(0, chunks, chunk =>
                        {
                            int first = chunk * chunkBlocks;
                            int last = Math.Min(blocks, first + chunkBlocks);
                            var aSpan = new ReadOnlySpan<float>((float*)aAddress, aLength);
                            var resultSpan = new Span<float>((float*)resultAddress, resultLength);
                            MultiplyBlocks(aSpan, rowsA, packed, rowsB, cols, resultSpan, first, last);
                        });
                    }
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(packed);
        }
    }

    /// <summary>Float64 dot product of two equal-length float spans (reference-quality accumulation).</summary>
    internal static double DotDouble(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sum += (double)x[i] * y[i];
        }

        return sum;
    }

    private static void CheckShape(int length, int rows, int cols, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows, name);
        ArgumentOutOfRangeException.ThrowIfNegative(cols, name);
        if ((long)rows * cols > length)
        {
            throw new ArgumentException($"{name} needs {(long)rows * cols} values for {rows}x{cols}, has {length}.", name);
        }
    }

    private static void MultiplyByTransposedPortable(ReadOnlySpan<float> a, int rowsA, ReadOnlySpan<float> b, int rowsB, int cols, Span<float> result)
    {
        for (int i = 0; i < rowsA; i++)
        {
            ReadOnlySpan<float> rowA = a.Slice(i * cols, cols);
            Span<float> rowResult = result.Slice(i * rowsB, rowsB);
            for (int j = 0; j < rowsB; j++)
            {
                rowResult[j] = TensorPrimitives.Dot(rowA, b.Slice(j * cols, cols));
            }
        }
    }

    private static void PackPanels(ReadOnlySpan<float> b, int rowsB, int cols, Span<float> packed)
    {
        int panels = (rowsB + NR - 1) / NR;
        for (int p = 0; p < panels; p++)
        {
            Span<float> panel = packed.Slice(p * cols * NR, cols * NR);
            for (int jj = 0; jj < NR; jj++)
            {
                int row = (p * NR) + jj;
                if (row >= rowsB)
                {
                    for (int k = 0; k < cols; k++)
                    {
                        panel[(k * NR) + jj] = 0f;
                    }

                    continue;
                }

                ReadOnlySpan<float> source = b.Slice(row * cols, cols);
                for (int k = 0; k < cols; k++)
                {
                    panel[(k * NR) + jj] = source[k];
                }
            }
        }
    }

    // Multiplies A micro-blocks [firstBlock, lastBlock) (MR rows each) by every packed B panel.
    private static void MultiplyBlocks(ReadOnlySpan<float> a, int rowsA, ReadOnlySpan<float> packed, int rowsB, int cols, Span<float> result, int firstBlock, int lastBlock)
    {
        int panels = (rowsB + NR - 1) / NR;
        Span<float> tile = stackalloc float[MR * NR];
        float[]? padded = null;
        try
        {
            for (int block = firstBlock; block < lastBlock; block++)
            {
                int row0 = block * MR;
                int rows = Math.Min(MR, rowsA - row0);
                ReadOnlySpan<float> aBlock;
                if (rows == MR)
                {
                    aBlock = a.Slice(row0 * cols, MR * cols);
                }
                else
                {
                    padded ??= ArrayPool<float>.Shared.Rent(MR * cols);
                    Span<float> pad = padded.AsSpan(0, MR * cols);
                    pad.Clear();
                    a.Slice(row0 * cols, rows * cols).CopyTo(pad);
                    aBlock = pad;
                }

                for (int p = 0; p < panels; p++)
                {
                    int col0 = p * NR;
                    int width = Math.Min(NR, rowsB - col0);
                    Kernel(aBlock, packed.Slice(p * cols * NR, cols * NR), cols, tile);
                    for (int r = 0; r < rows; r++)
                    {
                        tile.Slice(r * NR, width).CopyTo(result.Slice(((row0 + r) * rowsB) + col0, width));
                    }
                }
            }
        }
        finally
        {
            if (padded is not null)
            {
                ArrayPool<float>.Shared.Return(padded);
            }
        }
    }

    // tile[r * NR + jj] = sum_k a[r * cols + k] * panel[k * NR + jj] for r < MR, jj < NR (AVX2 + FMA, 12 accumulators).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel(ReadOnlySpan<float> a, ReadOnlySpan<float> panel, int cols, Span<float> tile)
    {
        ref float a0 = ref MemoryMarshal.GetReference(a);
        ref float a1 = ref Unsafe.Add(ref a0, cols);
        ref float a2 = ref Unsafe.Add(ref a1, cols);
        ref float a3 = ref Unsafe.Add(ref a2, cols);
        ref float a4 = ref Unsafe.Add(ref a3, cols);
        ref float a5 = ref Unsafe.Add(ref a4, cols);
        ref float bp = ref MemoryMarshal.GetReference(panel);
        Vector256<float> c00 = Vector256<float>.Zero, c01 = Vector256<float>.Zero;
        Vector256<float> c10 = Vector256<float>.Zero, c11 = Vector256<float>.Zero;
        Vector256<float> c20 = Vector256<float>.Zero, c21 = Vector256<float>.Zero;
        Vector256<float> c30 = Vector256<float>.Zero, c31 = Vector256<float>.Zero;
        Vector256<float> c40 = Vector256<float>.Zero, c41 = Vector256<float>.Zero;
        Vector256<float> c50 = Vector256<float>.Zero, c51 = Vector256<float>.Zero;
        for (int k = 0; k < cols; k++)
        {
            nuint offset = (nuint)(k * NR);
            Vector256<float> b0 = Vector256.LoadUnsafe(ref bp, offset);
            Vector256<float> b1 = Vector256.LoadUnsafe(ref bp, offset + 8);
            Vector256<float> x = Vector256.Create(Unsafe.Add(ref a0, k));
            c00 = Fma.MultiplyAdd(x, b0, c00);
            c01 = Fma.MultiplyAdd(x, b1, c01);
            x = Vector256.Create(Unsafe.Add(ref a1, k));
            c10 = Fma.MultiplyAdd(x, b0, c10);
            c11 = Fma.MultiplyAdd(x, b1, c11);
            x = Vector256.Create(Unsafe.Add(ref a2, k));
            c20 = Fma.MultiplyAdd(x, b0, c20);
            c21 = Fma.MultiplyAdd(x, b1, c21);
            x = Vector256.Create(Unsafe.Add(ref a3, k));
            c30 = Fma.MultiplyAdd(x, b0, c30);
            c31 = Fma.MultiplyAdd(x, b1, c31);
            x = Vector256.Create(Unsafe.Add(ref a4, k));
            c40 = Fma.MultiplyAdd(x, b0, c40);
            c41 = Fma.MultiplyAdd(x, b1, c41);
            x = Vector256.Create(Unsafe.Add(ref a5, k));
            c50 = Fma.MultiplyAdd(x, b0, c50);
            c51 = Fma.MultiplyAdd(x, b1, c51);
        }

        ref float t = ref MemoryMarshal.GetReference(tile);
        c00.StoreUnsafe(ref t, 0);
        c01.StoreUnsafe(ref t, 8);
        c10.StoreUnsafe(ref t, 16);
        c11.StoreUnsafe(ref t, 24);
        c20.StoreUnsafe(ref t, 32);
        c21.StoreUnsafe(ref t, 40);
        c30.StoreUnsafe(ref t, 48);
        c31.StoreUnsafe(ref t, 56);
        c40.StoreUnsafe(ref t, 64);
        c41.StoreUnsafe(ref t, 72);
        c50.StoreUnsafe(ref t, 80);
        c51.StoreUnsafe(ref t, 88);
    }
}
