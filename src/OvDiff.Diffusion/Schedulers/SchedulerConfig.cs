using System.Globalization;
using System.Text.Json;

namespace OvDiff.Diffusion.Schedulers;

/// <summary>The sampling algorithms OvDiff implements (ports of diffusers' schedulers of the same names).</summary>
public enum SchedulerKind
{
    /// <summary>DPM-Solver++ multistep (diffusers' <c>DPMSolverMultistepScheduler</c>); 2M by default. The reference's sampler.</summary>
    DpmSolverMultistep,

    /// <summary>DDIM (diffusers' <c>DDIMScheduler</c>), deterministic (eta 0).</summary>
    Ddim,

    /// <summary>Euler (diffusers' <c>EulerDiscreteScheduler</c>), deterministic (no churn).</summary>
    EulerDiscrete,
}

/// <summary>How the training betas are laid out (<c>beta_schedule</c>).</summary>
public enum BetaSchedule
{
    /// <summary><c>linear</c>: betas evenly spaced from beta_start to beta_end.</summary>
    Linear,

    /// <summary><c>scaled_linear</c>: square roots evenly spaced, then squared (Stable Diffusion).</summary>
    ScaledLinear,

    /// <summary><c>squaredcos_cap_v2</c>: the Glide cosine schedule, betas capped at 0.999.</summary>
    SquaredCosCapV2,
}

/// <summary>How inference timesteps are picked from the training ones (<c>timestep_spacing</c>; Table 2 of arXiv 2305.08891).</summary>
public enum TimestepSpacing
{
    /// <summary><c>linspace</c>: evenly spaced over [0, T-1], rounded.</summary>
    Linspace,

    /// <summary><c>leading</c>: multiples of a step ratio counted from 0, plus <c>steps_offset</c>.</summary>
    Leading,

    /// <summary><c>trailing</c>: multiples of a step ratio counted down from T, minus one.</summary>
    Trailing,
}

/// <summary>What the denoising model predicts (<c>prediction_type</c>).</summary>
public enum PredictionType
{
    /// <summary><c>epsilon</c>: the noise.</summary>
    Epsilon,

    /// <summary><c>v_prediction</c>: v = alpha * noise - sigma * x0.</summary>
    VPrediction,

    /// <summary><c>sample</c>: the clean sample x0.</summary>
    Sample,
}

/// <summary>Where the last step of a sigma-based scheduler lands (<c>final_sigmas_type</c>).</summary>
public enum FinalSigmas
{
    /// <summary><c>zero</c>: the clean sample (sigma 0).</summary>
    Zero,

    /// <summary><c>sigma_min</c>: the noise level of training timestep 0 (diffusers 0.14's DPM-Solver behaviour).</summary>
    SigmaMin,
}

/// <summary>DPM-Solver's second-order formula (<c>solver_type</c>).</summary>
public enum DpmSolverType
{
    /// <summary><c>midpoint</c> (diffusers' default).</summary>
    Midpoint,

    /// <summary><c>heun</c>.</summary>
    Heun,
}

/// <summary>
/// A scheduler's settings, read from a model folder's <c>scheduler/scheduler_config.json</c> (diffusers' keys) or written
/// in code. Immutable. Null means "the default of the scheduler class used", as diffusers' <c>from_config</c> does when a
/// key is absent (a Stable Diffusion folder usually holds a PNDM config, which has no DPM-Solver keys).
/// </summary>
public sealed record SchedulerConfig
{
    /// <summary>Stable Diffusion 1.x's training schedule: scaled_linear betas 0.00085 to 0.012 over 1000 steps, epsilon prediction,
    /// steps_offset 1, leading spacing, no alpha set to one, no clipping (the PNDM config shipped with SD 1.5).</summary>
    public static SchedulerConfig StableDiffusion15 { get; } = new()
    {
        BetaStart = 0.00085,
        BetaEnd = 0.012,
        BetaSchedule = BetaSchedule.ScaledLinear,
        StepsOffset = 1,
        TimestepSpacing = Schedulers.TimestepSpacing.Leading,
        SetAlphaToOne = false,
        ClipSample = false,
    };

    /// <summary><c>num_train_timesteps</c>. Default 1000.</summary>
    public int NumTrainTimesteps { get; init; } = 1000;

    /// <summary><c>beta_start</c>. Default 0.0001.</summary>
    public double BetaStart { get; init; } = 0.0001;

    /// <summary><c>beta_end</c>. Default 0.02.</summary>
    public double BetaEnd { get; init; } = 0.02;

    /// <summary><c>beta_schedule</c>. Default linear.</summary>
    public BetaSchedule BetaSchedule { get; init; } = BetaSchedule.Linear;

