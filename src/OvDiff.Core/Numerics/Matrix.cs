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
    // Register tile: MR rows of A times nr rows of B, two vectors per tile row (nr = 16 with Vector256, 32 with Vector512).
    private const int MR = 6;
    private const int MaxNR = 32;

    // Bytes of packed B panels kept hot in L2 while a range of A blocks passes over them.
    private const int PanelGroupBytes = 256 * 1024;

    // Below this many multiply-adds the product runs on the calling thread.
    private const long ParallelThreshold = 1L << 22;

    /// <summary>Use the AVX-512 kernel (32-wide panels); defaults to whether the hardware has it. Internal for benchmarks.</summary>
    internal static bool UseVector512 { get; set; } = Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

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
    /// Adds the column sums of the <paramref name="rows"/> x <paramref name="cols"/> row-major <paramref name="matrix"/> to
    /// <paramref name="sums"/>, accumulating in float64 (means of many feature rows stay exact to float precision).
    /// </summary>
    public static void AddColumnSums(ReadOnlySpan<float> matrix, long rows, int cols, Span<double> sums)
    {
        for (long r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = matrix.Slice((int)(r * cols), cols);
            for (int c = 0; c < cols; c++)
            {
                sums[c] += row[c];
            }
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

        bool wide = UseVector512;
        if (!wide && (!Fma.IsSupported || !Vector256.IsHardwareAccelerated))
        {
            MultiplyByTransposedPortable(a, rowsA, b, rowsB, cols, result);
            return;
        }

        // Pack B into panels of nr rows, transposed: packed[(panel * cols + k) * nr + jj] = b[(panel * nr + jj) * cols + k].
        int nr = wide ? 32 : 16;
        int panels = (rowsB + nr - 1) / nr;
        long packedLength = (long)panels * cols * nr;
        if (packedLength > Array.MaxLength)
        {
            MultiplyByTransposedPortable(a, rowsA, b, rowsB, cols, result);
            return;
        }

        float[] packed = ArrayPool<float>.Shared.Rent((int)packedLength);
        try
        {
            PackPanels(b, rowsB, cols, packed, nr);
            int blocks = (rowsA + MR - 1) / MR;
            long work = (long)rowsA * rowsB * cols;
            if (work < ParallelThreshold || Environment.ProcessorCount == 1)
            {
                MultiplyBlocks(a, rowsA, packed, nr, rowsB, cols, result, 0, blocks);
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
                            MultiplyBlocks(aSpan, rowsA, packed, nr, rowsB, cols, resultSpan, first, last);
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

    private static void PackPanels(ReadOnlySpan<float> b, int rowsB, int cols, Span<float> packed, int nr)
    {
        int panels = (rowsB + nr - 1) / nr;
        for (int p = 0; p < panels; p++)
        {
            Span<float> panel = packed.Slice(p * cols * nr, cols * nr);
            for (int jj = 0; jj < nr; jj++)
            {
                int row = (p * nr) + jj;
                if (row >= rowsB)
                {
                    for (int k = 0; k < cols; k++)
                    {
                        panel[(k * nr) + jj] = 0f;
                    }

                    continue;
                }

                ReadOnlySpan<float> source = b.Slice(row * cols, cols);
                for (int k = 0; k < cols; k++)
                {
                    panel[(k * nr) + jj] = source[k];
                }
            }
        }
    }

    // Multiplies A micro-blocks [firstBlock, lastBlock) (MR rows each) by every packed B panel.
    private static void MultiplyBlocks(ReadOnlySpan<float> a, int rowsA, ReadOnlySpan<float> packed, int nr, int rowsB, int cols, Span<float> result, int firstBlock, int lastBlock)
    {
        int panels = (rowsB + nr - 1) / nr;
        Span<float> tile = stackalloc float[MR * MaxNR];
        float[]? padded = null;
        try
        {
            // Panel groups of about PanelGroupBytes stay in L2 while every A block of the range passes over them.
            int groupPanels = Math.Max(1, PanelGroupBytes / (cols * nr * sizeof(float)));
            for (int firstPanel = 0; firstPanel < panels; firstPanel += groupPanels)
            {
                int lastPanel = Math.Min(panels, firstPanel + groupPanels);
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

                    for (int p = firstPanel; p < lastPanel; p++)
                    {
                        int col0 = p * nr;
                        int width = Math.Min(nr, rowsB - col0);
                        if (nr == 32)
                        {
                            Kernel<Vector512<float>, Vector512Ops>(aBlock, packed.Slice(p * cols * nr, cols * nr), cols, tile);
                        }
                        else
                        {
                            Kernel<Vector256<float>, Vector256Ops>(aBlock, packed.Slice(p * cols * nr, cols * nr), cols, tile);
                        }

                        for (int r = 0; r < rows; r++)
                        {
                            tile.Slice(r * nr, width).CopyTo(result.Slice(((row0 + r) * rowsB) + col0, width));
                        }
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

    // tile[r * 2W + jj] = sum_k a[r * cols + k] * panel[k * 2W + jj] for r < MR, jj < 2W, W = TVector's float count
    // (Vector256: AVX2 + FMA; Vector512: AVX-512), 12 vector accumulators. The JIT specialises it per vector type.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel<TVector, TOps>(ReadOnlySpan<float> a, ReadOnlySpan<float> panel, int cols, Span<float> tile)
        where TVector : struct
        where TOps : struct, IVectorOps<TVector>
    {
        nuint w = (nuint)TOps.Width;
        ref float a0 = ref MemoryMarshal.GetReference(a);
        ref float a1 = ref Unsafe.Add(ref a0, cols);
        ref float a2 = ref Unsafe.Add(ref a1, cols);
        ref float a3 = ref Unsafe.Add(ref a2, cols);
        ref float a4 = ref Unsafe.Add(ref a3, cols);
        ref float a5 = ref Unsafe.Add(ref a4, cols);
        ref float bp = ref MemoryMarshal.GetReference(panel);
        TVector c00 = TOps.Zero, c01 = TOps.Zero, c10 = TOps.Zero, c11 = TOps.Zero;
        TVector c20 = TOps.Zero, c21 = TOps.Zero, c30 = TOps.Zero, c31 = TOps.Zero;
        TVector c40 = TOps.Zero, c41 = TOps.Zero, c50 = TOps.Zero, c51 = TOps.Zero;
        for (int k = 0; k < cols; k++)
        {
            nuint offset = (nuint)k * 2 * w;
            TVector b0 = TOps.Load(ref bp, offset);
            TVector b1 = TOps.Load(ref bp, offset + w);
            TVector x = TOps.Broadcast(Unsafe.Add(ref a0, k));
            c00 = TOps.MultiplyAdd(x, b0, c00);
            c01 = TOps.MultiplyAdd(x, b1, c01);
            x = TOps.Broadcast(Unsafe.Add(ref a1, k));
            c10 = TOps.MultiplyAdd(x, b0, c10);
            c11 = TOps.MultiplyAdd(x, b1, c11);
            x = TOps.Broadcast(Unsafe.Add(ref a2, k));
            c20 = TOps.MultiplyAdd(x, b0, c20);
            c21 = TOps.MultiplyAdd(x, b1, c21);
            x = TOps.Broadcast(Unsafe.Add(ref a3, k));
            c30 = TOps.MultiplyAdd(x, b0, c30);
            c31 = TOps.MultiplyAdd(x, b1, c31);
            x = TOps.Broadcast(Unsafe.Add(ref a4, k));
            c40 = TOps.MultiplyAdd(x, b0, c40);
            c41 = TOps.MultiplyAdd(x, b1, c41);
            x = TOps.Broadcast(Unsafe.Add(ref a5, k));
            c50 = TOps.MultiplyAdd(x, b0, c50);
            c51 = TOps.MultiplyAdd(x, b1, c51);
        }

        ref float t = ref MemoryMarshal.GetReference(tile);
        TOps.Store(c00, ref t, 0);
        TOps.Store(c01, ref t, w);
        TOps.Store(c10, ref t, 2 * w);
        TOps.Store(c11, ref t, 3 * w);
        TOps.Store(c20, ref t, 4 * w);
        TOps.Store(c21, ref t, 5 * w);
        TOps.Store(c30, ref t, 6 * w);
        TOps.Store(c31, ref t, 7 * w);
        TOps.Store(c40, ref t, 8 * w);
        TOps.Store(c41, ref t, 9 * w);
        TOps.Store(c50, ref t, 10 * w);
        TOps.Store(c51, ref t, 11 * w);
    }
}
