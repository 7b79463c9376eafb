using OvDiff.Core.Features;

namespace OvDiff.Onnx;

/// <summary>
/// Creates dense feature extractors from their stable names, as stored in model files, so that a saved model can rebuild
/// its extractors in a fresh process.
/// </summary>
public static class FeatureExtractorCatalog
{
    private static readonly Dictionary<string, Func<OnnxSessionOptions, IDenseFeatureExtractor>> Factories = new(StringComparer.Ordinal)
    {
        ["resnet18-layer4"] = session => new ResNet18FeatureExtractor(new ResNet18Options { Layers = ResNet18Layers.Layer4, Session = session }),
        ["resnet18-layer3"] = session => new ResNet18FeatureExtractor(new ResNet18Options { Layers = ResNet18Layers.Layer3, Session = session }),
        ["resnet18-layer3+4"] = session => new ResNet18FeatureExtractor(new ResNet18Options { Layers = ResNet18Layers.Layer3And4, Session = session }),
    };

    /// <summary>The names <see cref="Create"/> accepts.</summary>
    public static IReadOnlyCollection<string> Names => Factories.Keys;

    /// <summary>Session settings used by <see cref="Create"/> (execution provider, threads). Default CPU.</summary>
    public static OnnxSessionOptions SessionOptions { get; set; } = OnnxSessionOptions.Default;

    /// <summary>Creates the extractor named <paramref name="name"/>; the caller owns (disposes) it.</summary>
    public static IDenseFeatureExtractor Create(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return Factories.TryGetValue(name, out var factory)
            ? factory(SessionOptions)
            : throw new ArgumentException($"Unknown feature extractor '{name}'. Known: {string.Join(", ", Factories.Keys.Order(StringComparer.Ordinal))}.", nameof(name));
    }
}
