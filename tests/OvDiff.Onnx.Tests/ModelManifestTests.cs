using System.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OvDiff.Testing;
using DataType = Onnx.TensorProto.Types.DataType;

namespace OvDiff.Onnx.Tests;

/// <summary>configs/models.json, the streaming ONNX signature reader (checked against ONNX Runtime's own metadata) and the signature check.</summary>
public sealed class ModelManifestTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Default_IsTheRepositoryConfigAndCoversTheThreeRoles()
    {
        ModelManifest fromRepo = ModelManifest.Load(Path.Combine(RepoPaths.Configs, "models.json"));
        ModelManifest builtIn = ModelManifest.Default;

        Assert.Equal(["sd15", "clip-vit-b16", "dino-vitb8"], builtIn.Roles.Select(r => r.Name));
        Assert.Equal(fromRepo.Roles.Select(r => (r.Name, r.Repository, r.Files.Count)), builtIn.Roles.Select(r => (r.Name, r.Repository, r.Files.Count)));
        ModelRole sd = builtIn["SD15"];
        Assert.Equal("onnx-community/stable-diffusion-v1-5-ONNX", sd.Repository);
        TensorSpecification timestep = sd.File("unet/model.onnx").Onnx!.Inputs.Single(i => i.Alternatives[0].Name == "timestep").Alternatives[0];
        Assert.Equal([0, 1], timestep.Shapes.Select(s => s.Count));
        Assert.Equal([TensorElementType.Int64, TensorElementType.Float, TensorElementType.Float16], timestep.ElementTypes);
        // The extractors' store paths come from the manifest.
        Assert.Equal("dino-vitb8/onnx/model.onnx", ModelStore.DinoVitB8.LocalPath);
        Assert.Equal("Xenova/clip-vit-base-patch16", ModelStore.ClipVitB16Vision.Repository);
        Assert.Equal("openai/clip-vit-base-patch16", builtIn["clip-vit-b16"].File("vocab.json").Repository);
        var unknown = Assert.Throws<ArgumentException>(() => builtIn["sd21"]);
        Assert.Contains("sd15, clip-vit-b16, dino-vitb8", unknown.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"types\": [\"float33\"], \"shape\": [1]", "roles[0].files[0].onnx.inputs[0].types: unknown element type 'float33'")]
    [InlineData("\"types\": [\"float32\"]", "roles[0].files[0].onnx.inputs[0]: give 'shape'")]
    [InlineData("\"types\": [\"float32\"], \"shape\": [0]", "roles[0].files[0].onnx.inputs[0].shape[0] is 0")]
    [InlineData("\"types\": [\"float32\"], \"shape\": [1], \"colour\": 3", "colour")]
    public void Parse_BadValue_NamesFileAndKey(string tensorBody, string expected)
    {
        string json = $$"""
            { "format": "ovdiff-models/1", "roles": [ { "name": "x", "repository": "o/r",
              "files": [ { "path": "m.onnx", "onnx": { "inputs": [ { "name": "a", {{tensorBody}} } ], "outputs": [] } } ] } ] }
            """;
        var error = Assert.Throws<InvalidDataException>(() => ModelManifest.Parse(new MemoryStream(Encoding.UTF8.GetBytes(json)), "my-models.json"));
        Assert.StartsWith("my-models.json: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_PathEscapingTheFolder_IsRefused()
    {
        string json = """{ "format": "ovdiff-models/1", "roles": [ { "name": "x", "repository": "o/r", "files": [ { "path": "../etc/passwd" } ] } ] }""";
        var error = Assert.Throws<InvalidDataException>(() => ModelManifest.Parse(new MemoryStream(Encoding.UTF8.GetBytes(json)), "m.json"));
        Assert.Contains("roles[0].files[0].path '../etc/passwd'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GraphInfo_MatchesOnnxRuntimeMetadata_AndSkipsInitializerInputsAndWeights()
    {
        string path = TinyOnnx.Write(_temp.Combine("m", "model.onnx"),
            [new TinyTensor("input_ids", DataType.Int32, "batch", 77), new TinyTensor("timestep", DataType.Int64)],
            [(new TinyTensor("last_hidden_state", DataType.Float, "batch", 77), "input_ids"), (new TinyTensor("t", DataType.Float16), "timestep")],
            intermediates: ["/encoder/layer.11/attention/attention/key/Add_output_0"],
            externalData: "weights.pb",
            initializerInputs: ["shadowed_weight"]);

        OnnxGraphInfo info = OnnxGraphInfo.Read(path);
        AssertAgreesWithOnnxRuntime(path, info);

        Assert.Equal("batch", info.Inputs.Single(i => i.Name == "input_ids").Shape![0].Name);
        Assert.Contains("/encoder/layer.11/attention/attention/key/Add_output_0", info.NodeOutputs);
        Assert.Equal(["weights.pb"], info.ExternalDataFiles);
        Assert.Equal(2, info.OperatorCounts["Cast"]);
        Assert.Equal("ovdiff-tests", info.Producer);
    }

    [Theory]
    [InlineData("DnnImageModels/ResNet18Onnx/ResNet18.onnx")]
    [InlineData("DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx")]
    public void GraphInfo_OnFilesExportedByOtherTools_AgreesWithOnnxRuntime(string relative)
    {
        // CNTK exports shipped in Microsoft.ML.DnnImageFeaturizer.ResNet18 (weights inside the file, 64 MB).
        string path = Path.Combine(AppContext.BaseDirectory, relative);
        OnnxGraphInfo info = OnnxGraphInfo.Read(path);
        AssertAgreesWithOnnxRuntime(path, info);

        Assert.NotEmpty(info.NodeOutputs);
        Assert.Empty(info.ExternalDataFiles);
    }

    [Fact]
    public void GraphInfo_TruncatedOrNotOnnx_IsAnErrorNamingTheFile()
    {
        string path = TinyOnnx.Write(_temp.Combine("model.onnx"), [new TinyTensor("x", DataType.Float, 1)], [(new TinyTensor("y", DataType.Float, 1), "x")]);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length / 2).ToArray());
        var truncated = Assert.Throws<InvalidDataException>(() => OnnxGraphInfo.Read(path));
        Assert.Contains(path, truncated.Message, StringComparison.Ordinal);

        File.WriteAllText(path, "<html>404 Not Found</html>");
        Assert.Throws<InvalidDataException>(() => OnnxGraphInfo.Read(path));
    }

    [Fact]
    public void SignatureCheck_ExportVariantsOfTheUNet_AreAccepted()
    {
        OnnxSignature unet = ModelManifest.Default["sd15"].File("unet/model.onnx").Onnx!;
        // diffusers' early export: int64 timestep [B]; Optimum: float scalar; fp16 everywhere.
        foreach ((DataType timestepType, object?[] timestepDims, DataType floats) in new[]
        {
            (DataType.Int64, new object?[] { "batch" }, DataType.Float),
            (DataType.Float, Array.Empty<object?>(), DataType.Float),
            (DataType.Float16, new object?[] { 2 }, DataType.Float16),
        })
        {
            string path = TinyOnnx.Write(_temp.Combine(Guid.NewGuid().ToString("N") + ".onnx"),
                [new TinyTensor("sample", floats, "b", 4, 64, 64), new TinyTensor("timestep", timestepType, timestepDims), new TinyTensor("encoder_hidden_states", floats, "b", 77, 768)],
                [(new TinyTensor("out_sample", floats, "b", 4, 64, 64), "sample")],
                operators: [("Softmax", 32)]);
            Assert.Empty(OnnxSignatureCheck.Compare(OnnxGraphInfo.Read(path), unet));
        }
    }

    [Fact]
    public void SignatureCheck_WrongTypeRankSizeMissingAndExtra_EachNamedWithExpectedAndFound()
    {
        OnnxSignature unet = ModelManifest.Default["sd15"].File("unet/model.onnx").Onnx!;
        string path = TinyOnnx.Write(_temp.Combine("unet.onnx"),
            [new TinyTensor("sample", DataType.Float, "b", 4, 64), new TinyTensor("timestep", DataType.Int32, 1), new TinyTensor("encoder_hidden_states", DataType.Float, "b", 77, 1024), new TinyTensor("timestep_cond", DataType.Float, 1)],
            [(new TinyTensor("noise_pred", DataType.Float, "b", 4, 64, 64), "sample")]);

        IReadOnlyList<string> problems = OnnxSignatureCheck.Compare(OnnxGraphInfo.Read(path), unet);

        Assert.Equal(6, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("0 Softmax operators, expected at least 16 (one per cross-attention (attn2) layer", StringComparison.Ordinal) && p.Contains("fused attention", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("input 'sample': expected sample: float32|float16[batch,4,height,width], found sample: float32[b,4,64] (rank 3, expected 4)", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("input 'timestep': expected timestep: int64|float32|float16[] or [?], found timestep: int32[1] (element type int32)", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("input 'encoder_hidden_states'", StringComparison.Ordinal) && p.Contains("(size 1024 on axis 2, expected 768)", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("output 'out_sample' is missing", StringComparison.Ordinal) && p.Contains("noise_pred: float32[b,4,64,64]", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("input 'timestep_cond' (timestep_cond: float32[1]) is not one OvDiff feeds", StringComparison.Ordinal));
    }

    [Fact]
    public void SignatureCheck_AnyOfOutputsAndIntermediateTensors()
    {
        ModelManifest manifest = ModelManifest.Default;
        OnnxSignature encoder = manifest["sd15"].File("vae_encoder/model.onnx").Onnx!;
        string optimum = TinyOnnx.Write(_temp.Combine("enc.onnx"), [new TinyTensor("sample", DataType.Float, 1, 3, 512, 512)], [(new TinyTensor("latent_parameters", DataType.Float, 1, 8, 64, 64), "sample")]);
        Assert.Empty(OnnxSignatureCheck.Compare(OnnxGraphInfo.Read(optimum), encoder));
        string wrong = TinyOnnx.Write(_temp.Combine("enc2.onnx"), [new TinyTensor("sample", DataType.Float, 1, 3, 512, 512)], [(new TinyTensor("latent_parameters", DataType.Float, 1, 4, 64, 64), "sample")]);
        Assert.Contains("(size 4 on axis 1, expected 8)", Assert.Single(OnnxSignatureCheck.Compare(OnnxGraphInfo.Read(wrong), encoder)), StringComparison.Ordinal);

        OnnxSignature dino = manifest["dino-vitb8"].File("onnx/model.onnx").Onnx!;
        string fused = TinyOnnx.Write(_temp.Combine("dino.onnx"), [new TinyTensor("pixel_values", DataType.Float, "b", 3, 224, 224)], [(new TinyTensor("last_hidden_state", DataType.Float, "b", 785, 768), "pixel_values")]);
        string problem = Assert.Single(OnnxSignatureCheck.Compare(OnnxGraphInfo.Read(fused), dino));
        Assert.StartsWith("tensor '/encoder/layer.11/attention/attention/key/Add_output_0' is produced by no node", problem, StringComparison.Ordinal);
    }

    /// <summary>The streamed signature equals ONNX Runtime's session metadata: names, element types and dimensions.</summary>
    private static void AssertAgreesWithOnnxRuntime(string path, OnnxGraphInfo info)
    {
        using var session = new InferenceSession(path);
        Assert.Equal(session.InputMetadata.Keys.Order(), info.Inputs.Select(i => i.Name).Order());
        Assert.Equal(session.OutputMetadata.Keys.Order(), info.Outputs.Select(o => o.Name).Order());
        foreach (OnnxValueInfo value in info.Inputs.Concat(info.Outputs))
        {
            NodeMetadata expected = session.InputMetadata.TryGetValue(value.Name, out NodeMetadata? m) ? m : session.OutputMetadata[value.Name];
            Assert.Equal(expected.ElementDataType, value.ElementType);
            Assert.Equal(expected.Dimensions.Select(d => d > 0 ? (long?)d : null), value.Shape!.Select(d => d.Size));
        }
    }
}
