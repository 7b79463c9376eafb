using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using OvDiff.Core.IO;
using OvDiff.Onnx;

namespace OvDiff.Diffusion.Surgery;

/// <summary>
/// A UNet patched by <see cref="UNetAttentionSurgery"/>, cached on disk next to the original
/// (<c>unet/model.ovdiff-&lt;key&gt;.onnx</c>, so that external weight files such as <c>weights.pb</c> or
/// <c>model.onnx_data</c> resolve as for the original; the weights are not copied when they are external). The key hashes
/// the surgery version, the options and the original's size and time stamp, so an edited or replaced UNet is patched
/// again. Where the folder is read-only the patched model stays in memory.
/// </summary>
public sealed class PatchedUNet
{
    private PatchedUNet(string sourcePath, string? path, byte[]? bytes, IReadOnlyList<string> layerLabels, int fusedSelfAttention)
    {
        SourcePath = sourcePath;
        Path = path;
        Bytes = bytes;
        CrossAttentionLayers = layerLabels;
        FusedSelfAttentionLayers = fusedSelfAttention;
    }

    /// <summary>The original UNet file.</summary>
    public string SourcePath { get; }

    /// <summary>The patched file, or null when it could not be written (then <see cref="Bytes"/> holds it).</summary>
    public string? Path { get; }

    /// <summary>The patched model when it is not on disk.</summary>
    public byte[]? Bytes { get; }

    /// <summary>Labels of the cross-attention layers found, in execution order.</summary>
    public IReadOnlyList<string> CrossAttentionLayers { get; }

    /// <summary>Self-attention layers fused into MultiHeadAttention.</summary>
    public int FusedSelfAttentionLayers { get; }

    /// <summary>Returns the patched UNet for <paramref name="unetPath"/> and <paramref name="options"/>, patching and caching it when needed.</summary>
    public static PatchedUNet GetOrCreate(string unetPath, UNetPatchOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(unetPath);
        ArgumentNullException.ThrowIfNull(options);
        var source = System.IO.Path.GetFullPath(unetPath);
        var info = new FileInfo(source);
        if (!info.Exists)
        {
            throw new ModelFileNotFoundException(source, "A Stable Diffusion folder has the UNet at unet/model.onnx (diffusers' ONNX layout); see docs/diffusion.md.");
        }

        var key = CacheKey(info, options);
        var directory = info.DirectoryName!;
        var stem = System.IO.Path.GetFileNameWithoutExtension(source);
        var patchedPath = System.IO.Path.Combine(directory, $"{stem}.ovdiff-{key}.onnx");
        var sidecarPath = patchedPath + ".json";
        if (File.Exists(patchedPath) && TryReadSidecar(sidecarPath) is { } cached)
        {
            return new PatchedUNet(source, patchedPath, null, cached.Layers, cached.Fused);
        }

        var model = OnnxGraphSurgery.Load(source, "A Stable Diffusion folder has the UNet at unet/model.onnx.");
        var report = UNetAttentionSurgery.Patch(model, options, source);
        model.MetadataProps.Add(new global::Onnx.StringStringEntryProto { Key = "ovdiff.patch", Value = $"v{UNetAttentionSurgery.Version};{options.CacheKey};source={System.IO.Path.GetFileName(source)}" });
        var bytes = model.ToByteArray();
        var labels = report.CrossAttention.Select(l => l.Label).ToList();
        try
        {
            foreach (var stale in Directory.EnumerateFiles(directory, $"{stem}.ovdiff-*.onnx*"))
            {
                TryDelete(stale);
            }

            AtomicFile.WriteAllBytes(patchedPath, bytes);
            AtomicFile.WriteAllBytes(sidecarPath, JsonSerializer.SerializeToUtf8Bytes(new Sidecar(labels, report.FusedSelfAttentionLayers)));
            return new PatchedUNet(source, patchedPath, null, labels, report.FusedSelfAttentionLayers);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            return new PatchedUNet(source, null, bytes, labels, report.FusedSelfAttentionLayers);
        }
    }

    /// <summary>Opens an ONNX Runtime session on the patched model (external weights resolved from the original's folder).</summary>
    public OnnxModelSession Open(OnnxRuntimeOptions runtime, IReadOnlyList<OnnxTensorSpec> inputs, IReadOnlyList<OnnxTensorSpec> outputs)
    {
        var description = $"{SourcePath} (patched by OvDiff)";
        return Path is not null
            ? OnnxModelSession.Open(Path, runtime, inputs, outputs, "The patched UNet disappeared; it is recreated on the next run.")
            : OnnxModelSession.FromBytes(Bytes!, description, runtime, inputs, outputs, System.IO.Path.GetDirectoryName(SourcePath));
    }

    private static string CacheKey(FileInfo source, UNetPatchOptions options)
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"{UNetAttentionSurgery.Version}|{options.CacheKey}|{source.Length}|{source.LastWriteTimeUtc.Ticks}");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..12];
    }

    private static Sidecar? TryReadSidecar(string path)
    {
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize<Sidecar>(File.ReadAllBytes(path)) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private sealed record Sidecar(IReadOnlyList<string> Layers, int Fused);
}
