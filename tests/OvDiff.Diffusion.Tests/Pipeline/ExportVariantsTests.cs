using Google.Protobuf;
using Onnx;
using OvDiff.Core.Images;
using OvDiff.Diffusion.Features;
using OvDiff.Diffusion.Pipeline;
using OvDiff.Onnx;
using OvDiff.Testing;

namespace OvDiff.Diffusion.Tests.Pipeline;

/// <summary>
/// Stable Diffusion exports as other tools write them, made from the tiny PyTorch folders by editing their graphs: the
/// UNet's timestep as int64, float32 or float16, a scalar, [B] or a fixed [1]; weights in external data files
/// (weights.pb, model.onnx_data) beside each model.onnx. Each must sample the same images and maps, and give the same SD
/// features, as the folder it was made from.
/// </summary>
public sealed class ExportVariantsTests
{
    private static readonly StableDiffusionOptions Fast = new() { Steps = 3, Width = 128, Height = 128, BatchSize = 2 };

    [Theory]
    [InlineData("opset14-folded", TensorProto.Types.DataType.Int64, new long[] { 1 })] // int64 [1]: fixed at 1, expanded to the batch in the graph
    [InlineData("opset14-folded", TensorProto.Types.DataType.Float16, new long[] { -1 })] // float16 [B]
    [InlineData("opset14-folded", TensorProto.Types.DataType.Float, new long[] { 1 })] // float32 [1]
    [InlineData("opset17-split", TensorProto.Types.DataType.Float16, new long[0])] // float16 scalar
    [InlineData("opset17-split", TensorProto.Types.DataType.Int64, new long[0])] // int64 scalar
    [InlineData("opset17-split", TensorProto.Types.DataType.Float16, new long[] { 1 })] // float16 [1]
    public void TimestepTypeAndShape_GiveTheSameImagesMapsAndFeatures(string variant, TensorProto.Types.DataType type, long[] shape)
    {
        using var temp = new TempFolder();
        var original = TinyStableDiffusion.CopyTo(temp, variant);
        var edited = Path.Combine(temp.Path, "edited");
        TinyStableDiffusion.CopyFolder(original, edited);
        RetypeTimestep(Path.Combine(edited, "unet", "model.onnx"), type, shape);

        AssertSameResults(original, edited);
    }

    [Theory]
    [InlineData("opset14-folded")] // latent_sample VAE encoder: patched by surgery, weights resolved beside the original
    [InlineData("opset17-split")] // latent_parameters VAE encoder
    public void ExternalWeightFiles_BesideEachModel_GiveTheSameImagesMapsAndFeatures(string variant)
    {
        using var temp = new TempFolder();
        var original = TinyStableDiffusion.CopyTo(temp, variant);
        var edited = Path.Combine(temp.Path, "edited");
        TinyStableDiffusion.CopyFolder(original, edited);
        MoveWeightsToExternalFile(Path.Combine(edited, "unet", "model.onnx"), "weights.pb");
        foreach (var model in new[] { "text_encoder", "vae_decoder", "vae_encoder" })
        {
            MoveWeightsToExternalFile(Path.Combine(edited, model, "model.onnx"), "model.onnx_data");
        }

        Assert.True(new FileInfo(Path.Combine(edited, "unet", "weights.pb")).Length > 50_000, "the UNet's weights moved out of model.onnx");
        AssertSameResults(original, edited);
    }

    [Fact]
    public void UNetWithAFixedBatch_RunsAtTheBatchSizeThatFills_AndSaysSoOnOneLineOtherwise()
    {
        using var temp = new TempFolder();
        var original = TinyStableDiffusion.CopyTo(temp, "opset17-split");
        var edited = Path.Combine(temp.Path, "edited");
        TinyStableDiffusion.CopyFolder(original, edited);
        var unet = Path.Combine(edited, "unet", "model.onnx");
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(unet));
        model.Graph.Input.Single(i => i.Name == "sample").Type.TensorType.Shape.Dim[0] = new TensorShapeProto.Types.Dimension { DimValue = 2 };
        File.WriteAllBytes(unet, model.ToByteArray());
        var ct = TestContext.Current.CancellationToken;

        // Batch fixed at 2 = one guided image per call: BatchSize 1 gives the images of the dynamic export.
        using var reference = StableDiffusionPipeline.Open(original, Fast);
        using var single = StableDiffusionPipeline.Open(edited, Fast with { BatchSize = 1 });
        var requests = new[] { "cat", "dog" }.Select((c, i) => SupportRequests.For(reference.Tokenizer, c, i, 42)).ToList();
        var expected = reference.Generate(requests, null, ct);
        var actual = single.Generate(requests, null, ct);
        Assert.Equal(expected[1].Image.Pixels, actual[1].Image.Pixels);

