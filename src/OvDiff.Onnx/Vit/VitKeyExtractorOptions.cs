namespace OvDiff.Onnx;

/// <summary>Per-channel (R, G, B) normalisation applied to pixel values scaled to [0, 1]: (v - mean) / std.</summary>
public sealed record PixelNormalization(float MeanR, float MeanG, float MeanB, float StdR, float StdG, float StdB)
{
    /// <summary>ImageNet: mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225). DINO; also what the reference uses for CLIP's dense features.</summary>
    public static PixelNormalization ImageNet { get; } = new(0.485f, 0.456f, 0.406f, 0.229f, 0.224f, 0.225f);

    /// <summary>CLIP's own: mean (0.48145466, 0.4578275, 0.40821073), std (0.26862954, 0.26130258, 0.27577711).</summary>
    public static PixelNormalization Clip { get; } = new(0.48145466f, 0.4578275f, 0.40821073f, 0.26862954f, 0.26130258f, 0.27577711f);

    /// <summary>The image as planar [3, height, width] floats: value / 255, minus the mean, divided by the std, per channel.</summary>
    public float[] ToPlanar(OvDiff.Core.Images.RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var plane = image.Width * image.Height;
        var result = new float[3 * plane];
        ReadOnlySpan<float> mean = [MeanR, MeanG, MeanB];
        ReadOnlySpan<float> std = [StdR, StdG, StdB];
        var pixels = image.Pixels;
        for (var c = 0; c < 3; c++)
        {
            var scale = 1f / (255f * std[c]);
            var offset = mean[c] / std[c];
            var target = result.AsSpan(c * plane, plane);
            for (var p = 0; p < plane; p++)
            {
                target[p] = (pixels[(p * 3) + c] * scale) - offset;
            }
        }

        return result;
    }
}

/// <summary>
/// Options of <see cref="VitKeyFeatureExtractor"/>: which ViT ONNX export, which intermediate "key" tensor, patch size,
/// prefix tokens and preprocessing. Immutable. Start from <see cref="DinoVitB8"/> or <see cref="ClipVitB16"/>.
/// </summary>
public sealed record VitKeyExtractorOptions
{
    /// <summary>HF DINO ViT export: keys of the last (12th) block.</summary>
    public const string DinoLastBlockKeyTensor = "/encoder/layer.11/attention/attention/key/Add_output_0";

    /// <summary>HF CLIP vision export: keys of layer -2 (block index 10 of 12).</summary>
    public const string ClipLayerMinus2KeyTensor = "/vision_model/encoder/layers.10/self_attn/k_proj/Add_output_0";

    /// <summary>Creates options for <paramref name="modelPath"/> with the given key tensor and patch size; other properties at their defaults.</summary>
    public VitKeyExtractorOptions(string modelPath, string keyTensorName, int patchSize)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        ArgumentException.ThrowIfNullOrEmpty(keyTensorName);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(patchSize);
        ModelPath = modelPath;
        KeyTensorName = keyTensorName;
        PatchSize = patchSize;
    }

    /// <summary>
    /// DINO ViT-B/8 (facebook/dino-vitb8 exported to ONNX, <c>models/dino-vitb8/onnx/model.onnx</c>): key facet of the last
    /// block, patch 8, 768 channels, ImageNet normalisation, input resized to 224 (the export's fixed position embeddings).
    /// </summary>
    public static VitKeyExtractorOptions DinoVitB8(string modelPath) =>
        new(modelPath, DinoLastBlockKeyTensor, 8) { Name = DenseFeatureExtractors.DinoVitB8Keys };

    /// <summary>
    /// CLIP ViT-B/16 vision model (<c>models/clip-vit-b16/onnx/vision_model.onnx</c>): keys of layer -2, patch 16, 768 channels,
    /// input resized to 224. Normalisation: ImageNet by default, as the reference does for CLIP's dense features
    /// (<paramref name="useClipNormalization"/> = true uses CLIP's own mean and std).
    /// </summary>
    public static VitKeyExtractorOptions ClipVitB16(string modelPath, bool useClipNormalization = false) =>
        new(modelPath, ClipLayerMinus2KeyTensor, 16)
        {
            Name = DenseFeatureExtractors.ClipVitB16Keys,
            Normalization = useClipNormalization ? PixelNormalization.Clip : PixelNormalization.ImageNet,
        };

    /// <summary>The ONNX file (a Hugging Face / Optimum export).</summary>
    public string ModelPath { get; init; }

    /// <summary>Name of the intermediate tensor [batch, prefix + patches, channels] exposed as an output by graph surgery.</summary>
    public string KeyTensorName { get; init; }

    /// <summary>Patch size in pixels (the extractor's stride).</summary>
    public int PatchSize { get; init; }

    /// <summary>Name reported by the extractor. Default "vit-keys".</summary>
    public string Name { get; init; } = "vit-keys";

    /// <summary>The image input's name. Default "pixel_values".</summary>
    public string InputName { get; init; } = "pixel_values";

    /// <summary>Feature dimension of the key tensor. Default 768 (ViT-B).</summary>
    public int Channels { get; init; } = 768;

    /// <summary>Tokens before the patch tokens that are dropped: 1 for the CLS token (default); 1 + registers for DINOv2 with registers.</summary>
    public int PrefixTokenCount { get; init; } = 1;

    /// <summary>Pixel normalisation. Default <see cref="PixelNormalization.ImageNet"/>.</summary>
    public PixelNormalization Normalization { get; init; } = PixelNormalization.ImageNet;

    /// <summary>
    /// Side of the square the image is resized to (bilinear, no antialiasing) before the model, as the export's position
    /// embeddings require. Default 224 (plain HF exports). Null: no resize; the image is padded to a multiple of
    /// <see cref="PatchSize"/> instead, which needs an export with interpolated position embeddings
    /// (<c>interpolate_pos_encoding</c>). Ignored when the model's input declares a fixed height and width: those are used.
    /// </summary>
    public int? InputSize { get; init; } = 224;

    /// <summary>ONNX Runtime settings (execution provider, threads). Default <see cref="OnnxRuntimeOptions.Default"/> (CPU).</summary>
    public OnnxRuntimeOptions Runtime { get; init; } = OnnxRuntimeOptions.Default;
}
