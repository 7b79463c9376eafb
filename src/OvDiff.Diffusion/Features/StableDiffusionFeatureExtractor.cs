using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OvDiff.Core.Features;
using OvDiff.Core.Images;
using OvDiff.Core.Numerics;
using OvDiff.Diffusion.Pipeline;
using OvDiff.Diffusion.Schedulers;
using OvDiff.Diffusion.Surgery;
using OvDiff.Onnx;
using OvDiff.Onnx.Text;

namespace OvDiff.Diffusion.Features;

/// <summary>
/// How <see cref="StableDiffusionFeatureExtractor"/> reads features. Immutable; the defaults are the reference's
/// (karazijal/sdov gen_proto_sd.py: to_q of cross-attention layers 0, 6..12 and 15 at t = 200, empty prompt, 512 input).
/// </summary>
public sealed record StableDiffusionFeatureOptions
{
    /// <summary>The extractor's stable name with the default options (layers 0,6:13,15 at t=200).</summary>
    public const string DefaultName = DenseFeatureExtractors.StableDiffusionQueries;

    /// <summary>The Stable Diffusion folder (diffusers ONNX layout; needs vae_encoder too).</summary>
    public required string ModelFolder { get; init; }

    /// <summary>Where the sessions run. Default CPU.</summary>
    public OnnxRuntimeOptions Runtime { get; init; } = OnnxRuntimeOptions.Default;

    /// <summary>Cross-attention layers (execution order; SD 1.5 has 16) whose query projection is read. Default 0, 6..12, 15.</summary>
    public IReadOnlyList<int> Layers { get; init; } = [0, 6, 7, 8, 9, 10, 11, 12, 15];

    /// <summary>The DDPM timestep at which the encoded image is noised and the UNet run. Default 200.</summary>
    public int Timestep { get; init; } = 200;

    /// <summary>Seed of the VAE's latent sample and of the DDPM noise (the same for every image, as the reference). Default 42.</summary>
    public ulong Seed { get; init; } = 42;

    /// <summary>
    /// The square size images are resized to (a multiple of 64), or null to keep each side and round it to the nearest
    /// multiple of 64 (at least 64). Default 512, the reference's support image size.
    /// </summary>
    public int? InputSize { get; init; } = 512;

    /// <summary>The VAE's latent scaling factor (SD 1.x: 0.18215).</summary>
    public double VaeScalingFactor { get; init; } = 0.18215;

    /// <summary>The name written into models: <see cref="DefaultName"/>, or one spelling out non-default layers, timestep or size.</summary>
    public string Name
    {
        get
        {
            var reference = Layers.SequenceEqual([0, 6, 7, 8, 9, 10, 11, 12, 15]) && Timestep == 200 && InputSize == 512;
            return reference
                ? DefaultName
                : string.Create(CultureInfo.InvariantCulture, $"{DefaultName}-l{string.Join('.', Layers)}-t{Timestep}-s{InputSize?.ToString(CultureInfo.InvariantCulture) ?? "any"}");
        }
    }
}

/// <summary>
/// Stable Diffusion as a dense feature extractor (OVDiff's "SD" features): the image is encoded by the VAE (a latent
/// sample drawn with a fixed seed, times 0.18215), noised by DDPM's forward process at t = 200, and passed once through
/// the UNet with the empty prompt; the outputs of the query projections (<c>to_q</c>) of the chosen cross-attention layers
/// are resized bilinearly to the latent grid and concatenated (7680 channels for SD 1.5's 9 default layers). The grid is
/// the input size / 8 (stride 8 in the resized image). Owns its four sessions (text encoder once for the empty prompt,
/// VAE encoder, patched UNet); dispose it.
/// </summary>
public sealed class StableDiffusionFeatureExtractor : IDenseFeatureExtractor
{
    private const int LatentChannels = StableDiffusionSessions.LatentChannels;
    private readonly StableDiffusionFeatureOptions _options;
    private readonly OnnxModelSession _vaeEncoder;
    private readonly OnnxModelSession _unet;
    private readonly float[] _emptyPrompt;
    private readonly long[] _emptyPromptShape;
    private readonly int[] _layerChannels;
    private readonly VaeEncoderOutput _encoderOutput;
    private readonly NoiseSchedule _schedule;
    private bool _disposed;

