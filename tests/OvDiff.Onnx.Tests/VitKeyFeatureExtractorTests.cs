using OvDiff.Core.Features;
using OvDiff.Testing;

namespace OvDiff.Onnx.Tests;

public sealed class VitKeyFeatureExtractorTests : IDisposable
{
    private readonly TempFolder _temporary = new();

    private string TempPath => _temporary.Path;

    public void Dispose() => _temporary.Dispose();

    private static void AssertMatches(double[] expected, FeatureMap actual, int gridHeight, int gridWidth, int referenceGridWidth, double tolerance)
    {
        var channels = actual.Channels;
        Assert.Equal((gridHeight, gridWidth), (actual.Height, actual.Width));
        var scale = expected.Max(Math.Abs);
        for (var y = 0; y < gridHeight; y++)
        {
            for (var x = 0; x < gridWidth; x++)
            {
                for (var c = 0; c < channels; c++)
                {
                    Assert.Equal(expected[(((y * referenceGridWidth) + x) * channels) + c], actual.Cell(y, x)[c], tolerance * scale);
                }
            }
        }
    }

    [Fact]
    public void Extract_DinoExportNames_ReturnsPatchKeysOfFloat64Reference()
    {
        var model = new TinyVitModel(patch: 8, dim: 16, prefixTokens: 1, VitKeyExtractorOptions.DinoLastBlockKeyTensor);
        var path = model.Write(TempPath);
        var image = TestImages.Create(40, 32);
        using var extractor = new VitKeyFeatureExtractor(VitKeyExtractorOptions.DinoVitB8(path) with { Channels = 16, InputSize = null });

        var map = extractor.Extract(image, TestContext.Current.CancellationToken);

        var expected = model.ReferenceKeys(image, PixelNormalization.ImageNet, out var gh, out var gw);
        Assert.Equal((4, 5), (gh, gw));
        AssertMatches(expected, map, 4, 5, gw, 1e-5);
        Assert.Equal(("dino-vitb8-keys", 8, 16), (extractor.Name, extractor.Stride, extractor.Channels));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Extract_ClipExportNamesAndImageNotMultipleOfPatch_PadsAndCropsGrid(bool useClipNormalization)
    {
        var model = new TinyVitModel(patch: 16, dim: 8, prefixTokens: 1, VitKeyExtractorOptions.ClipLayerMinus2KeyTensor, seed: 5);
        var path = model.Write(TempPath);
        var image = TestImages.Create(50, 37, seed: 9);
        var options = VitKeyExtractorOptions.ClipVitB16(path, useClipNormalization) with { Channels = 8, InputSize = null };
        using var extractor = new VitKeyFeatureExtractor(options);

        var map = extractor.Extract(image, TestContext.Current.CancellationToken);

        var normalization = useClipNormalization ? PixelNormalization.Clip : PixelNormalization.ImageNet;
        Assert.Equal(normalization, options.Normalization);
        var expected = model.ReferenceKeys(image, normalization, out var gh, out var gw);
        Assert.Equal((3, 4), (gh, gw));
        AssertMatches(expected, map, 3, 4, gw, 1e-5);
    }

    [Fact]
    public void Extract_RegisterTokens_AreDroppedWithCls()
    {
        var model = new TinyVitModel(patch: 8, dim: 8, prefixTokens: 5, "/encoder/layer.11/attention/attention/key/Add_output_0", seed: 3);
        var path = model.Write(TempPath);
        var image = TestImages.Create(24, 16, seed: 2);
        var options = VitKeyExtractorOptions.DinoVitB8(path) with { Channels = 8, InputSize = null, PrefixTokenCount = 5 };
        using var extractor = new VitKeyFeatureExtractor(options);

        var map = extractor.Extract(image, TestContext.Current.CancellationToken);

        AssertMatches(model.ReferenceKeys(image, PixelNormalization.ImageNet, out _, out var gw), map, 2, 3, gw, 1e-5);
        using var wrongPrefix = new VitKeyFeatureExtractor(options with { PrefixTokenCount = 1 });
        var error = Assert.Throws<OnnxModelMismatchException>(() => wrongPrefix.Extract(image, TestContext.Current.CancellationToken));
        Assert.Contains("PrefixTokenCount", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Extract_FixedSizeExport_ResizesToTheModelSize()
    {
        var model = new TinyVitModel(patch: 8, dim: 8, prefixTokens: 1, VitKeyExtractorOptions.DinoLastBlockKeyTensor, seed: 4);
        var path = model.Write(TempPath, fixedSize: 32);
        using var extractor = new VitKeyFeatureExtractor(VitKeyExtractorOptions.DinoVitB8(path) with { Channels = 8, InputSize = null });
        var ct = TestContext.Current.CancellationToken;

        var native = TestImages.Create(32, 32, seed: 8);
        AssertMatches(model.ReferenceKeys(native, PixelNormalization.ImageNet, out _, out var gw), extractor.Extract(native, ct), 4, 4, gw, 1e-5);
        var other = extractor.Extract(TestImages.Create(48, 40), ct);
        Assert.Equal((4, 4, 8), (other.Height, other.Width, other.Channels));
    }

    [Fact]
    public void Extract_InputSizeOption_ResizesSymbolicExport()
    {
        var model = new TinyVitModel(patch: 8, dim: 8, prefixTokens: 1, VitKeyExtractorOptions.DinoLastBlockKeyTensor, seed: 6);
        var path = model.Write(TempPath);
        using var extractor = new VitKeyFeatureExtractor(VitKeyExtractorOptions.DinoVitB8(path) with { Channels = 8, InputSize = 48 });

        var map = extractor.Extract(TestImages.Create(100, 60), TestContext.Current.CancellationToken);

        Assert.Equal((6, 6), (map.Height, map.Width));
    }

    [Fact]
    public void Extract_Float16Export_ConvertsInputAndMatchesReference()
    {
        var model = new TinyVitModel(patch: 8, dim: 8, prefixTokens: 1, VitKeyExtractorOptions.DinoLastBlockKeyTensor, seed: 12);
        var path = model.Write(TempPath, elementType: global::Onnx.TensorProto.Types.DataType.Float16);
        var image = TestImages.Create(16, 16, seed: 1);
        using var extractor = new VitKeyFeatureExtractor(VitKeyExtractorOptions.DinoVitB8(path) with { Channels = 8, InputSize = null });

        var map = extractor.Extract(image, TestContext.Current.CancellationToken);

        AssertMatches(model.ReferenceKeys(image, PixelNormalization.ImageNet, out _, out var gw), map, 2, 2, gw, 5e-3);
    }

    [Theory]
    [InlineData(14, 5, true, false)] // DINOv2 with registers (CLS + 4 registers), patch 14, pooler_output beside last_hidden_state
    [InlineData(14, 1, false, true)] // DINOv2, float16 pixel_values, last_hidden_state only
    [InlineData(16, 1, true, true)] // ViT-B/16 ViTModel export in float16 with its pooler
    public void Extract_ExportVariants_PatchPrefixPoolerAndPrecision_MatchFloat64(int patch, int prefix, bool pooler, bool float16)
    {
        var model = new TinyVitModel(patch, dim: 8, prefixTokens: prefix, VitKeyExtractorOptions.DinoLastBlockKeyTensor, seed: patch + prefix);
        var path = model.Write(
            TempPath,
            elementType: float16 ? global::Onnx.TensorProto.Types.DataType.Float16 : global::Onnx.TensorProto.Types.DataType.Float,
            poolerOutput: pooler);
        var image = TestImages.Create(3 * patch, (2 * patch) + 3, seed: 7);
        var options = VitKeyExtractorOptions.DinoVitB8(path) with { Channels = 8, InputSize = null, PatchSize = patch, PrefixTokenCount = prefix };
        using var extractor = new VitKeyFeatureExtractor(options);

        var map = extractor.Extract(image, TestContext.Current.CancellationToken);

        var expected = model.ReferenceKeys(image, PixelNormalization.ImageNet, out var gh, out var gw);
        Assert.Equal((3, 3), (gh, gw));
        AssertMatches(expected, map, 3, 3, gw, float16 ? 5e-3 : 1e-5);
    }

    [Fact]
    public void Extract_DynamicallyQuantizedExport_KeepsTheKeyTensorAndMatchesFloat64WithinQuantization()
    {
        var model = new TinyVitModel(patch: 8, dim: 8, prefixTokens: 1, VitKeyExtractorOptions.DinoLastBlockKeyTensor, seed: 31);
        var path = model.Write(TempPath, quantizedKey: true);
        var image = TestImages.Create(24, 16, seed: 4);
        using var extractor = new VitKeyFeatureExtractor(VitKeyExtractorOptions.DinoVitB8(path) with { Channels = 8, InputSize = null });

        var map = extractor.Extract(image, TestContext.Current.CancellationToken);

        // uint8 activations and int8 weights: about 1 % of the largest key.
        AssertMatches(model.ReferenceKeys(image, PixelNormalization.ImageNet, out _, out var gw), map, 2, 3, gw, 3e-2);
    }

    [Fact]
    public void Extract_SizeThePositionEmbeddingsDoNotFit_IsOneLineSayingToSetInputSize()
    {
        // Declared H and W are free, but the position embeddings hold 32x32 (as plain exports hold 224x224).
        var model = new TinyVitModel(patch: 8, dim: 8, prefixTokens: 1, VitKeyExtractorOptions.DinoLastBlockKeyTensor, seed: 13);
        var path = model.Write(TempPath, positionEmbeddingSize: 32);
        var ct = TestContext.Current.CancellationToken;
        using var native = new VitKeyFeatureExtractor(VitKeyExtractorOptions.DinoVitB8(path) with { Channels = 8, InputSize = 32 });
        var image = TestImages.Create(32, 32, seed: 3);
        AssertMatches(model.ReferenceKeys(image, PixelNormalization.ImageNet, out _, out var gw), native.Extract(image, ct), 4, 4, gw, 1e-5);

        using var larger = new VitKeyFeatureExtractor(VitKeyExtractorOptions.DinoVitB8(path) with { Channels = 8, InputSize = 64 });
        var error = Assert.Throws<OnnxModelMismatchException>(() => larger.Extract(image, ct));

        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains($"'{Path.GetFullPath(path)}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("pixel_values: Float[1,3,64,64]", error.Message, StringComparison.Ordinal);
        Assert.Contains("set InputSize to that size", error.Message, StringComparison.Ordinal);
        Assert.Contains("it is 64", error.Message, StringComparison.Ordinal);
        Assert.IsType<Microsoft.ML.OnnxRuntime.OnnxRuntimeException>(error.InnerException);
    }

    [Fact]
    public void Extract_FixedSizeExport_WinsOverTheInputSizeOption()
    {
        // A CLIP vision export fixed at its native size while the dense path asks for twice that: the model's size is used.
        var model = new TinyVitModel(patch: 16, dim: 8, prefixTokens: 1, VitKeyExtractorOptions.ClipLayerMinus2KeyTensor, seed: 15);
        var path = model.Write(TempPath, fixedSize: 32, positionEmbeddingSize: 32);
        using var extractor = new VitKeyFeatureExtractor(VitKeyExtractorOptions.ClipVitB16(path) with { Channels = 8, InputSize = 64 });
        var image = TestImages.Create(32, 32, seed: 6);

        var map = extractor.Extract(image, TestContext.Current.CancellationToken);

        AssertMatches(model.ReferenceKeys(image, PixelNormalization.ImageNet, out _, out var gw), map, 2, 2, gw, 1e-5);
    }

    [Fact]
    public void Extract_ExternalWeightsBesideModel_AreFound()
    {
        var model = new TinyVitModel(patch: 8, dim: 8, prefixTokens: 1, VitKeyExtractorOptions.DinoLastBlockKeyTensor, seed: 21);
        var path = model.Write(TempPath, externalKeyWeights: true);
        var image = TestImages.Create(16, 24, seed: 4);
        using var extractor = new VitKeyFeatureExtractor(VitKeyExtractorOptions.DinoVitB8(path) with { Channels = 8, InputSize = null });

        var map = extractor.Extract(image, TestContext.Current.CancellationToken);

        AssertMatches(model.ReferenceKeys(image, PixelNormalization.ImageNet, out _, out var gw), map, 3, 2, gw, 1e-5);
    }

    [Fact]
    public void Constructor_ExternalWeightsMissing_NamesTheFile()
    {
        var model = new TinyVitModel(patch: 8, dim: 8, prefixTokens: 1, VitKeyExtractorOptions.DinoLastBlockKeyTensor, seed: 21);
        var path = model.Write(TempPath, externalKeyWeights: true);
        var data = Path.ChangeExtension(path, ".onnx_data");
        File.Delete(data);

        var error = Assert.Throws<ModelFileNotFoundException>(() => new VitKeyFeatureExtractor(VitKeyExtractorOptions.DinoVitB8(path) with { Channels = 8, InputSize = null }));

        Assert.Equal(data, error.FileName);
        Assert.Contains($"'{Path.GetFullPath(path)}' keeps its weights in {Path.GetFileName(data)}, which must sit beside it", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_KeyTensorAbsent_ListsSimilarNames()
    {
        var model = new TinyVitModel(patch: 8, dim: 8, prefixTokens: 1, "/encoder/layer.5/attention/attention/key/Add_output_0");
        var path = model.Write(TempPath);

        var error = Assert.Throws<OnnxModelMismatchException>(() => new VitKeyFeatureExtractor(VitKeyExtractorOptions.DinoVitB8(path) with { Channels = 8 }));

        Assert.Contains(VitKeyExtractorOptions.DinoLastBlockKeyTensor, error.Message, StringComparison.Ordinal);
        Assert.Contains("/encoder/layer.5/attention/attention/key/Add_output_0", error.Message, StringComparison.Ordinal);
        Assert.Contains($"The model '{Path.GetFullPath(path)}' has no tensor named", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_TruncatedOrGarbageFile_IsAnErrorNamingIt()
    {
        var path = new TinyVitModel(8, 8, 1, VitKeyExtractorOptions.DinoLastBlockKeyTensor).Write(TempPath);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var error = Assert.Throws<InvalidDataException>(() => new VitKeyFeatureExtractor(VitKeyExtractorOptions.DinoVitB8(path) with { Channels = 8 }));

        Assert.Contains($"'{Path.GetFullPath(path)}' is not a readable ONNX model (truncated or not ONNX?)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_WrongInputName_ListsActualInputs()
    {
        var path = new TinyVitModel(8, 8, 1, VitKeyExtractorOptions.DinoLastBlockKeyTensor).Write(TempPath);

        var error = Assert.Throws<OnnxModelMismatchException>(() => new VitKeyFeatureExtractor(VitKeyExtractorOptions.DinoVitB8(path) with { InputName = "images" }));

        Assert.Contains("'images'", error.Message, StringComparison.Ordinal);
        Assert.Contains("pixel_values", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_MissingModel_NamesPathAndStoreLayout()
    {
        var path = Path.Combine(TempPath, "dino-vitb8", "onnx", "model.onnx");

        var error = Assert.Throws<ModelFileNotFoundException>(() => new VitKeyFeatureExtractor(VitKeyExtractorOptions.DinoVitB8(path)));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("dino-vitb8/onnx/model.onnx", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResNet18Extractor_GivenTinyVitFile_ReportsExpectedInput()
    {
        var path = new TinyVitModel(8, 8, 1, VitKeyExtractorOptions.DinoLastBlockKeyTensor).Write(TempPath);

        var error = Assert.Throws<OnnxModelMismatchException>(() => new ResNet18FeatureExtractor(new ResNet18Options { ModelPath = path }));

        Assert.Contains(ResNet18ModelFiles.InputName, error.Message, StringComparison.Ordinal);
        Assert.Contains("pixel_values", error.Message, StringComparison.Ordinal);
    }
}
