using OvDiff.Core.Features;
using Microsoft.ML.OnnxRuntime;
using OvDiff.Core.Images;

namespace OvDiff.Onnx.Tests;

public sealed class ResNet18FeatureExtractorTests
{
    private static float[] RunOriginalPipeline(RgbImage image, out float[] preprocessed)
    {
        // The unpatched ML.NET pipeline: ResNetPreprocess.onnx on planar RGB 0-255, then ResNet18.onnx's pooled output.
        var planarRgb = new float[3 * 224 * 224];
        for (var p = 0; p < 224 * 224; p++)
        {
            for (var c = 0; c < 3; c++)
            {
                planarRgb[(c * 224 * 224) + p] = image.Pixels[(p * 3) + c];
            }
        }

        using var prep = OnnxModelSession.Open(
            ResNet18ModelFiles.DefaultPreprocessModelPath, OnnxRuntimeOptions.Default,
            [OnnxTensorSpec.AnyFloat("OriginalInput", 4)], [OnnxTensorSpec.AnyFloat("PreprocessedInput", 4)], "test");
        using var prepInput = prep.CreateFloatInput("OriginalInput", planarRgb, [1, 3, 224, 224]);
        using var prepOut = prep.Run(new Dictionary<string, OrtValue> { ["OriginalInput"] = prepInput }, ["PreprocessedInput"]);
        preprocessed = OnnxModelSession.ReadFloatTensor(prepOut.First(), out _);

        using var net = OnnxModelSession.Open(
            ResNet18ModelFiles.DefaultModelPath, OnnxRuntimeOptions.Default,
            [OnnxTensorSpec.AnyFloat(ResNet18ModelFiles.InputName, 4)], [OnnxTensorSpec.AnyFloat(ResNet18ModelFiles.PooledOutputName, 4)], "test");
        using var netInput = net.CreateFloatInput(ResNet18ModelFiles.InputName, preprocessed, [1, 3, 224, 224]);
        using var netOut = net.Run(new Dictionary<string, OrtValue> { [ResNet18ModelFiles.InputName] = netInput }, [ResNet18ModelFiles.PooledOutputName]);
        return OnnxModelSession.ReadFloatTensor(netOut.First(), out _);
    }

    [Fact]
    public void Extract_Layer4At224_MeanPooledEqualsOriginalPipelinePooledOutput()
    {
        var image = TestImages.Create(224, 224);
        var pooled = RunOriginalPipeline(image, out _);

        using var extractor = new ResNet18FeatureExtractor();
        var map = extractor.Extract(image, TestContext.Current.CancellationToken);

        Assert.Equal((7, 7, 512), (map.Height, map.Width, map.Channels));
        var maxAbs = 0.0;
        var maxPooled = pooled.Max(Math.Abs);
        for (var c = 0; c < 512; c++)
        {
            double sum = 0;
            for (var cell = 0; cell < 49; cell++)
            {
                sum += map.Data[(cell * 512) + c];
            }

            maxAbs = Math.Max(maxAbs, Math.Abs((sum / 49) - pooled[c]));
        }

        Assert.True(maxPooled > 0.1, $"pooled output is degenerate (max {maxPooled})");
        Assert.True(maxAbs < 1e-4 * maxPooled, $"max |mean(layer4) - pooled| = {maxAbs}, pooled max {maxPooled}");
    }

