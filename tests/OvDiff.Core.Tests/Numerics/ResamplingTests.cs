using OvDiff.Core.Images;
using OvDiff.Core.Numerics;

namespace OvDiff.Core.Tests.Numerics;

public sealed class ResamplingTests
{
    [Fact]
    public void BilinearPlanar_Upsample2x_MatchesPyTorchDocumentedResult()
    {
        // torch.nn.functional.interpolate([[1,2],[3,4]], size=(4,4), mode="bilinear", align_corners=False):
        // src = max(0, 0.5 * (dst + 0.5) - 0.5) = 0, 0.25, 0.75, 1.25->clamped tap 1 => weights (1,0),(.75,.25),(.25,.75),(0,1).
        float[] src = [1, 2, 3, 4, 10, 10, 10, 10];
        float[] dst = new float[32];
        Resampling.BilinearPlanar(src, 2, 2, 2, dst, 4, 4);
        float[] expected =
        [
            1.0f, 1.25f, 1.75f, 2.0f,
            1.5f, 1.75f, 2.25f, 2.5f,
            2.5f, 2.75f, 3.25f, 3.5f,
            3.0f, 3.25f, 3.75f, 4.0f,
        ];
        Assert.Equal(expected, dst.AsSpan(0, 16).ToArray());
        Assert.All(dst.AsSpan(16).ToArray(), v => Assert.Equal(10f, v));
    }

    [Fact]
    public void BilinearPlanar_Downsample_AveragesPairsWithoutAntialiasing()
    {
        // 1x4 -> 1x2: src x = 2 * (dst + 0.5) - 0.5 = 0.5, 2.5: means of (0,8) and (16,32). Height 1 -> 1 is identity.
        float[] src = [0, 8, 16, 32];
        float[] dst = new float[2];
        Resampling.BilinearPlanar(src, 1, 1, 4, dst, 1, 2);
        Assert.Equal([4f, 24f], dst);
    }

    [Theory]
    [InlineData(3, 14, 19, 448, 597)] // grid -> window (upsampling; parallel)
    [InlineData(18, 448, 597, 375, 500)] // resized scale -> image (downsampling; parallel)
    [InlineData(2, 5, 7, 9, 3)] // small: the calling thread; a width under one vector
    [InlineData(4, 33, 1, 17, 70)] // one source column, odd sizes
    [InlineData(2, 20, 64, 21, 200)] // upsampling from 32+ columns: 16 outputs permuted out of 32 source floats
    [InlineData(1, 3, 1000, 2, 530)] // 1.9x down: blocks near the row's end fall back to gathers
    [InlineData(2, 40, 300, 31, 101)] // 3x down: 16 outputs span more than 32 source floats (gathers)
    public void BilinearPlanar_SameBitsAsThePerPixelFormula(int planes, int srcHeight, int srcWidth, int dstHeight, int dstWidth)
    {
        // The row loop (horizontal rows kept between output rows, vectorised vertical blend, rows in parallel) must give
        // the bits of ATen's per-pixel formula in float: (h0*((w0*a)+(w1*b))) + (h1*((w0*c)+(w1*d))), taps from
        // area_pixel_compute_source_index (align_corners=False), written out here independently.
        var random = new Random(17);
        float[] src = new float[planes * srcHeight * srcWidth];
        for (int i = 0; i < src.Length; i++)
        {
            src[i] = (float)((random.NextDouble() * 2) - 1);
        }

        float[] dst = new float[planes * dstHeight * dstWidth];
        Resampling.BilinearPlanar(src, planes, srcHeight, srcWidth, dst, dstHeight, dstWidth);

        static (int Lower, int Upper, float Lambda) Tap(int input, int output, int o)
        {
            float real = MathF.Max((((float)input / output) * (o + 0.5f)) - 0.5f, 0f);
            int lower = (int)real;
            return (lower, lower < input - 1 ? lower + 1 : lower, real - lower);
        }

        int mismatches = 0;
        for (int p = 0; p < planes; p++)
        {
            for (int oy = 0; oy < dstHeight; oy++)
            {
                (int y0, int y1, float h1) = Tap(srcHeight, dstHeight, oy);
                float h0 = 1f - h1;
                for (int ox = 0; ox < dstWidth; ox++)
                {
                    (int x0, int x1, float w1) = Tap(srcWidth, dstWidth, ox);
                    float w0 = 1f - w1;
                    int plane = p * srcHeight * srcWidth;
                    float top = (w0 * src[plane + (y0 * srcWidth) + x0]) + (w1 * src[plane + (y0 * srcWidth) + x1]);
                    float bottom = (w0 * src[plane + (y1 * srcWidth) + x0]) + (w1 * src[plane + (y1 * srcWidth) + x1]);
                    float expected = (h0 * top) + (h1 * bottom);
                    if (BitConverter.SingleToInt32Bits(expected) != BitConverter.SingleToInt32Bits(dst[(((p * dstHeight) + oy) * dstWidth) + ox]))
                    {
                        mismatches++;
                    }
                }
            }
        }

        Assert.Equal(0, mismatches);
    }

