using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using OvDiff.Core.Features;
using OvDiff.Core.Images;

namespace OvDiff.Onnx;

/// <summary>
/// Dense "key" features of a ViT ONNX export (DINO, CLIP): the key projection of one block is exposed as a graph output
/// (OnnxSharp surgery; the graph after it is pruned), the prefix tokens (CLS, registers) are dropped and the patch tokens are
/// laid out on the H/p x W/p grid. The image is resized to <see cref="VitKeyExtractorOptions.InputSize"/> when the export
/// needs a fixed size (the grid then covers the resized image), else padded at the bottom/right to a multiple of the patch
/// size with the normalised mean (zero) and the grid cropped back to ceil(size / patch).
/// Owns one <see cref="OnnxModelSession"/>; dispose it.
/// </summary>
public sealed class VitKeyFeatureExtractor : IDenseFeatureExtractor
{
    private readonly OnnxModelSession _session;
    private readonly VitKeyExtractorOptions _options;
    private readonly int? _fixedInputSize;
    private readonly (int Height, int Width)? _modelFixedSize;

    /// <summary>
    /// Loads and patches the model. Throws <see cref="ModelFileNotFoundException"/> for a missing file and
    /// <see cref="OnnxModelMismatchException"/> when the input or the key tensor is not there (listing similar tensor names).
    /// </summary>
    public VitKeyFeatureExtractor(VitKeyExtractorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Channels);
        ArgumentOutOfRangeException.ThrowIfNegative(options.PrefixTokenCount);
        if (options.InputSize is { } size)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size, nameof(options.InputSize));
        }

        _options = options;
        _fixedInputSize = options.InputSize;
        var fullPath = Path.GetFullPath(options.ModelPath);
        var model = OnnxGraphSurgery.Load(fullPath, ModelStore.MissingVitModelHint(fullPath));
        var input = model.Graph.Input.FirstOrDefault(i => i.Name == options.InputName)
            ?? throw new OnnxModelMismatchException(
                $"The model '{fullPath}' has no input '{options.InputName}'; inputs: {string.Join(", ", model.Graph.Input.Select(i => i.Name))}.");
        var dims = input.Type.TensorType.Shape?.Dim;
        if (dims is { Count: 4 } && dims[2].DimValue > 0 && dims[3].DimValue > 0)
        {
            _modelFixedSize = ((int)dims[2].DimValue, (int)dims[3].DimValue);
        }

        OnnxGraphSurgery.SetOutputs(model, [options.KeyTensorName], fullPath);
        var externalData = OnnxGraphSurgery.HasExternalData(model) ? Path.GetDirectoryName(fullPath) : null;
        _session = OnnxModelSession.FromBytes(
            Google.Protobuf.MessageExtensions.ToByteArray(model),
            fullPath,
            options.Runtime,
            [OnnxTensorSpec.AnyFloat(options.InputName, 4) with { Dimensions = [-1, 3, -1, -1] }],
            [OnnxTensorSpec.AnyFloat(options.KeyTensorName, 3)],
            externalData);
    }

    /// <inheritdoc/>
    public string Name => _options.Name;

    /// <inheritdoc/>
    public int Stride => _options.PatchSize;

    /// <inheritdoc/>
    public int Channels => _options.Channels;

    /// <inheritdoc/>
    public bool SupportsConcurrentExtract => true;

    /// <summary>The options this extractor was created with.</summary>
    public VitKeyExtractorOptions Options => _options;

    /// <summary>The execution provider actually in use.</summary>
    public ExecutionProviderKind ExecutionProvider => _session.ActiveExecutionProvider;

    /// <inheritdoc/>
    public FeatureMap Extract(RgbImage image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        var patch = _options.PatchSize;
        var normalized = _options.Normalization.ToPlanar(image);
        int inputHeight, inputWidth, gridHeight, gridWidth;
        float[] input;
        var resizeTo = _modelFixedSize ?? (_fixedInputSize is { } size ? (size, size) : ((int, int)?)null);
        if (resizeTo is { } target)
        {
            (inputHeight, inputWidth) = target;
            if (inputHeight % patch != 0 || inputWidth % patch != 0)
            {
                throw new OnnxModelMismatchException($"Input size {inputHeight}x{inputWidth} of '{_session.ModelDescription}' is not a multiple of the patch size {patch}.");
            }

            input = inputHeight == image.Height && inputWidth == image.Width
                ? normalized
                : DenseLayout.ResizeBilinearPlanar(normalized, 3, image.Height, image.Width, inputHeight, inputWidth);
            (gridHeight, gridWidth) = (inputHeight / patch, inputWidth / patch);
        }
        else
        {
            inputHeight = (image.Height + patch - 1) / patch * patch;
            inputWidth = (image.Width + patch - 1) / patch * patch;
            input = Pad(normalized, image.Height, image.Width, inputHeight, inputWidth);
            (gridHeight, gridWidth) = ((image.Height + patch - 1) / patch, (image.Width + patch - 1) / patch);
        }

        using var inputValue = _session.CreateFloatInput(_options.InputName, input, [1, 3, inputHeight, inputWidth]);
        using var outputs = _session.Run(
            new Dictionary<string, OrtValue> { [_options.InputName] = inputValue },
            [_options.KeyTensorName],
            cancellationToken,
            "An export whose position embeddings are fixed (plain Hugging Face DINO and CLIP exports: 224x224) runs only at that size, however its input is declared: " +
            $"set InputSize to that size (the presets' default is 224; it is {_options.InputSize?.ToString(CultureInfo.InvariantCulture) ?? "null, the image's own size"}), " +
            "or re-export with interpolate_pos_encoding so that any size runs (docs/models.md, 'Input size').");
        var tokens = OnnxModelSession.ReadFloatTensor(outputs.First(), out var shape);
        int modelGridHeight = inputHeight / patch, modelGridWidth = inputWidth / patch;
        var expectedTokens = _options.PrefixTokenCount + (modelGridHeight * modelGridWidth);
        if (shape.Length != 3 || shape[0] != 1 || shape[1] != expectedTokens || shape[2] != Channels)
        {
            throw new OnnxModelMismatchException(
                $"'{_options.KeyTensorName}' of '{_session.ModelDescription}' has shape [{string.Join(",", shape)}]; expected " +
                $"[1,{expectedTokens},{Channels}] ({_options.PrefixTokenCount} prefix tokens + {modelGridHeight}x{modelGridWidth} patches of {patch} px). " +
                "Check PatchSize, PrefixTokenCount, Channels, and InputSize (exports with fixed position embeddings need their native size).");
        }

        var data = new float[gridHeight * gridWidth * Channels];
        var patchTokens = tokens.AsSpan(_options.PrefixTokenCount * Channels);
        for (var y = 0; y < gridHeight; y++)
        {
            patchTokens.Slice(y * modelGridWidth * Channels, gridWidth * Channels).CopyTo(data.AsSpan(y * gridWidth * Channels));
        }

        return new FeatureMap(gridHeight, gridWidth, Channels, data);
    }

    private static float[] Pad(float[] planar, int height, int width, int paddedHeight, int paddedWidth)
    {
        if (height == paddedHeight && width == paddedWidth)
        {
            return planar;
        }

        var result = new float[3 * paddedHeight * paddedWidth];
        for (var c = 0; c < 3; c++)
        {
            for (var y = 0; y < height; y++)
            {
                planar.AsSpan((c * height * width) + (y * width), width).CopyTo(result.AsSpan((c * paddedHeight * paddedWidth) + (y * paddedWidth)));
            }
        }

        return result;
    }

    /// <inheritdoc/>
    public void Dispose() => _session.Dispose();
}
