using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OvDiff.Core.IO;

namespace OvDiff.Onnx;

/// <summary>
/// A model folder's identity: SHA-256 over the sorted list of (relative path, size, SHA-256 of content) of the files that
/// decide its outputs. Hashing reads every byte (0.85 GB/s measured from the page cache on the 2-core build machine, SupportStoreBenchmarks); <paramref name="CachePath"/>, if given, remembers
/// each file's hash by path, size and modification time so a resumed run does not read gigabytes again.
/// </summary>
/// <param name="CachePath">A JSON file for the per-file hashes (created if absent), or null.</param>
public sealed record ModelFingerprint(string? CachePath = null)
{
    /// <summary>The sub-folders of a diffusers Stable Diffusion folder that sampling reads (not vae_encoder, safety_checker, model_index.json).</summary>
    public static IReadOnlyList<string> StableDiffusionSamplingParts { get; } = ["scheduler", "tokenizer", "text_encoder", "unet", "vae_decoder"];

    /// <summary>
    /// "sha256:HEX" of the files under <paramref name="folder"/>'s <paramref name="parts"/> (all files when null),
    /// skipping dot-files, OvDiff's own derived files (<c>*.ovdiff*</c>, e.g. the patched UNet <c>model.ovdiff-KEY.onnx</c>) and unfinished downloads (<c>*.partial</c>, <c>*.tmp</c>).
    /// </summary>
    public string Compute(string folder, IReadOnlyList<string>? parts = null, IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        string root = Path.GetFullPath(folder);
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"Model folder '{root}' does not exist.");
        }

        IEnumerable<string> files = parts is null
            ? Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            : parts.Select(p => Path.Combine(root, p)).Where(Directory.Exists).SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories));
        var chosen = files
            .Where(f => !Path.GetFileName(f).StartsWith('.') && !Path.GetFileName(f).Contains(".ovdiff", StringComparison.Ordinal)
                && !f.EndsWith(HuggingFaceDownloader.PartialSuffix, StringComparison.Ordinal) && !f.EndsWith(".tmp", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (chosen.Count == 0)
        {
            throw new FileNotFoundException($"Model folder '{root}' holds none of the files that decide its outputs ({string.Join(", ", parts ?? ["any"])}).");
        }

        Dictionary<string, CachedHash> cache = ReadCache();
        var list = new StringBuilder();
        foreach (string relative in chosen)
        {
            var info = new FileInfo(Path.Combine(root, relative));
            string key = info.FullName;
            string sha = cache.TryGetValue(key, out CachedHash? hit) && hit.Size == info.Length && hit.ModifiedTicks == info.LastWriteTimeUtc.Ticks
                ? hit.Sha256
                : ModelVerifier.ComputeSha256(info.FullName, relative, progress, cancellationToken);
            cache[key] = new CachedHash(info.Length, info.LastWriteTimeUtc.Ticks, sha);
            list.Append(CultureInfo.InvariantCulture, $"{relative}\t{info.Length}\t{sha}\n");
        }

        WriteCache(cache);
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(list.ToString())));
    }

    private Dictionary<string, CachedHash> ReadCache()
    {
        try
        {
            return CachePath is not null && File.Exists(CachePath)
                ? JsonSerializer.Deserialize<Dictionary<string, CachedHash>>(File.ReadAllBytes(CachePath)) ?? []
                : [];
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private void WriteCache(Dictionary<string, CachedHash> cache)
    {
        if (CachePath is null)
        {
            return;
        }

        try
        {
            AtomicFile.WriteAllBytes(CachePath, JsonSerializer.SerializeToUtf8Bytes(new SortedDictionary<string, CachedHash>(cache, StringComparer.Ordinal)));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The cache only saves time.
        }
    }

    private sealed record CachedHash(long Size, long ModifiedTicks, string Sha256);
}