    [Theory]
    [InlineData(ImageFilter.Bilinear, 7, 5, 3, 2)]
    [InlineData(ImageFilter.Lanczos3, 7, 5, 3, 2)]
    [InlineData(ImageFilter.Lanczos3, 5, 4, 13, 9)]
    public void ResizeImage_ConstantImageStaysConstant(ImageFilter filter, int w, int h, int newW, int newH)
    {
        byte[] pixels = new byte[w * h * 3];
        for (int i = 0; i < pixels.Length; i += 3)
        {
            pixels[i] = 200;
            pixels[i + 1] = 17;
            pixels[i + 2] = 255;
        }

        RgbImage resized = Resampling.ResizeImage(new RgbImage(w, h, pixels), newW, newH, filter);
        Assert.Equal(newW, resized.Width);
        Assert.Equal(newH, resized.Height);
        for (int i = 0; i < resized.Pixels.Length; i += 3)
        {
            Assert.Equal([200, 17, 255], resized.Pixels.AsSpan(i, 3).ToArray());
        }
    }

    [Fact]
    public void ResizeImage_BilinearShrink_HandComputed()
    {
        // PIL BILINEAR 4 -> 2 (scale 2, support 1*2): output 0 centre 1, taps x=0..2 at (x - 1 + .5)/2 = -.25,.25,.75
        // -> triangle weights .75,.75,.25 / 1.75 = 3/7,3/7,1/7; output 1 centre 3, taps x=1..3 -> 1/7,3/7,3/7.
        // R = [0,70,140,210]: 30+20 = 50 and 10+60+90 = 160 (fixed point 50.4999 and 160.4999, floor -> 50, 160).
        // G = [7,7,7,7] stays 7; B = [255,0,0,0]: 255*3/7 = 109.29 -> 109 and 0.
        byte[] pixels = [0, 7, 255, 70, 7, 0, 140, 7, 0, 210, 7, 0];
        RgbImage resized = Resampling.ResizeImage(new RgbImage(4, 1, pixels), 2, 1, ImageFilter.Bilinear);
        Assert.Equal([50, 7, 109, 160, 7, 0], resized.Pixels);
    }

