using OvDiff.Onnx;
using OvDiff.Onnx.Tests;
using OvDiff.Testing;

namespace OvDiff.Cli.Tests;

/// <summary>
/// <c>ovdiff models list|download|verify</c> as a user runs them: a separate process, HF_ENDPOINT pointing at a loopback Hub
/// that serves tiny stand-ins of the DINO role in the Hub's URL layout, progress on a pseudo-terminal.
/// </summary>
public sealed class ModelsCommandTests : IDisposable
{
    private readonly TempFolder _temp = new();
    private readonly ModelRole _dino = ModelManifest.Default["dino-vitb8"];
    private readonly Dictionary<string, byte[]> _files;
    private readonly LoopbackHub _hub;

    public ModelsCommandTests()
    {
        _files = TinyRoleFiles.Create(_dino);
        _hub = new LoopbackHub(TinyRoleFiles.AsHub(_dino, _files));
        _hub.LfsPaths.Add($"{_dino.Repository}/main/onnx/model.onnx");
    }

    public void Dispose()
    {
        _hub.Dispose();
        _temp.Dispose();
    }

    private Dictionary<string, string?> Environment(bool offline = false) => new()
    {
        ["HF_ENDPOINT"] = _hub.Endpoint.AbsoluteUri,
        ["HF_HOME"] = _temp.Combine("hf-home"),
        ["HF_TOKEN"] = null,
        ["HF_HUB_CACHE"] = null,
        ["HF_HUB_OFFLINE"] = offline ? "1" : null,
        ["OVDIFF_MODELS"] = _temp.Combine("models"),
    };

    [Fact]
    public void Download_WithAnHfEndpointThatIsNoAddress_IsOneErrorNamingIt()
    {
        Dictionary<string, string?> environment = Environment();
        environment["HF_ENDPOINT"] = "hf-mirror.com";
        ProcessOutcome download = OvdiffProcess.Run(_temp.Path, environment, onTerminal: false, ["models", "download", "dino-vitb8"]);
        Assert.Equal(1, download.ExitCode);
        Assert.Equal("error: HF_ENDPOINT='hf-mirror.com' is not an http or https address (e.g. https://hf-mirror.com); fix or unset it.", download.Output.Trim());
    }

    [Fact]
    public void DownloadVerifyList_OnATerminal_ThenCorruptionAndOfflineErrors()
    {
        ProcessOutcome download = OvdiffProcess.Run(_temp.Path, Environment(), onTerminal: true, ["models", "download", "dino-vitb8"]);
        Assert.True(download.ExitCode == 0, download.Output);
        Assert.Contains("dino-vitb8/onnx/model.onnx: downloaded", download.Output, StringComparison.Ordinal);
        Assert.Contains("download dino-vitb8/onnx/model.onnx", download.Output, StringComparison.Ordinal);   // the progress line
        Assert.Contains('\r', download.Output);
        Assert.DoesNotContain("Exception", download.Output, StringComparison.Ordinal);
        string model = _temp.Combine("models", "dino-vitb8", "onnx", "model.onnx");
        Assert.Equal(_files["onnx/model.onnx"], File.ReadAllBytes(model));

        ProcessOutcome verify = OvdiffProcess.Run(_temp.Path, Environment(), onTerminal: false, ["models", "verify"]);
        Assert.True(verify.ExitCode == 0, verify.Output);
        Assert.Contains($"ok       {model}  sha256 ", verify.Output, StringComparison.Ordinal);

        ProcessOutcome list = OvdiffProcess.Run(_temp.Path, Environment(), onTerminal: false, ["models", "list"]);
        Assert.Contains("dino-vitb8  Xenova/dino-vitb8@main", list.Output, StringComparison.Ordinal);
        Assert.Contains("2/2 files present", list.Output, StringComparison.Ordinal);
        Assert.Contains("0/9 files present", list.Output, StringComparison.Ordinal);

        byte[] bytes = File.ReadAllBytes(model);
        bytes[^3] ^= 1;
        File.WriteAllBytes(model, bytes);
        ProcessOutcome corrupt = OvdiffProcess.Run(_temp.Path, Environment(), onTerminal: false, ["models", "verify", "dino-vitb8"]);
        Assert.Equal(1, corrupt.ExitCode);
        Assert.Contains($"error:   {model}: SHA-256 ", corrupt.Output, StringComparison.Ordinal);

        int requests = _hub.Requests.Count;
        ProcessOutcome offline = OvdiffProcess.Run(_temp.Path, Environment(offline: true), onTerminal: false, ["models", "download", "clip-vit-b16"]);
        Assert.NotEqual(0, offline.ExitCode);
        Assert.Contains("Cannot fetch the 'clip-vit-b16' model", offline.Output, StringComparison.Ordinal);
        Assert.Contains($"{_temp.Combine("models", "clip-vit-b16", "onnx", "vision_model.onnx")}  <-  {_hub.Endpoint}Xenova/clip-vit-base-patch16/resolve/main/onnx/vision_model.onnx", offline.Output, StringComparison.Ordinal);
        Assert.Contains($"{_temp.Combine("models", "clip-vit-b16", "merges.txt")}  <-  {_hub.Endpoint}openai/clip-vit-base-patch16/resolve/main/merges.txt", offline.Output, StringComparison.Ordinal);
        Assert.Equal(requests, _hub.Requests.Count);
    }
}
