namespace OvDiff.Diffusion.Schedulers;

/// <summary>
/// The training noise schedule in float64: betas, cumulative alpha products, and the derived sigma table
/// sigma_t = sqrt((1 - alphā_t) / alphā_t) (the noise-to-signal ratio of the "sigma" parameterisation).
/// </summary>
public sealed class NoiseSchedule
{
    private readonly double[] _betas;
    private readonly double[] _alphasCumprod;
    private readonly double[] _sigmas;

    /// <summary>Builds the schedule of <paramref name="config"/> (its betas, or <c>trained_betas</c> when given).</summary>
    public NoiseSchedule(SchedulerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var count = config.NumTrainTimesteps;
        _betas = config.TrainedBetas is { } trained ? trained.ToArray() : Betas(config.BetaSchedule, config.BetaStart, config.BetaEnd, count);
        _alphasCumprod = new double[count];
        _sigmas = new double[count];
        var product = 1.0;
        for (var t = 0; t < count; t++)
        {
            product *= 1.0 - _betas[t];
            _alphasCumprod[t] = product;
            _sigmas[t] = Math.Sqrt((1.0 - product) / product);
        }
    }

    /// <summary>Number of training timesteps.</summary>
    public int Count => _betas.Length;

    /// <summary>beta_t.</summary>
    public IReadOnlyList<double> BetaValues => _betas;

    /// <summary>alphā_t = prod_{s&lt;=t} (1 - beta_s).</summary>
    public IReadOnlyList<double> AlphasCumprod => _alphasCumprod;

    /// <summary>sigma_t = sqrt((1 - alphā_t) / alphā_t).</summary>
    public IReadOnlyList<double> Sigmas => _sigmas;

    /// <summary>The sigma table linearly interpolated at a (possibly fractional) timestep, clamped to the table (numpy.interp).</summary>
    public double SigmaAt(double timestep)
    {
        if (timestep <= 0)
        {
            return _sigmas[0];
        }

        if (timestep >= Count - 1)
        {
            return _sigmas[^1];
        }

        var low = (int)Math.Floor(timestep);
        var weight = timestep - low;
        return _sigmas[low] + ((_sigmas[low + 1] - _sigmas[low]) * weight);
    }

    /// <summary>
    /// DDPM's forward process at integer <paramref name="timestep"/>: sqrt(alphā_t) * x0 + sqrt(1 - alphā_t) * noise
    /// (diffusers' <c>DDPMScheduler.add_noise</c>), written into <paramref name="destination"/>.
    /// </summary>
    public void AddNoise(ReadOnlySpan<float> original, ReadOnlySpan<float> noise, int timestep, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(timestep);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(timestep, Count);
        if (original.Length != noise.Length || destination.Length != original.Length)
        {
            throw new ArgumentException("Sample, noise and destination must have the same length.");
        }

        var signal = (float)Math.Sqrt(_alphasCumprod[timestep]);
        var noiseScale = (float)Math.Sqrt(1.0 - _alphasCumprod[timestep]);
        for (var i = 0; i < original.Length; i++)
        {
            destination[i] = (signal * original[i]) + (noiseScale * noise[i]);
        }
    }

    private static double[] Betas(BetaSchedule schedule, double start, double end, int count)
    {
        var betas = new double[count];
        switch (schedule)
        {
            case BetaSchedule.Linear:
                for (var i = 0; i < count; i++)
                {
                    betas[i] = Lerp(start, end, i, count);
                }

                break;
            case BetaSchedule.ScaledLinear:
                for (var i = 0; i < count; i++)
                {
                    var root = Lerp(Math.Sqrt(start), Math.Sqrt(end), i, count);
                    betas[i] = root * root;
                }

                break;
            case BetaSchedule.SquaredCosCapV2:
                static double AlphaBar(double t) => Math.Pow(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2), 2);
                for (var i = 0; i < count; i++)
                {
                    betas[i] = Math.Min(1.0 - (AlphaBar((i + 1.0) / count) / AlphaBar((double)i / count)), 0.999);
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(schedule), schedule, "Unknown beta schedule.");
        }

        return betas;
    }

    /// <summary>numpy.linspace(start, end, count)[i]: the last value is exactly <paramref name="end"/>.</summary>
    internal static double Lerp(double start, double end, int i, int count) =>
        i == count - 1 ? end : start + (i * ((end - start) / (count - 1)));
}
