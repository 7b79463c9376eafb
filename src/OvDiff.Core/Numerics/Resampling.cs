using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using OvDiff.Core.Images;

namespace OvDiff.Core.Numerics;

/// <summary>The filter used to resample an RGB image.</summary>
public enum ImageFilter
{
    /// <summary>Bilinear with antialiasing when shrinking (PIL's BILINEAR).</summary>
    Bilinear,

    /// <summary>Lanczos-3 with antialiasing when shrinking (PIL's LANCZOS; the reference resizes test images with it).</summary>
    Lanczos3,
}

/// <summary>Resampling of planar score/feature maps, RGB images and label maps.</summary>
public static class Resampling
{
    // PIL's fixed-point precision for 8-bit resampling (Resample.c: PRECISION_BITS = 32 - 8 - 2).
    private const int PrecisionBits = 32 - 8 - 2;

    /// <summary>
    /// Bilinear resize of <paramref name="planes"/> planar maps (each srcHeight x srcWidth) into dst (each dstHeight x dstWidth),
    /// with PyTorch's <c>F.interpolate(mode="bilinear", align_corners=False)</c> semantics (no antialiasing).
    /// </summary>
    public static unsafe void BilinearPlanar(ReadOnlySpan<float> src, int planes, int srcHeight, int srcWidth, Span<float> dst, int dstHeight, int dstWidth)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(planes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(srcHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(srcWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dstHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dstWidth);
        long srcPlane = (long)srcHeight * srcWidth, dstPlane = (long)dstHeight * dstWidth;
        if (srcPlane * planes > src.Length || dstPlane * planes > dst.Length)
        {
            throw new ArgumentException("src or dst is too short for the given planes and sizes.");
        }

        // Per output column/row: lower source index, step to the upper one (0 at the last row/column) and its weight,
        // exactly as ATen's upsample_bilinear2d (area_pixel_compute_source_index, computed in float).
        var taps = new BilinearTaps(srcWidth, dstWidth, srcHeight, dstHeight);
        int rows = checked(planes * dstHeight);
        if (rows == 0)
        {
            return;
        }

        // The output rows of every plane form one index space, cut into contiguous chunks that run in parallel when
        // the work is large (each chunk keeps its own two horizontally interpolated source rows).
        fixed (float* target = dst)
        {
            nint targetAddress = (nint)target;
            SpanParallel.For(src, rows, dstWidth, (source, first, end) =>
            {
                fixed (float* sourcePointer = source)
                {
                    taps.Rows(sourcePointer, (float*)targetAddress, first, end);
                }
            }, SpanParallel.OutputValuesThreshold);
        }
    }

    /// <summary>
    /// Resizes an RGB image with PIL's separable, antialiased resampling for the given filter (Resample.c: support scaled by
    /// max(scale, 1), 22-bit fixed-point coefficients, horizontal pass first into an 8-bit intermediate, then vertical,
    /// each rounded and clamped to 0..255). A pass whose size does not change is skipped, as in PIL.
    /// </summary>
    public static RgbImage ResizeImage(RgbImage image, int width, int height, ImageFilter filter = ImageFilter.Lanczos3)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        Func<double, double> kernel = filter == ImageFilter.Bilinear ? BilinearFilter : LanczosFilter;
        double support = filter == ImageFilter.Bilinear ? 1.0 : 3.0;

        byte[] pixels = image.Pixels;
        int srcWidth = image.Width, srcHeight = image.Height;
        if (width == srcWidth && height == srcHeight)
        {
            return new RgbImage(width, height, (byte[])pixels.Clone());
        }

        var vertical = PilCoefficients.Compute(srcHeight, height, support, kernel);
        if (width != srcWidth)
        {
            // Only the source rows the vertical pass reads are resampled horizontally (PIL's ybox_first/ybox_last).
            int firstRow = vertical.Bounds[0];
            int lastRow = height != srcHeight ? vertical.Bounds[(height - 1) * 2] + vertical.Bounds[(height * 2) - 1] : srcHeight;
            if (height == srcHeight)
            {
                firstRow = 0;
            }

            var horizontal = PilCoefficients.Compute(srcWidth, width, support, kernel);
            int rows = lastRow - firstRow;
            byte[] temp = new byte[(long)width * rows * 3];
            for (int y = 0; y < rows; y++)
            {
                HorizontalRow(pixels, (firstRow + y) * srcWidth * 3, temp, y * width * 3, width, horizontal);
            }

            if (height == srcHeight)
            {
                return new RgbImage(width, height, temp);
            }

            for (int y = 0; y < height; y++)
            {
                vertical.Bounds[y * 2] -= firstRow;
            }

            pixels = temp;
        }

        byte[] output = new byte[(long)width * height * 3];
        int stride = width * 3;
        for (int y = 0; y < height; y++)
        {
            VerticalRow(pixels, output, y, stride, vertical);
        }

        return new RgbImage(width, height, output);
    }

