namespace OvDiff.Onnx;

/// <summary>Where the CLIP ViT-B/16 files of the pre-filter live in a <see cref="ModelStore"/> (configs/models.json, role clip-vit-b16).</summary>
public static class ClipModelFiles
{
    /// <summary>The role in configs/models.json.</summary>
    public const string Role = "clip-vit-b16";

    /// <summary>The image tower.</summary>
    public static HubModelFile Vision { get; } = ModelStore.ClipVitB16Vision;

    /// <summary>The text tower.</summary>
    public static HubModelFile Text { get; } = ModelManifest.Default[Role].HubFile("onnx/text_model.onnx");

    /// <summary>Where a combined export (Optimum's <c>model.onnx</c> with both towers) may sit instead of the split towers.</summary>
    public static IReadOnlyList<string> CombinedLocalPaths { get; } = [$"{Role}/onnx/model.onnx", $"{Role}/model.onnx"];

    /// <summary>
    /// The path of <paramref name="tower"/> in <paramref name="store"/>: the split tower when present, else a combined export
    /// at one of <see cref="CombinedLocalPaths"/> (each encoder prunes it to its tower); throws
    /// <see cref="ModelFileNotFoundException"/> naming the split tower when neither is there.
    /// </summary>
    public static string Locate(ModelStore store, HubModelFile tower)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(tower);
        string split = store.PathOf(tower);
        if (File.Exists(split))
        {
            return split;
        }

        return CombinedLocalPaths.Select(p => Path.GetFullPath(Path.Combine(store.Root, p))).FirstOrDefault(File.Exists) ?? store.Require(tower);
    }

    /// <summary>What to do about a missing CLIP file.</summary>
    public static string MissingFileHint(string path) =>
        $"The CLIP pre-filter needs the ViT-B/16 image and text towers and the tokenizer of {Vision.Repository}: {Vision.LocalPath}, {Text.LocalPath}, " +
        $"{Role}/vocab.json and {Role}/merges.txt under the model folder ($OVDIFF_MODELS or ./models), or instead of the towers a combined export at {CombinedLocalPaths[0]}. " +
        $"`ovdiff models download {Role}` fetches them; " +
        $"docs/models.md. Missing: {path}.";
}
