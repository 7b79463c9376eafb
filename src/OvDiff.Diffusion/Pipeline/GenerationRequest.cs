using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;
using OvDiff.Onnx.Text;

namespace OvDiff.Diffusion.Pipeline;

/// <summary>
/// One image to generate: prompt, negative prompt, its own 64-bit noise seed, and the token positions (in the prompt's
/// CLIP encoding) whose cross-attention forms its attribution map. The image depends only on these and the pipeline's
/// options, never on which batch it is generated in.
/// </summary>
/// <param name="Prompt">The text prompt.</param>
/// <param name="NegativePrompt">The negative prompt (the unconditional half of guidance).</param>
/// <param name="Seed">The seed of the initial noise (<see cref="SampleNoise.FillGaussian"/>).</param>
/// <param name="FocusTokens">Token positions (1..76) averaged into the attribution map; empty: no map for this image.</param>
public sealed record GenerationRequest(string Prompt, string NegativePrompt, ulong Seed, IReadOnlyList<int> FocusTokens);

/// <summary>The prompts of support images (reference: sample_support_set.py). Immutable.</summary>
public sealed record SupportPrompts
{
    /// <summary>The reference's negative prompt.</summary>
    public const string ReferenceNegativePrompt = SupportImageRequest.ReferenceNegativePrompt;

    /// <summary>The reference's template: "A good picture of a {class}".</summary>
    public const string ReferenceTemplate = SupportImageRequest.ReferencePromptTemplate;

    /// <summary>The reference's prompts.</summary>
    public static SupportPrompts Reference { get; } = new();

    /// <summary>Prompt template; <c>{class}</c> is replaced by the class name, which must appear in it. Default <see cref="ReferenceTemplate"/>.</summary>
    public string Template { get; init; } = ReferenceTemplate;

    /// <summary>Negative prompt. Default <see cref="ReferenceNegativePrompt"/>.</summary>
    public string NegativePrompt { get; init; } = ReferenceNegativePrompt;

    /// <summary>The prompt of <paramref name="className"/>.</summary>
    public string PromptFor(string className)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(className);
        if (!Template.Contains("{class}", StringComparison.Ordinal))
        {
            throw new ArgumentException($"The prompt template '{Template}' has no {{class}} placeholder.", nameof(className));
        }

        return Template.Replace("{class}", className, StringComparison.Ordinal);
    }

    /// <summary>
    /// The request of support image <paramref name="index"/> of <paramref name="className"/>: the templated prompt, this
    /// negative prompt, the seed <see cref="SampleNoise.Derive"/>(<paramref name="seed"/>, class, index), and the class
    /// name's tokens as the attribution focus (<see cref="ClipTokenizer.FindPhrase"/>).
    /// </summary>
    public GenerationRequest Request(ClipTokenizer tokenizer, string className, long index, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var prompt = PromptFor(className);
        return new GenerationRequest(prompt, NegativePrompt, SampleNoise.Derive(seed, className, index), tokenizer.FindPhrase(prompt, className));
    }
}

/// <summary>
/// A generated image and what OVDiff keeps of its sampling.
/// </summary>
/// <param name="Request">What was asked.</param>
/// <param name="Image">The decoded image (RGB, the pipeline's width x height).</param>
/// <param name="Attribution">
/// The attribution map at the latent size (64x64 for 512x512 SD): the focus tokens' cross-attention from the conditional
/// half of guidance, over all 16 attn2 layers and all steps (per head bicubic to the latent size, clamped at 0, summed
/// over heads, layers and steps, averaged over the tokens: the reference's DAAMStore but for its division by the constant
/// count heads x layers x steps), then min-max normalised to [0, 1] as the reference does before thresholding.
/// Null when maps were not captured or the request has no focus tokens.
/// </param>
/// <param name="RawAttribution">The same map before min-max normalisation, or null.</param>
public sealed record GeneratedImage(GenerationRequest Request, RgbImage Image, AttributionMap? Attribution, float[]? RawAttribution);

/// <summary>Progress of <see cref="StableDiffusionPipeline.Generate"/>: denoising step <paramref name="Step"/> of <paramref name="Steps"/> for a batch.</summary>
public readonly record struct SamplingProgress(int Step, int Steps, int BatchImages, string Stage);
