using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace OvDiff.Core.Numerics;

/// <summary>Options of PAMR (pixel-adaptive mask refinement; Araslanov &amp; Roth 2020), as used by OVDiff and TCL.</summary>
public sealed record PamrOptions
{
    /// <summary>Refinement iterations. Default 10.</summary>
    public int Iterations { get; init; } = 10;

    /// <summary>Dilations of the 3x3 neighbourhood. Default 1, 2, 4, 8, 12, 24.</summary>
    public IReadOnlyList<int> Dilations { get; init; } = [1, 2, 4, 8, 12, 24];
}

/// <summary>
/// PAMR: repeatedly replaces each pixel's class scores by an affinity-weighted sum of its dilated 8-neighbours' scores
/// (replicate padding). The logits are −|I_i − I_j| / (1e-8 + 0.1 · σ_i), with σ_i the unbiased standard deviation, per
/// image channel, of the 9 · len(dilations) values of all the dilated 3x3 windows (the centre counted once per dilation);
/// the logits are averaged over image channels and then soft-maxed over the 8 · len(dilations) neighbours
/// (the reference's LocalAffinityAbs / LocalStDev / LocalAffinityCopy, 1-stage-wseg pamr.py).
/// Computed in float32 as the reference's PyTorch module is. The affinities are computed once, a block of pixels at a
/// time in registers, and stored block by block (all of a block's neighbours' weights contiguous), so each pass reads
/// them as one sequential stream; the score planes carry replicate padding in columns, so every pixel takes the same
/// vector path; a pass sums each block's neighbours for up to four classes at once in registers.
/// </summary>
public static class Pamr
{
    /// <summary>Classes whose scores one pass sums together (one affinity load serves them all).</summary>
    private const int ClassGroup = 4;

    /// <summary>
    /// Refines <paramref name="scores"/> (planar: <paramref name="classes"/> planes of height x width) in place, guided by
    /// <paramref name="image"/> (planar float: <paramref name="imageChannels"/> planes of height x width, any consistent scale).
    /// </summary>
    public static void Refine(ReadOnlySpan<float> image, int imageChannels, Span<float> scores, int classes, int height, int width, PamrOptions? options = null) =>
        Refine(image, imageChannels, scores, classes, height, width, options, pairPasses: true);

    /// <summary>As the public overload; <paramref name="pairPasses"/> false runs one pass per sweep (same result; for tests and benchmarks).</summary>
    internal static void Refine(ReadOnlySpan<float> image, int imageChannels, Span<float> scores, int classes, int height, int width, PamrOptions? options, bool pairPasses)
    {
        options ??= new PamrOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(imageChannels);
        ArgumentOutOfRangeException.ThrowIfNegative(classes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Iterations);
        long plane = (long)height * width;
        if (plane * imageChannels > image.Length || plane * classes > scores.Length)
        {
            throw new ArgumentException("image or scores is too short for the given planes and size.");
        }

        if (options.Dilations.Count == 0)
        {
            throw new ArgumentException("PAMR needs at least one dilation.", nameof(options));
        }

        foreach (int d in options.Dilations)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(d, nameof(options));
        }

        if (classes == 0 || options.Iterations == 0)
        {
            return;
        }

