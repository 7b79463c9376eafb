namespace OvDiff.Diffusion.Schedulers;

/// <summary>
/// Deterministic Euler (no churn), a port of diffusers' <c>EulerDiscreteScheduler</c> in the sigma parameterisation
/// x = x0 + sigma * eps: the model sees x / sqrt(sigma² + 1), x0 is predicted from its output, and
/// x_next = x + (x - x0) / sigma * (sigma_next - sigma). Sigmas are the training table interpolated at the (possibly
/// fractional) timesteps, then the final sigma (zero by default). Timesteps: linspace (default, not rounded), leading, trailing.
/// </summary>
public sealed class EulerDiscreteScheduler : DiffusionScheduler
{
    private readonly double[] _timesteps;
    private readonly double[] _sigmas;

    /// <summary>Creates a run of <paramref name="steps"/> steps.</summary>
    public EulerDiscreteScheduler(SchedulerConfig config, int steps)
        : base(config, steps)
    {
        var n = Schedule.Count;
        var spacing = config.TimestepSpacing ?? TimestepSpacing.Linspace;
        _timesteps = EvenlySpacedTimesteps(n, steps, spacing, config.StepsOffset, roundLinspace: false);

        _sigmas = new double[steps + 1];
        for (var i = 0; i < steps; i++)
        {
            _sigmas[i] = Schedule.SigmaAt(_timesteps[i]);
        }

        _sigmas[steps] = (config.FinalSigmasType ?? FinalSigmas.Zero) == FinalSigmas.SigmaMin ? Schedule.Sigmas[0] : 0.0;
        var maxSigma = _sigmas.Max();
        InitialNoiseSigma = spacing is TimestepSpacing.Linspace or TimestepSpacing.Trailing ? maxSigma : Math.Sqrt((maxSigma * maxSigma) + 1);
    }

    /// <inheritdoc/>
    public override SchedulerKind Kind => SchedulerKind.EulerDiscrete;

    /// <inheritdoc/>
    public override IReadOnlyList<double> Timesteps => _timesteps;

    /// <inheritdoc/>
    public override double InitialNoiseSigma { get; }

    /// <summary>The sigma of each step and, last, the final one (StepCount + 1 values).</summary>
    public IReadOnlyList<double> StepSigmas => _sigmas;

    /// <inheritdoc/>
    public override double ModelInputScale(int step)
    {
        CheckStep(step);
        return 1.0 / Math.Sqrt((_sigmas[step] * _sigmas[step]) + 1);
    }

    /// <inheritdoc/>
    protected override void StepCore(int step, ReadOnlySpan<float> modelOutput, Span<float> sample)
    {
        var sigma = _sigmas[step];
        var dt = _sigmas[step + 1] - sigma;

        // x0 = a * x + b * output (epsilon: x - sigma * eps; v: x / (sigma² + 1) - sigma / sqrt(sigma² + 1) * v; sample: output).
        var (a, b) = Config.PredictionType switch
        {
            PredictionType.Epsilon => (1.0, -sigma),
            PredictionType.VPrediction => (1.0 / ((sigma * sigma) + 1), -sigma / Math.Sqrt((sigma * sigma) + 1)),
            PredictionType.Sample => (0.0, 1.0),
            _ => throw new InvalidOperationException("Unknown prediction type."),
        };

        // x_next = x + (x - x0) / sigma * dt = (1 + (1 - a) dt / sigma) x - b dt / sigma * output.
        var sampleCoefficient = (float)(1.0 + ((1.0 - a) * dt / sigma));
        var outputCoefficient = (float)(-b * dt / sigma);
        for (var i = 0; i < sample.Length; i++)
        {
            sample[i] = (sampleCoefficient * sample[i]) + (outputCoefficient * modelOutput[i]);
        }
    }
}
