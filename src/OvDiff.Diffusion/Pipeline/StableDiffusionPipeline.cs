using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;
using OvDiff.Diffusion.Schedulers;
using OvDiff.Diffusion.Surgery;
using OvDiff.Onnx;
using OvDiff.Onnx.Text;

namespace OvDiff.Diffusion.Pipeline;

/// <summary>
/// Text-to-image Stable Diffusion on ONNX Runtime with OVDiff's attribution maps: CLIP text encoder, UNet with
/// classifier-free guidance (unconditional and conditional halves in one call), a scheduler from
/// <see cref="SchedulerKind"/>, VAE decoder. The UNet is patched once (<see cref="PatchedUNet"/>) to return the
/// cross-attention maps of the requested tokens, reduced inside the graph.
/// <para>
/// Sessions are created once by <see cref="Open"/> and owned until <see cref="Dispose"/>. Every input and output is bound by
/// name, with the element type and rank the model declares (input_ids int32/int64; float32/float16 tensors; timestep
/// int64/int32/float/float16 as [B], [1] or a scalar). Per batch the conditioning is computed once and stays where the session
/// runs (bound as an ONNX Runtime value, on the GPU with CUDA); the latents and outputs live in host buffers that are
/// allocated once per batch shape and reused by every step (I/O binding).
/// </para>
/// <para>Not thread-safe: one <see cref="Generate"/> at a time per instance.</para>
/// </summary>
public sealed class StableDiffusionPipeline : IDisposable
{
    private const string SampleInput = "sample";
    private const string TimestepInput = "timestep";
    private const string ContextInput = "encoder_hidden_states";
    private const string UNetOutput = "out_sample";
    private const int LatentChannels = StableDiffusionSessions.LatentChannels;

    private readonly OnnxModelSession _textEncoder;
    private readonly OnnxModelSession _unet;
    private readonly OnnxModelSession _vaeDecoder;
    private readonly SchedulerConfig _schedulerConfig;
    private readonly OrtMemoryInfo _deviceMemory;
    private readonly SamplingStatistics.Accumulator _statistics = new();
    private bool _disposed;

