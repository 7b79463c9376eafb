using System.Text.Json;
using OvDiff.Core.IO;

namespace OvDiff.Onnx;

/// <summary>The state of one model file in the store.</summary>
public enum ModelFileStatus
{
    /// <summary>Present, size and hash as expected (where known), signature as required.</summary>
    Ok,

    /// <summary>Not in the store.</summary>
    Missing,

    /// <summary>Size or SHA-256 differs from the manifest or from what was recorded when it was downloaded.</summary>
    Corrupt,

    /// <summary>An ONNX file whose inputs, outputs or intermediate tensors are not the ones OvDiff needs.</summary>
    WrongSignature,

    /// <summary>Not a readable ONNX file, or an external data file it needs is missing.</summary>
    Unreadable,
}

/// <summary>The result of checking one file: where it should be, its state, and every problem found (each a full sentence).</summary>
public sealed record ModelFileCheck(ModelRole Role, ModelFileEntry File, string LocalPath, ModelFileStatus Status, IReadOnlyList<string> Problems, long? Size, string? Sha256)
{
    /// <summary>A problem that stops the role from working: anything but OK, except a missing optional file.</summary>
    public bool IsError => Status != ModelFileStatus.Ok && (File.Required || Status != ModelFileStatus.Missing);
}

/// <summary>What <c>ovdiff models download</c> recorded about a file it put in the store (kept in <c>ROLE/.ovdiff-files.json</c>).</summary>
/// <param name="Size">Bytes.</param>
/// <param name="Sha256">SHA-256 of the content, lower-case hex.</param>
/// <param name="Source">Where it came from (a Hub address or a hub-cache path).</param>
/// <param name="Commit">The repository commit the Hub reported, if any.</param>
/// <param name="VerifiedAgainstHub">True when the Hub gave a SHA-256 (Git LFS) and the content matched it.</param>
public sealed record ModelFileRecord(long Size, string Sha256, string Source, string? Commit, bool VerifiedAgainstHub);

/// <summary>Checks the files of a role in a <see cref="ModelStore"/>: presence, size, SHA-256 and ONNX signature.</summary>
public static class ModelVerifier
{
    /// <summary>Name of the record file in each role folder.</summary>
    public const string RecordFileName = ".ovdiff-files.json";

    private static readonly JsonSerializerOptions RecordJson = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>
    /// Checks every file of <paramref name="role"/>. Sizes are compared with the manifest, else with the download record;
    /// with <paramref name="hash"/> the SHA-256 is computed (reading every byte; <paramref name="progress"/> reports it) and
    /// compared the same way. ONNX files are opened (their graph only, not the weights) and compared with their signature,
    /// and the external data files they reference must be beside them.
    /// </summary>
    public static IReadOnlyList<ModelFileCheck> Verify(ModelStore store, ModelRole role, bool hash, IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(role);
        IReadOnlyDictionary<string, ModelFileRecord> records = ReadRecords(store.FolderOf(role));
        var checks = new List<ModelFileCheck>();
        foreach (ModelFileEntry file in role.Files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            checks.Add(VerifyFile(store, role, file, records.GetValueOrDefault(file.Path), hash, progress, cancellationToken));
        }

        return checks;
    }