    /// <summary>Opens the models (missing files, signatures and fused UNets are reported as by <see cref="StableDiffusionPipeline.Open"/>).</summary>
    public StableDiffusionFeatureExtractor(StableDiffusionFeatureOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.InputSize is { } size && (size < 64 || size % 64 != 0))
        {
            throw new ArgumentException($"InputSize must be a positive multiple of 64, got {size}.", nameof(options));
        }

        if (options.Layers.Count == 0)
        {
            throw new ArgumentException("At least one layer is needed.", nameof(options));
        }

        _options = options;
        var folder = StableDiffusionFolder.Open(options.ModelFolder, forSampling: false, forFeatures: true);
        var config = SchedulerConfig.Read(folder.SchedulerConfig);
        _schedule = new NoiseSchedule(config);
        if (options.Timestep < 0 || options.Timestep >= _schedule.Count)
        {
            throw new ArgumentException($"Timestep must be in [0, {_schedule.Count}), got {options.Timestep}.", nameof(options));
        }

        var tokenizer = ClipTokenizer.FromFolder(folder.TokenizerFolder);
        var disposables = new List<IDisposable>();
        try
        {
            using (var textEncoder = StableDiffusionSessions.OpenTextEncoder(folder, options.Runtime))
            {
                using var ids = StableDiffusionSessions.TokenIds(textEncoder, tokenizer, [string.Empty]);
                using var outputs = textEncoder.Run(new Dictionary<string, OrtValue> { ["input_ids"] = ids.Value }, ["last_hidden_state"]);
                _emptyPrompt = OnnxModelSession.ReadFloatTensor(outputs[0], out _emptyPromptShape);
            }

            (_vaeEncoder, _encoderOutput) = VaeEncoderOutput.Open(folder.VaeEncoder, options.Runtime);
            disposables.Add(_vaeEncoder);

            var patched = PatchedUNet.GetOrCreate(folder.UNet, new UNetPatchOptions { AttentionMaps = false, QueryLayers = options.Layers });
            _unet = patched.Open(
                options.Runtime,
                StableDiffusionSessions.UNetInputs(StableDiffusionSessions.TimestepRank(folder)),
                options.Layers.Select(l => new OnnxTensorSpec(UNetAttentionSurgery.QueryOutput(l), [-1, -1, -1], [TensorElementType.Float])).ToList());
            disposables.Add(_unet);
            _layerChannels = options.Layers.Select(l => patched.QueryChannels[l]).ToArray();
            Channels = _layerChannels.Sum();
        }
        catch
        {
            disposables.ForEach(d => d.Dispose());
            throw;
        }
    }

    /// <inheritdoc/>
    public string Name => _options.Name;

    /// <inheritdoc/>
    public int Stride => 8;

    /// <inheritdoc/>
    public int Channels { get; }

    /// <summary>The options in use.</summary>
    public StableDiffusionFeatureOptions Options => _options;

    /// <inheritdoc/>
    public FeatureMap Extract(RgbImage image, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(image);
        var (width, height) = InputSizeFor(image.Width, image.Height);
        var resized = width == image.Width && height == image.Height ? image : Resampling.ResizeImage(image, width, height, ImageFilter.Bilinear);
        int latentHeight = height / 8, latentWidth = width / 8, cells = latentHeight * latentWidth;

        // VAE: latent = (mean + std * noise) * 0.18215, the noise drawn from the seed (the reference's latent_dist.sample).
        var (mean, std) = _encoderOutput.Encode(_vaeEncoder, ToPlanarMinusOneToOne(resized), height, width, cancellationToken);
        var latentLength = LatentChannels * cells;
        if (mean.Length != latentLength)
        {
            throw new OnnxModelMismatchException($"The VAE encoder gave {mean.Length} latent values for a {width}x{height} image; expected {latentLength} (4 x {latentHeight} x {latentWidth}).");
        }

        var noise = new float[2 * latentLength];
        SampleNoise.FillGaussian(_options.Seed, noise);
        var latent = new float[latentLength];
        var scale = (float)_options.VaeScalingFactor;
        for (var i = 0; i < latentLength; i++)
        {
            latent[i] = (mean[i] + (std[i] * noise[i])) * scale;
        }

        var noisy = new float[latentLength];
        _schedule.AddNoise(latent, noise.AsSpan(latentLength), _options.Timestep, noisy);

        var inputs = new Dictionary<string, OrtValue>();
        using var sample = new OrtBuffer(_unet.InputMetadata["sample"].ElementDataType, [1, LatentChannels, latentHeight, latentWidth]);
        sample.Write(noisy);
        using var timestep = new OrtBuffer(_unet.InputMetadata["timestep"].ElementDataType, StableDiffusionSessions.TimestepShape(_unet, 1));
        timestep.Set(0, _options.Timestep);
        using var context = new OrtBuffer(_unet.InputMetadata["encoder_hidden_states"].ElementDataType, _emptyPromptShape);
        context.Write(_emptyPrompt);
        inputs["sample"] = sample.Value;
        inputs["timestep"] = timestep.Value;
        inputs["encoder_hidden_states"] = context.Value;
        using var outputs = _unet.Run(inputs, _options.Layers.Select(UNetAttentionSurgery.QueryOutput).ToList(), cancellationToken);

        // Each layer's [1, N, C] queries on its own grid, bilinear to the latent grid, into the HWC map.
        var data = new float[cells * Channels];
        var offset = 0;
        for (var l = 0; l < _options.Layers.Count; l++)
        {
            var query = OnnxModelSession.ReadFloatTensor(outputs[l], out var shape);
            var channels = _layerChannels[l];
            if (shape.Length != 3 || shape[0] != 1 || shape[2] != channels)
            {
                throw new OnnxModelMismatchException($"Query output of layer {_options.Layers[l]} has shape [{string.Join(",", shape)}]; expected [1, N, {channels}].");
            }

            var tokens = (int)shape[1];
            var gridHeight = (int)Math.Round(Math.Sqrt((double)tokens * latentHeight / latentWidth));
            var gridWidth = tokens / gridHeight;
            var planar = new float[channels * tokens];
            for (var n = 0; n < tokens; n++)
            {
                for (var c = 0; c < channels; c++)
                {
                    planar[(c * tokens) + n] = query[(n * channels) + c];
                }
            }

            var upsampled = gridHeight == latentHeight && gridWidth == latentWidth ? planar : new float[channels * cells];
            if (!ReferenceEquals(upsampled, planar))
            {
                Resampling.BilinearPlanar(planar, channels, gridHeight, gridWidth, upsampled, latentHeight, latentWidth);
            }

            for (var c = 0; c < channels; c++)
            {
                for (var p = 0; p < cells; p++)
                {
                    data[(p * Channels) + offset + c] = upsampled[(c * cells) + p];
                }
            }

            offset += channels;
        }

        return new FeatureMap(latentHeight, latentWidth, Channels, data);
    }

    /// <summary>The size an image of <paramref name="width"/> x <paramref name="height"/> is resized to before encoding.</summary>
    public (int Width, int Height) InputSizeFor(int width, int height)
    {
        if (_options.InputSize is { } size)
        {
            return (size, size);
        }

        static int Round64(int value) => Math.Max(64, (int)Math.Round(value / 64.0, MidpointRounding.ToEven) * 64);
        return (Round64(width), Round64(height));
    }

    /// <summary>Registers this extractor with <see cref="DenseFeatureExtractors"/> under <see cref="StableDiffusionFeatureOptions.DefaultName"/> (model: the store's sd15 folder).</summary>
    public static void Register() =>
        DenseFeatureExtractors.Register(
            DenseFeatureExtractors.StableDiffusionQueries,
            (store, runtime) => new StableDiffusionFeatureExtractor(new StableDiffusionFeatureOptions
            {
                ModelFolder = store.FolderOf(ModelManifest.Default["sd15"]),
                Runtime = runtime,
            }));

    private static float[] ToPlanarMinusOneToOne(RgbImage image)
    {
        var plane = image.Width * image.Height;
        var result = new float[3 * plane];
        var pixels = image.Pixels;
        for (var c = 0; c < 3; c++)
        {
            for (var p = 0; p < plane; p++)
            {
                result[(c * plane) + p] = (pixels[(p * 3) + c] / 127.5f) - 1f;
            }
        }

        return result;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _vaeEncoder.Dispose();
        _unet.Dispose();
    }
}
