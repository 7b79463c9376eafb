using OvDiff.Diffusion.Support;

namespace OvDiff.ML;

/// <summary>
/// Options of <see cref="OvDiffSampleSupportEstimator"/>. Column names are those of the user's data; defaults in brackets.
/// </summary>
public sealed record OvDiffSampleSupportOptions
{
    /// <summary>A Stable Diffusion folder in the diffusers ONNX layout (e.g. <c>models/sd15</c> from <c>ovdiff models download sd15</c>).</summary>
    public required string ModelFolder { get; init; }

    /// <summary>The support store the images go to (created, or reused when it exists with the same settings; see <c>ovdiff sample</c>).</summary>
    public required string StoreFolder { get; init; }

    /// <summary>Input text column: the class name of each requested image. ["Label"]</summary>
    public string ClassColumnName { get; init; } = "Label";

    /// <summary>Input integer column (any numeric type with whole values): the image's index within its class, 0-based. ["Index"]</summary>
    public string IndexColumnName { get; init; } = "Index";

    /// <summary>Output text column: the generated image's path in the store. ["ImagePath"]</summary>
    public string ImageColumnName { get; init; } = "ImagePath";

    /// <summary>Output column: the attribution map, a vector of Single with dimensions [H, W] (the latent grid, 64x64 for 512x512 SD), min-max normalised. ["Attribution"]</summary>
    public string AttributionColumnName { get; init; } = "Attribution";

    /// <summary>Sampler, steps, guidance, batch size, device, seed and prompts. Default: the reference's (DPM-Solver++ 2M, 30 steps, 8.0, batch 8, seed 42, CPU).</summary>
    public SupportSamplingOptions Sampling { get; init; } = new();
}
