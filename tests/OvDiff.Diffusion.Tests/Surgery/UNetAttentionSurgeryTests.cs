using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OvDiff.Diffusion.Surgery;
using OvDiff.Onnx;
using OvDiff.Testing;

namespace OvDiff.Diffusion.Tests.Surgery;

/// <summary>
/// The surgery on UNets exported by PyTorch itself: the 16 cross-attention layers are found by structure in every export
/// (module names or none, heads folded or not, opset 14 or 17, float16 boundary), and the patched graph's maps equal the
/// reference's DAAM aggregation computed by PyTorch on the same input.
/// </summary>
public sealed class UNetAttentionSurgeryTests
{
    public static TheoryData<string> Variants() => new(TinyStableDiffusion.Variants);

    [Theory]
    [MemberData(nameof(Variants))]
    public void FindsTheSixteenCrossAttentionLayersByStructure(string variant)
    {
        var model = OnnxGraphSurgery.Load(Path.Combine(TinyStableDiffusion.Source(variant), "unet", "model.onnx"), "fixture");
        var layers = UNetAttentionSurgery.FindCrossAttention(model, variant);
        Assert.Equal(16, layers.Count);
        Assert.All(layers, l => Assert.NotNull(l.Query));
        Assert.Equal(Enumerable.Range(0, 16), layers.Select(l => l.Index));
        if (variant == "opset17-split")
        {
            // No module names in this export: structure alone found them.
            Assert.Equal("attn2 #0", layers[0].Label);
        }
        else
        {
            Assert.Equal("down_blocks.0.attentions.0.transformer_blocks.0.attn2", layers[0].Label);
            Assert.Equal("mid_block.attentions.0.transformer_blocks.0.attn2", layers[6].Label);
            Assert.Equal("up_blocks.3.attentions.2.transformer_blocks.0.attn2", layers[15].Label);
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void PatchedMapsEqualTheReferenceDaamAggregation(string variant)
    {
        var reference = TinyStableDiffusion.Reference(variant);
        var model = OnnxGraphSurgery.Load(Path.Combine(TinyStableDiffusion.Source(variant), "unet", "model.onnx"), "fixture");
        var report = UNetAttentionSurgery.Patch(model, new UNetPatchOptions { QueryLayers = [0, 15] }, variant);
        Assert.Equal(16, report.CrossAttention.Count);

        using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model));
        var outputs = Run(session, reference, [UNetAttentionSurgery.AttentionMapsOutput, "out_sample", UNetAttentionSurgery.QueryOutput(0)]);
        var maps = OnnxModelSession.ReadFloatTensor(outputs[0], out var mapShape);
        Assert.Equal(reference.Arrays["attn_maps"].Shape, mapShape);
        AssertClose(reference.Arrays["attn_maps"].Values, maps, 1e-4, relative: true);

        // The patch leaves the UNet's own output unchanged (compared with PyTorch's).
        var sample = OnnxModelSession.ReadFloatTensor(outputs[1], out _);
        AssertClose(reference.Arrays["out_sample"].Values, sample, variant == "fp16-io" ? 2e-3 : 1e-4, relative: false);

        // to_q of layer 0 ([B, N, C], N = 16x16) is the first 8 channels of the reference's SD features [B, 72, 16, 16].
        var query = OnnxModelSession.ReadFloatTensor(outputs[2], out var queryShape);
        Assert.Equal(new long[] { 2, 256, 8 }, queryShape);
        var features = reference.Arrays["sd_q"].Values;
        var expected = new float[query.Length];
        for (var b = 0; b < 2; b++)
        {
            for (var n = 0; n < 256; n++)
            {
                for (var c = 0; c < 8; c++)
                {
                    expected[(((b * 256) + n) * 8) + c] = features[(((b * 72) + c) * 256) + n];
                }
            }
        }

        AssertClose(expected, query, 1e-4, relative: false);
        foreach (var output in outputs)
        {
            output.Dispose();
        }
    }

