using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace OvDiff.Testing;

/// <summary>One request the hub saw.</summary>
internal sealed record HubRequest(string Method, string Host, string Path, string? Range, string? Authorization);

/// <summary>
/// A minimal Hugging Face Hub on the loopback interface (random port; nothing else is contacted), in the Hub's URL
/// layout: <c>/{owner}/{name}/resolve/{revision}/{path}</c>. Files listed in <see cref="LfsPaths"/> answer as Git LFS
/// files do: a 302 to a "CDN" address on another host name (localhost instead of 127.0.0.1) with <c>X-Linked-Etag</c>
/// (their SHA-256) and <c>X-Linked-Size</c>; the others answer 200 with an ETag. Range requests are honoured unless
/// <see cref="SupportsRange"/> is false; unknown paths are 404.
/// </summary>
internal sealed class LoopbackHub : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private readonly Func<string, byte[]?> _content;
    private readonly int _port;

    /// <summary>Serves <paramref name="content"/> at every path, except paths ending in "missing.onnx" (404).</summary>
    public LoopbackHub(byte[] content)
        : this(path => path.EndsWith("missing.onnx", StringComparison.Ordinal) ? null : content)
    {
    }

    /// <summary>Serves the files of <paramref name="files"/>, keyed by "owner/name/revision/path".</summary>
    public LoopbackHub(IReadOnlyDictionary<string, byte[]> files)
        : this(key => files.TryGetValue(key, out byte[]? bytes) ? bytes : null)
    {
    }

    private LoopbackHub(Func<string, byte[]?> content)
    {
        _content = content;
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        _port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Endpoint = new Uri($"http://127.0.0.1:{_port}/");
        _listener.Prefixes.Add(Endpoint.AbsoluteUri);
        _listener.Prefixes.Add($"http://localhost:{_port}/");
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    public Uri Endpoint { get; }

    public bool SupportsRange { get; set; } = true;

    /// <summary>Keys ("owner/name/revision/path") served as Git LFS files (302 to the CDN host, X-Linked-Etag = SHA-256).</summary>
    public HashSet<string> LfsPaths { get; } = new(StringComparer.Ordinal);

    /// <summary>Overrides the SHA-256 announced for an LFS key (to test a corrupt transfer).</summary>
    public Dictionary<string, string> AnnouncedSha256 { get; } = new(StringComparer.Ordinal);

    public List<HubRequest> Requests { get; } = [];

    /// <summary>"owner/name/revision/path" from a resolve address, or null when it is not one.</summary>
    private static string? ResolveKey(string path)
    {
        string[] parts = path.TrimStart('/').Split('/');
        return parts.Length >= 5 && parts[2] == "resolve"
            ? string.Join('/', new[] { parts[0], parts[1], Uri.UnescapeDataString(parts[3]) }.Concat(parts.Skip(4).Select(Uri.UnescapeDataString)))
            : null;
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            HttpListenerRequest request = context.Request;
            string? range = request.Headers["Range"];
            lock (Requests)
            {
                Requests.Add(new HubRequest(request.HttpMethod, request.Url!.Host, request.Url.AbsolutePath, range, request.Headers["Authorization"]));
            }

            HttpListenerResponse response = context.Response;
            try
            {
                string path = request.Url.AbsolutePath;
                byte[]? content;
                if (path.StartsWith("/cdn/", StringComparison.Ordinal))
                {
                    content = _content(Uri.UnescapeDataString(path["/cdn/".Length..]));
                }
                else
                {
                    string? key = ResolveKey(path);
                    content = key is null ? null : _content(key);
                    if (content is not null && LfsPaths.Contains(key!))
                    {
                        response.StatusCode = 302;
                        response.Headers["Location"] = $"http://localhost:{_port}/cdn/{Uri.EscapeDataString(key!)}";
                        response.Headers["X-Linked-Etag"] = $"\"{AnnouncedSha256.GetValueOrDefault(key!) ?? Convert.ToHexStringLower(SHA256.HashData(content))}\"";
                        response.Headers["X-Linked-Size"] = content.Length.ToString(CultureInfo.InvariantCulture);
                        response.Headers["X-Repo-Commit"] = "0123456789abcdef0123456789abcdef01234567";
                        response.Close();
                        continue;
                    }
                }

                if (content is null)
                {
                    response.StatusCode = 404;
                    response.Close();
                    continue;
                }

                response.Headers["ETag"] = "\"" + Convert.ToHexStringLower(SHA1.HashData(content)) + "\"";
                int start = 0;
                if (SupportsRange && range is { } header && header.StartsWith("bytes=", StringComparison.Ordinal))
                {
                    start = int.Parse(header["bytes=".Length..].TrimEnd('-'), CultureInfo.InvariantCulture);
                    if (start >= content.Length)
                    {
                        response.StatusCode = 416;
                        response.Close();
                        continue;
                    }

                    response.StatusCode = 206;
                    response.Headers["Content-Range"] = $"bytes {start}-{content.Length - 1}/{content.Length}";
                }

                response.ContentLength64 = content.Length - start;
                if (request.HttpMethod != "HEAD")
                {
                    for (int offset = start; offset < content.Length; offset += 16_384)
                    {
                        await response.OutputStream.WriteAsync(content.AsMemory(offset, Math.Min(16_384, content.Length - offset))).ConfigureAwait(false);
                    }
                }

                response.Close();
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException)
            {
                // The client went away (a cancelled download).
            }
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}