        using var pair = StableDiffusionPipeline.Open(edited, Fast);
        var error = Assert.Throws<OnnxModelMismatchException>(() => pair.Generate(requests, null, ct));
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("sample: Float[4,4,16,16], timestep: Float[], encoder_hidden_states: Float[4,77,32]", error.Message, StringComparison.Ordinal);
        Assert.Contains("BatchSize = N / 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ExternalWeightFileMissing_IsAnErrorNamingIt()
    {
        using var temp = new TempFolder();
        var folder = TinyStableDiffusion.CopyTo(temp, "opset17-split");
        MoveWeightsToExternalFile(Path.Combine(folder, "text_encoder", "model.onnx"), "model.onnx_data");
        File.Delete(Path.Combine(folder, "text_encoder", "model.onnx_data"));

        var error = Assert.Throws<ModelFileNotFoundException>(() => StableDiffusionPipeline.Open(folder, Fast with { AttributionMaps = false }));

        Assert.Equal(Path.Combine(folder, "text_encoder", "model.onnx_data"), error.FileName);
        Assert.Contains($"'{Path.Combine(folder, "text_encoder", "model.onnx")}' keeps its weights in model.onnx_data", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    private static void AssertSameResults(string original, string edited)
    {
        var ct = TestContext.Current.CancellationToken;
        using var reference = StableDiffusionPipeline.Open(original, Fast);
        using var variant = StableDiffusionPipeline.Open(edited, Fast);
        var requests = new[] { "cat", "traffic cone", "dog" }.Select((c, i) => SupportRequests.For(reference.Tokenizer, c, i, 42)).ToList();
        var expected = reference.Generate(requests, null, ct);
        var actual = variant.Generate(requests, null, ct);
        for (var i = 0; i < requests.Count; i++)
        {
            Assert.Equal(expected[i].Image.Pixels, actual[i].Image.Pixels);
            Assert.Equal(expected[i].RawAttribution, actual[i].RawAttribution);
        }

        var image = new RgbImage(128, 128, expected[0].Image.Pixels.ToArray());
        using var referenceFeatures = new StableDiffusionFeatureExtractor(new StableDiffusionFeatureOptions { ModelFolder = original, InputSize = 128 });
        using var variantFeatures = new StableDiffusionFeatureExtractor(new StableDiffusionFeatureOptions { ModelFolder = edited, InputSize = 128 });
        Assert.Equal(referenceFeatures.Extract(image, ct).Data, variantFeatures.Extract(image, ct).Data);
    }

    /// <summary>
    /// Makes the UNet's 'timestep' input <paramref name="type"/> of <paramref name="shape"/> (-1 a free axis, empty a scalar)
    /// and casts it to what the graph read before, as an export that declared it so would.
    /// </summary>
    private static void RetypeTimestep(string path, TensorProto.Types.DataType type, long[] shape)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var input = model.Graph.Input.Single(i => i.Name == "timestep");
        var originalType = input.Type.TensorType.ElemType;
        foreach (var node in model.Graph.Node)
        {
            for (var i = 0; i < node.Input.Count; i++)
            {
                if (node.Input[i] == "timestep")
                {
                    node.Input[i] = "timestep_as_exported";
                }
            }
        }

        var cast = new NodeProto { OpType = "Cast", Name = "/timestep_cast" };
        cast.Input.Add("timestep");
        cast.Output.Add("timestep_as_exported");
        cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = originalType });
        model.Graph.Node.Insert(0, cast);
        var dims = new TensorShapeProto();
        dims.Dim.Add(shape.Select(d => d > 0 ? new TensorShapeProto.Types.Dimension { DimValue = d } : new TensorShapeProto.Types.Dimension { DimParam = "batch" }));
        input.Type.TensorType.ElemType = (int)type;
        input.Type.TensorType.Shape = dims;
        File.WriteAllBytes(path, model.ToByteArray());
    }

    /// <summary>Moves every initializer's raw data into <paramref name="fileName"/> beside the model, as large exports store it.</summary>
    private static void MoveWeightsToExternalFile(string path, string fileName)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        using var data = File.Create(Path.Combine(Path.GetDirectoryName(path)!, fileName));
        foreach (var tensor in model.Graph.Initializer.Where(t => t.RawData.Length >= 64))
        {
            var offset = data.Position;
            tensor.RawData.WriteTo(data);
            tensor.RawData = ByteString.Empty;
            tensor.DataLocation = TensorProto.Types.DataLocation.External;
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = fileName });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = (data.Position - offset).ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }

        File.WriteAllBytes(path, model.ToByteArray());
    }
}
