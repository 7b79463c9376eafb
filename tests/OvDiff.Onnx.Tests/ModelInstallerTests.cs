using System.Security.Cryptography;
using OvDiff.Testing;

namespace OvDiff.Onnx.Tests;

/// <summary>
/// <see cref="ModelInstaller"/> and <see cref="ModelVerifier"/> against a loopback Hub serving a tiny stand-in of each role
/// in the Hub's URL layout (ONNX files as Git LFS files behind a redirect, the rest plain).
/// </summary>
public sealed class ModelInstallerTests : IDisposable
{
    private readonly TempFolder _temp = new();
    private readonly ModelRole _sd = ModelManifest.Default["sd15"];
    private readonly Dictionary<string, byte[]> _files;
    private readonly LoopbackHub _hub;

    public ModelInstallerTests()
    {
        _files = TinyRoleFiles.Create(_sd);
        _hub = new LoopbackHub(TinyRoleFiles.AsHub(_sd, _files));
        foreach (ModelFileEntry file in _sd.Files.Where(f => f.Path.EndsWith(".onnx", StringComparison.Ordinal) || f.Path.EndsWith(".pb", StringComparison.Ordinal)))
        {
            _hub.LfsPaths.Add($"{file.Repository}/{file.Revision}/{file.Path}");
        }
    }

    public void Dispose()
    {
        _hub.Dispose();
        _temp.Dispose();
    }

    private HuggingFaceDownloader Downloader(Uri? endpoint = null, string? token = null, bool offline = false) =>
        new(new HuggingFaceDownloaderOptions { Endpoint = endpoint ?? _hub.Endpoint, Token = token, Offline = offline });

    private string EmptyHubCache => _temp.Combine("empty-hub-cache");

