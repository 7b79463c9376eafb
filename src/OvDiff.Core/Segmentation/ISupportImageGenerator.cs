using OvDiff.Core.Images;

namespace OvDiff.Core.Segmentation;

/// <summary>
/// One image to generate: its prompt, negative prompt, seed, and the positions (in the tokenised prompt) of the class
/// name, whose cross-attention becomes the attribution map.
/// </summary>
public sealed record SupportImageRequest(string Prompt, string NegativePrompt, ulong Seed, IReadOnlyList<int> NameTokens);

/// <summary>A generated support image and its attribution map (any resolution, any non-negative scale).</summary>
public sealed record GeneratedSupportImage(RgbImage Image, AttributionMap Attribution);

/// <summary>
/// A text-to-image model that also says where the class name is (OVDiff stage 1): e.g. Stable Diffusion with its
/// cross-attention maps. Implementations own their sessions; <see cref="Generate"/> is called from one thread at a time.
/// </summary>
public interface ISupportImageGenerator : IDisposable
{
    /// <summary>What the generator is, for manifests and messages (model folder, scheduler, device).</summary>
    string Description { get; }

    /// <summary>
    /// Generates one image per request, together (one batch). The result for a request depends only on the request and the
    /// generator's settings, not on the other requests of the batch (up to the last bits of floating-point batching
    /// effects, which is why stores batch fixed groups of items).
    /// </summary>
    IReadOnlyList<GeneratedSupportImage> Generate(IReadOnlyList<SupportImageRequest> batch, IProgress<StepProgress>? progress, CancellationToken cancellationToken);
}
