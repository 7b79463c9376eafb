namespace OvDiff.Diffusion.Pipeline;

/// <summary>
/// Where sampling time went: the ONNX Runtime calls (text encoder, UNet, VAE decoder) and the rest (tokenising, noise,
/// guidance, scheduler updates, map accumulation, image conversion, binding): <see cref="Host"/>.
/// </summary>
/// <param name="Images">Images generated.</param>
/// <param name="UNetCalls">UNet calls (one per step and batch).</param>
/// <param name="Total">Wall time inside Generate.</param>
/// <param name="TextEncoder">Time in the text encoder.</param>
/// <param name="UNet">Time in the UNet.</param>
/// <param name="VaeDecoder">Time in the VAE decoder.</param>
public sealed record SamplingStatistics(long Images, long UNetCalls, TimeSpan Total, TimeSpan TextEncoder, TimeSpan UNet, TimeSpan VaeDecoder)
{
    /// <summary>Time outside the ONNX Runtime calls: the sampler's own work.</summary>
    public TimeSpan Host => Total - TextEncoder - UNet - VaeDecoder;

    /// <summary><see cref="Host"/> as a fraction of <see cref="Total"/> (0 when nothing ran).</summary>
    public double HostShare => Total > TimeSpan.Zero ? Host / Total : 0;

    /// <summary>Mutable counters behind <see cref="StableDiffusionPipeline.Statistics"/>.</summary>
    internal sealed class Accumulator
    {
        public long Images { get; set; }

        public long UNetCalls { get; set; }

        public TimeSpan Total { get; set; }

        public TimeSpan TextEncoder { get; set; }

        public TimeSpan UNet { get; set; }

        public TimeSpan VaeDecoder { get; set; }

        public SamplingStatistics Snapshot() => new(Images, UNetCalls, Total, TextEncoder, UNet, VaeDecoder);

        public void Reset() => (Images, UNetCalls, Total, TextEncoder, UNet, VaeDecoder) = (0, 0, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero);
    }
}