    private StableDiffusionPipeline(
        StableDiffusionFolder folder,
        StableDiffusionOptions options,
        ClipTokenizer tokenizer,
        SchedulerConfig schedulerConfig,
        OnnxModelSession textEncoder,
        OnnxModelSession unet,
        OnnxModelSession vaeDecoder,
        PatchedUNet? patched,
        int width,
        int height)
    {
        Folder = folder;
        Options = options;
        Tokenizer = tokenizer;
        _schedulerConfig = schedulerConfig;
        _textEncoder = textEncoder;
        _unet = unet;
        _vaeDecoder = vaeDecoder;
        PatchedUNet = patched;
        Width = width;
        Height = height;
        _deviceMemory = unet.ActiveExecutionProvider == ExecutionProviderKind.Cuda
            ? new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, options.Runtime.CudaDeviceId, OrtMemType.Default)
            : OrtMemoryInfo.DefaultInstance;
    }

    /// <summary>The model folder.</summary>
    public StableDiffusionFolder Folder { get; }

    /// <summary>The options this pipeline was opened with.</summary>
    public StableDiffusionOptions Options { get; }

    /// <summary>The folder's CLIP tokenizer.</summary>
    public ClipTokenizer Tokenizer { get; }

    /// <summary>The scheduler settings in use (the folder's config with the options' overrides).</summary>
    public SchedulerConfig SchedulerConfig => _schedulerConfig;

    /// <summary>The patched UNet (null when attribution maps are off and nothing is fused).</summary>
    public PatchedUNet? PatchedUNet { get; }

    /// <summary>Image width in pixels.</summary>
    public int Width { get; }

    /// <summary>Image height in pixels.</summary>
    public int Height { get; }

    /// <summary>Latent (and attribution map) width: <see cref="Width"/> / 8.</summary>
    public int LatentWidth => Width / 8;

    /// <summary>Latent (and attribution map) height: <see cref="Height"/> / 8.</summary>
    public int LatentHeight => Height / 8;

    /// <summary>Where the sessions run.</summary>
    public ExecutionProviderKind ExecutionProvider => _unet.ActiveExecutionProvider;

    /// <summary>Where the time of every <see cref="Generate"/> since <see cref="Open"/> (or <see cref="ResetStatistics"/>) went.</summary>
    public SamplingStatistics Statistics => _statistics.Snapshot();

    /// <summary>Starts <see cref="Statistics"/> from zero.</summary>
    public void ResetStatistics() => _statistics.Reset();

    /// <summary>
    /// Opens the folder's models (checking every file first: one error lists all that are missing), patches the UNet
    /// when maps are asked for (a fused UNet is a <see cref="FusedAttentionException"/> saying how to get an unfused one),
    /// and checks each model's inputs and outputs (<see cref="OnnxModelMismatchException"/> lists expected and actual).
    /// </summary>
    public static StableDiffusionPipeline Open(string modelFolder, StableDiffusionOptions? options = null)
    {
        options ??= StableDiffusionOptions.Default;
        options.Validate();
        var folder = StableDiffusionFolder.Open(modelFolder, forSampling: true);
        var tokenizer = ClipTokenizer.FromFolder(folder.TokenizerFolder);
        var schedulerConfig = options.ResolveSchedulerConfig(SchedulerConfig.Read(folder.SchedulerConfig));
        _ = DiffusionScheduler.Create(options.Scheduler, schedulerConfig, options.Steps); // fails early on bad settings

        var timestepRank = StableDiffusionSessions.TimestepRank(folder);
        var sampleInfo = OnnxGraphInfo.Read(folder.UNet).Inputs.First(i => i.Name == SampleInput);
        var (width, height) = ImageSize(options, sampleInfo, folder.UNet);
        var disposables = new List<IDisposable>();
        try
        {
            var textEncoder = StableDiffusionSessions.OpenTextEncoder(folder, options.Runtime);
            disposables.Add(textEncoder);

            var unetInputs = StableDiffusionSessions.UNetInputs(timestepRank);
            var unetOutputs = new List<OnnxTensorSpec> { OnnxTensorSpec.AnyFloat(UNetOutput, 4) };
            PatchedUNet? patched = null;
            OnnxModelSession unet;
            if (options.AttributionMaps || options.FuseSelfAttention)
            {
                patched = PatchedUNet.GetOrCreate(folder.UNet, new UNetPatchOptions { AttentionMaps = options.AttributionMaps, FuseSelfAttention = options.FuseSelfAttention });
                if (options.AttributionMaps)
                {
                    unetInputs.Add(new OnnxTensorSpec(UNetAttentionSurgery.TokenIndicesInput, [-1], [TensorElementType.Int64]));
                    unetOutputs.Add(new OnnxTensorSpec(UNetAttentionSurgery.AttentionMapsOutput, [-1, -1, -1, -1], [TensorElementType.Float]));
                }

                unet = patched.Open(options.Runtime, unetInputs, unetOutputs);
            }
            else
            {
                unet = OnnxModelSession.Open(folder.UNet, options.Runtime, unetInputs, unetOutputs, "unet/model.onnx of a Stable Diffusion folder.");
            }

            disposables.Add(unet);
            var vaeDecoder = OnnxModelSession.Open(
                folder.VaeDecoder,
                options.Runtime,
                [OnnxTensorSpec.AnyFloat("latent_sample", 4) with { Dimensions = [-1, LatentChannels, -1, -1] }],
                [OnnxTensorSpec.AnyFloat("sample", 4) with { Dimensions = [-1, 3, -1, -1] }],
                "vae_decoder/model.onnx of a Stable Diffusion folder.");
            disposables.Add(vaeDecoder);
            return new StableDiffusionPipeline(folder, options, tokenizer, schedulerConfig, textEncoder, unet, vaeDecoder, patched, width, height);
        }
        catch
        {
            disposables.ForEach(d => d.Dispose());
            throw;
        }
    }

    /// <summary>
    /// Generates <paramref name="requests"/> in batches of <see cref="StableDiffusionOptions.BatchSize"/> images (each
    /// batch one UNet call per step, unconditional and conditional halves together). Results are in request order and do
    /// not depend on the batching. Cancellation is observed before every model call and terminates a running one.
    /// </summary>
    public IReadOnlyList<GeneratedImage> Generate(IReadOnlyList<SupportImageRequest> requests, IProgress<StepProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(requests);
        foreach (var request in requests)
        {
            ArgumentNullException.ThrowIfNull(request);
            ArgumentNullException.ThrowIfNull(request.Prompt);
            ArgumentNullException.ThrowIfNull(request.NegativePrompt);
            ArgumentNullException.ThrowIfNull(request.NameTokens);
            if (request.NameTokens.Any(t => t is < 0 or >= ClipTokenizer.DefaultContextLength))
            {
                throw new ArgumentException($"Name token positions must be in [0, {ClipTokenizer.DefaultContextLength}); got {string.Join(", ", request.NameTokens)} for '{request.Prompt}'.", nameof(requests));
            }
        }

        var results = new List<GeneratedImage>(requests.Count);
        var total = Stopwatch.StartNew();
        try
        {
            for (var start = 0; start < requests.Count; start += Options.BatchSize)
            {
                var batch = requests.Skip(start).Take(Options.BatchSize).ToList();
                results.AddRange(GenerateBatch(batch, progress, cancellationToken));
            }
        }
        finally
        {
            _statistics.Total += total.Elapsed;
        }

        _statistics.Images += results.Count;
        return results;
    }

    private List<GeneratedImage> GenerateBatch(List<SupportImageRequest> batch, IProgress<StepProgress>? progress, CancellationToken cancellationToken)
    {
        var count = batch.Count;
        var guided = Options.GuidanceScale > 1.0;
        var unetBatch = guided ? 2 * count : count;
        int latentHeight = LatentHeight, latentWidth = LatentWidth;
        var perImage = LatentChannels * latentHeight * latentWidth;
        var scheduler = DiffusionScheduler.Create(Options.Scheduler, _schedulerConfig, Options.Steps);

        // Token positions: the union of the batch's name tokens (one graph input per call), each image averaging its own.
        var tokens = batch.SelectMany(r => r.NameTokens).Distinct().Order().ToArray();
        var maps = Options.AttributionMaps && tokens.Length > 0;
        var tokenSlot = tokens.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i);

        // Conditioning: negative prompts then prompts (diffusers' order), encoded once, kept where the UNet runs.
        var prompts = (guided ? batch.Select(r => r.NegativePrompt) : []).Concat(batch.Select(r => r.Prompt)).ToList();
        using var context = EncodeText(prompts, cancellationToken);

        // Latents: each image's noise from its own seed, so that batching does not change it.
        var latents = new float[count * perImage];
        for (var i = 0; i < count; i++)
        {
            SampleNoise.FillGaussian(batch[i].Seed, latents.AsSpan(i * perImage, perImage));
        }

        var initialSigma = (float)scheduler.InitialNoiseSigma;
        for (var i = 0; i < latents.Length; i++)
        {
            latents[i] *= initialSigma;
        }

        var sampleType = _unet.InputMetadata[SampleInput].ElementDataType;
        var outputType = _unet.OutputMetadata[UNetOutput].ElementDataType;
        long[] latentShape = [unetBatch, LatentChannels, latentHeight, latentWidth];
        using var sample = new OrtBuffer(sampleType, latentShape);
        using var timestep = new OrtBuffer(_unet.InputMetadata[TimestepInput].ElementDataType, StableDiffusionSessions.TimestepShape(_unet, unetBatch));
        using var output = new OrtBuffer(outputType, latentShape);
        using var tokenIndices = maps ? new OrtBuffer(TensorElementType.Int64, [tokens.Length]) : null;
        using var attention = maps ? new OrtBuffer(TensorElementType.Float, [unetBatch, tokens.Length, latentHeight, latentWidth]) : null;
        using var binding = _unet.CreateIoBinding();
        binding.BindInput(SampleInput, sample.Value);
        binding.BindInput(TimestepInput, timestep.Value);
        binding.BindInput(ContextInput, context.Value);
        binding.BindOutput(UNetOutput, output.Value);
        if (maps)
        {
            for (var i = 0; i < tokens.Length; i++)
            {
                tokenIndices!.Set(i, tokens[i]);
            }

            binding.BindInput(UNetAttentionSurgery.TokenIndicesInput, tokenIndices!.Value);
            binding.BindOutput(UNetAttentionSurgery.AttentionMapsOutput, attention!.Value);
        }

        var bound = new Dictionary<string, OrtValue> { [SampleInput] = sample.Value, [TimestepInput] = timestep.Value, [ContextInput] = context.Value };
        var batchHint = guided
            ? $"Each UNet call holds 2 x {count} latents (unconditional and conditional halves, GuidanceScale > 1): an export with a fixed batch N needs calls of N: BatchSize = N / 2 and an image count that is a multiple of it (a dynamic batch takes any)."
            : $"Each UNet call holds {count} latents: an export with a fixed batch N needs calls of N: BatchSize = N and an image count that is a multiple of it (a dynamic batch takes any).";
        var mapSize = latentHeight * latentWidth;
        var accumulated = maps ? new double[count * tokens.Length * mapSize] : null;
        var modelInput = new float[perImage * count];
        var prediction = new float[unetBatch * perImage];
        var guidedPrediction = guided ? new float[count * perImage] : prediction;
        var guidance = (float)Options.GuidanceScale;
        for (var step = 0; step < scheduler.StepCount; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var scale = (float)scheduler.ModelInputScale(step);
            for (var i = 0; i < modelInput.Length; i++)
            {
                modelInput[i] = latents[i] * scale;
            }

            sample.Write(modelInput);
            if (guided)
            {
                sample.Write(modelInput, modelInput.Length);
            }

            for (var i = 0; i < timestep.Length; i++)
            {
                timestep.Set(i, scheduler.Timesteps[step]);
            }

            var unetCall = Stopwatch.GetTimestamp();
            _unet.RunWithBinding(binding, cancellationToken, bound, batchHint);
            _statistics.UNet += Stopwatch.GetElapsedTime(unetCall);
            _statistics.UNetCalls++;
            output.Read(prediction);
            if (guided)
            {
                // noise = uncond + g * (cond - uncond)
                var half = count * perImage;
                for (var i = 0; i < half; i++)
                {
                    var unconditional = prediction[i];
                    guidedPrediction[i] = unconditional + (guidance * (prediction[half + i] - unconditional));
                }
            }

            scheduler.Step(step, guidedPrediction, latents);
            if (maps)
            {
                // The conditional half only, as the reference's DAAM store.
                var values = attention!.FloatArray!;
                var offset = guided ? count * tokens.Length * mapSize : 0;
                for (var i = 0; i < accumulated!.Length; i++)
                {
                    accumulated[i] += values[offset + i];
                }
            }

            progress?.Report(new StepProgress("denoising", step + 1, scheduler.StepCount));
        }

        cancellationToken.ThrowIfCancellationRequested();
        var images = Decode(latents, count, cancellationToken);
        progress?.Report(new StepProgress("decoded", count, count));
        var results = new List<GeneratedImage>(count);
        for (var i = 0; i < count; i++)
        {
            float[]? raw = null;
            AttributionMap? map = null;
            if (maps && batch[i].NameTokens.Count > 0)
            {
                raw = new float[mapSize];
                var focus = batch[i].NameTokens.Distinct().ToList();
                foreach (var token in focus)
                {
                    var source = ((i * tokens.Length) + tokenSlot[token]) * mapSize;
                    for (var p = 0; p < mapSize; p++)
                    {
                        raw[p] += (float)(accumulated![source + p] / focus.Count);
                    }
                }

                map = new AttributionMap(latentHeight, latentWidth, MinMaxNormalise(raw));
            }

            results.Add(new GeneratedImage(batch[i], images[i], map, raw));
        }

        return results;
    }

    /// <summary>Encodes prompts (padded to 77 with the end token) into an ONNX Runtime value on the UNet's device; the caller disposes it.</summary>
    private OwnedValue EncodeText(IReadOnlyList<string> prompts, CancellationToken cancellationToken)
    {
        using var ids = StableDiffusionSessions.TokenIds(_textEncoder, Tokenizer, prompts);
        using var binding = _textEncoder.CreateIoBinding();
        binding.BindInput("input_ids", ids.Value);
        binding.BindOutputToDevice("last_hidden_state", _deviceMemory);
        var started = Stopwatch.GetTimestamp();
        _textEncoder.RunWithBinding(binding, cancellationToken);
        _statistics.TextEncoder += Stopwatch.GetElapsedTime(started);
        var outputs = binding.GetOutputValues();
        var hidden = outputs[0];
        var expected = _unet.InputMetadata[ContextInput].ElementDataType;
        if (hidden.GetTensorTypeAndShape().ElementDataType == expected)
        {
            return new OwnedValue(hidden, outputs);
        }

        // The text encoder and the UNet disagree on float32/float16 (mixed exports): convert on the host.
        using (outputs)
        {
            var values = OnnxModelSession.ReadFloatTensor(hidden, out var shape);
            var converted = new OrtBuffer(expected, shape);
            converted.Write(values);
            return new OwnedValue(converted.Value, converted);
        }
    }

    /// <summary>A value and what owns it.</summary>
    private sealed class OwnedValue(OrtValue value, IDisposable owner) : IDisposable
    {
        public OrtValue Value { get; } = value;

        public void Dispose() => owner.Dispose();
    }

    private RgbImage[] Decode(float[] latents, int count, CancellationToken cancellationToken)
    {
        int latentHeight = LatentHeight, latentWidth = LatentWidth;
        var inputType = _vaeDecoder.InputMetadata["latent_sample"].ElementDataType;
        using var input = new OrtBuffer(inputType, [count, LatentChannels, latentHeight, latentWidth]);
        var scaled = new float[latents.Length];
        var inverse = (float)(1.0 / Options.VaeScalingFactor);
        for (var i = 0; i < latents.Length; i++)
        {
            scaled[i] = latents[i] * inverse;
        }

        input.Write(scaled);
        var started = Stopwatch.GetTimestamp();
        using var outputs = _vaeDecoder.Run(new Dictionary<string, OrtValue> { ["latent_sample"] = input.Value }, ["sample"], cancellationToken);
        _statistics.VaeDecoder += Stopwatch.GetElapsedTime(started);
        var pixels = OnnxModelSession.ReadFloatTensor(outputs[0], out var shape);
        if (shape.Length != 4 || shape[0] != count || shape[1] != 3 || shape[2] != Height || shape[3] != Width)
        {
            throw new OnnxModelMismatchException(
                $"The VAE decoder '{Folder.VaeDecoder}' returned [{string.Join(",", shape)}]; expected [{count},3,{Height},{Width}] (8x the latent size).");
        }

        var plane = Height * Width;
        var images = new RgbImage[count];
        for (var i = 0; i < count; i++)
        {
            var rgb = new byte[plane * 3];
            for (var c = 0; c < 3; c++)
            {
                var source = pixels.AsSpan(((i * 3) + c) * plane, plane);
                for (var p = 0; p < plane; p++)
                {
                    // diffusers: (x / 2 + 0.5).clamp(0, 1), then (x * 255).round()
                    var value = Math.Clamp((source[p] / 2f) + 0.5f, 0f, 1f);
                    rgb[(p * 3) + c] = (byte)MathF.Round(value * 255f, MidpointRounding.ToEven);
                }
            }

            images[i] = new RgbImage(Width, Height, rgb);
        }

        return images;
    }

    /// <summary>(x - min) / max(max - min, 1e-6), as the reference normalises its heat maps.</summary>
    internal static float[] MinMaxNormalise(ReadOnlySpan<float> values)
    {
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (var v in values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        var range = Math.Max(max - min, 1e-6f);
        var result = new float[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            result[i] = (values[i] - min) / range;
        }

        return result;
    }

    /// <summary>
    /// The image size <see cref="Open"/> would use for <paramref name="modelFolder"/> with <paramref name="options"/>, read
    /// from the UNet's graph without loading it (its fixed latent size if it has one, else the options', else 512).
    /// </summary>
    public static (int Width, int Height) ResolveImageSize(string modelFolder, StableDiffusionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var unet = StableDiffusionFolder.Open(modelFolder, forSampling: true).UNet;
        var sample = OnnxGraphInfo.Read(unet).Inputs.FirstOrDefault(i => i.Name == SampleInput)
            ?? throw new OnnxModelMismatchException($"'{unet}' is not a Stable Diffusion UNet export: it has no input '{SampleInput}'.");
        return ImageSize(options, sample, unet);
    }

    private static (int Width, int Height) ImageSize(StableDiffusionOptions options, OnnxValueInfo sample, string unetPath)
    {
        var shape = sample.Shape;
        int? fixedHeight = shape is { Count: 4 } && shape[2].Size is > 0 ? (int)shape[2].Size!.Value : null;
        int? fixedWidth = shape is { Count: 4 } && shape[3].Size is > 0 ? (int)shape[3].Size!.Value : null;
        var width = options.Width ?? (fixedWidth * 8) ?? 512;
        var height = options.Height ?? (fixedHeight * 8) ?? 512;
        if ((fixedWidth is { } fw && fw * 8 != width) || (fixedHeight is { } fh && fh * 8 != height))
        {
            throw new OnnxModelMismatchException(string.Create(
                CultureInfo.InvariantCulture,
                $"'{unetPath}' takes latents of {fixedWidth}x{fixedHeight} only (images of {fixedWidth * 8}x{fixedHeight * 8}); asked for {width}x{height}."));
        }

        return (width, height);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _textEncoder.Dispose();
        _unet.Dispose();
        _vaeDecoder.Dispose();
    }
}
