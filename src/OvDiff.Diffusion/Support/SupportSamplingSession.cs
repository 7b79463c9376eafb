using System.Globalization;
using OvDiff.Core.Segmentation;
using OvDiff.Core.Sharding;
using OvDiff.Diffusion.Pipeline;
using OvDiff.Imaging.Support;
using OvDiff.Onnx;
using OvDiff.Onnx.Text;

namespace OvDiff.Diffusion.Support;

/// <summary>How support images are sampled into a store: the diffusion settings plus seed and prompts. Immutable; defaults are the reference's.</summary>
public sealed record SupportSamplingOptions
{
    /// <summary>Sampler, steps, guidance, batch size, image size and device. Default <see cref="StableDiffusionOptions.Default"/> (DPM-Solver++ 2M, 30 steps, 8.0, batch 8, CPU).</summary>
    public StableDiffusionOptions Diffusion { get; init; } = StableDiffusionOptions.Default;

    /// <summary>Base seed; image (class, index) uses <see cref="SupportImageRequest.DeriveSeed"/>. Default 42 (the reference's).</summary>
    public long Seed { get; init; } = 42;

    /// <summary>Prompt template with <c>{class}</c>. Default "A good picture of a {class}".</summary>
    public string PromptTemplate { get; init; } = SupportImageRequest.ReferencePromptTemplate;

    /// <summary>Negative prompt. Default the reference's.</summary>
    public string NegativePrompt { get; init; } = SupportImageRequest.ReferenceNegativePrompt;
}

/// <summary>
/// A support store opened for sampling with a Stable Diffusion folder: the model's fingerprint computed (file hashes
/// cached in the store), the class names located in their prompts, the store created or checked against these settings
/// (a mismatch is refused naming each difference), and a generator that opens the models only when an image is missing.
/// </summary>
public sealed class SupportSamplingSession : IDisposable
{
    private readonly StableDiffusionSupportGenerator _generator;

    private SupportSamplingSession(SupportStore store, StableDiffusionSupportGenerator generator)
    {
        Store = store;
        _generator = generator;
    }

    /// <summary>The store.</summary>
    public SupportStore Store { get; }

    /// <summary>The generator (models opened on first use).</summary>
    public ISupportImageGenerator Generator => _generator;

