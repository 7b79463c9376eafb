namespace OvDiff.Diffusion.Schedulers;

/// <summary>
/// DPM-Solver++ multistep (data prediction, orders 1 and 2), a port of diffusers' <c>DPMSolverMultistepScheduler</c>
/// with <c>algorithm_type="dpmsolver++"</c>: the model output is turned into a predicted x0 at each step and the
/// sample follows x_t = (sigma_t / sigma_s) x_s - alpha_t (e^-h - 1) (D0 + D1 / 2) (midpoint) with h = lambda_t - lambda_s,
/// lambda = log(alpha / sigma), D0 the current x0 and D1 = (D0 - previous x0) / r0. The first step is first order; the
/// last is first order when <c>final_sigmas_type</c> is zero (it lands on x0), when <c>euler_at_final</c>, or with
/// <c>lower_order_final</c> and fewer than 15 steps (which also lowers the second-to-last step's order).
/// Timesteps: linspace (the default: diffusers 0.14 as used by the OVDiff reference), leading or trailing.
/// </summary>
public sealed class DpmSolverMultistepScheduler : DiffusionScheduler
{
    private readonly double[] _timesteps;
    private readonly double[] _sigmas;
    private float[]? _previousX0;
    private float[]? _currentX0;
    private int _lowerOrderCount;

    /// <summary>Creates a run of <paramref name="steps"/> steps.</summary>
    public DpmSolverMultistepScheduler(SchedulerConfig config, int steps)
        : base(config, steps)
    {
        var n = Schedule.Count;
        var spacing = config.TimestepSpacing ?? TimestepSpacing.Linspace;
        _timesteps = new double[steps];
        switch (spacing)
        {
            case TimestepSpacing.Linspace:
                // np.linspace(0, last - 1, steps + 1).round()[::-1][:-1]
                for (var i = 0; i < steps; i++)
                {
                    _timesteps[i] = RoundHalfEven(NoiseSchedule.Lerp(0, n - 1, steps - i, steps + 1));
                }

                break;
            case TimestepSpacing.Leading:
                var ratio = n / (steps + 1);
                for (var i = 0; i < steps; i++)
                {
                    _timesteps[i] = ((steps - i) * ratio) + config.StepsOffset;
                }

                break;
            case TimestepSpacing.Trailing:
                var trailingRatio = (double)n / steps;
                for (var i = 0; i < steps; i++)
                {
                    _timesteps[i] = RoundHalfEven(n - (i * trailingRatio)) - 1;
                }

                break;
        }

        CheckRange(_timesteps, n, spacing, config.StepsOffset);

        _sigmas = new double[steps + 1];
        for (var i = 0; i < steps; i++)
        {
            _sigmas[i] = Schedule.SigmaAt(_timesteps[i]);
        }

        _sigmas[steps] = (config.FinalSigmasType ?? FinalSigmas.Zero) == FinalSigmas.SigmaMin ? Schedule.Sigmas[0] : 0.0;
    }

    /// <inheritdoc/>
    public override SchedulerKind Kind => SchedulerKind.DpmSolverMultistep;

    /// <inheritdoc/>
    public override IReadOnlyList<double> Timesteps => _timesteps;

    /// <summary>The sigma of each step and, last, the final one (StepCount + 1 values).</summary>
    public IReadOnlyList<double> StepSigmas => _sigmas;

    /// <summary>
    /// The update of <paramref name="step"/>: x_next = SampleCoefficient * x + D0Coefficient * x0 + D1Coefficient * (x0 - previous x0),
    /// and the order used. Exposed for known-answer tests.
    /// </summary>
    public (int Order, double SampleCoefficient, double D0Coefficient, double D1Coefficient) Coefficients(int step, int lowerOrderCount)
    {
        CheckStep(step);
        var n = StepCount;
        var finalZero = (Config.FinalSigmasType ?? FinalSigmas.Zero) == FinalSigmas.Zero;
        var lowerOrderFinal = step == n - 1 && (Config.EulerAtFinal || (Config.LowerOrderFinal && n < 15) || finalZero);
        var lowerOrderSecond = step == n - 2 && Config.LowerOrderFinal && n < 15;
        _ = lowerOrderSecond; // With orders 1 and 2 only, "lower order second" changes nothing (it caps third order at second).
        var order = Config.SolverOrder == 1 || lowerOrderCount < 1 || lowerOrderFinal ? 1 : 2;

        var (alphaT, sigmaT) = AlphaSigma(_sigmas[step + 1]);
        var (alphaS0, sigmaS0) = AlphaSigma(_sigmas[step]);
        var lambdaT = Math.Log(alphaT) - Math.Log(sigmaT);
        var lambdaS0 = Math.Log(alphaS0) - Math.Log(sigmaS0);
        var h = lambdaT - lambdaS0;
        var sampleCoefficient = sigmaT / sigmaS0;
        var d0Coefficient = -alphaT * (Math.Exp(-h) - 1.0);
        if (order == 1)
        {
            return (1, sampleCoefficient, d0Coefficient, 0.0);
        }

        var (alphaS1, sigmaS1) = AlphaSigma(_sigmas[step - 1]);
        var lambdaS1 = Math.Log(alphaS1) - Math.Log(sigmaS1);
        var r0 = (lambdaS0 - lambdaS1) / h;
        var d1Coefficient = Config.SolverType == DpmSolverType.Midpoint
            ? -0.5 * alphaT * (Math.Exp(-h) - 1.0) / r0
            : alphaT * (((Math.Exp(-h) - 1.0) / h) + 1.0) / r0;
        return (2, sampleCoefficient, d0Coefficient, d1Coefficient);
    }

    /// <summary>alpha_t = 1 / sqrt(sigma² + 1), sigma_t = sigma * alpha_t (the VP parameterisation of a sigma).</summary>
    internal static (double Alpha, double Sigma) AlphaSigma(double sigma)
    {
        var alpha = 1.0 / Math.Sqrt((sigma * sigma) + 1.0);
        return (alpha, sigma * alpha);
    }

    /// <inheritdoc/>
    protected override void StepCore(int step, ReadOnlySpan<float> modelOutput, Span<float> sample)
    {
        var length = sample.Length;
        _currentX0 ??= new float[length];
        _previousX0 ??= new float[length];
        (_previousX0, _currentX0) = (_currentX0, _previousX0);

        var (alphaS0, sigmaS0) = AlphaSigma(_sigmas[step]);
        var (a, b, _, _) = Parameterisation(Config.PredictionType, alphaS0, sigmaS0);
        float fa = (float)a, fb = (float)b;
        var x0 = _currentX0.AsSpan();
        for (var i = 0; i < length; i++)
        {
            x0[i] = (fa * sample[i]) + (fb * modelOutput[i]);
        }

        var (order, sampleCoefficient, d0Coefficient, d1Coefficient) = Coefficients(step, _lowerOrderCount);
        float cs = (float)sampleCoefficient, c0 = (float)d0Coefficient;
        if (order == 1)
        {
            for (var i = 0; i < length; i++)
            {
                sample[i] = (cs * sample[i]) + (c0 * x0[i]);
            }
        }
        else
        {
            var c1 = (float)d1Coefficient;
            var previous = _previousX0.AsSpan();
            for (var i = 0; i < length; i++)
            {
                sample[i] = (cs * sample[i]) + (c0 * x0[i]) + (c1 * (x0[i] - previous[i]));
            }
        }

        if (_lowerOrderCount < Config.SolverOrder)
        {
            _lowerOrderCount++;
        }
    }
}
