using OvDiff.Diffusion.Schedulers;
using OvDiff.Onnx;

namespace OvDiff.Diffusion.Pipeline;

/// <summary>
/// How <see cref="StableDiffusionPipeline"/> samples. Immutable; the defaults are the OVDiff reference's
/// (karazijal/sdov sample_support_set.py: DPM-Solver++ 2M, 30 steps, guidance 8, 512x512, batches of 8).
/// </summary>
public sealed record StableDiffusionOptions
{
    /// <summary>The reference's settings.</summary>
    public static StableDiffusionOptions Default { get; } = new();

    /// <summary>Where the sessions run. Default CPU.</summary>
    public OnnxRuntimeOptions Runtime { get; init; } = OnnxRuntimeOptions.Default;

    /// <summary>The sampler. Default DPM-Solver++ multistep (2M), the reference's.</summary>
    public SchedulerKind Scheduler { get; init; } = SchedulerKind.DpmSolverMultistep;

    /// <summary>
    /// Changes to the folder's scheduler_config.json (its beta schedule and prediction type are always read; keys it lacks
    /// take the scheduler's diffusers defaults). Null (the default): for DPM-Solver the reference's diffusers 0.14 behaviour
    /// (<see cref="SchedulerConfigOverrides.Diffusers014"/>: linspace timesteps, last step to sigma_min, whatever the file
    /// says), for DDIM and Euler the file as it is. An empty <c>new SchedulerConfigOverrides()</c> honours the file for every
    /// scheduler (current diffusers behaviour).
    /// </summary>
    public SchedulerConfigOverrides? SchedulerOverrides { get; init; }

    /// <summary>The scheduler settings this run uses, from the folder's <paramref name="folderConfig"/>.</summary>
    public SchedulerConfig ResolveSchedulerConfig(SchedulerConfig folderConfig)
    {
        ArgumentNullException.ThrowIfNull(folderConfig);
        var overrides = SchedulerOverrides ?? (Scheduler == SchedulerKind.DpmSolverMultistep ? SchedulerConfigOverrides.Diffusers014 : null);
        return overrides is null ? folderConfig : overrides.ApplyTo(folderConfig);
    }

    /// <summary>Denoising steps (UNet calls per image). Default 30.</summary>
    public int Steps { get; init; } = 30;

    /// <summary>Classifier-free guidance scale; at or below 1 the unconditional pass is skipped. Default 8.0.</summary>
    public double GuidanceScale { get; init; } = 8.0;

    /// <summary>Image width in pixels (a multiple of 8; 64 for SD's three downsamplings), or null: the UNet's fixed size if it has one, else 512.</summary>
    public int? Width { get; init; }

    /// <summary>Image height in pixels, as <see cref="Width"/>.</summary>
    public int? Height { get; init; }

    /// <summary>Images per UNet call (each twice with guidance). Default 8, the reference's batch.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Capture the cross-attention attribution maps (patched UNet). Default true.</summary>
    public bool AttributionMaps { get; init; } = true;

    /// <summary>Fuse the self-attention layers into com.microsoft MultiHeadAttention (faster on CUDA; attn2 stays unfused). Default false.</summary>
    public bool FuseSelfAttention { get; init; }

    /// <summary>The VAE's latent scaling factor (SD 1.x: 0.18215).</summary>
    public double VaeScalingFactor { get; init; } = 0.18215;

    /// <summary>Checks the values; throws <see cref="ArgumentException"/> naming the setting.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Runtime, nameof(Runtime));
        if (Steps is < 1 or > 1000)
        {
            throw new ArgumentException($"Steps must be between 1 and 1000, got {Steps}.", nameof(Steps));
        }

        if (!double.IsFinite(GuidanceScale) || GuidanceScale < 0)
        {
            throw new ArgumentException($"GuidanceScale must be a finite number >= 0, got {GuidanceScale}.", nameof(GuidanceScale));
        }

        foreach (var (name, value) in new[] { (nameof(Width), Width), (nameof(Height), Height) })
        {
            if (value is { } size && (size < 8 || size % 8 != 0))
            {
                throw new ArgumentException($"{name} must be a positive multiple of 8, got {size}.", name);
            }
        }

        if (BatchSize < 1)
        {
            throw new ArgumentException($"BatchSize must be at least 1, got {BatchSize}.", nameof(BatchSize));
        }

        if (!(VaeScalingFactor > 0))
        {
            throw new ArgumentException($"VaeScalingFactor must be positive, got {VaeScalingFactor}.", nameof(VaeScalingFactor));
        }
    }
}

/// <summary>Settings that replace those of a folder's scheduler_config.json (null: keep the folder's).</summary>
public sealed record SchedulerConfigOverrides
{
    /// <summary>The reference's sampler (diffusers 0.14's DPMSolverMultistepScheduler): linspace timesteps, the last step to sigma_min.</summary>
    public static SchedulerConfigOverrides Diffusers014 { get; } = new() { TimestepSpacing = Schedulers.TimestepSpacing.Linspace, FinalSigmas = Schedulers.FinalSigmas.SigmaMin };

    /// <summary>timestep_spacing.</summary>
    public TimestepSpacing? TimestepSpacing { get; init; }

    /// <summary>steps_offset.</summary>
    public int? StepsOffset { get; init; }

    /// <summary>final_sigmas_type.</summary>
    public FinalSigmas? FinalSigmas { get; init; }

    /// <summary>prediction_type (for a folder whose config does not say it, e.g. an SD 2.x v-prediction model).</summary>
    public PredictionType? PredictionType { get; init; }

    /// <summary>Applies the overrides to <paramref name="config"/>.</summary>
    public SchedulerConfig ApplyTo(SchedulerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config with
        {
            TimestepSpacing = TimestepSpacing ?? config.TimestepSpacing,
            StepsOffset = StepsOffset ?? config.StepsOffset,
            FinalSigmasType = FinalSigmas ?? config.FinalSigmasType,
            PredictionType = PredictionType ?? config.PredictionType,
        };
    }
}
