namespace OvDiff.Diffusion.Schedulers;

/// <summary>Shared state of the schedulers: the training schedule, the step counter, and the factory.</summary>
public abstract class DiffusionScheduler : IDiffusionScheduler
{
    private int _nextStep;
    private int _sampleLength = -1;

    /// <summary>Creates the run for <paramref name="steps"/> steps.</summary>
    protected DiffusionScheduler(SchedulerConfig config, int steps)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        if (steps > config.NumTrainTimesteps)
        {
            throw new ArgumentOutOfRangeException(nameof(steps), steps, $"At most {config.NumTrainTimesteps} steps (the model's training timesteps).");
        }

        Config = config;
        Schedule = new NoiseSchedule(config);
        StepCount = steps;
    }

    /// <inheritdoc/>
    public abstract SchedulerKind Kind { get; }

    /// <inheritdoc/>
    public SchedulerConfig Config { get; }

    /// <summary>The training noise schedule.</summary>
    public NoiseSchedule Schedule { get; }

    /// <inheritdoc/>
    public int StepCount { get; }

    /// <inheritdoc/>
    public abstract IReadOnlyList<double> Timesteps { get; }

    /// <inheritdoc/>
    public virtual double InitialNoiseSigma => 1.0;

    /// <summary>
    /// Creates a run of scheduler <paramref name="kind"/> with <paramref name="steps"/> steps, as diffusers'
    /// <c>{Scheduler}.from_config(config)</c> then <c>set_timesteps(steps)</c> would.
    /// </summary>
    public static IDiffusionScheduler Create(SchedulerKind kind, SchedulerConfig config, int steps) => kind switch
    {
        SchedulerKind.DpmSolverMultistep => new DpmSolverMultistepScheduler(config, steps),
        SchedulerKind.Ddim => new DdimScheduler(config, steps),
        SchedulerKind.EulerDiscrete => new EulerDiscreteScheduler(config, steps),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown scheduler."),
    };

    /// <inheritdoc/>
    public virtual double ModelInputScale(int step)
    {
        CheckStep(step);
        return 1.0;
    }

    /// <inheritdoc/>
    public void Step(int step, ReadOnlySpan<float> modelOutput, Span<float> sample)
    {
        if (step != _nextStep)
        {
            throw new InvalidOperationException($"Scheduler steps must be taken in order: expected step {_nextStep}, got {step}.");
        }

        CheckStep(step);
        if (modelOutput.Length != sample.Length || sample.Length == 0)
        {
            throw new ArgumentException($"The model output has {modelOutput.Length} values and the sample {sample.Length}; they must match.");
        }

        if (_sampleLength >= 0 && _sampleLength != sample.Length)
        {
            throw new ArgumentException($"This run serves samples of {_sampleLength} values; got {sample.Length}. Create a scheduler per batch.");
        }

        _sampleLength = sample.Length;
        StepCore(step, modelOutput, sample);
        _nextStep++;
    }

    /// <summary>The update of one step (arguments checked).</summary>
    protected abstract void StepCore(int step, ReadOnlySpan<float> modelOutput, Span<float> sample);

    /// <summary>Throws when <paramref name="step"/> is outside the run.</summary>
    protected void CheckStep(int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(step, StepCount);
    }

    /// <summary>
    /// DDIM's and Euler's timesteps (<paramref name="steps"/> of them, descending): linspace over [0, T-1] (rounded when
    /// <paramref name="roundLinspace"/>), leading (multiples of T / steps plus <paramref name="offset"/>) or trailing
    /// (T - i * T / steps, rounded, minus one). Throws when one falls outside the training range.
    /// </summary>
    protected static double[] EvenlySpacedTimesteps(int trainCount, int steps, TimestepSpacing spacing, int offset, bool roundLinspace)
    {
        var timesteps = new double[steps];
        for (var i = 0; i < steps; i++)
        {
            timesteps[i] = spacing switch
            {
                TimestepSpacing.Linspace => roundLinspace
                    ? RoundHalfEven(NoiseSchedule.Lerp(0, trainCount - 1, steps - 1 - i, steps))
                    : NoiseSchedule.Lerp(0, trainCount - 1, steps - 1 - i, steps),
                TimestepSpacing.Leading => ((steps - 1 - i) * (trainCount / steps)) + offset,
                TimestepSpacing.Trailing => RoundHalfEven(trainCount - (i * ((double)trainCount / steps))) - 1,
                _ => throw new ArgumentOutOfRangeException(nameof(spacing), spacing, "Unknown spacing."),
            };
        }

        CheckRange(timesteps, trainCount, spacing, offset);
        return timesteps;
    }

    /// <summary>Throws when a timestep falls outside [0, T-1] (e.g. a large steps_offset).</summary>
    protected static void CheckRange(double[] timesteps, int trainCount, TimestepSpacing spacing, int offset)
    {
        foreach (var t in timesteps)
        {
            if (t < 0 || t > trainCount - 1)
            {
                throw new ArgumentException($"Timestep {t} falls outside the training range [0, {trainCount - 1}] ({spacing} spacing, steps_offset {offset}, {timesteps.Length} steps).");
            }
        }
    }

    /// <summary>numpy's round (half to even), as diffusers rounds timesteps.</summary>
    protected static double RoundHalfEven(double value) => Math.Round(value, MidpointRounding.ToEven);

    /// <summary>
    /// x0 and epsilon from a model output under the DDPM parameterisation x_t = alpha * x0 + sigma * eps
    /// (alpha = sqrt(alphā), sigma = sqrt(1 - alphā)): the coefficients (a, b) with x0 = a * x_t + b * output and
    /// (c, d) with eps = c * x_t + d * output, for <paramref name="prediction"/>.
    /// </summary>
    internal static (double A, double B, double C, double D) Parameterisation(PredictionType prediction, double alpha, double sigma) => prediction switch
    {
        PredictionType.Epsilon => (1.0 / alpha, -sigma / alpha, 0.0, 1.0),
        PredictionType.VPrediction => (alpha, -sigma, sigma, alpha),
        PredictionType.Sample => (0.0, 1.0, 1.0 / sigma, -alpha / sigma),
        _ => throw new ArgumentOutOfRangeException(nameof(prediction), prediction, "Unknown prediction type."),
    };
}
