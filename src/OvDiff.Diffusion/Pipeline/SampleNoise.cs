namespace OvDiff.Diffusion.Pipeline;

/// <summary>
/// The randomness of sampling: a documented, platform-independent function of the request's 64-bit seed (no
/// System.Random, no ONNX Runtime random operator), so that one seed regenerates the same image on any machine, alone or
/// in any batch. (Each support image's seed comes from (seed, class, index): SupportImageRequest.DeriveSeed.)
/// <see cref="FillGaussian"/>: SplitMix64 from the seed gives uniforms u = (x &gt;&gt; 11) * 2^-53; each pair (u1, u2)
/// gives sqrt(-2 ln(1 - u1)) * (cos, sin)(2 pi u2) (Box-Muller in float64, rounded to float32).
/// </summary>
public static class SampleNoise
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    /// <summary>Fills <paramref name="destination"/> with standard normal values drawn from <paramref name="seed"/> (see the type's remarks).</summary>
    public static void FillGaussian(ulong seed, Span<float> destination)
    {
        var state = seed;
        for (var i = 0; i < destination.Length; i += 2)
        {
            var u1 = Uniform(ref state);
            var u2 = Uniform(ref state);
            var radius = Math.Sqrt(-2.0 * Math.Log(1.0 - u1));
            var angle = 2.0 * Math.PI * u2;
            destination[i] = (float)(radius * Math.Cos(angle));
            if (i + 1 < destination.Length)
            {
                destination[i + 1] = (float)(radius * Math.Sin(angle));
            }
        }
    }

    /// <summary>SplitMix64's output function.</summary>
    internal static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static double Uniform(ref ulong state)
    {
        state += Golden;
        return (Mix(state) >> 11) * (1.0 / (1UL << 53));
    }
}