    // One output row of the horizontal pass: per pixel, the taps of R, G and B together (four lanes, the fourth unused)
    // where four bytes can be read, else one channel at a time. Integer sums, so the same values in any lane order.
    private static unsafe void HorizontalRow(byte[] pixels, int srcRow, byte[] temp, int dstRow, int width, PilCoefficients horizontal)
    {
        fixed (byte* source = pixels)
        fixed (int* weights = horizontal.Weights)
        {
            for (int x = 0; x < width; x++)
            {
                int xmin = horizontal.Bounds[x * 2], count = horizontal.Bounds[(x * 2) + 1];
                int* k = weights + ((long)x * horizontal.KernelSize);
                int first = srcRow + (xmin * 3);
                if (Sse41.IsSupported && first + ((count - 1) * 3) + 4 <= pixels.Length)
                {
                    Vector128<int> sum = Vector128.Create(1 << (PrecisionBits - 1));
                    for (int i = 0; i < count; i++)
                    {
                        Vector128<int> rgb = Sse41.ConvertToVector128Int32(source + first + (i * 3));
                        sum += rgb * k[i];
                    }

                    temp[dstRow + (x * 3)] = Clip8(sum.GetElement(0));
                    temp[dstRow + (x * 3) + 1] = Clip8(sum.GetElement(1));
                    temp[dstRow + (x * 3) + 2] = Clip8(sum.GetElement(2));
                    continue;
                }

                int r = 1 << (PrecisionBits - 1), g = r, b = r;
                for (int i = 0; i < count; i++)
                {
                    int s = first + (i * 3);
                    r += pixels[s] * k[i];
                    g += pixels[s + 1] * k[i];
                    b += pixels[s + 2] * k[i];
                }

                temp[dstRow + (x * 3)] = Clip8(r);
                temp[dstRow + (x * 3) + 1] = Clip8(g);
                temp[dstRow + (x * 3) + 2] = Clip8(b);
            }
        }
    }

    // One output row of the vertical pass, eight bytes at a time (integer sums, clipped as Clip8), the rest one by one.
    private static unsafe void VerticalRow(byte[] pixels, byte[] output, int y, int stride, PilCoefficients vertical)
    {
        int ymin = vertical.Bounds[y * 2], count = vertical.Bounds[(y * 2) + 1];
        ReadOnlySpan<int> k = vertical.Weights.AsSpan(y * vertical.KernelSize, count);
        int x = 0;
        if (Avx2.IsSupported)
        {
            fixed (byte* source = pixels)
            fixed (byte* target = output)
            {
                Vector256<int> max = Vector256.Create(255), rounding = Vector256.Create(1 << (PrecisionBits - 1));
                for (; x <= stride - 8; x += 8)
                {
                    Vector256<int> sum = rounding;
                    for (int i = 0; i < count; i++)
                    {
                        sum += Avx2.ConvertToVector256Int32(source + ((long)(ymin + i) * stride) + x) * k[i];
                    }

                    Vector256<int> clipped = Vector256.Min(Vector256.Max(Vector256.ShiftRightArithmetic(sum, PrecisionBits), Vector256<int>.Zero), max);
                    Vector128<short> shorts = Sse2.PackSignedSaturate(clipped.GetLower(), clipped.GetUpper());
                    Sse2.StoreScalar((long*)(target + ((long)y * stride) + x), Sse2.PackUnsignedSaturate(shorts, shorts).AsInt64());
                }
            }
        }

        for (; x < stride; x++)
        {
            int sum = 1 << (PrecisionBits - 1);
            for (int i = 0; i < count; i++)
            {
                sum += pixels[((ymin + i) * stride) + x] * k[i];
            }

            output[(y * stride) + x] = Clip8(sum);
        }
    }

    /// <summary>Nearest-neighbour resize of a label map (PyTorch "nearest": src index = floor(dst index * src / dst)).</summary>
    public static LabelMap ResizeNearest(LabelMap labels, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        Span<int> xs = width <= 4096 ? stackalloc int[width] : new int[width];
        for (int x = 0; x < width; x++)
        {
            xs[x] = NearestIndex(x, labels.Width, width);
        }

        byte[] output = new byte[(long)width * height];
        for (int y = 0; y < height; y++)
        {
            ReadOnlySpan<byte> source = labels.Labels.AsSpan(NearestIndex(y, labels.Height, height) * labels.Width, labels.Width);
            Span<byte> row = output.AsSpan(y * width, width);
            for (int x = 0; x < width; x++)
            {
                row[x] = source[xs[x]];
            }
        }

        return new LabelMap(width, height, output);
    }