    [Fact]
    public void NonSquareLatentsGiveMapsOfTheLatentShape()
    {
        // The anonymous export keeps height and width dynamic: 16x24 latents, layers at 16x24, 8x12, 4x6, 2x3.
        var model = OnnxGraphSurgery.Load(Path.Combine(TinyStableDiffusion.Source("opset17-split"), "unet", "model.onnx"), "fixture");
        UNetAttentionSurgery.Patch(model, UNetPatchOptions.Default, "opset17-split");
        using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model));
        var random = new Random(3);
        var sample = Enumerable.Range(0, 2 * 4 * 16 * 24).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var context = Enumerable.Range(0, 2 * 77 * 32).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        using var sampleValue = OrtValue.CreateTensorValueFromMemory(sample, [2, 4, 16, 24]);
        using var timestep = OrtValue.CreateTensorValueFromMemory(new[] { 300f }, []);
        using var contextValue = OrtValue.CreateTensorValueFromMemory(context, [2, 77, 32]);
        using var tokens = OrtValue.CreateTensorValueFromMemory(new long[] { 3 }, [1]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["sample", "timestep", "encoder_hidden_states", UNetAttentionSurgery.TokenIndicesInput], [sampleValue, timestep, contextValue, tokens], [UNetAttentionSurgery.AttentionMapsOutput]);
        var maps = OnnxModelSession.ReadFloatTensor(outputs[0], out var shape);
        Assert.Equal(new long[] { 2, 1, 16, 24 }, shape);

        // Each layer's probabilities sum to 1 over 77 tokens, so one token's map is positive and below the layer count.
        Assert.All(maps, v => Assert.InRange(v, 0f, 16f * 2f * 1.3f));
        Assert.True(maps.Average() > 0);
    }

    [Fact]
    public void AFusedExportIsAClearError()
    {
        var model = OnnxGraphSurgery.Load(Path.Combine(TinyStableDiffusion.Source("opset14-folded"), "unet", "model.onnx"), "fixture");
        foreach (var node in model.Graph.Node.Where(n => n.OpType == "Softmax"))
        {
            // What attention fusion leaves: com.microsoft attention kernels, no Softmax.
            node.OpType = "MultiHeadAttention";
            node.Domain = "com.microsoft";
        }

        var error = Assert.Throws<FusedAttentionException>(() => UNetAttentionSurgery.FindCrossAttention(model, "fused/unet/model.onnx"));
        Assert.Contains("fused/unet/model.onnx", error.Message, StringComparison.Ordinal);
        Assert.Contains("MultiHeadAttention", error.Message, StringComparison.Ordinal);
        Assert.Contains("unfused export", error.Message, StringComparison.Ordinal);
        Assert.Contains("optimum-cli export onnx", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AModelThatIsNotAUNetIsAClearError()
    {
        var model = OnnxGraphSurgery.Load(Path.Combine(TinyStableDiffusion.Source("opset14-folded"), "vae_decoder", "model.onnx"), "fixture");
        var error = Assert.Throws<OnnxModelMismatchException>(() => UNetAttentionSurgery.FindCrossAttention(model, "vae_decoder/model.onnx"));
        Assert.Contains("no input 'sample'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void FusingSelfAttentionKeepsTheOutputAndTheMaps(string variant)
    {
        var reference = TinyStableDiffusion.Reference(variant);
        var path = Path.Combine(TinyStableDiffusion.Source(variant), "unet", "model.onnx");
        var plain = OnnxGraphSurgery.Load(path, "fixture");
        var fused = OnnxGraphSurgery.Load(path, "fixture");
        UNetAttentionSurgery.Patch(plain, UNetPatchOptions.Default, variant);
        var report = UNetAttentionSurgery.Patch(fused, UNetPatchOptions.Default with { FuseSelfAttention = true }, variant);
        Assert.Equal(16, report.FusedSelfAttentionLayers);
        Assert.Equal(16, fused.Graph.Node.Count(n => n.OpType == "MultiHeadAttention"));
        Assert.Equal(16, fused.Graph.Node.Count(n => n.OpType == "Softmax"));

        using var plainSession = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(plain));
        using var fusedSession = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(fused));
        string[] names = [UNetAttentionSurgery.AttentionMapsOutput, "out_sample"];
        var expected = Run(plainSession, reference, names);
        var actual = Run(fusedSession, reference, names);
        for (var i = 0; i < names.Length; i++)
        {
            AssertClose(OnnxModelSession.ReadFloatTensor(expected[i], out _), OnnxModelSession.ReadFloatTensor(actual[i], out _), 2e-4, relative: i == 0);
            expected[i].Dispose();
            actual[i].Dispose();
        }
    }

    private static List<OrtValue> Run(InferenceSession session, UNetReference reference, string[] outputNames)
    {
        var half = session.InputMetadata["sample"].ElementDataType == TensorElementType.Float16;
        var timestepType = session.InputMetadata["timestep"].ElementDataType;
        var scalar = session.InputMetadata["timestep"].Dimensions.Length == 0;
        using var sample = Tensor(reference.Arrays["sample"], half);
        using var context = Tensor(reference.Arrays["encoder_hidden_states"], half);
        using var timestep = timestepType == TensorElementType.Int64
            ? OrtValue.CreateTensorValueFromMemory(new long[] { reference.Timestep, reference.Timestep }, [2])
            : scalar ? OrtValue.CreateTensorValueFromMemory(new float[] { reference.Timestep }, []) : OrtValue.CreateTensorValueFromMemory(new float[] { reference.Timestep, reference.Timestep }, [2]);
        using var tokens = OrtValue.CreateTensorValueFromMemory(reference.TokenIndices, [reference.TokenIndices.Length]);
        using var runOptions = new RunOptions();
        var outputs = session.Run(runOptions, ["sample", "timestep", "encoder_hidden_states", UNetAttentionSurgery.TokenIndicesInput], [sample, timestep, context, tokens], outputNames);
        return outputs.ToList();
    }

    private static OrtValue Tensor((long[] Shape, float[] Values) array, bool half) =>
        half ? OrtValue.CreateTensorValueFromMemory(array.Values.Select(v => (Float16)v).ToArray(), array.Shape) : OrtValue.CreateTensorValueFromMemory(array.Values.ToArray(), array.Shape);

    internal static void AssertClose(IReadOnlyList<float> expected, IReadOnlyList<float> actual, double tolerance, bool relative)
    {
        Assert.Equal(expected.Count, actual.Count);
        var scale = relative ? Math.Max(expected.Max(Math.Abs), 1e-6) : 1.0;
        var worst = 0.0;
        var worstIndex = -1;
        for (var i = 0; i < expected.Count; i++)
        {
            var error = Math.Abs(expected[i] - actual[i]) / scale;
            if (error > worst)
            {
                (worst, worstIndex) = (error, i);
            }
        }

        Assert.True(worst <= tolerance, $"Largest {(relative ? "relative " : string.Empty)}difference {worst:G4} at {worstIndex} (expected {(worstIndex >= 0 ? expected[worstIndex] : 0)}, got {(worstIndex >= 0 ? actual[worstIndex] : 0)}); tolerance {tolerance}.");
    }
}
