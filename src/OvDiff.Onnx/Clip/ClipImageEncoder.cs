using Microsoft.ML.OnnxRuntime;
using OvDiff.Core.Images;
using OvDiff.Core.Numerics;

namespace OvDiff.Onnx;

/// <summary>
/// CLIP's image tower (e.g. <c>onnx/vision_model.onnx</c> of a transformers.js or Optimum export): the image squashed to the
/// model's input size (224 for ViT-B/16; no crop), scaled to [0, 1], normalised with CLIP's mean and std, to a unit
/// embedding (<c>image_embeds</c>). Input and output are bound by name, their element types read from the model (float32 or
/// float16); a combined CLIP export (<c>model.onnx</c> with both towers) is pruned to the image tower. Owns its session; dispose it.
/// </summary>
public sealed class ClipImageEncoder : IDisposable
{
    /// <summary>The input of the exports.</summary>
    public const string InputName = "pixel_values";

    /// <summary>The projected image embedding of the exports.</summary>
    public const string OutputName = "image_embeds";

    /// <summary>The input size used when the model's is symbolic (ViT-B/16's position embeddings are for 224).</summary>
    public const int DefaultInputSize = 224;

    private readonly OnnxModelSession _session;

    /// <summary>Opens <paramref name="modelPath"/>; a missing file is a <see cref="ModelFileNotFoundException"/> saying where it goes.</summary>
    public ClipImageEncoder(string modelPath, OnnxRuntimeOptions? runtime = null)
    {
        _session = ClipTowerSession.Open(
            modelPath,
            runtime ?? OnnxRuntimeOptions.Default,
            [OnnxTensorSpec.AnyFloat(InputName, 4) with { Dimensions = [-1, 3, -1, -1] }],
            OnnxTensorSpec.AnyFloat(OutputName, 2),
            ClipModelFiles.MissingFileHint(modelPath));
        IReadOnlyList<int> dims = _session.InputDimensions(InputName);
        InputHeight = dims[2] > 0 ? dims[2] : DefaultInputSize;
        InputWidth = dims[3] > 0 ? dims[3] : DefaultInputSize;
    }

    /// <summary>Input height the image is squashed to.</summary>
    public int InputHeight { get; }

    /// <summary>Input width the image is squashed to.</summary>
    public int InputWidth { get; }

    /// <summary>The model file.</summary>
    public string ModelDescription => _session.ModelDescription;

    /// <summary>
    /// The image's planar [3, height, width] input: squashed to <paramref name="height"/> x <paramref name="width"/> (Lanczos,
    /// antialiased; unchanged when already that size), values / 255, minus CLIP's mean, divided by its std.
    /// </summary>
    public static float[] Preprocess(RgbImage image, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(image);
        RgbImage squashed = image.Width == width && image.Height == height ? image : Resampling.ResizeImage(image, width, height, ImageFilter.Lanczos3);
        return PixelNormalization.Clip.ToPlanar(squashed);
    }

    /// <summary>The unit image embedding of <paramref name="image"/>.</summary>
    public float[] Encode(RgbImage image, CancellationToken cancellationToken = default)
    {
        float[] input = Preprocess(image, InputHeight, InputWidth);
        using OrtValue value = _session.CreateFloatInput(InputName, input, [1, 3, InputHeight, InputWidth]);
        using var outputs = _session.Run(
            new Dictionary<string, OrtValue> { [InputName] = value },
            [OutputName],
            cancellationToken,
            $"The image is squashed to the size the model declares, else to {DefaultInputSize}x{DefaultInputSize}; an export that takes another size must declare it in pixel_values' shape.");
        float[] embedding = OnnxModelSession.ReadFloatTensor(outputs.First(), out long[] shape);
        if (shape.Length != 2 || shape[0] != 1)
        {
            throw new OnnxModelMismatchException($"'{OutputName}' of '{_session.ModelDescription}' has shape [{string.Join(",", shape)}]; expected [1, D].");
        }

        Matrix.NormalizeRows(embedding, 1, embedding.Length, 1e-12f);
        return embedding;
    }

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();
}
