using System.Net;
using OvDiff.Testing;

namespace OvDiff.Onnx.Tests;

/// <summary>Downloads from a loopback <see cref="HttpListener"/> on 127.0.0.1 (random port); no other address is contacted.</summary>
public sealed class HuggingFaceDownloaderTests : IDisposable
{
    private readonly TempFolder _temporary = new();

    private string TempPath => _temporary.Path;
    private readonly byte[] _content = Enumerable.Range(0, 300_000).Select(i => (byte)((i * 7) + (i >> 9))).ToArray();
    private readonly LoopbackHub _hub;

    public HuggingFaceDownloaderTests()
    {
        _hub = new LoopbackHub(_content);
    }

    public void Dispose()
    {
        _hub.Dispose();
        _temporary.Dispose();
    }

    private HuggingFaceDownloader CreateDownloader(string? token = null) =>
        new(new HuggingFaceDownloaderOptions { Endpoint = _hub.Endpoint, Token = token });

    [Fact]
    public async Task DownloadAsync_WritesFileAtomicallyWithProgressAndToken()
    {
        using var downloader = CreateDownloader(token: "secret-token");
        var destination = Path.Combine(TempPath, "dino-vitb8", "onnx", "model.onnx");
        var reports = new List<DownloadProgress>();

        var path = await downloader.DownloadAsync("Xenova/dino-vitb8", "onnx/model.onnx", destination, "main", new SynchronousProgress(reports.Add), TestContext.Current.CancellationToken);

        Assert.Equal(destination, path);
        Assert.Equal(_content, await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken));
        Assert.False(File.Exists(destination + HuggingFaceDownloader.PartialSuffix));
        Assert.Equal("/Xenova/dino-vitb8/resolve/main/onnx/model.onnx", _hub.Requests.Single().Path);
        Assert.Equal("Bearer secret-token", _hub.Requests.Single().Authorization);
        Assert.Equal(_content.Length, reports[^1].BytesReceived);
        Assert.Equal(_content.Length, reports[^1].TotalBytes);
        Assert.True(reports.Count > 2);
    }

    [Fact]
    public async Task DownloadAsync_PartialFileLeftBefore_ResumesWithRange()
    {
        using var downloader = CreateDownloader();
        var destination = Path.Combine(TempPath, "model.onnx");
        Directory.CreateDirectory(TempPath);
        await File.WriteAllBytesAsync(destination + HuggingFaceDownloader.PartialSuffix, _content.AsMemory(0, 123_456).ToArray(), TestContext.Current.CancellationToken);

        await downloader.DownloadAsync("org/repo", "onnx/model.onnx", destination, "v1.0", cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(_content, await File.ReadAllBytesAsync(destination, TestContext.Current.CancellationToken));
        Assert.Equal("bytes=123456-", _hub.Requests.Single().Range);
        Assert.Equal("/org/repo/resolve/v1.0/onnx/model.onnx", _hub.Requests.Single().Path);
    }

    [Fact]
    public async Task DownloadAsync_ServerIgnoresRange_RestartsFromScratch()
    {
        _hub.SupportsRange = false;
        using var downloader = CreateDownloader();
        var destination = Path.Combine(TempPath, "model.onnx");
        Directory.CreateDirectory(TempPath);
        await File.WriteAllBytesAsync(destination + HuggingFaceDownloader.PartialSuffix, new byte[5000], TestContext.Current.CancellationToken);

        await downloader.DownloadAsync("org/repo", "model.onnx", destination, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(_content, await File.ReadAllBytesAsync(destination, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task DownloadAsync_NotFound_ThrowsWithAddressAndLeavesNoFile()
    {
        using var downloader = CreateDownloader();
        var destination = Path.Combine(TempPath, "missing.onnx");

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => downloader.DownloadAsync("org/repo", "missing.onnx", destination, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(HttpStatusCode.NotFound, error.StatusCode);
        Assert.Contains("/org/repo/resolve/main/missing.onnx", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(destination));
    }

    [Fact]
    public async Task DownloadAsync_Cancelled_LeavesOnlyPartialFile()
    {
        using var downloader = CreateDownloader();
        var destination = Path.Combine(TempPath, "model.onnx");
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var progress = new SynchronousProgress(p =>
        {
            if (p.BytesReceived > 0)
            {
                cancellation.Cancel();
            }
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => downloader.DownloadAsync("org/repo", "model.onnx", destination, "main", progress, cancellation.Token));

        Assert.False(File.Exists(destination));
        Assert.True(File.Exists(destination + HuggingFaceDownloader.PartialSuffix));
    }

    [Fact]
    public async Task ModelStore_EnsureAsync_DownloadsIntoStoreLayoutOnce()
    {
        using var downloader = CreateDownloader();
        var store = new ModelStore(TempPath);
        Assert.Throws<ModelFileNotFoundException>(() => store.Require(ModelStore.ClipVitB16Vision));

        var path = await store.EnsureAsync(ModelStore.ClipVitB16Vision, downloader, cancellationToken: TestContext.Current.CancellationToken);
        await store.EnsureAsync(ModelStore.ClipVitB16Vision, downloader, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(Path.Combine(TempPath, "clip-vit-b16", "onnx", "vision_model.onnx"), path);
        Assert.Equal(path, store.Require(ModelStore.ClipVitB16Vision));
        Assert.Single(_hub.Requests);
        Assert.Equal("/Xenova/clip-vit-base-patch16/resolve/main/onnx/vision_model.onnx", _hub.Requests[0].Path);
    }

    [Fact]
    public void Options_HfEndpointWithTrailingSlash_BuildsResolveAddress()
    {
        using var downloader = new HuggingFaceDownloader(new HuggingFaceDownloaderOptions { Endpoint = new Uri("http://127.0.0.1:1/mirror/") });

        Assert.Equal("http://127.0.0.1:1/mirror/a/b/resolve/main/onnx/model.onnx", downloader.ResolveUri("a/b", "onnx/model.onnx").AbsoluteUri);
    }

    private sealed class SynchronousProgress(Action<DownloadProgress> report) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => report(value);
    }
}
