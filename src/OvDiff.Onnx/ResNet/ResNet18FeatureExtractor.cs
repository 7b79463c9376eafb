using Microsoft.ML.OnnxRuntime;
using OvDiff.Core.Features;
using OvDiff.Core.Images;

namespace OvDiff.Onnx;

/// <summary>
/// Dense features from the ResNet18 that ships in the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 (ImageNet,
/// CNTK export). Preprocessing replicates ResNetPreprocess.onnx: RGB to BGR, minus the mean image (resized to the image size,
/// see <see cref="ResNet18MeanImageMode"/>), values 0-255. The image is padded at the bottom and right to a multiple of 32
/// with the mean colour (zero after mean subtraction), and the grid is cropped back to ceil(size / <see cref="Stride"/>) cells,
/// so cell (y, x) covers pixels [y*Stride, (y+1)*Stride) of the image.
/// Owns one <see cref="OnnxModelSession"/>; dispose it.
/// </summary>
public sealed class ResNet18FeatureExtractor : IDenseFeatureExtractor
{
    /// <summary>The input size multiple: ResNet18 halves the resolution five times.</summary>
    public const int SizeMultiple = 32;

    private readonly OnnxModelSession _session;
    private readonly ResNet18Options _options;
    private readonly ReadOnlyMemory<float> _meanImage;
    private readonly float[] _channelMeans;
    private readonly string[] _outputNames;
    // A reference, so that concurrent Extract calls (ONNX Runtime runs them concurrently) never see a torn entry.
    private MeanAtSize? _lastMean;

    /// <summary>Creates the extractor with <see cref="ResNet18Options.Default"/> (layer 4, files beside the application, CPU).</summary>
    public ResNet18FeatureExtractor()
        : this(ResNet18Options.Default)
    {
    }

    /// <summary>
    /// Creates the extractor. Throws <see cref="ModelFileNotFoundException"/> when ResNet18.onnx or ResNetPreprocess.onnx is
    /// missing and <see cref="OnnxModelMismatchException"/> when the file is not the expected ResNet18.
    /// </summary>
    public ResNet18FeatureExtractor(ResNet18Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        // Decided before the session exists, so an invalid choice leaks nothing.
        (Name, Stride, Channels, _outputNames) = options.Layers switch
        {
            ResNet18Layers.Layer3 => (DenseFeatureExtractors.ResNet18Layer3, 16, 256, new[] { ResNet18ModelFiles.Layer3OutputName }),
            ResNet18Layers.Layer4 => (DenseFeatureExtractors.ResNet18Layer4, 32, 512, new[] { ResNet18ModelFiles.Layer4OutputName }),
            ResNet18Layers.Layer4Dilated => (DenseFeatureExtractors.ResNet18Layer4Dilated, 16, 512, new[] { ResNet18ModelFiles.Layer4OutputName }),
            ResNet18Layers.Layer3And4 => (DenseFeatureExtractors.ResNet18Layer3And4, 16, 768, new[] { ResNet18ModelFiles.Layer3OutputName, ResNet18ModelFiles.Layer4OutputName }),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Layers, "Unknown ResNet18 layer choice."),
        };
        _options = options;
        var modelPath = options.ModelPath ?? ResNet18ModelFiles.DefaultModelPath;
        _meanImage = ResNet18ModelFiles.GetMeanImage(options.PreprocessModelPath ?? ResNet18ModelFiles.DefaultPreprocessModelPath);
        _channelMeans = ChannelMeans(_meanImage.Span);
        var patched = ResNet18ModelFiles.GetPatchedModel(modelPath, options.Layers == ResNet18Layers.Layer4Dilated);
        _session = OnnxModelSession.FromBytes(
            patched,
            Path.GetFullPath(modelPath),
            options.Runtime,
            [OnnxTensorSpec.AnyFloat(ResNet18ModelFiles.InputName, 4) with { Dimensions = [-1, 3, -1, -1] }],
            [OnnxTensorSpec.AnyFloat(ResNet18ModelFiles.Layer3OutputName, 4), OnnxTensorSpec.AnyFloat(ResNet18ModelFiles.Layer4OutputName, 4)]);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int Stride { get; }

