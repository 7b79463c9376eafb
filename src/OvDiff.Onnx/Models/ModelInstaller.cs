using System.Globalization;
using System.Net;
using System.Text;

namespace OvDiff.Onnx;

/// <summary>How a file came to be in the store.</summary>
public enum ModelFileOrigin
{
    /// <summary>It was there already (size as expected where known).</summary>
    AlreadyPresent,

    /// <summary>Copied from the Hugging Face hub cache (<c>$HF_HUB_CACHE</c>).</summary>
    FromHubCache,

    /// <summary>Downloaded from the Hub (or resumed).</summary>
    Downloaded,

    /// <summary>An optional file that the repository does not have (404).</summary>
    NotOnHub,
}

/// <summary>One file handled by <see cref="ModelInstaller"/>.</summary>
public sealed record InstalledModelFile(ModelFileEntry File, string LocalPath, ModelFileOrigin Origin);

/// <summary>Progress of <see cref="ModelInstaller.InstallAsync"/>: file <paramref name="FileNumber"/> of <paramref name="FileCount"/>, bytes of that file.</summary>
public readonly record struct ModelInstallProgress(string Role, int FileNumber, int FileCount, string Path, string Phase, long Bytes, long? TotalBytes);

/// <summary>The Hub cannot be reached (no network, offline mode) and files are missing: lists them and where each goes.</summary>
public sealed class ModelsUnavailableException : IOException
{
    /// <summary>Creates the exception.</summary>
    public ModelsUnavailableException(string message, IReadOnlyList<(string LocalPath, Uri Address)> files, Exception? inner)
        : base(message, inner)
    {
        Files = files;
    }

    /// <summary>The missing files: where each goes and where it can be downloaded.</summary>
    public IReadOnlyList<(string LocalPath, Uri Address)> Files { get; }
}

/// <summary>A downloaded or copied file whose content does not match the manifest or the Hub's SHA-256; it was not kept.</summary>
public sealed class ModelIntegrityException(string message) : IOException(message);

/// <summary>
/// Puts a role's files into a <see cref="ModelStore"/>: files already there (with the expected size) are kept, files in the
/// Hugging Face hub cache are copied, the rest are downloaded (resumable, atomic: <c>*.partial</c> then rename). Each new
/// file is hashed and checked against the manifest's SHA-256 or the one the Hub reports for Git LFS files, then recorded
/// in <c>ROLE/.ovdiff-files.json</c> for <c>ovdiff models verify</c>. When the Hub cannot be reached, one
/// <see cref="ModelsUnavailableException"/> lists every missing file and where to put it.
/// </summary>
public sealed class ModelInstaller
{
    private readonly ModelStore _store;
    private readonly HuggingFaceDownloader _downloader;
    private readonly string? _hubCache;

    /// <summary>Creates an installer; <paramref name="hubCache"/> overrides <see cref="HuggingFaceEnvironment.HubCache"/> (null: the environment's).</summary>
    public ModelInstaller(ModelStore store, HuggingFaceDownloader downloader, string? hubCache = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(downloader);
        _store = store;
        _downloader = downloader;
        _hubCache = hubCache;
    }

    /// <summary>
    /// Installs the files of <paramref name="role"/> (optional ones too unless <paramref name="requiredOnly"/>).
    /// Cancelling leaves complete files and at most one <c>*.partial</c> that the next call resumes.
    /// </summary>
    public async Task<IReadOnlyList<InstalledModelFile>> InstallAsync(ModelRole role, bool requiredOnly = false, IProgress<ModelInstallProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(role);
        string folder = _store.FolderOf(role);
        IReadOnlyDictionary<string, ModelFileRecord> records = ModelVerifier.ReadRecords(folder);
        var files = role.Files.Where(f => f.Required || !requiredOnly).ToList();
        var pending = files.Where(f => !IsPresent(role, f, records.GetValueOrDefault(f.Path))).ToList();
        CheckFreeSpace(role, pending);

        var results = new List<InstalledModelFile>();
        for (int i = 0; i < files.Count; i++)
        {
            ModelFileEntry file = files[i];
            string path = _store.PathOf(role, file);
            if (!pending.Contains(file))
            {
                results.Add(new InstalledModelFile(file, path, ModelFileOrigin.AlreadyPresent));
                continue;
            }

            var fileProgress = new Progress(progress, role.Name, i + 1, files.Count, file.Path);
            if (HuggingFaceEnvironment.FindInHubCache(file.Repository, file.Path, file.Revision, _hubCache) is { } cached)
            {
                await CopyAsync(cached, path, fileProgress, cancellationToken).ConfigureAwait(false);
                Record(role, file, path, null, $"hub cache: {cached}", fileProgress, cancellationToken);
                results.Add(new InstalledModelFile(file, path, ModelFileOrigin.FromHubCache));
                continue;
            }

            try
            {
                HubFileMetadata metadata = await _downloader.GetMetadataAsync(file.Repository, file.Path, file.Revision, cancellationToken).ConfigureAwait(false);
                if (file.Size is { } expected && metadata.Size is { } reported && expected != reported)
                {
                    throw new ModelIntegrityException($"{file.Repository}/{file.Path} is {reported} bytes on the Hub, the manifest says {expected}: the repository changed; pin its revision in the manifest or update the size.");
                }

                await _downloader.DownloadAsync(file.Repository, file.Path, path, file.Revision, fileProgress.Download, cancellationToken).ConfigureAwait(false);
                Record(role, file, path, metadata, _downloader.ResolveUri(file.Repository, file.Path, file.Revision).AbsoluteUri, fileProgress, cancellationToken);
                results.Add(new InstalledModelFile(file, path, ModelFileOrigin.Downloaded));
            }
            catch (HttpRequestException ex) when (ex.StatusCode == HttpStatusCode.NotFound && !file.Required)
            {
                results.Add(new InstalledModelFile(file, path, ModelFileOrigin.NotOnHub));
            }
            catch (HttpRequestException ex) when (ex.StatusCode is null)
            {
                throw Unavailable(role, pending.Skip(pending.IndexOf(file)).Where(f => f.Required).ToList(), ex);
            }
        }

        return results;
    }

