using OvDiff.Diffusion.Schedulers;

namespace OvDiff.Diffusion.Tests.Schedulers;

/// <summary>
/// Known answers for the schedulers: timesteps printed by numpy with diffusers' formulas, the training schedule and the
/// DPM-Solver++ coefficients recomputed here in float64 from the papers' formulas, and the exact-noise oracle: a model
/// that returns the true noise of a known clean sample must lead every scheduler back to that sample.
/// </summary>
public sealed class SchedulerTests
{
    private static readonly SchedulerConfig Sd15 = SchedulerConfig.StableDiffusion15;

    [Fact]
    public void DpmSolverTimestepsMatchDiffusers()
    {
        Assert.Equal(
            [999, 966, 932, 899, 866, 832, 799, 766, 733, 699, 666, 633, 599, 566, 533, 499, 466, 433, 400, 366, 333, 300, 266, 233, 200, 166, 133, 100, 67, 33],
            Create(SchedulerKind.DpmSolverMultistep, Sd15 with { TimestepSpacing = TimestepSpacing.Linspace }, 30).Timesteps);
        Assert.Equal(
            [961, 929, 897, 865, 833, 801, 769, 737, 705, 673, 641, 609, 577, 545, 513, 481, 449, 417, 385, 353, 321, 289, 257, 225, 193, 161, 129, 97, 65, 33],
            Create(SchedulerKind.DpmSolverMultistep, Sd15, 30).Timesteps);
        Assert.Equal([999, 856, 713, 570, 428, 285, 142], Create(SchedulerKind.DpmSolverMultistep, Sd15 with { TimestepSpacing = TimestepSpacing.Trailing }, 7).Timesteps);

        // A config without timestep_spacing gets the class default (DPM-Solver: linspace).
        Assert.Equal(999, Create(SchedulerKind.DpmSolverMultistep, Sd15 with { TimestepSpacing = null }, 30).Timesteps[0]);
    }

    [Fact]
    public void DdimAndEulerTimestepsMatchDiffusers()
    {
        Assert.Equal([901, 801, 701, 601, 501, 401, 301, 201, 101, 1], Create(SchedulerKind.Ddim, Sd15, 10).Timesteps);
        Assert.Equal([999, 832, 666, 500, 333, 166, 0], Create(SchedulerKind.Ddim, Sd15 with { TimestepSpacing = TimestepSpacing.Linspace }, 7).Timesteps);
        Assert.Equal([999, 856, 713, 570, 428, 285, 142], Create(SchedulerKind.Ddim, Sd15 with { TimestepSpacing = TimestepSpacing.Trailing }, 7).Timesteps);
        Assert.Equal([999.0, 832.5, 666.0, 499.5, 333.0, 166.5, 0.0], Create(SchedulerKind.EulerDiscrete, Sd15 with { TimestepSpacing = TimestepSpacing.Linspace }, 7).Timesteps);
        Assert.Equal([999.0, 856.0, 713.0, 570.0, 428.0, 285.0, 142.0], Create(SchedulerKind.EulerDiscrete, Sd15 with { TimestepSpacing = TimestepSpacing.Trailing }, 7).Timesteps);
    }

    [Fact]
    public void TrainingScheduleMatchesTheFormulas()
    {
        var schedule = new NoiseSchedule(Sd15);
        double product = 1;
        for (var t = 0; t < 1000; t++)
        {
            var root = Math.Sqrt(0.00085) + (t * (Math.Sqrt(0.012) - Math.Sqrt(0.00085)) / 999);
            var beta = root * root;
            product *= 1 - beta;
            Assert.Equal(beta, schedule.BetaValues[t], 1e-15);
            Assert.Equal(product, schedule.AlphasCumprod[t], 1e-14);
            Assert.Equal(Math.Sqrt((1 - product) / product), schedule.Sigmas[t], 1e-12);
        }

        var linear = new NoiseSchedule(new SchedulerConfig { BetaSchedule = BetaSchedule.Linear, BetaStart = 0.0001, BetaEnd = 0.02 });
        Assert.Equal(0.0001, linear.BetaValues[0], 1e-18);
        Assert.Equal(0.0001 + (500 * (0.02 - 0.0001) / 999), linear.BetaValues[500], 1e-15);
        Assert.Equal(0.02, linear.BetaValues[999], 1e-18);

        var cosine = new NoiseSchedule(new SchedulerConfig { BetaSchedule = BetaSchedule.SquaredCosCapV2 });
        static double AlphaBar(double t) => Math.Pow(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2), 2);
        Assert.Equal(1 - (AlphaBar(1 / 1000.0) / AlphaBar(0)), cosine.BetaValues[0], 1e-15);
        Assert.Equal(0.999, cosine.BetaValues[999], 1e-15);

