using OvDiff.Core.Segmentation;
using OvDiff.Diffusion.Pipeline;

namespace OvDiff.Diffusion.Support;

/// <summary>
/// Stable Diffusion as OVDiff's support-image generator: each <see cref="SupportImageRequest"/> (prompt, negative prompt,
/// seed, the class-name tokens as the attribution focus) comes back with its image and cross-attention attribution map. The pipeline is opened on first use, so a run that
/// finds everything already sampled never loads the models. Owns the pipeline; one <see cref="Generate"/> at a time.
/// </summary>
public sealed class StableDiffusionSupportGenerator : ISupportImageGenerator
{
    private readonly string _modelFolder;
    private readonly StableDiffusionOptions _options;
    private StableDiffusionPipeline? _pipeline;
    private bool _disposed;

    /// <summary>Creates the generator for <paramref name="modelFolder"/> (opened lazily with <paramref name="options"/>; maps are always captured).</summary>
    public StableDiffusionSupportGenerator(string modelFolder, StableDiffusionOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelFolder);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _modelFolder = Path.GetFullPath(modelFolder);
        _options = options with { AttributionMaps = true };
    }

    /// <inheritdoc />
    public string Description => $"Stable Diffusion at {_modelFolder} ({_options.Scheduler}, {_options.Steps} steps, guidance {_options.GuidanceScale}, {OvDiff.Onnx.ExecutionDevice.Describe(_options.Runtime)})";

    /// <summary>The pipeline, opened now if it was not yet.</summary>
    public StableDiffusionPipeline Pipeline
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _pipeline ??= StableDiffusionPipeline.Open(_modelFolder, _options);
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<GeneratedSupportImage> Generate(IReadOnlyList<SupportImageRequest> batch, IProgress<StepProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        IReadOnlyList<GeneratedImage> images = Pipeline.Generate(batch, progress, cancellationToken);
        return images.Select((image, i) => new GeneratedSupportImage(
            image.Image,
            image.Attribution ?? throw new InvalidOperationException($"No attribution map for \"{batch[i].Prompt}\": the class name's tokens were not found in the prompt (cut at 77 tokens?).")))
            .ToList();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _pipeline?.Dispose();
        }
    }
}