    [Fact]
    public async Task Install_DownloadsEveryFile_ChecksLfsHashes_RecordsThem_AndVerifies()
    {
        var store = new ModelStore(_temp.Combine("models"));
        using var downloader = Downloader(token: "hf_secret");
        var reports = new List<ModelInstallProgress>();

        IReadOnlyList<InstalledModelFile> installed = await new ModelInstaller(store, downloader, EmptyHubCache)
            .InstallAsync(_sd, progress: new Sync<ModelInstallProgress>(reports.Add), cancellationToken: TestContext.Current.CancellationToken);

        Assert.All(installed, f => Assert.Equal(ModelFileOrigin.Downloaded, f.Origin));
        foreach (ModelFileEntry file in _sd.Files)
        {
            Assert.Equal(_files[file.Path], await File.ReadAllBytesAsync(store.PathOf(_sd, file), TestContext.Current.CancellationToken));
        }

        // The token goes to the Hub, never to the CDN host it redirects to.
        Assert.All(_hub.Requests.Where(r => r.Host == "127.0.0.1"), r => Assert.Equal("Bearer hf_secret", r.Authorization));
        Assert.Contains(_hub.Requests, r => r.Host == "localhost");
        Assert.All(_hub.Requests.Where(r => r.Host == "localhost"), r => Assert.Null(r.Authorization));

        IReadOnlyDictionary<string, ModelFileRecord> records = ModelVerifier.ReadRecords(store.FolderOf(_sd));
        Assert.True(records["unet/weights.pb"].VerifiedAgainstHub);
        Assert.False(records["scheduler/scheduler_config.json"].VerifiedAgainstHub);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(_files["unet/model.onnx"])), records["unet/model.onnx"].Sha256);
        Assert.Contains(reports, r => r.Phase == "download" && r.Path == "unet/weights.pb" && r.Bytes == _files["unet/weights.pb"].Length);
        Assert.Contains(reports, r => r.Phase == "verify");

        IReadOnlyList<ModelFileCheck> checks = ModelVerifier.Verify(store, _sd, hash: true, cancellationToken: TestContext.Current.CancellationToken);
        Assert.All(checks, c => Assert.Equal(ModelFileStatus.Ok, c.Status));

        // A second run keeps everything and asks nothing of the Hub.
        int before = _hub.Requests.Count;
        IReadOnlyList<InstalledModelFile> again = await new ModelInstaller(store, downloader, EmptyHubCache).InstallAsync(_sd, cancellationToken: TestContext.Current.CancellationToken);
        Assert.All(again, f => Assert.Equal(ModelFileOrigin.AlreadyPresent, f.Origin));
        Assert.Equal(before, _hub.Requests.Count);
    }

    [Fact]
    public async Task Verify_AfterCorruptionTruncationOrMissingWeights_NamesFileAndProblem()
    {
        var store = new ModelStore(_temp.Combine("models"));
        using var downloader = Downloader();
        await new ModelInstaller(store, downloader, EmptyHubCache).InstallAsync(_sd, cancellationToken: TestContext.Current.CancellationToken);
        string encoder = store.PathOf(_sd, _sd.File("text_encoder/model.onnx"));
        byte[] bytes = await File.ReadAllBytesAsync(encoder, TestContext.Current.CancellationToken);
        bytes[^1] ^= 0x55;
        await File.WriteAllBytesAsync(encoder, bytes, TestContext.Current.CancellationToken);
        string vocab = store.PathOf(_sd, _sd.File("tokenizer/vocab.json"));
        await File.WriteAllTextAsync(vocab, "{}", TestContext.Current.CancellationToken);
        File.Delete(store.PathOf(_sd, _sd.File("unet/weights.pb")));

        var checks = ModelVerifier.Verify(store, _sd, hash: true, cancellationToken: TestContext.Current.CancellationToken).ToDictionary(c => c.File.Path);

        Assert.Equal(ModelFileStatus.Corrupt, checks["text_encoder/model.onnx"].Status);
        Assert.Contains("SHA-256", Assert.Single(checks["text_encoder/model.onnx"].Problems), StringComparison.Ordinal);
        Assert.Equal(ModelFileStatus.Corrupt, checks["tokenizer/vocab.json"].Status);
        Assert.StartsWith("size 2 bytes, expected", Assert.Single(checks["tokenizer/vocab.json"].Problems), StringComparison.Ordinal);
        Assert.Equal(ModelFileStatus.Missing, checks["unet/weights.pb"].Status);
        Assert.Equal(ModelFileStatus.Unreadable, checks["unet/model.onnx"].Status);
        Assert.Contains("its weights file 'weights.pb' is not beside it", Assert.Single(checks["unet/model.onnx"].Problems), StringComparison.Ordinal);
        Assert.Equal(ModelFileStatus.Ok, checks["vae_decoder/model.onnx"].Status);

        // Download repairs what is missing or the wrong size (the bit flip keeps the size: only hashing finds it).
        await new ModelInstaller(store, downloader, EmptyHubCache).InstallAsync(_sd, cancellationToken: TestContext.Current.CancellationToken);
        checks = ModelVerifier.Verify(store, _sd, hash: true, cancellationToken: TestContext.Current.CancellationToken).ToDictionary(c => c.File.Path);
        Assert.Equal(ModelFileStatus.Ok, checks["unet/model.onnx"].Status);
        Assert.Equal(ModelFileStatus.Ok, checks["tokenizer/vocab.json"].Status);
        Assert.Equal(ModelFileStatus.Corrupt, checks["text_encoder/model.onnx"].Status);
    }

    [Fact]
    public async Task Install_HubAnnouncesOtherSha256_FileIsDeletedAndErrorNamesIt()
    {
        string key = $"{_sd.Repository}/main/vae_decoder/model.onnx";
        _hub.AnnouncedSha256[key] = new string('0', 64);
        var store = new ModelStore(_temp.Combine("models"));
        using var downloader = Downloader();

        var error = await Assert.ThrowsAsync<ModelIntegrityException>(() => new ModelInstaller(store, downloader, EmptyHubCache).InstallAsync(_sd, cancellationToken: TestContext.Current.CancellationToken));

        string path = store.PathOf(_sd, _sd.File("vae_decoder/model.onnx"));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("expected " + new string('0', 64) + " (Hub)", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task Install_Unreachable_OneErrorListsEveryMissingFileWithItsAddress()
    {
        var store = new ModelStore(_temp.Combine("models"));
        string present = store.PathOf(_sd, _sd.File("tokenizer/vocab.json"));
        Directory.CreateDirectory(Path.GetDirectoryName(present)!);
        await File.WriteAllBytesAsync(present, _files["tokenizer/vocab.json"], TestContext.Current.CancellationToken);
        using var downloader = Downloader(endpoint: new Uri("http://127.0.0.1:9/"));   // discard port: connection refused

        var error = await Assert.ThrowsAsync<ModelsUnavailableException>(() => new ModelInstaller(store, downloader, EmptyHubCache).InstallAsync(_sd, cancellationToken: TestContext.Current.CancellationToken));

        var required = _sd.Files.Where(f => f.Required && f.Path != "tokenizer/vocab.json").ToList();
        Assert.Equal(required.Select(f => store.PathOf(_sd, f)), error.Files.Select(f => f.LocalPath));
        foreach (ModelFileEntry file in required)
        {
            Assert.Contains($"{store.PathOf(_sd, file)}  <-  http://127.0.0.1:9/onnx-community/stable-diffusion-v1-5-ONNX/resolve/main/{file.Path}", error.Message, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(present, error.Message, StringComparison.Ordinal);
        Assert.Contains("HF_ENDPOINT", error.Message, StringComparison.Ordinal);

        // Offline mode: the same error without touching the network.
        using var offline = Downloader(offline: true);
        var offlineError = await Assert.ThrowsAsync<ModelsUnavailableException>(() => new ModelInstaller(store, offline, EmptyHubCache).InstallAsync(_sd, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Contains("offline mode (HF_HUB_OFFLINE)", offlineError.Message, StringComparison.Ordinal);
        Assert.Empty(_hub.Requests);
    }

    [Fact]
    public async Task Install_FilesInTheHubCache_AreCopiedWithoutNetwork()
    {
        // The layout huggingface-cli writes: models--owner--name/refs/main holds the commit; snapshots/COMMIT/path the file.
        string cache = _temp.Combine("hf-home", "hub");
        const string commit = "89abcdef0123456789abcdef0123456789abcdef";
        foreach ((string key, byte[] bytes) in TinyRoleFiles.AsHub(_sd, _files))
        {
            ModelFileEntry file = _sd.Files.Single(f => key == $"{f.Repository}/{f.Revision}/{f.Path}");
            string repoFolder = Path.Combine(cache, "models--" + file.Repository.Replace("/", "--", StringComparison.Ordinal));
            Directory.CreateDirectory(Path.Combine(repoFolder, "refs"));
            await File.WriteAllTextAsync(Path.Combine(repoFolder, "refs", "main"), commit + "\n", TestContext.Current.CancellationToken);
            string snapshot = Path.Combine(repoFolder, "snapshots", commit, file.Path);
            Directory.CreateDirectory(Path.GetDirectoryName(snapshot)!);
            await File.WriteAllBytesAsync(snapshot, bytes, TestContext.Current.CancellationToken);
        }

        var store = new ModelStore(_temp.Combine("models"));
        using var offline = Downloader(offline: true);
        IReadOnlyList<InstalledModelFile> installed = await new ModelInstaller(store, offline, cache).InstallAsync(_sd, cancellationToken: TestContext.Current.CancellationToken);

        Assert.All(installed, f => Assert.Equal(ModelFileOrigin.FromHubCache, f.Origin));
        Assert.All(ModelVerifier.Verify(store, _sd, hash: true, cancellationToken: TestContext.Current.CancellationToken), c => Assert.Equal(ModelFileStatus.Ok, c.Status));
        Assert.Empty(_hub.Requests);
    }

    [Fact]
    public async Task Install_Cancelled_ThenResumedWithRange()
    {
        var store = new ModelStore(_temp.Combine("models"));
        var role = new ModelRole("big", "", "org/big", "main", null, [new ModelFileEntry("weights.bin", "org/big", "main", true, null, null, null, null, null)]);
        byte[] content = Enumerable.Range(0, 400_000).Select(i => (byte)(i * 31)).ToArray();
        using var hub = new LoopbackHub(new Dictionary<string, byte[]> { ["org/big/main/weights.bin"] = content });
        hub.LfsPaths.Add("org/big/main/weights.bin");
        using var downloader = Downloader(endpoint: hub.Endpoint);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new ModelInstaller(store, downloader, EmptyHubCache).InstallAsync(role,
            progress: new Sync<ModelInstallProgress>(p =>
            {
                if (p.Phase == "download" && p.Bytes > 100_000)
                {
                    cancel.Cancel();
                }
            }),
            cancellationToken: cancel.Token));
        string path = store.PathOf(role, role.Files[0]);
        Assert.False(File.Exists(path));
        long partial = new FileInfo(path + HuggingFaceDownloader.PartialSuffix).Length;
        Assert.InRange(partial, 100_000, content.Length - 1);

        await new ModelInstaller(store, downloader, EmptyHubCache).InstallAsync(role, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(content, await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken));
        Assert.Contains(hub.Requests, r => r.Range == $"bytes={partial}-" && r.Host == "localhost");
        Assert.True(ModelVerifier.ReadRecords(store.FolderOf(role))["weights.bin"].VerifiedAgainstHub);
    }

    [Fact]
    public void HubCacheLookup_FollowsRefsAndCommitRevisions()
    {
        string cache = _temp.Combine("hub");
        string snapshot = Path.Combine(cache, "models--org--name", "snapshots", "c0ffee", "onnx", "model.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(snapshot)!);
        File.WriteAllText(snapshot, "x");
        Directory.CreateDirectory(Path.Combine(cache, "models--org--name", "refs"));
        File.WriteAllText(Path.Combine(cache, "models--org--name", "refs", "main"), "c0ffee");

        Assert.Equal(snapshot, HuggingFaceEnvironment.FindInHubCache("org/name", "onnx/model.onnx", "main", cache));
        Assert.Null(HuggingFaceEnvironment.FindInHubCache("org/name", "onnx/other.onnx", "main", cache));
        Assert.Null(HuggingFaceEnvironment.FindInHubCache("org/name", "onnx/model.onnx", "v2", cache));
        Assert.Null(HuggingFaceEnvironment.FindInHubCache("org/other", "onnx/model.onnx", "main", cache));
    }

    private sealed class Sync<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