    /// <summary>
    /// Opens (or creates) the store at <paramref name="storeFolder"/> for <paramref name="classNames"/>, <paramref name="perClass"/>
    /// images each, sampled from <paramref name="modelFolder"/>. <paramref name="hashing"/> reports the model hashing of a first run.
    /// </summary>
    public static SupportSamplingSession Open(
        string modelFolder,
        string storeFolder,
        IReadOnlyList<string> classNames,
        int perClass,
        SupportSamplingOptions options,
        IProgress<DownloadProgress>? hashing = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelFolder);
        ArgumentException.ThrowIfNullOrWhiteSpace(storeFolder);
        ArgumentNullException.ThrowIfNull(classNames);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perClass);
        IReadOnlyList<string> classes = CheckClassNames(classNames);
        if (!options.PromptTemplate.Contains("{class}", StringComparison.Ordinal))
        {
            throw new ArgumentException($"The prompt template '{options.PromptTemplate}' has no {{class}} placeholder.", nameof(options));
        }

        StableDiffusionOptions diffusion = options.Diffusion with { AttributionMaps = true };
        diffusion.Validate();
        StableDiffusionFolder folder = StableDiffusionFolder.Open(modelFolder, forSampling: true);
        (int width, int height) = StableDiffusionPipeline.ResolveImageSize(folder.Root, diffusion);
        ClipTokenizer tokenizer = ClipTokenizer.FromFolder(folder.TokenizerFolder);
        var located = classes.Select(c =>
        {
            string prompt = options.PromptTemplate.Replace("{class}", c, StringComparison.Ordinal);
            int[] tokens = tokenizer.FindPhrase(prompt, c);
            return tokens.Length > 0
                ? (c, (IReadOnlyList<int>)tokens)
                : throw new ArgumentException($"The class name '{c}' is not among the tokens of its prompt \"{prompt}\" (cut at {ClipTokenizer.DefaultContextLength} tokens?): shorten the prompt template or the name.", nameof(classNames));
        }).ToList();

        Directory.CreateDirectory(storeFolder);
        string fingerprint = new ModelFingerprint(Path.Combine(storeFolder, ".model-hashes.json"))
            .Compute(folder.Root, ModelFingerprint.StableDiffusionSamplingParts, hashing, cancellationToken);
        var settings = new SupportSamplingSettings(
            fingerprint,
            DescribeSampler(diffusion),
            diffusion.Steps,
            (float)diffusion.GuidanceScale,
            options.Seed,
            options.PromptTemplate,
            options.NegativePrompt,
            width,
            height,
            diffusion.BatchSize,
            AttributionMethod);
        SupportStore store = SupportStore.OpenOrCreate(storeFolder, folder.Root, settings, perClass, located);
        return new SupportSamplingSession(store, new StableDiffusionSupportGenerator(folder.Root, diffusion));
    }

    /// <summary>The attribution method recorded in stores: the reference's DAAM aggregation as OvDiff.Diffusion computes it.</summary>
    public const string AttributionMethod = "attn2-all-layers-cond-all-steps-bicubic-clamp-sum/token-mean/minmax/v1";

    /// <summary>Samples the missing images of the first <paramref name="perClass"/> of <paramref name="classNames"/> in <paramref name="shard"/>.</summary>
    public SupportSamplingResult Run(IReadOnlyList<string> classNames, int perClass, ShardSpec shard, IProgress<StepProgress>? progress = null, CancellationToken cancellationToken = default) =>
        SupportSampling.Run(Store, classNames, perClass, shard, _generator, progress, cancellationToken);

    /// <summary>Samples the missing images among <paramref name="items"/> (class, index).</summary>
    public SupportSamplingResult RunItems(IEnumerable<(string ClassName, int Index)> items, IProgress<StepProgress>? progress = null, CancellationToken cancellationToken = default) =>
        SupportSampling.RunItems(Store, items, _generator, progress, cancellationToken);

    /// <inheritdoc />
    public void Dispose() => _generator.Dispose();

    /// <summary>
    /// Trimmed, distinct class names in the order given (<see cref="ClassListBuilder"/>: the same name twice is kept once;
    /// empty names and names that differ only in case are errors).
    /// </summary>
    public static IReadOnlyList<string> CheckClassNames(IEnumerable<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        var names = new ClassListBuilder();
        int position = 0;
        foreach (string raw in classNames)
        {
            position++;
            try
            {
                names.Add(raw ?? "", $"class name {position}");
            }
            catch (InvalidDataException error)
            {
                throw new ArgumentException(error.Message, nameof(classNames), error);
            }
        }

        return names.Names.Count > 0 ? names.Names : throw new ArgumentException("No class names were given.", nameof(classNames));
    }

    /// <summary>What decides the sampler's arithmetic besides steps and guidance: scheduler, its overrides, fused attention, VAE scale.</summary>
    private static string DescribeSampler(StableDiffusionOptions options)
    {
        string text = options.Scheduler.ToString();
        if (options.SchedulerOverrides is { } overrides)
        {
            text += string.Create(CultureInfo.InvariantCulture, $" (spacing {overrides.TimestepSpacing?.ToString() ?? "file"}, offset {overrides.StepsOffset?.ToString(CultureInfo.InvariantCulture) ?? "file"}, final sigmas {overrides.FinalSigmas?.ToString() ?? "file"}, prediction {overrides.PredictionType?.ToString() ?? "file"})");
        }

        if (options.FuseSelfAttention)
        {
            text += ", attn1 fused";
        }

        return options.VaeScalingFactor == StableDiffusionOptions.Default.VaeScalingFactor ? text : text + string.Create(CultureInfo.InvariantCulture, $", VAE scale {options.VaeScalingFactor}");
    }
}
