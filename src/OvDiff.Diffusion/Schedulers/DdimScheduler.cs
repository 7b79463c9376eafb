namespace OvDiff.Diffusion.Schedulers;

/// <summary>
/// Deterministic DDIM (eta 0), a port of diffusers' <c>DDIMScheduler</c>: x0 and eps from the model output, then
/// x_prev = sqrt(alphā_prev) x0 + sqrt(1 - alphā_prev) eps with prev = t - T / steps (below 0: alpha 1 when
/// <c>set_alpha_to_one</c>, else alphā_0). x0 is clamped to ±<c>clip_sample_range</c> when <c>clip_sample</c>.
/// Timesteps: leading (default, plus <c>steps_offset</c>), linspace or trailing.
/// </summary>
public sealed class DdimScheduler : DiffusionScheduler
{
    private readonly double[] _timesteps;

    /// <summary>Creates a run of <paramref name="steps"/> steps.</summary>
    public DdimScheduler(SchedulerConfig config, int steps)
        : base(config, steps)
    {
        var n = Schedule.Count;
        var spacing = config.TimestepSpacing ?? TimestepSpacing.Leading;
        _timesteps = EvenlySpacedTimesteps(n, steps, spacing, config.StepsOffset, roundLinspace: true);
    }

    /// <inheritdoc/>
    public override SchedulerKind Kind => SchedulerKind.Ddim;

    /// <inheritdoc/>
    public override IReadOnlyList<double> Timesteps => _timesteps;

    /// <summary>alphā of the step's timestep and of the one it moves to (exposed for known-answer tests).</summary>
    public (double AlphaProduct, double PreviousAlphaProduct) AlphaProducts(int step)
    {
        CheckStep(step);
        var t = (int)_timesteps[step];
        var previous = t - (Schedule.Count / StepCount);
        var finalAlpha = Config.SetAlphaToOne ? 1.0 : Schedule.AlphasCumprod[0];
        return (Schedule.AlphasCumprod[t], previous >= 0 ? Schedule.AlphasCumprod[previous] : finalAlpha);
    }

    /// <inheritdoc/>
    protected override void StepCore(int step, ReadOnlySpan<float> modelOutput, Span<float> sample)
    {
        var (alphaProduct, previousAlphaProduct) = AlphaProducts(step);
        var (a, b, c, d) = Parameterisation(Config.PredictionType, Math.Sqrt(alphaProduct), Math.Sqrt(1 - alphaProduct));
        float fa = (float)a, fb = (float)b, fc = (float)c, fd = (float)d;
        var signal = (float)Math.Sqrt(previousAlphaProduct);
        var direction = (float)Math.Sqrt(1 - previousAlphaProduct);
        var clip = Config.ClipSample;
        var range = (float)Config.ClipSampleRange;
        for (var i = 0; i < sample.Length; i++)
        {
            var x = sample[i];
            var output = modelOutput[i];
            var x0 = (fa * x) + (fb * output);
            var eps = (fc * x) + (fd * output);
            if (clip)
            {
                // diffusers clamps x0 but keeps eps as predicted (use_clipped_model_output=False).
                x0 = Math.Clamp(x0, -range, range);
            }

            sample[i] = (signal * x0) + (direction * eps);
        }

    }
}
