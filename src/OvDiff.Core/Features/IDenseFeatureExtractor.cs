using OvDiff.Core.Images;

namespace OvDiff.Core.Features;

/// <summary>
/// "Image in, dense feature map out": one pretrained backbone (ResNet18, DINO, CLIP, SD UNet) with its own
/// preprocessing. Implementations that hold an ONNX Runtime session own it and release it in <see cref="IDisposable.Dispose"/>.
/// Implementations must be safe to call from one thread at a time; callers that parallelise use one instance per thread,
/// unless <see cref="SupportsConcurrentExtract"/> says that concurrent calls on one instance are safe.
/// </summary>
public interface IDenseFeatureExtractor : IDisposable
{
    /// <summary>A short stable name ("resnet18-layer4", "dino-vitb8-keys"), used in model files and reports.</summary>
    string Name { get; }

    /// <summary>Input pixels per feature cell along each axis (32 for ResNet18 layer4, 8 for DINO ViT-B/8).</summary>
    int Stride { get; }

    /// <summary>Feature dimension of each cell.</summary>
    int Channels { get; }

    /// <summary>
    /// Whether <see cref="Extract"/> may run on several threads at once on this instance (true for extractors whose only
    /// shared state is an ONNX Runtime session, which runs concurrently). [false]
    /// </summary>
    bool SupportsConcurrentExtract => false;

    /// <summary>
    /// Extracts features for <paramref name="image"/> as given (callers resize first). The map covers the image:
    /// its grid is about image size / <see cref="Stride"/> (implementations may pad to a multiple of the stride and crop back).
    /// </summary>
    FeatureMap Extract(RgbImage image, CancellationToken cancellationToken = default);

    /// <summary>
    /// Extracts features for several images (callers pass images of one size); implementations may run them as one
    /// batch. The default extracts them one by one.
    /// </summary>
    IReadOnlyList<FeatureMap> ExtractBatch(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken = default) =>
        [.. images.Select(image => Extract(image, cancellationToken))];
}
