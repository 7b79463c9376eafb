namespace OvDiff.Onnx;

/// <summary>
/// Opens one CLIP tower, from a split export (<c>onnx/text_model.onnx</c>, <c>onnx/vision_model.onnx</c>, as
/// transformers.js and Optimum's split exports have them, also their <c>_fp16</c> and <c>_quantized</c> files) or from a
/// combined one (Optimum's <c>model.onnx</c>: inputs input_ids, attention_mask and pixel_values; outputs logits_per_image,
/// logits_per_text, text_embeds, image_embeds), which is pruned to the tower's output so that the other tower's input is
/// neither asked for nor run.
/// </summary>
internal static class ClipTowerSession
{
    /// <summary>What the towers OvDiff reads look like, for errors.</summary>
    public const string ExpectedExports =
        "OvDiff reads CLIP's projected embeddings: onnx/text_model.onnx (input_ids int64 or int32 [batch, tokens], attention_mask optional -> text_embeds [batch, D]) " +
        "and onnx/vision_model.onnx (pixel_values float32 or float16 [batch, 3, H, W] -> image_embeds [batch, D]) of Xenova/clip-vit-base-patch16 " +
        "(or their _fp16 / _quantized files), or the combined model.onnx of an Optimum CLIP export; a CLIPTextModel or CLIPVisionModel export " +
        "without the projection (pooler_output only) does not fit. See docs/models.md.";

    public static OnnxModelSession Open(
        string modelPath,
        OnnxRuntimeOptions runtime,
        IReadOnlyList<OnnxTensorSpec> inputs,
        OnnxTensorSpec output,
        string missingFileHint)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        var fullPath = Path.GetFullPath(modelPath);
        if (!File.Exists(fullPath))
        {
            throw new ModelFileNotFoundException(fullPath, missingFileHint);
        }

        var declared = OnnxGraphInfo.Read(fullPath).Inputs;
        var combined = declared.Any(i => i.Name == ClipTextEncoder.InputIdsName) && declared.Any(i => i.Name == ClipImageEncoder.InputName);
        if (!combined)
        {
            return OnnxModelSession.Open(fullPath, runtime, inputs, [output], missingFileHint, ExpectedExports);
        }

        var model = OnnxGraphSurgery.Load(fullPath, missingFileHint);
        OnnxGraphSurgery.SetOutputs(model, [output.Name], fullPath);
        return OnnxModelSession.FromBytes(
            Google.Protobuf.MessageExtensions.ToByteArray(model),
            fullPath,
            runtime,
            inputs,
            [output],
            OnnxGraphSurgery.HasExternalData(model) ? Path.GetDirectoryName(fullPath) : null,
            ExpectedExports);
    }
}
