using System.Net;
using System.Net.Http.Headers;

namespace OvDiff.Onnx;

/// <summary>Progress of one download: bytes on disk so far (including a resumed part) and the total when the server says it.</summary>
public readonly record struct DownloadProgress(string RemotePath, long BytesReceived, long? TotalBytes);

/// <summary>Options of <see cref="HuggingFaceDownloader"/>. Immutable.</summary>
public sealed record HuggingFaceDownloaderOptions
{
    /// <summary>Hub address. Default: <c>$HF_ENDPOINT</c>, else https://huggingface.co.</summary>
    public Uri Endpoint { get; init; } = new(Environment.GetEnvironmentVariable("HF_ENDPOINT") is { Length: > 0 } endpoint ? endpoint : "https://huggingface.co");

    /// <summary>Access token sent as a bearer token (gated or private repositories). Default: <c>$HF_TOKEN</c>, else none.</summary>
    public string? Token { get; init; } = Environment.GetEnvironmentVariable("HF_TOKEN") is { Length: > 0 } token ? token : null;

    /// <summary>Resume a previous partial download with an HTTP Range request. Default true.</summary>
    public bool Resume { get; init; } = true;
}

/// <summary>
/// Fetches files from the Hugging Face Hub (<c>{endpoint}/{repository}/resolve/{revision}/{path}</c>). Writes to
/// <c>destination.partial</c> and renames when complete, so a destination file is never half-written; a cancelled or broken
/// download leaves the partial file, which the next call resumes with a Range request when the server allows it.
/// </summary>
public sealed class HuggingFaceDownloader : IDisposable
{
    /// <summary>Suffix of the file being written.</summary>
    public const string PartialSuffix = ".partial";

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly HuggingFaceDownloaderOptions _options;

    /// <summary>Creates a downloader with its own <see cref="HttpClient"/> and the given (or default) options.</summary>
    public HuggingFaceDownloader(HuggingFaceDownloaderOptions? options = null)
        : this(new HttpClient(), ownsHttpClient: true, options)
    {
    }

    /// <summary>Creates a downloader on <paramref name="httpClient"/>, which it disposes only when <paramref name="ownsHttpClient"/> is true.</summary>
    public HuggingFaceDownloader(HttpClient httpClient, bool ownsHttpClient, HuggingFaceDownloaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        _http = httpClient;
        _ownsHttp = ownsHttpClient;
        _options = options ?? new HuggingFaceDownloaderOptions();
    }

    /// <summary>The address of <paramref name="remotePath"/> in <paramref name="repository"/> at <paramref name="revision"/>.</summary>
    public Uri ResolveUri(string repository, string remotePath, string revision = "main")
    {
        ArgumentException.ThrowIfNullOrEmpty(repository);
        ArgumentException.ThrowIfNullOrEmpty(remotePath);
        ArgumentException.ThrowIfNullOrEmpty(revision);
        var baseUri = _options.Endpoint.AbsoluteUri.TrimEnd('/');
        return new Uri($"{baseUri}/{repository}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', remotePath.Split('/').Select(Uri.EscapeDataString))}");
    }

    /// <summary>Downloads one file to <paramref name="destinationPath"/> (folders created); returns the full destination path.</summary>
    public async Task<string> DownloadAsync(
        string repository,
        string remotePath,
        string destinationPath,
        string revision = "main",
        IProgress<DownloadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(destinationPath);
        var uri = ResolveUri(repository, remotePath, revision);
        var destination = Path.GetFullPath(destinationPath);
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        var partial = destination + PartialSuffix;
        var existing = _options.Resume && File.Exists(partial) ? new FileInfo(partial).Length : 0L;

        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        if (_options.Token is { } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (existing > 0)
        {
            request.Headers.Range = new RangeHeaderValue(existing, null);
        }

        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && existing > 0)
        {
            // The partial file is already complete (or longer than the remote one): start over to be safe.
            File.Delete(partial);
            return await DownloadAsync(repository, remotePath, destinationPath, revision, progress, cancellationToken).ConfigureAwait(false);
        }

        if (!response.IsSuccessStatusCode)
        {
            var hint = response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden
                ? " The repository may be gated or private: set HF_TOKEN."
                : string.Empty;
            throw new HttpRequestException($"Downloading {uri} failed: {(int)response.StatusCode} {response.ReasonPhrase}.{hint}", null, response.StatusCode);
        }

        var resumed = response.StatusCode == HttpStatusCode.PartialContent && existing > 0;
        var offset = resumed ? existing : 0L;
        long? total = response.Content.Headers.ContentLength is { } length ? offset + length : null;
        await using (var target = new FileStream(partial, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
        {
            await using var source = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var buffer = new byte[1 << 16];
            var received = offset;
            progress?.Report(new DownloadProgress(remotePath, received, total));
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                received += read;
                progress?.Report(new DownloadProgress(remotePath, received, total));
            }

            if (total is { } expected && received != expected)
            {
                throw new IOException($"Downloading {uri}: got {received} bytes, expected {expected}. Run again to resume.");
            }
        }

        File.Move(partial, destination, overwrite: true);
        return destination;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }
}
