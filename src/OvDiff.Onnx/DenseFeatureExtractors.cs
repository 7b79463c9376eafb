using System.Collections.Concurrent;
using OvDiff.Core.Features;

namespace OvDiff.Onnx;

/// <summary>
/// Creates an extractor from its stable <see cref="IDenseFeatureExtractor.Name"/>, e.g. when a saved model names the
/// features its prototypes were built from.
/// </summary>
public static class DenseFeatureExtractors
{
    /// <summary>ResNet18's layer 4 (stride 32, 512 channels): the embedded default.</summary>
    public const string ResNet18Layer4 = "resnet18-layer4";

    /// <summary>ResNet18's layer 4 with its stride removed and dilated convolutions (stride 16, 512 channels).</summary>
    public const string ResNet18Layer4Dilated = "resnet18-layer4-dilated";

    /// <summary>ResNet18's layers 3 and 4 concatenated (stride 16, 768 channels).</summary>
    public const string ResNet18Layer3And4 = "resnet18-layer3+4";

    /// <summary>ResNet18's layer 3 (stride 16, 256 channels).</summary>
    public const string ResNet18Layer3 = "resnet18-layer3";

    /// <summary>DINO ViT-B/8 last-block keys.</summary>
    public const string DinoVitB8Keys = "dino-vitb8-keys";

    /// <summary>CLIP ViT-B/16 last-block keys.</summary>
    public const string ClipVitB16Keys = "clip-vitb16-keys";

    /// <summary>The extractor used when none is named: the one whose weights ship with the packages.</summary>
    public const string Default = ResNet18Layer4;

    /// <summary>Stable Diffusion's cross-attention queries (OvDiff.Diffusion registers it; see <see cref="Register"/>).</summary>
    public const string StableDiffusionQueries = "sd15-q";

    private static readonly string[] BuiltIn = [ResNet18Layer4, ResNet18Layer4Dilated, ResNet18Layer3And4, ResNet18Layer3, DinoVitB8Keys, ClipVitB16Keys];
    private static readonly ConcurrentDictionary<string, Func<ModelStore, OnnxRuntimeOptions, IDenseFeatureExtractor>> Registered = new(StringComparer.Ordinal);

    /// <summary>The names <see cref="Create"/> knows, in order of preference (built-in ones, then registered ones).</summary>
    public static IReadOnlyList<string> KnownNames => [.. BuiltIn, .. Registered.Keys.Order(StringComparer.Ordinal)];

    /// <summary>
    /// Makes <see cref="Create"/> know an extractor defined in another assembly (e.g. OvDiff.Diffusion's
    /// <see cref="StableDiffusionQueries"/>, registered by its <c>StableDiffusionFeatureExtractor.Register()</c>).
    /// Registering a name again replaces its factory; built-in names cannot be replaced.
    /// </summary>
    public static void Register(string name, Func<ModelStore, OnnxRuntimeOptions, IDenseFeatureExtractor> factory)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(factory);
        if (BuiltIn.Contains(name, StringComparer.Ordinal))
        {
            throw new ArgumentException($"'{name}' is a built-in extractor name.", nameof(name));
        }

        Registered[name] = factory;
    }

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
            ResNet18Layer4 => new ResNet18FeatureExtractor(new ResNet18Options { Layers = ResNet18Layers.Layer4, Runtime = runtime }),
            ResNet18Layer4Dilated => new ResNet18FeatureExtractor(new ResNet18Options { Layers = ResNet18Layers.Layer4Dilated, Runtime = runtime }),
            ResNet18Layer3And4 => new ResNet18FeatureExtractor(new ResNet18Options { Layers = ResNet18Layers.Layer3And4, Runtime = runtime }),
            ResNet18Layer3 => new ResNet18FeatureExtractor(new ResNet18Options { Layers = ResNet18Layers.Layer3, Runtime = runtime }),
            DinoVitB8Keys => (store ?? ModelStore.Default).CreateDinoVitB8(o => o with { Runtime = runtime }),
            ClipVitB16Keys => (store ?? ModelStore.Default).CreateClipVitB16(o => o with { Runtime = runtime }),
            _ when Registered.TryGetValue(name, out var factory) => factory(store ?? ModelStore.Default, runtime),
            StableDiffusionQueries => throw new ArgumentException(
                $"The feature extractor '{name}' lives in OvDiff.Diffusion: reference it and call StableDiffusionFeatureExtractor.Register() first (the ovdiff CLI does).",
                nameof(name)),
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
