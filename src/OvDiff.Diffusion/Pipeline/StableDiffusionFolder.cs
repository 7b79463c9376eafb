using OvDiff.Onnx;

namespace OvDiff.Diffusion.Pipeline;

/// <summary>
/// The files of a Stable Diffusion model in diffusers' ONNX layout (as OnnxStack, Optimum and
/// onnx-community/stable-diffusion-v1-5-ONNX have them):
/// <c>tokenizer/vocab.json</c>, <c>tokenizer/merges.txt</c>, <c>text_encoder/model.onnx</c>, <c>unet/model.onnx</c>
/// (weights inside or in external-data files beside it), <c>vae_decoder/model.onnx</c>, <c>vae_encoder/model.onnx</c>
/// (SD features only) and <c>scheduler/scheduler_config.json</c>.
/// </summary>
public sealed class StableDiffusionFolder
{
    private StableDiffusionFolder(string root)
    {
        Root = root;
    }

    /// <summary>The folder.</summary>
    public string Root { get; }

    /// <summary>tokenizer/ (vocab.json, merges.txt).</summary>
    public string TokenizerFolder => Path.Combine(Root, "tokenizer");

    /// <summary>text_encoder/model.onnx.</summary>
    public string TextEncoder => Path.Combine(Root, "text_encoder", "model.onnx");

    /// <summary>unet/model.onnx.</summary>
    public string UNet => Path.Combine(Root, "unet", "model.onnx");

    /// <summary>vae_decoder/model.onnx.</summary>
    public string VaeDecoder => Path.Combine(Root, "vae_decoder", "model.onnx");

    /// <summary>vae_encoder/model.onnx.</summary>
    public string VaeEncoder => Path.Combine(Root, "vae_encoder", "model.onnx");

    /// <summary>scheduler/scheduler_config.json.</summary>
    public string SchedulerConfig => Path.Combine(Root, "scheduler", "scheduler_config.json");

    /// <summary>
    /// Checks that the files a use needs are there (<paramref name="forSampling"/>: tokenizer, text encoder, UNet, VAE decoder,
    /// scheduler; <paramref name="forFeatures"/>: tokenizer, text encoder, UNet, VAE encoder, scheduler). Every missing file
    /// is named in one <see cref="ModelFileNotFoundException"/> that says where to get them.
    /// </summary>
    public static StableDiffusionFolder Open(string root, bool forSampling = true, bool forFeatures = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        var folder = new StableDiffusionFolder(Path.GetFullPath(root));
        var required = new List<string>
        {
            Path.Combine(folder.TokenizerFolder, "vocab.json"),
            Path.Combine(folder.TokenizerFolder, "merges.txt"),
            folder.TextEncoder,
            folder.UNet,
            folder.SchedulerConfig,
        };
        if (forSampling)
        {
            required.Add(folder.VaeDecoder);
        }

        if (forFeatures)
        {
            required.Add(folder.VaeEncoder);
        }

        var missing = required.Where(p => !File.Exists(p)).ToList();
        if (missing.Count > 0)
        {
            var relative = missing.Select(p => Path.GetRelativePath(folder.Root, p).Replace('\\', '/'));
            throw new ModelFileNotFoundException(
                missing[0],
                $"The Stable Diffusion folder '{folder.Root}' lacks {string.Join(", ", relative)}. It needs diffusers' ONNX layout " +
                "(tokenizer/vocab.json, tokenizer/merges.txt, text_encoder/model.onnx, unet/model.onnx [+ its weight files], " +
                "vae_decoder/model.onnx, vae_encoder/model.onnx, scheduler/scheduler_config.json), e.g. the Hugging Face repository " +
                "onnx-community/stable-diffusion-v1-5-ONNX: `ovdiff models download sd15`, or see docs/diffusion.md.");
        }

        return folder;
    }
}
