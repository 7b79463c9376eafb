using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;

namespace OvDiff.Diffusion.Pipeline;

/// <summary>
/// A generated image and what OVDiff keeps of its sampling.
/// </summary>
/// <param name="Request">What was asked: prompt, negative prompt, seed, and the class name's token positions (<see cref="SupportImageRequest.NameTokens"/>).</param>
/// <param name="Image">The decoded image (RGB, the pipeline's width x height).</param>
/// <param name="Attribution">
/// The attribution map at the latent size (64x64 for 512x512 SD): the name tokens' cross-attention from the conditional
/// half of guidance, over all 16 attn2 layers and all steps (per head bicubic to the latent size, clamped at 0, summed
/// over heads, layers and steps, averaged over the tokens: the reference's DAAMStore but for its division by the constant
/// count heads x layers x steps), then min-max normalised to [0, 1] as the reference does before thresholding.
/// Null when maps were not captured or the request names no tokens.
/// </param>
/// <param name="RawAttribution">The same map before min-max normalisation, or null.</param>
public sealed record GeneratedImage(SupportImageRequest Request, RgbImage Image, AttributionMap? Attribution, float[]? RawAttribution);