    /// <summary>Checks one file (see <see cref="Verify"/>); <paramref name="record"/> is what the download recorded, if anything.</summary>
    public static ModelFileCheck VerifyFile(ModelStore store, ModelRole role, ModelFileEntry file, ModelFileRecord? record, bool hash, IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(file);
        string path = store.PathOf(role, file);
        if (!File.Exists(path))
        {
            return new ModelFileCheck(role, file, path, ModelFileStatus.Missing, [$"missing{(file.Required ? "" : " (optional" + (file.Note is null ? "" : ": " + file.Note) + ")")}"], null, null);
        }

        var problems = new List<string>();
        long size = new FileInfo(path).Length;
        if ((file.Size ?? record?.Size) is { } expectedSize && expectedSize != size)
        {
            problems.Add($"size {size} bytes, expected {expectedSize} ({(file.Size is null ? "as downloaded" : "manifest")}): truncated or replaced; download it again");
        }

        string? sha = null;
        if (hash && problems.Count == 0)
        {
            sha = ComputeSha256(path, file.Path, progress, cancellationToken);
            if ((file.Sha256 ?? record?.Sha256) is { } expectedSha && !string.Equals(expectedSha, sha, StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"SHA-256 {sha}, expected {expectedSha} ({(file.Sha256 is null ? "as downloaded" : "manifest")}): corrupt or replaced; download it again");
            }
        }

        if (problems.Count > 0)
        {
            return new ModelFileCheck(role, file, path, ModelFileStatus.Corrupt, problems, size, sha);
        }

        if (file.Onnx is { } signature)
        {
            OnnxGraphInfo graph;
            try
            {
                graph = OnnxGraphInfo.Read(path);
            }
            catch (InvalidDataException ex)
            {
                return new ModelFileCheck(role, file, path, ModelFileStatus.Unreadable, [ex.Message], size, sha);
            }

            string folder = Path.GetDirectoryName(path)!;
            var missingData = graph.MissingExternalDataFiles(folder);
            if (missingData.Count > 0)
            {
                return new ModelFileCheck(role, file, path, ModelFileStatus.Unreadable,
                    missingData.Select(f => $"its weights file '{f}' is not beside it ({Path.Combine(folder, f)})").ToArray(), size, sha);
            }

            IReadOnlyList<string> mismatches = OnnxSignatureCheck.Compare(graph, signature);
            if (mismatches.Count > 0)
            {
                return new ModelFileCheck(role, file, path, ModelFileStatus.WrongSignature, mismatches, size, sha);
            }
        }

        return new ModelFileCheck(role, file, path, ModelFileStatus.Ok, [], size, sha);
    }

    /// <summary>SHA-256 of a file, lower-case hex (<see cref="FileHash.Sha256"/>), reporting progress as bytes read.</summary>
    public static string ComputeSha256(string path, string displayName, IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        long total = new FileInfo(path).Length;
        return FileHash.Sha256(path, progress is null ? null : new BytesAsDownloadProgress(displayName, total, progress), cancellationToken);
    }

    /// <summary>Bytes hashed so far, reported on the hashing thread as a file's <see cref="DownloadProgress"/>.</summary>
    private sealed class BytesAsDownloadProgress(string displayName, long total, IProgress<DownloadProgress> target) : IProgress<long>
    {
        public void Report(long value) => target.Report(new DownloadProgress(displayName, value, total));
    }

    /// <summary>The download records of a role folder (empty when there are none or the file is unreadable).</summary>
    public static IReadOnlyDictionary<string, ModelFileRecord> ReadRecords(string roleFolder)
    {
        string path = Path.Combine(roleFolder, RecordFileName);
        try
        {
            return File.Exists(path)
                ? JsonSerializer.Deserialize<Dictionary<string, ModelFileRecord>>(File.ReadAllBytes(path), RecordJson) ?? []
                : new Dictionary<string, ModelFileRecord>();
        }
        catch (JsonException)
        {
            return new Dictionary<string, ModelFileRecord>();
        }
    }

    /// <summary>Adds or replaces the record of <paramref name="remotePath"/> (atomic rewrite of the record file).</summary>
    public static void WriteRecord(string roleFolder, string remotePath, ModelFileRecord record)
    {
        var records = new SortedDictionary<string, ModelFileRecord>(ReadRecords(roleFolder).ToDictionary(), StringComparer.Ordinal) { [remotePath] = record };
        AtomicFile.WriteAllBytes(Path.Combine(roleFolder, RecordFileName), JsonSerializer.SerializeToUtf8Bytes(records, RecordJson));
    }
}
