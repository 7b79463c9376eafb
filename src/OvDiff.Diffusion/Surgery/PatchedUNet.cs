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
/// (<c>unet/model.ovdiff-&lt;options&gt;-&lt;source&gt;.onnx</c> plus a .json of what was found, so that external weight files such as <c>weights.pb</c> or
/// <c>model.onnx_data</c> resolve as for the original; the weights are not copied when they are external). The name hashes
/// the surgery version and options (one file per use: sampling, features) and the original's size and time stamp, so an
/// edited or replaced UNet is patched again (the stale file is deleted). Where the folder is read-only the patched model
/// stays in memory.
/// </summary>
public sealed class PatchedUNet
{
    private PatchedUNet(string sourcePath, string? path, byte[]? bytes, Sidecar found)
    {
        SourcePath = sourcePath;
        Path = path;
        Bytes = bytes;
        CrossAttentionLayers = found.Layers;
        QueryChannels = found.QueryChannels;
        FusedSelfAttentionLayers = found.Fused;
    }

    /// <summary>The original UNet file.</summary>
    public string SourcePath { get; }

    /// <summary>The patched file, or null when it could not be written (then <see cref="Bytes"/> holds it).</summary>
    public string? Path { get; }

    /// <summary>The patched model when it is not on disk.</summary>
    public byte[]? Bytes { get; }

    /// <summary>Labels of the cross-attention layers found, in execution order.</summary>
    public IReadOnlyList<string> CrossAttentionLayers { get; }

    /// <summary>Width of each cross-attention layer's query projection (0 where unknown), in execution order.</summary>
    public IReadOnlyList<int> QueryChannels { get; }

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

        // One file per set of options (sampling and features coexist), replaced when the original changes.
        var optionsTag = Hash(string.Create(CultureInfo.InvariantCulture, $"{UNetAttentionSurgery.Version}|{options.CacheKey}"))[..8];
        var sourceTag = Hash(string.Create(CultureInfo.InvariantCulture, $"{info.Length}|{info.LastWriteTimeUtc.Ticks}"))[..8];
        var directory = info.DirectoryName!;
        var stem = System.IO.Path.GetFileNameWithoutExtension(source);
        var prefix = $"{stem}.ovdiff-{optionsTag}-";
        var patchedPath = System.IO.Path.Combine(directory, $"{prefix}{sourceTag}.onnx");
        var sidecarPath = patchedPath + ".json";
        if (File.Exists(patchedPath) && TryReadSidecar(sidecarPath) is { } cached)
        {
            return new PatchedUNet(source, patchedPath, null, cached);
        }

        var model = OnnxGraphSurgery.Load(source, "A Stable Diffusion folder has the UNet at unet/model.onnx.");
        var report = UNetAttentionSurgery.Patch(model, options, source);
        model.MetadataProps.Add(new global::Onnx.StringStringEntryProto { Key = "ovdiff.patch", Value = $"v{UNetAttentionSurgery.Version};{options.CacheKey};source={System.IO.Path.GetFileName(source)}" });
        var bytes = model.ToByteArray();
        var found = new Sidecar(
            report.CrossAttention.Select(l => l.Label).ToList(),
            report.CrossAttention.Select(l => l.QueryChannels ?? 0).ToList(),
            report.FusedSelfAttentionLayers);
        try
        {
            foreach (var stale in Directory.EnumerateFiles(directory, $"{prefix}*.onnx*"))
            {
                TryDelete(stale);
            }

            AtomicFile.WriteAllBytes(patchedPath, bytes);
            AtomicFile.WriteAllBytes(sidecarPath, JsonSerializer.SerializeToUtf8Bytes(found));
            return new PatchedUNet(source, patchedPath, null, found);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            return new PatchedUNet(source, null, bytes, found);
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

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

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

    private sealed record Sidecar(IReadOnlyList<string> Layers, IReadOnlyList<int> QueryChannels, int Fused);
}