        var layout = new Layout(height, width, options.Dilations.Max(), Offsets(options.Dilations), options.Dilations.Count);
        if (Vector512.IsHardwareAccelerated && width >= Vector512<float>.Count)
        {
            Run<Vector512<float>, Vector512Ops>(image, imageChannels, scores, classes, layout, options.Iterations, pairPasses);
        }
        else if (Vector256.IsHardwareAccelerated && width >= Vector256<float>.Count)
        {
            Run<Vector256<float>, Vector256Ops>(image, imageChannels, scores, classes, layout, options.Iterations, pairPasses);
        }
        else if (Vector128.IsHardwareAccelerated && width >= Vector128<float>.Count)
        {
            Run<Vector128<float>, Vector128Ops>(image, imageChannels, scores, classes, layout, options.Iterations, pairPasses);
        }
        else
        {
            Run<float, ScalarOps>(image, imageChannels, scores, classes, layout, options.Iterations, pairPasses);
        }
    }

    // The 8 neighbour offsets of each dilation, in the reference kernel order (row-major 3x3 without the centre).
    private static (int Dy, int Dx)[] Offsets(IReadOnlyList<int> dilations)
    {
        var offsets = new (int, int)[dilations.Count * 8];
        int p = 0;
        foreach (int d in dilations)
        {
            for (int ky = -1; ky <= 1; ky++)
            {
                for (int kx = -1; kx <= 1; kx++)
                {
                    if (ky != 0 || kx != 0)
                    {
                        offsets[p++] = (ky * d, kx * d);
                    }
                }
            }
        }

        return offsets;
    }

    /// <summary>
    /// Where things lie. Padded planes (guide and scores): rows of <see cref="Stride"/> = width + 2 · reach floats, pixel
    /// (y, x) at y · stride + reach + x, the reach columns either side copies of the edge pixel. Blocks: the pixels
    /// [BlockStart(b), + lanes) of a row, the last one shifted left to end at the row's end (it may overlap the one
    /// before; both compute the same values). Affinities: per row, per block, per offset, lanes floats.
    /// </summary>
    private readonly record struct Layout(int Height, int Width, int Reach, (int Dy, int Dx)[] Offsets, int DilationCount)
    {
        public int Stride => Width + (2 * Reach);

        public int Plane => checked(Height * Stride);

        public int Count => Offsets.Length;

        public int Blocks(int lanes) => (Width + lanes - 1) / lanes;

        public int BlockStart(int block, int lanes) => Math.Min(block * lanes, Width - lanes);

        /// <summary>rows[p] = the padded offset of neighbour p of pixel (y, 0).</summary>
        public void NeighbourRows(int y, Span<nuint> rows)
        {
            for (int p = 0; p < Offsets.Length; p++)
            {
                rows[p] = (nuint)((Clamp(y + Offsets[p].Dy, Height) * Stride) + Reach + Offsets[p].Dx);
            }
        }

        /// <summary>Copies <paramref name="planes"/> planes of height x width into padded planes.</summary>
        public void Pad(ReadOnlySpan<float> planar, int planes, Span<float> padded)
        {
            for (int row = 0; row < planes * Height; row++)
            {
                Span<float> target = padded.Slice(row * Stride, Stride);
                planar.Slice(row * Width, Width).CopyTo(target[Reach..]);
                FillPadding(target);
            }
        }

        /// <summary>Sets a padded row's reach columns either side to its edge pixels.</summary>
        public void FillPadding(Span<float> paddedRow)
        {
            paddedRow[..Reach].Fill(paddedRow[Reach]);
            paddedRow[(Reach + Width)..].Fill(paddedRow[Reach + Width - 1]);
        }

        public void Unpad(ReadOnlySpan<float> padded, int planes, Span<float> planar)
        {
            for (int row = 0; row < planes * Height; row++)
            {
                padded.Slice((row * Stride) + Reach, Width).CopyTo(planar.Slice(row * Width, Width));
            }
        }
    }

    private static void Run<TVector, TOps>(ReadOnlySpan<float> image, int channels, Span<float> scores, int classes, Layout layout, int iterations, bool pairPasses)
        where TVector : struct
        where TOps : struct, IVectorOps<TVector>
    {
        int lanes = TOps.Width;
        float[] guide = ArrayPool<float>.Shared.Rent(checked(channels * layout.Plane));
        float[] current = ArrayPool<float>.Shared.Rent(checked(classes * layout.Plane));
        float[] middle = ArrayPool<float>.Shared.Rent(checked(classes * layout.Plane));
        float[] next = ArrayPool<float>.Shared.Rent(checked(classes * layout.Plane));
        float[] affinity = ArrayPool<float>.Shared.Rent(checked((layout.Height * layout.Blocks(lanes) * layout.Count * lanes) + AlignmentFloats));
        try
        {
            layout.Pad(image, channels, guide);
            // The affinities are written once, from an aligned start in the pinned buffer: in the first sweep of paired
            // passes each row just before the first pass reads it, through the caches; else all up front, with
            // non-temporal stores.
            using MemoryHandle pin = affinity.AsMemory().Pin();
            int start = Aligned(pin, TOps.Width);
            var affinities = new AffinityRows<TVector, TOps>(guide, channels, layout, affinity, start);
            layout.Pad(scores, classes, current);
            var pass = new Pass<TVector, TOps>(affinity, start, classes, layout);
            int it = 0;
            if (!pairPasses || iterations < 2)
            {
                affinities.All();
            }

            for (; pairPasses && it + 1 < iterations; it += 2)
            {
                pass.Twice(current, middle, next, it == 0 ? affinities : null);
                (current, next) = (next, current);
            }

            for (; it < iterations; it++)
            {
                pass.Once(current, next);
                (current, next) = (next, current);
            }

            layout.Unpad(current, classes, scores);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(guide);
            ArrayPool<float>.Shared.Return(current);
            ArrayPool<float>.Shared.Return(middle);
            ArrayPool<float>.Shared.Return(next);
            ArrayPool<float>.Shared.Return(affinity);
        }
    }

    /// <summary>
    /// Writes affinity[((y · blocks + b) · count + p) · lanes + lane], a row at a time: per block of pixels, each channel's
    /// centre and scale, then the channel-mean logit of every offset (see the class summary) into a small buffer, then
    /// their softmax.
    /// </summary>
    private sealed class AffinityRows<TVector, TOps>(float[] guide, int channels, Layout layout, float[] affinity, int start)
        where TVector : struct
        where TOps : struct, IVectorOps<TVector>
    {
        /// <summary>Every row, in parallel.</summary>
        public void All()
        {
            AffinityRows<TVector, TOps> rows = this;
            SpanParallel.For(default, layout.Height, (long)layout.Width * layout.Count * channels * 8, (_, firstRow, endRow) =>
            {
                using var scratch = rows.CreateScratch(cached: false);
                for (int y = firstRow; y < endRow; y++)
                {
                    rows.Row(y, scratch);
                }
            });
        }

        /// <summary>One thread's working buffers.</summary>
        /// <param name="cached">Store through the caches (a pass reads the row right after), not around them.</param>
        public Scratch CreateScratch(bool cached) => new(layout.Count, channels, TOps.Width) { Cached = cached };

        /// <summary>Writes row <paramref name="y"/>'s affinities.</summary>
        public void Row(int y, Scratch scratch)
        {
            int lanes = TOps.Width, count = layout.Count, blocks = layout.Blocks(lanes);
            layout.NeighbourRows(y, scratch.Rows);
            nuint centreRow = (nuint)((y * layout.Stride) + layout.Reach);
            for (int b = 0; b < blocks; b++)
            {
                nuint x = (nuint)layout.BlockStart(b, lanes);
                for (int c = 0; c < channels; c++)
                {
                    (scratch.Centres[c], scratch.InverseScales[c]) = CentreAndInverseScale<TVector, TOps>(ref Channel(guide, c, layout), centreRow + x, scratch.Rows, x, layout.DilationCount);
                }

                TVector maximum = Logits<TVector, TOps>(guide, layout, scratch.Centres, scratch.InverseScales, scratch.Rows, x, scratch.Logits);
                ref float block = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(affinity), start + ((((nint)y * blocks) + b) * count * lanes));
                Softmax<TVector, TOps>(scratch.Logits, count, maximum, ref block, scratch.Cached);
            }
        }

        /// <summary>Neighbour row offsets, per-channel centres and inverse scales, and a block's logits (pooled).</summary>
        public sealed class Scratch(int count, int channels, int lanes) : IDisposable
        {
            public nuint[] Rows { get; } = new nuint[count];

            public TVector[] Centres { get; } = new TVector[channels];

            public TVector[] InverseScales { get; } = new TVector[channels];

            public float[] Logits { get; } = ArrayPool<float>.Shared.Rent(count * lanes);

            public bool Cached { get; init; }

            public void Dispose() => ArrayPool<float>.Shared.Return(Logits);
        }
    }

    private static ref float Channel(float[] guide, int channel, Layout layout) =>
        ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(guide), (nint)channel * layout.Plane);

    /// <summary>A block's centre pixels of one channel and 1 / (1e-8 + 0.1 σ), σ from the window's mean, then its squared deviations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (TVector Centre, TVector InverseScale) CentreAndInverseScale<TVector, TOps>(ref float channel, nuint centre, nuint[] rows, nuint x, int dilationCount)
        where TVector : struct
        where TOps : struct, IVectorOps<TVector>
    {
        int count = rows.Length, windowSize = 9 * dilationCount;
        TVector middle = TOps.Load(ref channel, centre);
        TVector sum = TOps.Multiply(middle, TOps.Broadcast(dilationCount));
        for (int p = 0; p < count; p++)
        {
            sum = TOps.Add(sum, TOps.Load(ref channel, rows[p] + x));
        }

        TVector mean = TOps.Divide(sum, TOps.Broadcast(windowSize));
        TVector deviation = TOps.Subtract(middle, mean);
        TVector squares = TOps.Multiply(TOps.Multiply(deviation, deviation), TOps.Broadcast(dilationCount));
        for (int p = 0; p < count; p++)
        {
            deviation = TOps.Subtract(TOps.Load(ref channel, rows[p] + x), mean);
            squares = TOps.MultiplyAdd(deviation, deviation, squares);
        }

        TVector scale = TOps.Add(TOps.Multiply(TOps.Sqrt(TOps.Divide(squares, TOps.Broadcast(windowSize - 1))), TOps.Broadcast(0.1f)), TOps.Broadcast(1e-8f));
        return (middle, TOps.Divide(TOps.Broadcast(1f), scale));
    }

    /// <summary>
    /// logits[p · lanes + lane] = (0 − Σ_channels |I(centre) − I(neighbour p)| · inverse scale) / channels, the channels
    /// subtracted in order; returns the maximum over p.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector Logits<TVector, TOps>(float[] guide, Layout layout, TVector[] centres, TVector[] inverseScales, nuint[] rows, nuint x, float[] logits)
        where TVector : struct
        where TOps : struct, IVectorOps<TVector>
    {
        nuint lanes = (nuint)TOps.Width;
        int channels = centres.Length;
        ref float logit = ref MemoryMarshal.GetArrayDataReference(logits);
        TVector divisor = TOps.Broadcast(channels);
        TVector maximum = TOps.Zero;
        for (int p = 0; p < rows.Length; p++)
        {
            TVector sum = TOps.Zero;
            for (int c = 0; c < channels; c++)
            {
                TVector neighbour = TOps.Load(ref Channel(guide, c, layout), rows[p] + x);
                sum = TOps.Subtract(sum, TOps.Multiply(TOps.Abs(TOps.Subtract(centres[c], neighbour)), inverseScales[c]));
            }

            TVector mean = TOps.Divide(sum, divisor);
            TOps.Store(mean, ref logit, (nuint)p * lanes);
            maximum = p == 0 ? mean : TOps.Max(maximum, mean);
        }

        return maximum;
    }

    /// <summary>block[p · lanes + lane] = the softmax over p of the logits (whose maximum is given).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Softmax<TVector, TOps>(float[] logits, int count, TVector maximum, ref float block, bool cached)
        where TVector : struct
        where TOps : struct, IVectorOps<TVector>
    {
        nuint lanes = (nuint)TOps.Width;
        ref float logit = ref MemoryMarshal.GetArrayDataReference(logits);
        TVector total = TOps.Zero;
        for (int p = 0; p < count; p++)
        {
            TVector exponential = TOps.Exp(TOps.Subtract(TOps.Load(ref logit, (nuint)p * lanes), maximum));
            TOps.Store(exponential, ref logit, (nuint)p * lanes);
            total = TOps.Add(total, exponential);
        }

        TVector reciprocal = TOps.Divide(TOps.Broadcast(1f), total);
        for (int p = 0; p < count; p++)
        {
            TVector weight = TOps.Multiply(TOps.Load(ref logit, (nuint)p * lanes), reciprocal);
            if (cached)
            {
                TOps.Store(weight, ref block, (nuint)p * lanes);
            }
            else
            {
                TOps.StoreNonTemporal(weight, ref block, (nuint)p * lanes);
            }
        }
    }

    /// <summary>
    /// PAMR passes over padded masks. One pass: per row, per block of pixels and group of up to
    /// <see cref="ClassGroup"/> classes, the offsets in order, each a fused multiply-add of its affinities and the
    /// neighbours' scores into a register per class; then the row's padding. Rows are independent within a pass.
    /// </summary>
    private readonly struct Pass<TVector, TOps>(float[] affinity, int start, int classes, Layout layout)
        where TVector : struct
        where TOps : struct, IVectorOps<TVector>
    {
        private readonly Layout _layout = layout;

        private long Work => (long)classes * _layout.Count * _layout.Width;

        /// <summary>output = one pass over masks, rows in parallel.</summary>
        public void Once(float[] masks, float[] output)
        {
            Pass<TVector, TOps> pass = this;
            SpanParallel.For(default, _layout.Height, Work, (_, firstRow, endRow) =>
            {
                var rows = new nuint[pass._layout.Count];
                for (int y = firstRow; y < endRow; y++)
                {
                    pass.Row(masks, output, y, rows);
                }
            });
        }

        /// <summary>
        /// output = two passes (masks → middle → output) in one sweep per band of rows, the second pass a reach of rows
        /// behind the first, so each row's affinities are read twice close together (the second time from cache). The
        /// rows within a reach of a band's edges, which the neighbouring bands' second pass needs, go first (all bands),
        /// then each band sweeps the rest. With <paramref name="affinities"/>, each row's affinities are written just
        /// before the first pass reads them (every row's first pass runs once, before any second pass reads that row).
        /// </summary>
        public void Twice(float[] masks, float[] middle, float[] output, AffinityRows<TVector, TOps>? affinities)
        {
            int height = _layout.Height, reach = _layout.Reach;
            int bands = Math.Clamp(Math.Min(Environment.ProcessorCount, height / reach), 1, height);
            if (Work * height < (1L << 20))
            {
                bands = 1;
            }

            Pass<TVector, TOps> pass = this;
            (int Start, int End) Band(int band) => (band * height / bands, (band + 1) * height / bands);
            bool Edge(int y, (int Start, int End) band) => y < band.Start + reach || y >= band.End - reach;
            void First(int y, nuint[] rows, AffinityRows<TVector, TOps>.Scratch? scratch)
            {
                if (scratch is not null)
                {
                    affinities!.Row(y, scratch);
                }

                pass.Row(masks, middle, y, rows);
            }

            Parallel.For(0, bands, band =>
            {
                var rows = new nuint[pass._layout.Count];
                using AffinityRows<TVector, TOps>.Scratch? scratch = affinities?.CreateScratch(cached: true);
                (int start, int end) = Band(band);
                for (int y = start; y < end; y++)
                {
                    if (Edge(y, (start, end)))
                    {
                        First(y, rows, scratch);
                    }
                }
            });
            Parallel.For(0, bands, band =>
            {
                var rows = new nuint[pass._layout.Count];
                using AffinityRows<TVector, TOps>.Scratch? scratch = affinities?.CreateScratch(cached: true);
                (int start, int end) = Band(band);
                for (int step = start; step < end + reach; step++)
                {
                    if (step < end && !Edge(step, (start, end)))
                    {
                        First(step, rows, scratch);
                    }

                    if (step - reach >= start)
                    {
                        pass.Row(middle, output, step - reach, rows);
                    }
                }
            });
        }

        /// <summary>Row <paramref name="y"/> of output = one pass over masks.</summary>
        private void Row(float[] masks, float[] output, int y, nuint[] rows)
        {
            int lanes = TOps.Width, count = _layout.Count, blocks = _layout.Blocks(lanes), plane = _layout.Plane;
            _layout.NeighbourRows(y, rows);
            ref float rowAffinity = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(affinity), start + ((nint)y * blocks * count * lanes));
            nuint target = (nuint)((y * _layout.Stride) + _layout.Reach);
            for (int c = 0; c < classes; c += ClassGroup)
            {
                ref float source = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(masks), (nint)c * plane);
                ref float result = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(output), (nint)c * plane);
                switch (Math.Min(ClassGroup, classes - c))
                {
                    case 1: PropagateRow<TVector, TOps>(1, ref source, ref result, target, ref rowAffinity, rows, _layout, plane); break;
                    case 2: PropagateRow<TVector, TOps>(2, ref source, ref result, target, ref rowAffinity, rows, _layout, plane); break;
                    case 3: PropagateRow<TVector, TOps>(3, ref source, ref result, target, ref rowAffinity, rows, _layout, plane); break;
                    default: PropagateRow<TVector, TOps>(4, ref source, ref result, target, ref rowAffinity, rows, _layout, plane); break;
                }
            }

            for (int c = 0; c < classes; c++)
            {
                _layout.FillPadding(output.AsSpan(((c * _layout.Height) + y) * _layout.Stride, _layout.Stride));
            }
        }
    }

    /// <summary>One row of one pass for <paramref name="group"/> (1–4, a constant where inlined) classes <paramref name="plane"/> apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PropagateRow<TVector, TOps>(int group, ref float source, ref float result, nuint target, ref float rowAffinity, nuint[] rows, Layout layout, int plane)
        where TVector : struct
        where TOps : struct, IVectorOps<TVector>
    {
        int lanes = TOps.Width, count = rows.Length, blocks = layout.Blocks(lanes);
        nuint step = (nuint)plane;
        for (int b = 0; b < blocks; b++)
        {
            nuint x = (nuint)layout.BlockStart(b, lanes);
            ref float weights = ref Unsafe.Add(ref rowAffinity, (nint)b * count * lanes);
            TVector sum0 = TOps.Zero, sum1 = TOps.Zero, sum2 = TOps.Zero, sum3 = TOps.Zero;
            for (int p = 0; p < count; p++)
            {
                TVector weight = TOps.Load(ref weights, (nuint)(p * lanes));
                nuint neighbour = rows[p] + x;
                sum0 = TOps.MultiplyAdd(weight, TOps.Load(ref source, neighbour), sum0);
                if (group > 1)
                {
                    sum1 = TOps.MultiplyAdd(weight, TOps.Load(ref source, neighbour + step), sum1);
                }

                if (group > 2)
                {
                    sum2 = TOps.MultiplyAdd(weight, TOps.Load(ref source, neighbour + (2 * step)), sum2);
                }

                if (group > 3)
                {
                    sum3 = TOps.MultiplyAdd(weight, TOps.Load(ref source, neighbour + (3 * step)), sum3);
                }
            }

            TOps.Store(sum0, ref result, target + x);
            if (group > 1)
            {
                TOps.Store(sum1, ref result, target + x + step);
            }

            if (group > 2)
            {
                TOps.Store(sum2, ref result, target + x + (2 * step));
            }

            if (group > 3)
            {
                TOps.Store(sum3, ref result, target + x + (3 * step));
            }
        }
    }

    /// <summary>Floats of slack in the affinity buffer, so that its start can be aligned to a 64-byte vector.</summary>
    private const int AlignmentFloats = 16;

    /// <summary>The first index of the pinned buffer whose address is a multiple of <paramref name="lanes"/> floats.</summary>
    private static unsafe int Aligned(MemoryHandle pin, int lanes)
    {
        long bytes = (long)lanes * sizeof(float);
        long address = (long)pin.Pointer;
        return (int)(((bytes - (address % bytes)) % bytes) / sizeof(float));
    }

    private static int Clamp(int value, int size) => value < 0 ? 0 : (value >= size ? size - 1 : value);
}