    [Theory]
    [InlineData(ImageFilter.Lanczos3, 17, 11, 6, 5)]
    [InlineData(ImageFilter.Lanczos3, 6, 5, 15, 12)]
    [InlineData(ImageFilter.Bilinear, 17, 11, 6, 8)]
    [InlineData(ImageFilter.Bilinear, 9, 4, 9, 10)]
    public void ResizeImage_AgreesWithFloat64SeparableReference(ImageFilter filter, int w, int h, int newW, int newH)
    {
        var random = new Random(w * 31 + newW);
        byte[] pixels = new byte[w * h * 3];
        random.NextBytes(pixels);
        RgbImage resized = Resampling.ResizeImage(new RgbImage(w, h, pixels), newW, newH, filter);

        // Independent float64 reference: weight of source i for output o is f((i + 0.5 - centre) / fs), fs = max(scale, 1),
        // normalised over i; horizontal first, rounded to bytes, then vertical (PIL's pass order), skipping unchanged axes.
        Func<double, double> f = filter == ImageFilter.Bilinear
            ? x => Math.Max(0, 1 - Math.Abs(x))
            : x => Math.Abs(x) < 3 ? Sinc(x) * Sinc(x / 3) : 0;
        double[,] wx = Weights(w, newW, f), wy = Weights(h, newH, f);
        byte[,,] mid = new byte[h, newW, 3];
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < newW; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    double s = 0;
                    for (int i = 0; i < w; i++)
                    {
                        s += wx[x, i] * pixels[((y * w) + i) * 3 + c];
                    }

                    mid[y, x, c] = w == newW ? pixels[((y * w) + x) * 3 + c] : ToByte(s);
                }
            }
        }

        int maxDiff = 0;
        for (int y = 0; y < newH; y++)
        {
            for (int x = 0; x < newW; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    double s = 0;
                    for (int j = 0; j < h; j++)
                    {
                        s += wy[y, j] * mid[j, x, c];
                    }

                    int expected = h == newH ? mid[y, x, c] : ToByte(s);
                    maxDiff = Math.Max(maxDiff, Math.Abs(expected - resized.Pixels[((y * newW) + x) * 3 + c]));
                }
            }
        }

        // PIL's 22-bit fixed point can move a value sitting near a .5 boundary by one level.
        Assert.True(maxDiff <= 1, $"max difference {maxDiff}");
    }

    // Pillow's own accuracy tests (Tests/test_image_resample.py, TestImagingCoreResampleAccuracy): a square image whose
    // top-left and bottom-right quadrants are 0xE1 and the others 0x1E, resized; the expected top-left quarter is given
    // in hex and the rest follows by symmetry (mirrored quadrants equal, the other two are 255 - value).
    [Theory]
    [InlineData(ImageFilter.Bilinear, 8, 4, "e1 c9 c9 b7")]
    [InlineData(ImageFilter.Lanczos3, 16, 8, "e1 e0 e4 d7 e0 df e3 d6 e4 e3 e7 da d7 d6 d9 ce")]
    [InlineData(ImageFilter.Bilinear, 2, 4, "e1 b0 b0 98")]
    [InlineData(ImageFilter.Lanczos3, 6, 12, "e1 e0 db ed f5 b8 e0 df da ec f3 b7 db db d6 e7 ee b5 ed ec e6 fb ff bf f5 f4 ee ff ff c4 b8 b7 b4 bf c4 a0")]
    public void ResizeImage_MatchesPillowAccuracyTests(ImageFilter filter, int size, int newSize, string quarter)
    {
        byte[] pixels = new byte[size * size * 3];
        for (int y = 0; y < size; y++)
        {
            for (int x = 0; x < size; x++)
            {
                bool dark = (x < size / 2) == (y < size / 2);
                pixels.AsSpan((y * size + x) * 3, 3).Fill(dark ? (byte)0xE1 : (byte)0x1E);
            }
        }

        RgbImage resized = Resampling.ResizeImage(new RgbImage(size, size, pixels), newSize, newSize, filter);
        byte[] values = quarter.Split(' ').Select(h => Convert.ToByte(h, 16)).ToArray();
        int half = newSize / 2;
        var expected = new byte[newSize, newSize];
        for (int y = 0; y < half; y++)
        {
            for (int x = 0; x < half; x++)
            {
                byte v = values[y * half + x];
                expected[y, x] = v;
                expected[newSize - y - 1, newSize - x - 1] = v;
                expected[newSize - y - 1, x] = (byte)(255 - v);
                expected[y, newSize - x - 1] = (byte)(255 - v);
            }
        }

        for (int y = 0; y < newSize; y++)
        {
            for (int x = 0; x < newSize; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    Assert.Equal(expected[y, x], resized.Pixels[(y * newSize + x) * 3 + c]);
                }
            }
        }
    }

    [Fact]
    public void ResizeNearest_FollowsPyTorchIndexRule()
    {
        // 3 -> 2 columns: floor(x * 1.5) = 0, 1. 2 -> 3 rows: floor(y * 2/3) = 0, 0, 1.
        byte[] labels = [1, 2, 3, 4, 5, 6];
        LabelMap resized = Resampling.ResizeNearest(new LabelMap(3, 2, labels), 2, 3);
        Assert.Equal([1, 2, 1, 2, 4, 5], resized.Labels);

        // Exact doubling: index >> 1.
        LabelMap doubled = Resampling.ResizeNearest(new LabelMap(2, 1, [7, 9]), 4, 1);
        Assert.Equal([7, 7, 9, 9], doubled.Labels);
    }

    [Theory]
    [InlineData(500, 375, 448, 597, 448)] // 500 * 448/375 = 597.33 -> 597
    [InlineData(640, 480, 512, 683, 512)] // 640 * 512/480 = 682.67 -> 683
    [InlineData(333, 500, 448, 448, 673)] // 500 * 448/333 = 672.67 -> 673
    [InlineData(400, 400, 448, 448, 448)]
    public void ShortSideSize_RoundsLikeMmcv(int w, int h, int shortSide, int expectedW, int expectedH)
    {
        Assert.Equal((expectedW, expectedH), Resampling.ShortSideSize(w, h, shortSide));
    }

    private static double Sinc(double x) => x == 0 ? 1 : Math.Sin(Math.PI * x) / (Math.PI * x);

    private static byte ToByte(double v) => (byte)Math.Clamp(Math.Floor(v + 0.5), 0, 255);

    private static double[,] Weights(int inSize, int outSize, Func<double, double> f)
    {
        double scale = (double)inSize / outSize, fs = Math.Max(scale, 1);
        var weights = new double[outSize, inSize];
        for (int o = 0; o < outSize; o++)
        {
            double centre = (o + 0.5) * scale, total = 0;
            for (int i = 0; i < inSize; i++)
            {
                weights[o, i] = f((i + 0.5 - centre) / fs);
                total += weights[o, i];
            }

            for (int i = 0; i < inSize; i++)
            {
                weights[o, i] /= total;
            }
        }

        return weights;
    }
}