    /// <summary><c>trained_betas</c>: explicit betas (override the schedule) or null.</summary>
    public IReadOnlyList<double>? TrainedBetas { get; init; }

    /// <summary><c>prediction_type</c>. Default epsilon.</summary>
    public PredictionType PredictionType { get; init; } = PredictionType.Epsilon;

    /// <summary><c>timestep_spacing</c>; null: the class default (DPM-Solver and Euler: linspace; DDIM: leading).</summary>
    public TimestepSpacing? TimestepSpacing { get; init; }

    /// <summary><c>steps_offset</c>, added to leading timesteps. Default 0.</summary>
    public int StepsOffset { get; init; }

    /// <summary>DDIM's <c>set_alpha_to_one</c>: the last step goes to alpha 1 (true) or to training step 0's alpha. Default true.</summary>
    public bool SetAlphaToOne { get; init; } = true;

    /// <summary>DDIM's <c>clip_sample</c>: clamp the predicted x0 to ±<see cref="ClipSampleRange"/>. Default true (as diffusers).</summary>
    public bool ClipSample { get; init; } = true;

    /// <summary>DDIM's <c>clip_sample_range</c>. Default 1.</summary>
    public double ClipSampleRange { get; init; } = 1.0;

    /// <summary>DPM-Solver's <c>solver_order</c>: 1 or 2 (2M). Default 2.</summary>
    public int SolverOrder { get; init; } = 2;

    /// <summary>DPM-Solver's <c>solver_type</c>. Default midpoint.</summary>
    public DpmSolverType SolverType { get; init; } = DpmSolverType.Midpoint;

    /// <summary>DPM-Solver's <c>lower_order_final</c>: first/second order for the last steps when there are fewer than 15. Default true.</summary>
    public bool LowerOrderFinal { get; init; } = true;

    /// <summary>DPM-Solver's <c>euler_at_final</c>: first order for the last step. Default false.</summary>
    public bool EulerAtFinal { get; init; }

    /// <summary><c>final_sigmas_type</c> (DPM-Solver, Euler); null: zero, the class default.</summary>
    public FinalSigmas? FinalSigmasType { get; init; }

    /// <summary>The <c>_class_name</c> the file was written for (informational).</summary>
    public string? ClassName { get; init; }

