namespace OvDiff.Onnx;

/// <summary>A model file that can be fetched from the Hugging Face Hub: repository, revision, path there and path in the store.</summary>
public sealed record HubModelFile(string Repository, string RemotePath, string LocalPath, string Revision = "main");

/// <summary>
/// The folder of downloaded ONNX models, laid out as in docs/models.md:
/// <c>dino-vitb8/onnx/model.onnx</c>, <c>clip-vit-b16/onnx/vision_model.onnx</c> (and the tokenizer files beside them).
/// Resolves paths with clear errors, fetches missing files from the Hub, and creates the key-feature extractors.
/// </summary>
public sealed class ModelStore
{
    /// <summary>Environment variable that overrides the default root folder.</summary>
    public const string RootEnvironmentVariable = "OVDIFF_MODELS";

    /// <summary>DINO ViT-B/8 (transformers.js export of facebook/dino-vitb8), as configs/models.json (role dino-vitb8) places it.</summary>
    public static HubModelFile DinoVitB8 { get; } = ModelManifest.Default["dino-vitb8"].HubFile("onnx/model.onnx");

    /// <summary>CLIP ViT-B/16 vision tower (transformers.js export of openai/clip-vit-base-patch16), as configs/models.json (role clip-vit-b16) places it.</summary>
    public static HubModelFile ClipVitB16Vision { get; } = ModelManifest.Default["clip-vit-b16"].HubFile("onnx/vision_model.onnx");

    /// <summary>Creates a store rooted at <paramref name="rootDirectory"/> (need not exist yet).</summary>
    public ModelStore(string rootDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(rootDirectory);
        Root = Path.GetFullPath(rootDirectory);
    }

    /// <summary>The store at <c>$OVDIFF_MODELS</c>, or <c>models</c> under the current directory.</summary>
    public static ModelStore Default =>
        new(Environment.GetEnvironmentVariable(RootEnvironmentVariable) is { Length: > 0 } root ? root : Path.Combine(Environment.CurrentDirectory, "models"));

    /// <summary>Absolute root folder.</summary>
    public string Root { get; }

    /// <summary>Where <paramref name="file"/> lives in this store (it may not exist).</summary>
    public string PathOf(HubModelFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return Path.GetFullPath(Path.Combine(Root, file.LocalPath));
    }

    /// <summary>The folder of <paramref name="role"/>'s files: <c>{Root}/{role name}</c>.</summary>
    public string FolderOf(ModelRole role)
    {
        ArgumentNullException.ThrowIfNull(role);
        return Path.Combine(Root, role.Name);
    }

    /// <summary>Where <paramref name="file"/> of <paramref name="role"/> lives in this store: <c>{Root}/{role}/{path}</c> (it may not exist).</summary>
    public string PathOf(ModelRole role, ModelFileEntry file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return Path.GetFullPath(Path.Combine(FolderOf(role), file.Path));
    }

    /// <summary>The path of <paramref name="file"/>; throws <see cref="ModelFileNotFoundException"/> saying how to get it when absent.</summary>
    public string Require(HubModelFile file)
    {
        var path = PathOf(file);
        return File.Exists(path)
            ? path
            : throw new ModelFileNotFoundException(
                path,
                $"Put the ONNX export at {file.LocalPath} under the model folder '{Root}' (set with ${RootEnvironmentVariable}), e.g. " +
                $"run `ovdiff models download {file.LocalPath.Split('/')[0]}`, or download https://huggingface.co/{file.Repository}/resolve/{file.Revision}/{file.RemotePath} there. " +
                "See docs/models.md.");
    }

    /// <summary>Downloads <paramref name="file"/> into the store unless it is already there; returns its path.</summary>
    public async Task<string> EnsureAsync(HubModelFile file, HuggingFaceDownloader downloader, IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(downloader);
        var path = PathOf(file);
        if (!File.Exists(path))
        {
            await downloader.DownloadAsync(file.Repository, file.RemotePath, path, file.Revision, progress, cancellationToken).ConfigureAwait(false);
        }

        return path;
    }

    /// <summary>The DINO ViT-B/8 key extractor on this store's model; <paramref name="configure"/> may adjust the preset options.</summary>
    public VitKeyFeatureExtractor CreateDinoVitB8(Func<VitKeyExtractorOptions, VitKeyExtractorOptions>? configure = null)
    {
        var options = VitKeyExtractorOptions.DinoVitB8(Require(DinoVitB8));
        return new VitKeyFeatureExtractor(configure is null ? options : configure(options));
    }

    /// <summary>
    /// The CLIP ViT-B/16 key extractor (layer -2) on this store's vision tower (or a combined export in its place:
    /// <see cref="ClipModelFiles.Locate"/>); <paramref name="configure"/> may adjust the preset options.
    /// </summary>
    public VitKeyFeatureExtractor CreateClipVitB16(Func<VitKeyExtractorOptions, VitKeyExtractorOptions>? configure = null)
    {
        var options = VitKeyExtractorOptions.ClipVitB16(ClipModelFiles.Locate(this, ClipVitB16Vision));
        return new VitKeyFeatureExtractor(configure is null ? options : configure(options));
    }

    /// <summary>What to do when a ViT ONNX file given by path is missing.</summary>
    internal static string MissingVitModelHint(string path) =>
        $"Expected a Hugging Face ONNX export (input 'pixel_values'). Store layout: {DinoVitB8.LocalPath} ({DinoVitB8.Repository}) and " +
        $"{ClipVitB16Vision.LocalPath} ({ClipVitB16Vision.Repository}) under the model folder; see docs/models.md. Missing: {Path.GetFileName(path)}.";
}