    /// <inheritdoc/>
    public int Channels { get; }

    /// <inheritdoc/>
    public bool SupportsConcurrentExtract => true;

    /// <summary>The options this extractor was created with.</summary>
    public ResNet18Options Options => _options;

    /// <summary>The execution provider actually in use.</summary>
    public ExecutionProviderKind ExecutionProvider => _session.ActiveExecutionProvider;

    /// <inheritdoc/>
    public FeatureMap Extract(RgbImage image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Run([image], cancellationToken)[0];
    }

    /// <summary>
    /// Images of one size go through ONNX Runtime as one batch [N, 3, H, W] (the same features as one call each: the
    /// network treats every image of a batch alike); images of different sizes are extracted one by one.
    /// </summary>
    public IReadOnlyList<FeatureMap> ExtractBatch(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0)
        {
            return [];
        }

        return images.All(i => i.Width == images[0].Width && i.Height == images[0].Height)
            ? Run(images, cancellationToken)
            : [.. images.Select(i => Extract(i, cancellationToken))];
    }

    private FeatureMap[] Run(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken)
    {
        int count = images.Count, imageHeight = images[0].Height, imageWidth = images[0].Width;
        var paddedHeight = RoundUp(imageHeight, SizeMultiple);
        var paddedWidth = RoundUp(imageWidth, SizeMultiple);
        int inputSize = 3 * paddedHeight * paddedWidth;
        var input = new float[(long)count * inputSize];
        float[] mean = MeanAt(imageHeight, imageWidth);
        for (int i = 0; i < count; i++)
        {
            Preprocess(images[i], mean, paddedHeight, paddedWidth, input.AsSpan(i * inputSize, inputSize));
        }

        using var inputValue = _session.CreateFloatInput(ResNet18ModelFiles.InputName, input, [count, 3, paddedHeight, paddedWidth]);
        using var outputs = _session.Run(
            new Dictionary<string, OrtValue> { [ResNet18ModelFiles.InputName] = inputValue },
            _outputNames,
            cancellationToken);

        var gridHeight = CeilDiv(imageHeight, Stride);
        var gridWidth = CeilDiv(imageWidth, Stride);
        var maps = new FeatureMap[count];
        switch (_options.Layers)
        {
            case ResNet18Layers.Layer3:
            case ResNet18Layers.Layer4:
            case ResNet18Layers.Layer4Dilated:
            {
                int height = paddedHeight / Stride, width = paddedWidth / Stride, size = Channels * height * width;
                var planar = ReadPlanar(outputs.First(), count, Channels, height, width);
                for (int i = 0; i < count; i++)
                {
                    var data = new float[gridHeight * gridWidth * Channels];
                    DenseLayout.CropPlanarToInterleaved(planar.AsSpan(i * size, size), Channels, height, width, gridHeight, gridWidth, data, Channels, 0);
                    maps[i] = new FeatureMap(gridHeight, gridWidth, Channels, data);
                }

                break;
            }

            case ResNet18Layers.Layer3And4:
            {
                int height3 = paddedHeight / 16, width3 = paddedWidth / 16, height4 = paddedHeight / 32, width4 = paddedWidth / 32;
                int size3 = 256 * height3 * width3, size4 = 512 * height4 * width4;
                var layer3 = ReadPlanar(outputs.First(), count, 256, height3, width3);
                var layer4 = ReadPlanar(outputs.Last(), count, 512, height4, width4);
                for (int i = 0; i < count; i++)
                {
                    var data = new float[gridHeight * gridWidth * Channels];
                    var layer4Upsampled = DenseLayout.ResizeBilinearPlanar(layer4.AsSpan(i * size4, size4), 512, height4, width4, height3, width3);
                    DenseLayout.CropPlanarToInterleaved(layer3.AsSpan(i * size3, size3), 256, height3, width3, gridHeight, gridWidth, data, Channels, 0);
                    DenseLayout.CropPlanarToInterleaved(layer4Upsampled, 512, height3, width3, gridHeight, gridWidth, data, Channels, 256);
                    if (_options.NormalizeLayersBeforeConcatenation)
                    {
                        DenseLayout.NormalizeCells(data, Channels, 0, 256);
                        DenseLayout.NormalizeCells(data, Channels, 256, 512);
                    }

                    maps[i] = new FeatureMap(gridHeight, gridWidth, Channels, data);
                }

                break;
            }
        }

        return maps;
    }

    /// <summary>
    /// The model input for <paramref name="image"/>: planar BGR floats (0-255) minus <paramref name="meanAtImageSize"/>
    /// (planar BGR, image height x width), zero-padded at the bottom and right to <paramref name="paddedHeight"/> x <paramref name="paddedWidth"/>.
    /// </summary>
    internal static float[] Preprocess(RgbImage image, ReadOnlySpan<float> meanAtImageSize, int paddedHeight, int paddedWidth)
    {
        var result = new float[3 * paddedHeight * paddedWidth];
        Preprocess(image, meanAtImageSize, paddedHeight, paddedWidth, result);
        return result;
    }

    /// <summary>As <see cref="Preprocess(RgbImage, ReadOnlySpan{float}, int, int)"/>, into <paramref name="result"/> (3 x padded size, zeroed here).</summary>
    internal static void Preprocess(RgbImage image, ReadOnlySpan<float> meanAtImageSize, int paddedHeight, int paddedWidth, Span<float> result)
    {
        int height = image.Height, width = image.Width;
        var plane = paddedHeight * paddedWidth;
        result[..(3 * plane)].Clear();
        var pixels = image.Pixels.AsSpan();
        for (var y = 0; y < height; y++)
        {
            var row = pixels.Slice(y * width * 3, width * 3);
            for (var bgr = 0; bgr < 3; bgr++)
            {
                var rgb = 2 - bgr;
                var mean = meanAtImageSize.Slice((bgr * height * width) + (y * width), width);
                var target = result.Slice((bgr * plane) + (y * paddedWidth), width);
                for (var x = 0; x < width; x++)
                {
                    target[x] = row[(x * 3) + rgb] - mean[x];
                }
            }
        }
    }

    private float[] MeanAt(int height, int width)
    {
        if (_lastMean is { } cached && cached.Height == height && cached.Width == width)
        {
            return cached.Mean;
        }

        float[] mean;
        if (_options.MeanImageMode == ResNet18MeanImageMode.PerChannel)
        {
            mean = new float[3 * height * width];
            for (var c = 0; c < 3; c++)
            {
                mean.AsSpan(c * height * width, height * width).Fill(_channelMeans[c]);
            }
        }
        else if (height == ResNet18ModelFiles.NativeSize && width == ResNet18ModelFiles.NativeSize)
        {
            mean = _meanImage.ToArray();
        }
        else
        {
            var native = ResNet18ModelFiles.NativeSize;
            mean = DenseLayout.ResizeBilinearPlanar(_meanImage.Span, 3, native, native, height, width);
        }

        _lastMean = new MeanAtSize(height, width, mean);
        return mean;
    }

    private sealed record MeanAtSize(int Height, int Width, float[] Mean);

    private static float[] ChannelMeans(ReadOnlySpan<float> meanImage)
    {
        var plane = meanImage.Length / 3;
        var means = new float[3];
        for (var c = 0; c < 3; c++)
        {
            double sum = 0;
            foreach (var value in meanImage.Slice(c * plane, plane))
            {
                sum += value;
            }

            means[c] = (float)(sum / plane);
        }

        return means;
    }

    private float[] ReadPlanar(OrtValue value, int count, int channels, int height, int width)
    {
        var data = OnnxModelSession.ReadFloatTensor(value, out var shape);
        if (shape.Length != 4 || shape[0] != count || shape[1] != channels || shape[2] != height || shape[3] != width)
        {
            throw new OnnxModelMismatchException(
                $"'{_session.ModelDescription}' returned a tensor of shape [{string.Join(",", shape)}], expected [{count},{channels},{height},{width}].");
        }

        return data;
    }

    private static int RoundUp(int value, int multiple) => CeilDiv(value, multiple) * multiple;

    private static int CeilDiv(int value, int divisor) => (value + divisor - 1) / divisor;

    /// <inheritdoc/>
    public void Dispose() => _session.Dispose();
}
