using System.Net;
using System.Net.Http.Headers;

namespace OvDiff.Onnx;

/// <summary>Progress of one download: bytes on disk so far (including a resumed part) and the total when the server says it.</summary>
public readonly record struct DownloadProgress(string RemotePath, long BytesReceived, long? TotalBytes);

/// <summary>
/// What the Hub reports about a file: <paramref name="Size"/> in bytes, <paramref name="Sha256"/> (Git LFS files only),
/// the raw <paramref name="ETag"/> and the <paramref name="Commit"/> the revision resolved to. Any may be null.
/// </summary>
public sealed record HubFileMetadata(long? Size, string? Sha256, string? ETag, string? Commit);

/// <summary>Options of <see cref="HuggingFaceDownloader"/>. Immutable.</summary>
public sealed record HuggingFaceDownloaderOptions
{
    /// <summary>Hub address. Default: <c>$HF_ENDPOINT</c>, else https://huggingface.co.</summary>
    public Uri Endpoint { get; init; } = EndpointFromEnvironment();

    /// <summary>
    /// Access token sent as a bearer token to the Hub's own host (gated or private repositories), never to the hosts it
    /// redirects to. Default: <c>$HF_TOKEN</c>, else the token file that <c>huggingface-cli login</c> writes
    /// (<c>$HF_TOKEN_PATH</c>, else <c>$HF_HOME/token</c>), else none.
    /// </summary>
    public string? Token { get; init; } = HuggingFaceEnvironment.ReadToken();

    /// <summary>Never contact the Hub (<c>$HF_HUB_OFFLINE</c> = 1 or true). Default: from the environment.</summary>
    public bool Offline { get; init; } = HuggingFaceEnvironment.IsOffline;

    /// <summary>Resume a previous partial download with an HTTP Range request. Default true.</summary>
    public bool Resume { get; init; } = true;

    /// <summary><c>$HF_ENDPOINT</c> (an absolute http or https address), else https://huggingface.co; another value is an error naming it.</summary>
    private static Uri EndpointFromEnvironment()
    {
        string? endpoint = Environment.GetEnvironmentVariable("HF_ENDPOINT");
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            return new Uri("https://huggingface.co");
        }

        return Uri.TryCreate(endpoint.Trim(), UriKind.Absolute, out Uri? address) && (address.Scheme == Uri.UriSchemeHttp || address.Scheme == Uri.UriSchemeHttps)
            ? address
            : throw new FormatException($"HF_ENDPOINT='{endpoint}' is not an http or https address (e.g. https://hf-mirror.com); fix or unset it.");
    }
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
        : this(new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }), ownsHttpClient: true, options)
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

    /// <summary>The options in use.</summary>
    public HuggingFaceDownloaderOptions Options => _options;

    /// <summary>The address of <paramref name="remotePath"/> in <paramref name="repository"/> at <paramref name="revision"/>.</summary>
    public Uri ResolveUri(string repository, string remotePath, string revision = "main")
    {
        ArgumentException.ThrowIfNullOrEmpty(repository);
        ArgumentException.ThrowIfNullOrEmpty(remotePath);
        ArgumentException.ThrowIfNullOrEmpty(revision);
        var baseUri = _options.Endpoint.AbsoluteUri.TrimEnd('/');
        return new Uri($"{baseUri}/{repository}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', remotePath.Split('/').Select(Uri.EscapeDataString))}");
    }

    /// <summary>
    /// What the Hub says about a file without downloading it (a HEAD request): its size, its SHA-256 when it is stored
    /// with Git LFS (<c>X-Linked-Etag</c>), and the commit the revision resolves to. A missing file throws
    /// <see cref="HttpRequestException"/> with the status code.
    /// </summary>
    public async Task<HubFileMetadata> GetMetadataAsync(string repository, string remotePath, string revision = "main", CancellationToken cancellationToken = default)
    {
        var uri = ResolveUri(repository, remotePath, revision);
        using var response = await SendAsync(HttpMethod.Head, uri, rangeStart: 0, cancellationToken).ConfigureAwait(false);
        ThrowIfFailed(response.Response, uri);
        return response.Metadata with { Size = response.Metadata.Size ?? response.Response.Content.Headers.ContentLength };
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

        using var hop = await SendAsync(HttpMethod.Get, uri, existing, cancellationToken).ConfigureAwait(false);
        var response = hop.Response;
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && existing > 0)
        {
            // The partial file is already complete (or longer than the remote one): start over to be safe.
            File.Delete(partial);
            return await DownloadAsync(repository, remotePath, destinationPath, revision, progress, cancellationToken).ConfigureAwait(false);
        }

        ThrowIfFailed(response, uri);
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

    /// <summary>
    /// Sends the request and follows redirects itself (at most 5): the token goes only to the Hub's host (not to the CDN
    /// it redirects to), and the Hub's own headers (X-Linked-Etag, X-Linked-Size, X-Repo-Commit) are kept from the first hop.
    /// </summary>
    private async Task<Hop> SendAsync(HttpMethod method, Uri uri, long rangeStart, CancellationToken cancellationToken)
    {
        if (_options.Offline)
        {
            throw new HttpRequestException($"Not contacting {_options.Endpoint.Host}: offline mode (HF_HUB_OFFLINE) is on.");
        }

        HubFileMetadata metadata = new(null, null, null, null);
        Uri current = uri;
        for (int hops = 0; ; hops++)
        {
            using var request = new HttpRequestMessage(method, current);
            if (_options.Token is { } token && string.Equals(current.Host, _options.Endpoint.Host, StringComparison.OrdinalIgnoreCase) && current.Port == _options.Endpoint.Port)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            if (rangeStart > 0)
            {
                request.Headers.Range = new RangeHeaderValue(rangeStart, null);
            }

            var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (hops == 0)
            {
                metadata = ReadHubHeaders(response);
            }

            int status = (int)response.StatusCode;
            if (status is >= 300 and < 400 && response.Headers.Location is { } location)
            {
                response.Dispose();
                if (hops >= 5)
                {
                    throw new HttpRequestException($"Downloading {uri}: more than 5 redirects.");
                }

                current = location.IsAbsoluteUri ? location : new Uri(current, location);
                continue;
            }

            return new Hop(response, metadata);
        }
    }

    private static HubFileMetadata ReadHubHeaders(HttpResponseMessage response)
    {
        static string? Header(HttpResponseMessage r, string name) =>
            r.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault()?.Trim().Trim('"') : null;

        string? linkedEtag = Header(response, "X-Linked-Etag");
        string? sha256 = linkedEtag is { Length: 64 } && linkedEtag.All(Uri.IsHexDigit) ? linkedEtag.ToLowerInvariant() : null;
        long? size = long.TryParse(Header(response, "X-Linked-Size"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long linkedSize) ? linkedSize : null;
        return new HubFileMetadata(size, sha256, linkedEtag ?? Header(response, "ETag"), Header(response, "X-Repo-Commit"));
    }

    private static void ThrowIfFailed(HttpResponseMessage response, Uri uri)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var hint = response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden
            ? " The repository may be gated or private: set HF_TOKEN (or log in with huggingface-cli, which writes $HF_HOME/token)."
            : string.Empty;
        throw new HttpRequestException($"Downloading {uri} failed: {(int)response.StatusCode} {response.ReasonPhrase}.{hint}", null, response.StatusCode);
    }

    private sealed class Hop(HttpResponseMessage response, HubFileMetadata metadata) : IDisposable
    {
        public HttpResponseMessage Response { get; } = response;

        public HubFileMetadata Metadata { get; } = metadata;

        public void Dispose() => Response.Dispose();
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
