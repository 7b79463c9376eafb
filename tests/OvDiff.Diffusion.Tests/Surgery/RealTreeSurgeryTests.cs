using Microsoft.ML.OnnxRuntime;
using OvDiff.Diffusion.Surgery;
using OvDiff.Onnx;

namespace OvDiff.Diffusion.Tests.Surgery;

/// <summary>
/// The surgery on the real SD 1.5 module tree (../shared/tools/gpu/sd15_unet.py, random weights, torch.onnx opset 17),
/// which is too large to commit: set OVDIFF_SD15_UNET to its unet/model.onnx (full width: structure only) and/or
/// OVDIFF_SD15_NARROW_UNET to an export of the same tree at widths (32, 64, 128, 128) (Fixtures/export_sd15_tree.py;
/// also run on ONNX Runtime).
/// Skipped, with a message, where the variables are unset.
/// </summary>
public sealed class RealTreeSurgeryTests
{
    [Fact]
    public void FindsTheSixteenLayersOfTheFullSizeTree()
    {
        var path = Environment.GetEnvironmentVariable("OVDIFF_SD15_UNET");
        if (string.IsNullOrEmpty(path) || !File.Exists(path))
        {
            Assert.Skip("Set OVDIFF_SD15_UNET to unet/model.onnx exported by ../shared/tools/gpu/sd15_unet.py --export fp32.");
        }

        var model = OnnxGraphSurgery.Load(path, "sd15 unet");
        var layers = UNetAttentionSurgery.FindCrossAttention(model, path);
        Assert.Equal(16, layers.Count);
        Assert.Equal("down_blocks.0.attentions.0.transformer_blocks.0.attn2", layers[0].Label);
        Assert.Equal("mid_block.attentions.0.transformer_blocks.0.attn2", layers[6].Label);
        Assert.Equal([320, 320, 640, 640, 1280, 1280, 1280, 1280, 1280, 1280, 640, 640, 640, 320, 320, 320], layers.Select(l => l.QueryChannels ?? 0));

        // The reference's SD features: layers 0, 6..12, 15 give 7680 channels.
        Assert.Equal(7680, new[] { 0, 6, 7, 8, 9, 10, 11, 12, 15 }.Sum(i => layers[i].QueryChannels!.Value));
        var report = UNetAttentionSurgery.Patch(model, new UNetPatchOptions { FuseSelfAttention = true, QueryLayers = [0, 6, 15] }, path);
        Assert.Equal(16, report.FusedSelfAttentionLayers);
        Assert.Contains(model.Graph.Output, o => o.Name == UNetAttentionSurgery.AttentionMapsOutput);
        Assert.Equal(5, model.Graph.Output.Count); // out_sample, attn_maps, sd_q_0, sd_q_6, sd_q_15
    }

    [Fact]
    public void TheNarrowTreeRunsPatchedAndFused()
    {
        var path = Environment.GetEnvironmentVariable("OVDIFF_SD15_NARROW_UNET");
        if (string.IsNullOrEmpty(path) || !File.Exists(path))
        {
            Assert.Skip("Set OVDIFF_SD15_NARROW_UNET to unet/model.onnx of sd15_unet.py's UNet2DConditionModel(ch=(32, 64, 128, 128)) exported at opset 17.");
        }

        var random = new Random(1);
        var sample = Enumerable.Range(0, 2 * 4 * 64 * 64).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var context = Enumerable.Range(0, 2 * 77 * 768).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        float[] Run(UNetPatchOptions? options, string output, out long[] shape)
        {
            var model = OnnxGraphSurgery.Load(path, "narrow unet");
            if (options is not null)
            {
                UNetAttentionSurgery.Patch(model, options, path);
            }

            using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model));
            var names = new List<string> { "sample", "timestep", "encoder_hidden_states" };
            var values = new List<OrtValue>
            {
                OrtValue.CreateTensorValueFromMemory(sample, [2, 4, 64, 64]),
                OrtValue.CreateTensorValueFromMemory(new float[] { 500, 500 }, [2]),
                OrtValue.CreateTensorValueFromMemory(context, [2, 77, 768]),
            };
            if (options is { AttentionMaps: true })
            {
                names.Add(UNetAttentionSurgery.TokenIndicesInput);
                values.Add(OrtValue.CreateTensorValueFromMemory(new long[] { 5, 6 }, [2]));
            }

            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, names, values, [output]);
            values.ForEach(v => v.Dispose());
            return OnnxModelSession.ReadFloatTensor(outputs[0], out shape);
        }

        var plain = Run(null, "out_sample", out _);
        var patched = Run(UNetPatchOptions.Default, "out_sample", out _);
        Assert.Equal(plain, patched);
        var maps = Run(UNetPatchOptions.Default, UNetAttentionSurgery.AttentionMapsOutput, out var mapShape);
        Assert.Equal(new long[] { 2, 2, 64, 64 }, mapShape);
        var fusedMaps = Run(UNetPatchOptions.Default with { FuseSelfAttention = true }, UNetAttentionSurgery.AttentionMapsOutput, out _);
        UNetAttentionSurgeryTests.AssertClose(maps, fusedMaps, 1e-3, relative: true);
        var fusedOut = Run(UNetPatchOptions.Default with { FuseSelfAttention = true }, "out_sample", out _);
        UNetAttentionSurgeryTests.AssertClose(plain, fusedOut, 1e-3, relative: true);
    }
}