    /// <summary>The error for files that cannot be fetched: each file's local path and address, and the ways to provide them.</summary>
    public ModelsUnavailableException Unavailable(ModelRole role, IReadOnlyList<ModelFileEntry> missing, Exception? cause)
    {
        ArgumentNullException.ThrowIfNull(role);
        ArgumentNullException.ThrowIfNull(missing);
        var files = missing.Select(f => (_store.PathOf(role, f), _downloader.ResolveUri(f.Repository, f.Path, f.Revision))).ToList();
        var message = new StringBuilder();
        message.Append(CultureInfo.InvariantCulture, $"Cannot fetch the '{role.Name}' model from {_downloader.Options.Endpoint.Host}");
        message.Append(cause is null ? "" : $" ({cause.Message.TrimEnd('.')})");
        message.Append(CultureInfo.InvariantCulture, $". Put these {files.Count} file(s) in place by hand (on a machine with access: huggingface-cli download {role.Repository} --local-dir DIR), ");
        message.Append(CultureInfo.InvariantCulture, $"or set HF_ENDPOINT to a reachable mirror, or fill the hub cache ({_hubCache ?? HuggingFaceEnvironment.HubCache}):");
        foreach ((string local, Uri address) in files)
        {
            message.Append(CultureInfo.InvariantCulture, $"\n  {local}  <-  {address}");
        }

        return new ModelsUnavailableException(message.ToString(), files, cause);
    }

    private bool IsPresent(ModelRole role, ModelFileEntry file, ModelFileRecord? record)
    {
        string path = _store.PathOf(role, file);
        if (!File.Exists(path))
        {
            return false;
        }

        long? expected = file.Size ?? record?.Size;
        return expected is null || new FileInfo(path).Length == expected;
    }

    private void CheckFreeSpace(ModelRole role, IReadOnlyList<ModelFileEntry> pending)
    {
        long needed = pending.Sum(f => f.Size ?? f.ApproximateBytes ?? 0);
        Directory.CreateDirectory(_store.FolderOf(role));
        long free;
        try
        {
            free = new DriveInfo(_store.FolderOf(role)).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is ArgumentException or IOException or UnauthorizedAccessException)
        {
            return;
        }

        if (needed > free)
        {
            throw new IOException(string.Create(CultureInfo.InvariantCulture,
                $"The '{role.Name}' model needs about {needed / 1e9:F1} GB in {_store.FolderOf(role)}, but only {free / 1e9:F1} GB are free: free some space or choose another model folder (--models or $OVDIFF_MODELS)."));
        }
    }

    private static async Task CopyAsync(string source, string destination, Progress progress, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        string partial = destination + HuggingFaceDownloader.PartialSuffix;
        await using (var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true))
        await using (var output = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true))
        {
            var buffer = new byte[1 << 20];
            long done = 0, total = input.Length;
            int read;
            while ((read = await input.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                done += read;
                progress.Report("copy from hub cache", done, total);
            }
        }

        File.Move(partial, destination, overwrite: true);
    }

    /// <summary>Hashes the new file, checks it against the manifest or the Hub's SHA-256 (deleting it on a mismatch), and records it.</summary>
    private void Record(ModelRole role, ModelFileEntry file, string path, HubFileMetadata? metadata, string source, Progress progress, CancellationToken cancellationToken)
    {
        string sha = ModelVerifier.ComputeSha256(path, file.Path, progress.Hash, cancellationToken);
        long size = new FileInfo(path).Length;
        string? expected = file.Sha256 ?? metadata?.Sha256;
        string? problem = expected is not null && !string.Equals(expected, sha, StringComparison.OrdinalIgnoreCase)
            ? $"SHA-256 {sha}, expected {expected} ({(file.Sha256 is null ? "Hub" : "manifest")})"
            : (file.Size ?? metadata?.Size) is { } expectedSize && expectedSize != size ? $"{size} bytes, expected {expectedSize}" : null;
        if (problem is not null)
        {
            File.Delete(path);
            throw new ModelIntegrityException($"{path} from {source}: {problem}. The file was deleted; run the download again.");
        }

        ModelVerifier.WriteRecord(_store.FolderOf(role), file.Path, new ModelFileRecord(size, sha, source, metadata?.Commit, expected is not null));
    }

    private sealed class Progress(IProgress<ModelInstallProgress>? inner, string role, int number, int count, string path)
    {
        public IProgress<DownloadProgress> Download => new Relay(this, "download");

        public IProgress<DownloadProgress> Hash => new Relay(this, "verify");

        public void Report(string phase, long bytes, long? total) => inner?.Report(new ModelInstallProgress(role, number, count, path, phase, bytes, total));

        private sealed class Relay(Progress owner, string phase) : IProgress<DownloadProgress>
        {
            public void Report(DownloadProgress value) => owner.Report(phase, value.BytesReceived, value.TotalBytes);
        }
    }
}