        // Stable Diffusion's well-known end points: alphā_0 = 1 - 0.00085, final sigma about 14.6.
        Assert.Equal(0.99915, schedule.AlphasCumprod[0], 1e-12);
        Assert.InRange(schedule.Sigmas[999], 14.6, 14.7);
    }

    [Fact]
    public void DpmSolverCoefficientsMatchTheFloat64Formulas()
    {
        var schedule = new NoiseSchedule(Sd15);
        foreach (var (final, steps) in new[] { (FinalSigmas.Zero, 30), (FinalSigmas.SigmaMin, 30), (FinalSigmas.SigmaMin, 10) })
        {
            var config = Sd15 with { TimestepSpacing = TimestepSpacing.Linspace, FinalSigmasType = final };
            var scheduler = (DpmSolverMultistepScheduler)Create(SchedulerKind.DpmSolverMultistep, config, steps);
            var timesteps = scheduler.Timesteps;
            double Alpha(int step) => step < steps ? Math.Sqrt(schedule.AlphasCumprod[(int)timesteps[step]]) : final == FinalSigmas.Zero ? 1 : Math.Sqrt(schedule.AlphasCumprod[0]);
            double Sigma(int step) => step < steps ? Math.Sqrt(1 - schedule.AlphasCumprod[(int)timesteps[step]]) : final == FinalSigmas.Zero ? 0 : Math.Sqrt(1 - schedule.AlphasCumprod[0]);
            double Lambda(int step) => Math.Log(Alpha(step) / Sigma(step));
            for (var step = 0; step < steps; step++)
            {
                var (order, cs, c0, c1) = scheduler.Coefficients(step, lowerOrderCount: Math.Min(step, 2));
                var lastFirstOrder = step == steps - 1 && (final == FinalSigmas.Zero || steps < 15);
                var expectedOrder = step == 0 || lastFirstOrder ? 1 : 2;
                Assert.Equal(expectedOrder, order);
                var h = Lambda(step + 1) - Lambda(step);
                Assert.Equal(Sigma(step + 1) / Sigma(step), cs, 1e-9);
                Assert.Equal(Alpha(step + 1) * (1 - Math.Exp(-h)), c0, 1e-9);
                if (order == 2)
                {
                    var r0 = (Lambda(step) - Lambda(step - 1)) / h;
                    Assert.Equal(0.5 * Alpha(step + 1) * (1 - Math.Exp(-h)) / r0, c1, 1e-9);
                }
                else
                {
                    Assert.Equal(0, c1);
                }
            }

            if (final == FinalSigmas.Zero)
            {
                // The last step lands on the predicted clean sample.
                var (_, lastSample, lastX0, _) = scheduler.Coefficients(steps - 1, 2);
                Assert.Equal(0, lastSample);
                Assert.Equal(1, lastX0, 1e-12);
            }
        }
    }

    public static TheoryData<SchedulerKind, TimestepSpacing, PredictionType, FinalSigmas> OracleCases()
    {
        var data = new TheoryData<SchedulerKind, TimestepSpacing, PredictionType, FinalSigmas>();
        foreach (var kind in Enum.GetValues<SchedulerKind>())
        {
            foreach (var spacing in Enum.GetValues<TimestepSpacing>())
            {
                foreach (var prediction in Enum.GetValues<PredictionType>())
                {
                    foreach (var final in Enum.GetValues<FinalSigmas>())
                    {
                        data.Add(kind, spacing, prediction, final);
                    }
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(OracleCases))]
    public void AModelThatKnowsTheNoiseLeadsBackToTheCleanSample(SchedulerKind kind, TimestepSpacing spacing, PredictionType prediction, FinalSigmas final)
    {
        // DDIM's counterpart of the final sigma: set_alpha_to_one (zero noise) or alphā_0 (sigma_min).
        var config = Sd15 with { TimestepSpacing = spacing, PredictionType = prediction, FinalSigmasType = final, SetAlphaToOne = final == FinalSigmas.Zero };
        var scheduler = Create(kind, config, 25);
        var schedule = new NoiseSchedule(config);
        var random = new Random(5);
        var clean = Enumerable.Range(0, 64).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
        var noise = Enumerable.Range(0, 64).Select(_ => (float)Gaussian(random)).ToArray();

        // Start on the forward process at the first timestep, in the scheduler's own parameterisation.
        var sample = new float[64];
        var sigma0 = schedule.SigmaAt(scheduler.Timesteps[0]);
        for (var i = 0; i < 64; i++)
        {
            sample[i] = kind == SchedulerKind.EulerDiscrete
                ? (float)(clean[i] + (sigma0 * noise[i]))
                : (float)((clean[i] + (sigma0 * noise[i])) / Math.Sqrt((sigma0 * sigma0) + 1));
        }

        var output = new float[64];
        var lastEpsilon = new double[64];
        for (var step = 0; step < scheduler.StepCount; step++)
        {
            var scale = scheduler.ModelInputScale(step);
            var sigma = schedule.SigmaAt(scheduler.Timesteps[step]);
            var alpha = 1 / Math.Sqrt((sigma * sigma) + 1);
            var sigmaVp = sigma * alpha;
            for (var i = 0; i < 64; i++)
            {
                var modelInput = sample[i] * scale;
                var epsilon = (modelInput - (alpha * clean[i])) / sigmaVp;
                lastEpsilon[i] = epsilon;
                output[i] = prediction switch
                {
                    PredictionType.Epsilon => (float)epsilon,
                    PredictionType.VPrediction => (float)((alpha * epsilon) - (sigmaVp * clean[i])),
                    _ => clean[i],
                };
            }

            scheduler.Step(step, output, sample);
        }

        var finalSigma = final == FinalSigmas.Zero ? 0 : schedule.Sigmas[0];
        for (var i = 0; i < 64; i++)
        {
            // DDIM steps to t - T/steps whatever the next timestep is (diffusers' formula), so with linspace spacing the
            // sample drifts off the forward process; its x0 stays exact and the result is sqrt(a) x0 + sqrt(1 - a) eps_last.
            var finalAlpha = 1 / ((finalSigma * finalSigma) + 1);
            var expected = kind switch
            {
                SchedulerKind.EulerDiscrete => clean[i] + (finalSigma * noise[i]),
                SchedulerKind.Ddim => (Math.Sqrt(finalAlpha) * clean[i]) + (Math.Sqrt(1 - finalAlpha) * lastEpsilon[i]),
                _ => (clean[i] + (finalSigma * noise[i])) / Math.Sqrt((finalSigma * finalSigma) + 1),
            };
            Assert.Equal(expected, sample[i], 2e-4);
        }
    }

    [Fact]
    public void DpmSolverTrajectoryMatchesAFloat64Reimplementation()
    {
        const int steps = 20;
        var config = Sd15 with { TimestepSpacing = TimestepSpacing.Leading };
        var scheduler = Create(SchedulerKind.DpmSolverMultistep, config, steps);
        var schedule = new NoiseSchedule(config);
        static double Model(double x, double t, int i) => (0.3 * x) + Math.Sin((t / 97.0) + i);

        var sample = Enumerable.Range(0, 16).Select(i => (float)Math.Cos(i)).ToArray();
        var reference = sample.Select(v => (double)v).ToArray();
        var previousX0 = new double[16];
        var output = new float[16];
        for (var step = 0; step < steps; step++)
        {
            var t = (int)scheduler.Timesteps[step];
            for (var i = 0; i < 16; i++)
            {
                output[i] = (float)Model(sample[i], t, i);
            }

            scheduler.Step(step, output, sample);

            // diffusers' dpmsolver++ midpoint, written out: alpha, sigma, lambda per timestep; final sigma zero.
            var alphaS = Math.Sqrt(schedule.AlphasCumprod[t]);
            var sigmaS = Math.Sqrt(1 - schedule.AlphasCumprod[t]);
            var isLast = step == steps - 1;
            var alphaT = isLast ? 1.0 : Math.Sqrt(schedule.AlphasCumprod[(int)scheduler.Timesteps[step + 1]]);
            var sigmaT = isLast ? 0.0 : Math.Sqrt(1 - schedule.AlphasCumprod[(int)scheduler.Timesteps[step + 1]]);
            var h = Math.Log(alphaT / sigmaT) - Math.Log(alphaS / sigmaS);
            for (var i = 0; i < 16; i++)
            {
                var x0 = (reference[i] - (sigmaS * Model(reference[i], t, i))) / alphaS;
                if (step == 0 || isLast)
                {
                    reference[i] = (sigmaT / sigmaS * reference[i]) - (alphaT * (Math.Exp(-h) - 1) * x0);
                }
                else
                {
                    var tPrevious = (int)scheduler.Timesteps[step - 1];
                    var lambdaPrevious = Math.Log(Math.Sqrt(schedule.AlphasCumprod[tPrevious]) / Math.Sqrt(1 - schedule.AlphasCumprod[tPrevious]));
                    var r0 = (Math.Log(alphaS / sigmaS) - lambdaPrevious) / h;
                    var d1 = (x0 - previousX0[i]) / r0;
                    reference[i] = (sigmaT / sigmaS * reference[i]) - (alphaT * (Math.Exp(-h) - 1) * x0) - (0.5 * alphaT * (Math.Exp(-h) - 1) * d1);
                }

                previousX0[i] = x0;
            }
        }

        for (var i = 0; i < 16; i++)
        {
            Assert.Equal(reference[i], sample[i], 1e-3);
        }
    }

    [Theory]
    [InlineData(SchedulerKind.DpmSolverMultistep)]
    [InlineData(SchedulerKind.Ddim)]
    [InlineData(SchedulerKind.EulerDiscrete)]
    public void ABatchGivesEachSampleExactlyItsOwnTrajectory(SchedulerKind kind)
    {
        var batch = Create(kind, Sd15, 12);
        var first = Create(kind, Sd15, 12);
        var second = Create(kind, Sd15, 12);
        var random = new Random(9);
        var a = Enumerable.Range(0, 32).Select(_ => (float)Gaussian(random)).ToArray();
        var b = Enumerable.Range(0, 32).Select(_ => (float)Gaussian(random)).ToArray();
        var both = a.Concat(b).ToArray();
        for (var step = 0; step < 12; step++)
        {
            var outputBoth = both.Select((v, i) => MathF.Tanh(v + step + (i % 32))).ToArray();
            batch.Step(step, outputBoth, both);
            first.Step(step, outputBoth.AsSpan(0, 32), a);
            second.Step(step, outputBoth.AsSpan(32, 32), b);
        }

        Assert.Equal(a.Concat(b).ToArray(), both);
    }

    [Fact]
    public void StepsOutOfOrderOrOfAnotherSizeAreRefused()
    {
        var scheduler = Create(SchedulerKind.DpmSolverMultistep, Sd15, 5);
        var sample = new float[4];
        Assert.Throws<InvalidOperationException>(() => scheduler.Step(1, new float[4], sample));
        scheduler.Step(0, new float[4], sample);
        Assert.Throws<ArgumentException>(() => scheduler.Step(1, new float[8], new float[8]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Create(SchedulerKind.Ddim, Sd15, 1001));
        Assert.Throws<ArgumentException>(() => Create(SchedulerKind.DpmSolverMultistep, Sd15 with { SolverOrder = 3 }, 10));
    }

    private static IDiffusionScheduler Create(SchedulerKind kind, SchedulerConfig config, int steps) => DiffusionScheduler.Create(kind, config, steps);

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