    /// <summary>
    /// Reads diffusers' <c>scheduler_config.json</c>. Keys OvDiff does not use are ignored; a key with a wrong type or an
    /// unsupported value (e.g. <c>use_karras_sigmas: true</c>, <c>thresholding: true</c>) throws
    /// <see cref="InvalidDataException"/> naming the file and the key.
    /// </summary>
    public static SchedulerConfig Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"Scheduler config not found: '{full}'. A Stable Diffusion folder has scheduler/scheduler_config.json.", full);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(full));
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"'{full}' is not valid JSON (line {ex.LineNumber + 1}): {ex.Message}", ex);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"'{full}' must hold a JSON object of scheduler settings.");
            }

            return Parse(document.RootElement, full);
        }
    }

    private static SchedulerConfig Parse(JsonElement root, string source)
    {
        var config = new SchedulerConfig();
        foreach (var property in root.EnumerateObject())
        {
            var value = property.Value;
            var key = property.Name;
            config = key switch
            {
                "_class_name" => config with { ClassName = value.ValueKind == JsonValueKind.String ? value.GetString() : null },
                "num_train_timesteps" => config with { NumTrainTimesteps = Int(value, key, source, minimum: 2) },
                "beta_start" => config with { BetaStart = Number(value, key, source) },
                "beta_end" => config with { BetaEnd = Number(value, key, source) },
                "beta_schedule" => config with
                {
                    BetaSchedule = Text(value, key, source) switch
                    {
                        "linear" => BetaSchedule.Linear,
                        "scaled_linear" => BetaSchedule.ScaledLinear,
                        "squaredcos_cap_v2" => BetaSchedule.SquaredCosCapV2,
                        var other => throw Unsupported(key, other, "linear, scaled_linear, squaredcos_cap_v2", source),
                    },
                },
                "trained_betas" => config with
                {
                    TrainedBetas = value.ValueKind == JsonValueKind.Null ? null : value.EnumerateArray().Select(v => Number(v, key, source)).ToArray(),
                },
                "prediction_type" => config with
                {
                    PredictionType = Text(value, key, source) switch
                    {
                        "epsilon" => PredictionType.Epsilon,
                        "v_prediction" => PredictionType.VPrediction,
                        "sample" => PredictionType.Sample,
                        var other => throw Unsupported(key, other, "epsilon, v_prediction, sample", source),
                    },
                },
                "timestep_spacing" => config with
                {
                    TimestepSpacing = Text(value, key, source) switch
                    {
                        "linspace" => Schedulers.TimestepSpacing.Linspace,
                        "leading" => Schedulers.TimestepSpacing.Leading,
                        "trailing" => Schedulers.TimestepSpacing.Trailing,
                        var other => throw Unsupported(key, other, "linspace, leading, trailing", source),
                    },
                },
                "steps_offset" => config with { StepsOffset = Int(value, key, source, minimum: 0) },
                "set_alpha_to_one" => config with { SetAlphaToOne = Bool(value, key, source) },
                "clip_sample" => config with { ClipSample = Bool(value, key, source) },
                "clip_sample_range" => config with { ClipSampleRange = Number(value, key, source) },
                "solver_order" => config with { SolverOrder = Int(value, key, source, minimum: 1) },
                "solver_type" => config with
                {
                    SolverType = Text(value, key, source) switch
                    {
                        "midpoint" => DpmSolverType.Midpoint,
                        "heun" => DpmSolverType.Heun,
                        var other => throw Unsupported(key, other, "midpoint, heun", source),
                    },
                },
                "lower_order_final" => config with { LowerOrderFinal = Bool(value, key, source) },
                "euler_at_final" => config with { EulerAtFinal = Bool(value, key, source) },
                "final_sigmas_type" => config with
                {
                    FinalSigmasType = Text(value, key, source) switch
                    {
                        "zero" => FinalSigmas.Zero,
                        "sigma_min" => FinalSigmas.SigmaMin,
                        var other => throw Unsupported(key, other, "zero, sigma_min", source),
                    },
                },
                "algorithm_type" => Text(value, key, source) is "dpmsolver++" or "deis" ? config : throw Unsupported(key, value.ToString(), "dpmsolver++", source),
                "use_karras_sigmas" or "use_exponential_sigmas" or "use_beta_sigmas" or "use_lu_lambdas" or "use_flow_sigmas"
                    or "thresholding" or "rescale_betas_zero_snr" or "use_dynamic_shifting"
                    => IsFalse(value) ? config : throw Unsupported(key, value.ToString(), "false", source),
                "timestep_type" => Text(value, key, source) == "discrete" ? config : throw Unsupported(key, value.ToString(), "discrete", source),
                "interpolation_type" => Text(value, key, source) == "linear" ? config : throw Unsupported(key, value.ToString(), "linear", source),
                _ => config,
            };
        }

        return config;
    }

    /// <summary>Checks values a scheduler depends on; throws <see cref="ArgumentException"/> naming the setting.</summary>
    internal void Validate()
    {
        if (NumTrainTimesteps < 2)
        {
            throw new ArgumentException($"NumTrainTimesteps must be at least 2, got {NumTrainTimesteps}.");
        }

        if (TrainedBetas is null && !(BetaStart > 0 && BetaEnd >= BetaStart && BetaEnd < 1))
        {
            throw new ArgumentException($"Betas must satisfy 0 < beta_start <= beta_end < 1, got {BetaStart} and {BetaEnd}.");
        }

        if (TrainedBetas is { } betas && (betas.Count != NumTrainTimesteps || betas.Any(b => !(b > 0 && b < 1))))
        {
            throw new ArgumentException($"trained_betas must hold {NumTrainTimesteps} values in (0, 1).");
        }

        if (SolverOrder is not (1 or 2))
        {
            throw new ArgumentException($"solver_order {SolverOrder} is not supported; OvDiff implements DPM-Solver++ of order 1 and 2 (2M).");
        }

        if (StepsOffset < 0)
        {
            throw new ArgumentException($"steps_offset must not be negative, got {StepsOffset}.");
        }
    }

    private static InvalidDataException Unsupported(string key, string? value, string supported, string source) =>
        new($"'{source}': \"{key}\" is {value}; OvDiff supports {supported}.");

    private static bool IsFalse(JsonElement value) => value.ValueKind is JsonValueKind.False or JsonValueKind.Null;

    private static string Text(JsonElement value, string key, string source) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw new InvalidDataException($"'{source}': \"{key}\" must be a string, got {value}.");

    private static bool Bool(JsonElement value, string key, string source) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new InvalidDataException($"'{source}': \"{key}\" must be true or false, got {value}."),
    };

    private static double Number(JsonElement value, string key, string source) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && double.IsFinite(number)
            ? number
            : throw new InvalidDataException($"'{source}': \"{key}\" must be a number, got {value}.");

    private static int Int(JsonElement value, string key, string source, int minimum) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) && number >= minimum
            ? number
            : throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"'{source}': \"{key}\" must be an integer >= {minimum}, got {value}."));
}
