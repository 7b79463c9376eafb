using Microsoft.ML.OnnxRuntime.Tensors;
using OvDiff.Onnx;
using OvDiff.Onnx.Text;

namespace OvDiff.Diffusion.Pipeline;

/// <summary>The input/output contracts of a Stable Diffusion folder's models, shared by the sampler and the SD features.</summary>
internal static class StableDiffusionSessions
{
    public const int LatentChannels = 4;

    /// <summary>Opens text_encoder/model.onnx: input_ids int32/int64 [B, 77] -> last_hidden_state float [B, 77, D].</summary>
    public static OnnxModelSession OpenTextEncoder(StableDiffusionFolder folder, OnnxRuntimeOptions runtime) =>
        OnnxModelSession.Open(
            folder.TextEncoder,
            runtime,
            [new OnnxTensorSpec("input_ids", [-1, ClipTokenizer.DefaultContextLength], [TensorElementType.Int32, TensorElementType.Int64])],
            [OnnxTensorSpec.AnyFloat("last_hidden_state", 3)],
            "text_encoder/model.onnx of a Stable Diffusion folder.");

    /// <summary>The UNet's rank of 'timestep' (0: a scalar, as Optimum exports; 1: [B]), read without loading weights.</summary>
    public static int TimestepRank(StableDiffusionFolder folder)
    {
        var info = OnnxGraphInfo.Read(folder.UNet);
        if (info.Inputs.All(i => i.Name != "sample") || info.Inputs.All(i => i.Name != "timestep") || info.Inputs.All(i => i.Name != "encoder_hidden_states"))
        {
            throw new OnnxModelMismatchException(
                $"'{folder.UNet}' is not a Stable Diffusion UNet export: expected inputs sample, timestep, encoder_hidden_states; it has {string.Join(", ", info.Inputs)}.");
        }

        var rank = info.Inputs.First(i => i.Name == "timestep").Shape?.Count ?? 1;
        return rank <= 1
            ? rank
            : throw new OnnxModelMismatchException($"'{folder.UNet}': input 'timestep' has rank {rank}; OvDiff feeds a scalar or [batch].");
    }

    /// <summary>
    /// The shape to feed the UNet's 'timestep' for <paramref name="batch"/> latents: a scalar where the input has rank 0
    /// (Optimum), [1] where the export fixed that axis at 1 (the graph expands it to the batch), else [batch].
    /// </summary>
    public static long[] TimestepShape(OnnxModelSession unet, int batch)
    {
        var dimensions = unet.InputMetadata["timestep"].Dimensions;
        return dimensions.Length == 0 ? [] : [dimensions[0] == 1 ? 1 : batch];
    }

    /// <summary>sample float [B, 4, h, w], timestep (int64/int32/float/float16/double, rank 0 or 1), encoder_hidden_states float [B, 77, D].</summary>
    public static List<OnnxTensorSpec> UNetInputs(int timestepRank) =>
    [
        OnnxTensorSpec.AnyFloat("sample", 4) with { Dimensions = [-1, LatentChannels, -1, -1] },
        new("timestep", Enumerable.Repeat(-1, timestepRank).ToArray(), [TensorElementType.Int64, TensorElementType.Int32, TensorElementType.Float, TensorElementType.Float16, TensorElementType.Double]),
        OnnxTensorSpec.AnyFloat("encoder_hidden_states", 3),
    ];

    /// <summary>Writes the padded ids of <paramref name="prompts"/> into an input_ids buffer of the encoder's element type.</summary>
    public static OrtBuffer TokenIds(OnnxModelSession textEncoder, ClipTokenizer tokenizer, IReadOnlyList<string> prompts)
    {
        var length = ClipTokenizer.DefaultContextLength;
        var ids = new OrtBuffer(textEncoder.InputMetadata["input_ids"].ElementDataType, [prompts.Count, length]);
        for (var p = 0; p < prompts.Count; p++)
        {
            var encoded = tokenizer.EncodePadded(prompts[p]);
            for (var t = 0; t < length; t++)
            {
                ids.Set((p * length) + t, encoded[t]);
            }
        }

        return ids;
    }
}
