using OvDiff.Core.Images;

namespace OvDiff.Core.Segmentation;

/// <summary>
/// One image to generate: its prompt, negative prompt, seed, and the positions (in the tokenised prompt) of the class
/// name, whose cross-attention becomes the attribution map. Also the one place for the reference's prompts and for the
/// seed of support image (seed, class, index), shared by the support store and the diffusion pipeline.
/// </summary>
public sealed record SupportImageRequest(string Prompt, string NegativePrompt, ulong Seed, IReadOnlyList<int> NameTokens)
{
    /// <summary>The reference's prompt template (karazijal/sdov sample_support_set.py).</summary>
    public const string ReferencePromptTemplate = "A good picture of a {class}";

    /// <summary>The reference's negative prompt.</summary>
    public const string ReferenceNegativePrompt = "text, low quality, blurry, cartoon, meme, low resolution, bad, poor, faded";

    /// <summary>
    /// The 64-bit seed of support image <paramref name="index"/> of <paramref name="className"/> under base seed
    /// <paramref name="seed"/>: the first 8 bytes, little-endian, of SHA-256 of the UTF-8 text
    /// "ovdiff-support/1|{seed}|{class}|{index}" (decimal numbers, case-sensitive name). Platform-independent, so any
    /// image can be regenerated alone on any machine.
    /// </summary>
    public static ulong DeriveSeed(ulong seed, string className, long index)
    {
        ArgumentNullException.ThrowIfNull(className);
        byte[] hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $"ovdiff-support/1|{seed}|{className}|{index}")));
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(hash);
    }
}

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
