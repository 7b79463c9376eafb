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

    /// <summary>What to do about a missing CLIP file.</summary>
    public static string MissingFileHint(string path) =>
        $"The CLIP pre-filter needs the ViT-B/16 image and text towers and the tokenizer of {Vision.Repository}: {Vision.LocalPath}, {Text.LocalPath}, " +
        $"{Role}/vocab.json and {Role}/merges.txt under the model folder ($OVDIFF_MODELS or ./models). `ovdiff models download {Role}` fetches them; " +
        $"docs/models.md. Missing: {path}.";
}