    /// <summary>
    /// The size with the short side scaled to <paramref name="shortSide"/>, keeping the aspect ratio: as mmcv's rescale,
    /// scale = shortSide / min(width, height) and each side becomes (int)(side * scale + 0.5).
    /// </summary>
    public static (int Width, int Height) ShortSideSize(int width, int height, int shortSide)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shortSide);
        double scale = (double)shortSide / Math.Min(width, height);
        return ((int)((width * scale) + 0.5), (int)((height * scale) + 0.5));
    }

    /// <summary>
    /// The size with the short side set to <paramref name="shortSide"/> as torchvision's <c>resize(img, size=int)</c>
    /// computes it (the reference's predict.py resizes test images this way): the long side is
    /// <c>int(shortSide * long / short)</c>, truncated, where <see cref="ShortSideSize"/> (mmcv) rounds. 500x333 → 672x448 here, 673x448 there.
    /// </summary>
    public static (int Width, int Height) ShortSideSizeTruncated(int width, int height, int shortSide)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shortSide);
        if (width <= height)
        {
            return (shortSide, (int)((double)shortSide * height / width));
        }

        return ((int)((double)shortSide * width / height), shortSide);
    }

    // ATen nearest_idx: identity for equal sizes, a shift for exact doubling, else floor(dst * (float)(src / dst)) clamped.
    private static int NearestIndex(int outputIndex, int inputSize, int outputSize)
    {
        if (outputSize == inputSize)
        {
            return outputIndex;
        }

        if (outputSize == 2 * inputSize)
        {
            return outputIndex >> 1;
        }

        float scale = (float)inputSize / outputSize;
        return Math.Min((int)MathF.Floor(outputIndex * scale), inputSize - 1);
    }

    // ATen area_pixel_compute_source_index with align_corners=False: src = max(0, scale * (dst + 0.5) - 0.5), in float.
    internal static void LinearTaps(int inputSize, int outputSize, Span<int> lower, Span<int> step, Span<float> lambda)
    {
        float scale = (float)inputSize / outputSize;
        for (int o = 0; o < outputSize; o++)
        {
            float real = MathF.Max((scale * (o + 0.5f)) - 0.5f, 0f);
            int index = (int)real;
            lower[o] = index;
            step[o] = index < inputSize - 1 ? 1 : 0;
            lambda[o] = real - index;
        }
    }

    private static byte Clip8(int value)
    {
        if (value >= 1 << PrecisionBits << 8)
        {
            return 255;
        }

        return value <= 0 ? (byte)0 : (byte)(value >> PrecisionBits);
    }

    private static double BilinearFilter(double x)
    {
        x = Math.Abs(x);
        return x < 1.0 ? 1.0 - x : 0.0;
    }

    private static double LanczosFilter(double x) => x >= -3.0 && x < 3.0 ? Sinc(x) * Sinc(x / 3.0) : 0.0;

    private static double Sinc(double x)
    {
        if (x == 0.0)
        {
            return 1.0;
        }

        x *= Math.PI;
        return Math.Sin(x) / x;
    }

    /// <summary>PIL's precompute_coeffs + normalize_coeffs_8bpc for one axis (box = whole image).</summary>
    internal sealed class PilCoefficients
    {
        private PilCoefficients(int kernelSize, int[] bounds, int[] weights, double[] exact)
        {
            KernelSize = kernelSize;
            Bounds = bounds;
            Weights = weights;
            Exact = exact;
        }

        /// <summary>Taps per output sample (ceil(support) * 2 + 1).</summary>
        public int KernelSize { get; }

        /// <summary>Per output sample: first source index, tap count.</summary>
        public int[] Bounds { get; }

        /// <summary>Fixed-point (22-bit) weights, KernelSize per output sample.</summary>
        public int[] Weights { get; }

        /// <summary>The normalised float64 weights before rounding to fixed point.</summary>
        public double[] Exact { get; }

        public static PilCoefficients Compute(int inSize, int outSize, double filterSupport, Func<double, double> filter)
        {
            double scale = (double)inSize / outSize;
            double filterScale = Math.Max(scale, 1.0);
            double support = filterSupport * filterScale;
            int kernelSize = ((int)Math.Ceiling(support) * 2) + 1;
            int[] bounds = new int[outSize * 2];
            double[] exact = new double[(long)outSize * kernelSize];
            int[] weights = new int[exact.Length];
            double ss = 1.0 / filterScale;
            for (int xx = 0; xx < outSize; xx++)
            {
                double center = (xx + 0.5) * scale;
                int xmin = Math.Max((int)(center - support + 0.5), 0);
                int xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
                Span<double> k = exact.AsSpan(xx * kernelSize, kernelSize);
                double total = 0.0;
                for (int x = 0; x < xmax; x++)
                {
                    double w = filter((x + xmin - center + 0.5) * ss);
                    k[x] = w;
                    total += w;
                }

                for (int x = 0; x < xmax; x++)
                {
                    if (total != 0.0)
                    {
                        k[x] /= total;
                    }

                    double fixedPoint = k[x] * (1 << PrecisionBits);
                    weights[(xx * kernelSize) + x] = (int)(k[x] < 0 ? fixedPoint - 0.5 : fixedPoint + 0.5);
                }

                bounds[xx * 2] = xmin;
                bounds[(xx * 2) + 1] = xmax;
            }

            return new PilCoefficients(kernelSize, bounds, weights, exact);
        }
    }
}
