using OvDiff.Core.Features;

namespace OvDiff.Onnx;

/// <summary>
/// Creates an extractor from its stable <see cref="IDenseFeatureExtractor.Name"/>, e.g. when a saved model names the
/// features its prototypes were built from.
/// </summary>
public static class DenseFeatureExtractors
{
    /// <summary>The names <see cref="Create"/> knows, in order of preference.</summary>
    public static IReadOnlyList<string> KnownNames { get; } =
        ["resnet18-layer4", "resnet18-layer3+4", "resnet18-layer3", "dino-vitb8-keys", "clip-vitb16-keys"];

    /// <summary>
    /// Creates the extractor called <paramref name="name"/> with default options. The ViT extractors read their model from
    /// <paramref name="store"/> (default <see cref="ModelStore.Default"/>). The caller owns (disposes) the result.
    /// </summary>
    public static IDenseFeatureExtractor Create(string name, ModelStore? store = null, OnnxRuntimeOptions? runtime = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        runtime ??= OnnxRuntimeOptions.Default;
        return name switch
        {
            "resnet18-layer4" => new ResNet18FeatureExtractor(new ResNet18Options { Layers = ResNet18Layers.Layer4, Runtime = runtime }),
            "resnet18-layer3+4" => new ResNet18FeatureExtractor(new ResNet18Options { Layers = ResNet18Layers.Layer3And4, Runtime = runtime }),
            "resnet18-layer3" => new ResNet18FeatureExtractor(new ResNet18Options { Layers = ResNet18Layers.Layer3, Runtime = runtime }),
            "dino-vitb8-keys" => (store ?? ModelStore.Default).CreateDinoVitB8(o => o with { Runtime = runtime }),
            "clip-vitb16-keys" => (store ?? ModelStore.Default).CreateClipVitB16(o => o with { Runtime = runtime }),
            _ => throw new ArgumentException($"Unknown feature extractor '{name}'. Known: {string.Join(", ", KnownNames)}.", nameof(name)),
        };
    }

    /// <summary>
    /// Creates the extractors called <paramref name="names"/> (see <see cref="Create"/>), in order, as one set the caller
    /// owns (disposes). When one cannot be created, those already created are disposed before the error propagates.
    /// </summary>
    public static FeatureExtractorSet CreateSet(IEnumerable<string> names, ModelStore? store = null, OnnxRuntimeOptions? runtime = null)
    {
        ArgumentNullException.ThrowIfNull(names);
        var extractors = new List<IDenseFeatureExtractor>();
        try
        {
            foreach (string name in names)
            {
                extractors.Add(Create(name, store, runtime));
            }

            return new FeatureExtractorSet(extractors);
        }
        catch
        {
            extractors.ForEach(e => e.Dispose());
            throw;
        }
    }
}