    [Fact]
    public void Preprocess_At224_EqualsResNetPreprocessOnnx()
    {
        var image = TestImages.Create(224, 224, seed: 7);
        _ = RunOriginalPipeline(image, out var expected);
        var mean = ResNet18ModelFiles.GetMeanImage(ResNet18ModelFiles.DefaultPreprocessModelPath);

        var actual = ResNet18FeatureExtractor.Preprocess(image, mean.Span, 224, 224);

        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 1e-4f);
        }
    }

    [Fact]
    public void MeanImage_IsNotPerChannelConstant_SoResizedModeDiffersFromPerChannel()
    {
        var mean = ResNet18ModelFiles.GetMeanImage(ResNet18ModelFiles.DefaultPreprocessModelPath).Span;
        var blue = mean[..(224 * 224)];
        var spread = TensorPrimitivesMax(blue) - TensorPrimitivesMin(blue);
        Assert.True(spread > 5f, $"spread {spread}");
    }

    private static float TensorPrimitivesMax(ReadOnlySpan<float> values) => System.Numerics.Tensors.TensorPrimitives.Max(values);

    private static float TensorPrimitivesMin(ReadOnlySpan<float> values) => System.Numerics.Tensors.TensorPrimitives.Min(values);

    [Theory]
    [InlineData(ResNet18Layers.Layer4, 448, 448, 14, 14, 512)]
    [InlineData(ResNet18Layers.Layer4, 672, 448, 14, 21, 512)]
    [InlineData(ResNet18Layers.Layer4, 300, 450, 15, 10, 512)]
    [InlineData(ResNet18Layers.Layer3, 300, 450, 29, 19, 256)]
    [InlineData(ResNet18Layers.Layer3And4, 300, 450, 29, 19, 768)]
    [InlineData(ResNet18Layers.Layer4Dilated, 300, 450, 29, 19, 512)]
    public void Extract_AnySize_GivesCeilOfSizeOverStrideCells(ResNet18Layers layers, int width, int height, int gridHeight, int gridWidth, int channels)
    {
        using var extractor = new ResNet18FeatureExtractor(new ResNet18Options { Layers = layers });

        var map = extractor.Extract(TestImages.Create(width, height), TestContext.Current.CancellationToken);

        Assert.Equal((gridHeight, gridWidth, channels), (map.Height, map.Width, map.Channels));
        Assert.Equal(channels, extractor.Channels);
        Assert.All(map.Data, v => Assert.True(float.IsFinite(v)));
        Assert.True(map.Data.Max() > 0f);
    }

    [Theory]
    [InlineData(ResNet18Layers.Layer4)]
    [InlineData(ResNet18Layers.Layer3And4)]
    public void ExtractBatch_SameSizeImages_EqualOneCallEach(ResNet18Layers layers)
    {
        using var extractor = new ResNet18FeatureExtractor(new ResNet18Options { Layers = layers });
        RgbImage[] images = [TestImages.Create(100, 70, seed: 1), TestImages.Create(100, 70, seed: 2), TestImages.Create(100, 70, seed: 3)];

        IReadOnlyList<FeatureMap> batch = extractor.ExtractBatch(images, TestContext.Current.CancellationToken);

        Assert.Equal(3, batch.Count);
        for (int i = 0; i < images.Length; i++)
        {
            FeatureMap single = extractor.Extract(images[i], TestContext.Current.CancellationToken);
            Assert.Equal((single.Height, single.Width, single.Channels), (batch[i].Height, batch[i].Width, batch[i].Channels));
            float largest = 0;
            for (int k = 0; k < single.Data.Length; k++)
            {
                largest = Math.Max(largest, Math.Abs(single.Data[k] - batch[i].Data[k]) / Math.Max(1f, Math.Abs(single.Data[k])));
            }

            Assert.True(largest <= 1e-5f, $"image {i}: batched features differ from one call by {largest} (relative)");
        }
    }

    [Fact]
    public void Extract_Layer3And4_IsNormalizedLayer3AndBilinearlyUpsampledLayer4()
    {
        // 256 x 224: a multiple of 32, so no crop; layer3 grid 14x16, layer4 grid 7x8.
        var image = TestImages.Create(256, 224, seed: 3);
        using var layer3 = new ResNet18FeatureExtractor(new ResNet18Options { Layers = ResNet18Layers.Layer3 });
        using var layer4 = new ResNet18FeatureExtractor(new ResNet18Options { Layers = ResNet18Layers.Layer4 });
        using var both = new ResNet18FeatureExtractor(new ResNet18Options { Layers = ResNet18Layers.Layer3And4 });
        var ct = TestContext.Current.CancellationToken;
        var map3 = layer3.Extract(image, ct);
        var map4 = layer4.Extract(image, ct);
        var combined = both.Extract(image, ct);

        Assert.Equal((14, 16, 768), (combined.Height, combined.Width, combined.Channels));
        for (var y = 0; y < 14; y++)
        {
            for (var x = 0; x < 16; x++)
            {
                var expected3 = Normalize(map3.Cell(y, x).ToArray().Select(v => (double)v).ToArray());
                var expected4 = Normalize(Bilinear(map4, y, x, 14, 16));
                var cell = combined.Cell(y, x);
                for (var c = 0; c < 256; c++)
                {
                    Assert.Equal(expected3[c], cell[c], 1e-5);
                }

                for (var c = 0; c < 512; c++)
                {
                    Assert.Equal(expected4[c], cell[256 + c], 1e-5);
                }
            }
        }
    }

    [Fact]
    public void Extract_Layer4Dilated_EqualsLayer4OnEverySecondCellAndAddsTheCellsBetween()
    {
        // Without layer 4's stride and with its later convolutions dilated by 2, cell (2y, 2x) sees exactly the pixels that
        // layer 4's cell (y, x) sees, through the same weights: the values must agree there. 256 x 224: no crop.
        var image = TestImages.Create(256, 224, seed: 4);
        using var layer4 = new ResNet18FeatureExtractor(new ResNet18Options { Layers = ResNet18Layers.Layer4 });
        using var dilated = new ResNet18FeatureExtractor(new ResNet18Options { Layers = ResNet18Layers.Layer4Dilated });
        var ct = TestContext.Current.CancellationToken;
        var coarse = layer4.Extract(image, ct);
        var fine = dilated.Extract(image, ct);

        Assert.Equal((7, 8, 512), (coarse.Height, coarse.Width, coarse.Channels));
        Assert.Equal((14, 16, 512), (fine.Height, fine.Width, fine.Channels));
        Assert.Equal(16, dilated.Stride);
        var scale = coarse.Data.Max();
        Assert.True(scale > 0.1f, $"layer 4 is degenerate (max {scale})");
        double largest = 0, between = 0;
        for (var y = 0; y < 7; y++)
        {
            for (var x = 0; x < 8; x++)
            {
                var expected = coarse.Cell(y, x);
                var actual = fine.Cell(2 * y, 2 * x);
                var odd = fine.Cell((2 * y) + 1, (2 * x) + 1);
                for (var c = 0; c < 512; c++)
                {
                    largest = Math.Max(largest, Math.Abs(actual[c] - expected[c]));
                    between = Math.Max(between, Math.Abs(odd[c] - expected[c]));
                }
            }
        }

        Assert.True(largest < 1e-4 * scale, $"dilated layer 4 differs from layer 4 on the shared cells by {largest} (max value {scale})");
        Assert.True(between > 0.05 * scale, $"the cells between are copies of their neighbours (difference {between}, max value {scale})");
    }

    private static double[] Bilinear(OvDiff.Core.Features.FeatureMap source, int y, int x, int height, int width)
    {
        // Half-pixel (align_corners = false) bilinear sample of cell (y, x) of a height x width grid, in float64.
        static (int Low, int High, double Weight) Tap(int i, int sourceSize, int size)
        {
            var position = Math.Max(((i + 0.5) * sourceSize / size) - 0.5, 0);
            var low = Math.Min((int)Math.Floor(position), sourceSize - 1);
            return (low, Math.Min(low + 1, sourceSize - 1), position - low);
        }

        var (y0, y1, wy) = Tap(y, source.Height, height);
        var (x0, x1, wx) = Tap(x, source.Width, width);
        var result = new double[source.Channels];
        for (var c = 0; c < source.Channels; c++)
        {
            result[c] = ((1 - wy) * (((1 - wx) * source.Cell(y0, x0)[c]) + (wx * source.Cell(y0, x1)[c])))
                + (wy * (((1 - wx) * source.Cell(y1, x0)[c]) + (wx * source.Cell(y1, x1)[c])));
        }

        return result;
    }

    private static double[] Normalize(double[] values)
    {
        var norm = Math.Sqrt(values.Sum(v => v * v));
        return norm == 0 ? values : values.Select(v => v / norm).ToArray();
    }

    [Fact]
    public void Extract_PerChannelMeanMode_DiffersSlightlyFromResizedMode()
    {
        var image = TestImages.Create(224, 224, seed: 5);
        using var resized = new ResNet18FeatureExtractor();
        using var perChannel = new ResNet18FeatureExtractor(new ResNet18Options { MeanImageMode = ResNet18MeanImageMode.PerChannel });
        var a = resized.Extract(image, TestContext.Current.CancellationToken).Data;
        var b = perChannel.Extract(image, TestContext.Current.CancellationToken).Data;

        var cosine = System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(a, b);
        Assert.InRange(cosine, 0.9f, 0.99999f);
    }

    [Fact]
    public void Constructor_MissingModelFile_NamesPathAndPackage()
    {
        var path = Path.Combine(Path.GetTempPath(), "ovdiff-missing", "ResNet18.onnx");

        var error = Assert.Throws<ModelFileNotFoundException>(() => new ResNet18FeatureExtractor(new ResNet18Options { ModelPath = path }));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("Microsoft.ML.DnnImageFeaturizer.ResNet18", error.Message, StringComparison.Ordinal);
        Assert.Contains("DnnImageModels/ResNet18Onnx/ResNet18.onnx", error.Message, StringComparison.Ordinal);
        // A published app copied without its DnnImageModels folder is told to copy it (the package reference is there).
        Assert.Contains("copy its DnnImageModels/ folder along with the executable", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Extract_CancelledToken_Throws()
    {
        using var extractor = new ResNet18FeatureExtractor();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => extractor.Extract(TestImages.Create(64, 64), cancelled.Token));
    }

    [Fact]
    public void Constructor_CudaOnCpuOnlyRuntime_FallsBackOnlyWhenAllowed()
    {
        if (OrtEnv.Instance().GetAvailableProviders().Contains("CUDAExecutionProvider"))
        {
            Assert.Skip("A GPU build of ONNX Runtime is referenced; this test covers the CPU-only build.");
        }

        var cuda = new OnnxRuntimeOptions { ExecutionProvider = ExecutionProviderKind.Cuda };
        var error = Assert.Throws<ExecutionProviderUnavailableException>(() => new ResNet18FeatureExtractor(new ResNet18Options { Runtime = cuda }));
        Assert.Contains("CUDA", error.Message, StringComparison.Ordinal);

        using var fallback = new ResNet18FeatureExtractor(new ResNet18Options { Runtime = cuda with { FallbackToCpu = true } });
        Assert.Equal(ExecutionProviderKind.Cpu, fallback.ExecutionProvider);
        Assert.Equal(2, fallback.Extract(TestImages.Create(64, 64), TestContext.Current.CancellationToken).Height);
    }
}
