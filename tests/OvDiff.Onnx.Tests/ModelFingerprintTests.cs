using System.Security.Cryptography;
using System.Text;
using OvDiff.Testing;

namespace OvDiff.Onnx.Tests;

public sealed class ModelFingerprintTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Write(string relative, string content)
    {
        string path = _temp.Combine(["sd", .. relative.Split('/')]);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void Compute_IsTheDocumentedHash_OverTheSamplingParts()
    {
        Write("unet/model.onnx", "graph");
        Write("unet/weights.pb", "weights");
        Write("tokenizer/vocab.json", "{}");
        Write("vae_encoder/model.onnx", "not used for sampling");
        Write("unet/.ovdiff-files.json", "record");
        Write("unet/model.ovdiff-1a2b.onnx", "patched copy");
        Write("unet/model.ovdiff-1a2b.json", "patch record");
        Write("unet/big.bin.partial", "half");
        static string Sha(string s) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(s)));
        string list = $"tokenizer/vocab.json\t2\t{Sha("{}")}\nunet/model.onnx\t5\t{Sha("graph")}\nunet/weights.pb\t7\t{Sha("weights")}\n";

        string fingerprint = new ModelFingerprint().Compute(_temp.Combine("sd"), ModelFingerprint.StableDiffusionSamplingParts, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("sha256:" + Sha(list), fingerprint);
        Write("vae_encoder/model.onnx", "changed, still not used");
        Assert.Equal(fingerprint, new ModelFingerprint().Compute(_temp.Combine("sd"), ModelFingerprint.StableDiffusionSamplingParts, cancellationToken: TestContext.Current.CancellationToken));
        Write("unet/weights.pb", "weightz");
        Assert.NotEqual(fingerprint, new ModelFingerprint().Compute(_temp.Combine("sd"), ModelFingerprint.StableDiffusionSamplingParts, cancellationToken: TestContext.Current.CancellationToken));
    }

    [Fact]
    public void Compute_WithCache_ReusesHashesOfUnchangedFiles()
    {
        string weights = Write("unet/weights.pb", "weights");
        var fingerprints = new ModelFingerprint(_temp.Combine("cache.json"));
        string first = fingerprints.Compute(_temp.Combine("sd"), cancellationToken: TestContext.Current.CancellationToken);
        DateTime stamp = File.GetLastWriteTimeUtc(weights);

        // Same size and time stamp: the cache answers without reading (so the changed content goes unnoticed, by design).
        File.WriteAllText(weights, "WEIGHTS");
        File.SetLastWriteTimeUtc(weights, stamp);
        Assert.Equal(first, fingerprints.Compute(_temp.Combine("sd"), cancellationToken: TestContext.Current.CancellationToken));
        // A new time stamp: read again.
        File.SetLastWriteTimeUtc(weights, stamp.AddSeconds(1));
        Assert.NotEqual(first, fingerprints.Compute(_temp.Combine("sd"), cancellationToken: TestContext.Current.CancellationToken));
    }

    [Fact]
    public void Compute_EmptyOrMissingFolder_NamesIt()
    {
        Assert.Contains(_temp.Combine("none"), Assert.Throws<DirectoryNotFoundException>(() => new ModelFingerprint().Compute(_temp.Combine("none"), cancellationToken: TestContext.Current.CancellationToken)).Message, StringComparison.Ordinal);
        Directory.CreateDirectory(_temp.Combine("empty", "unet"));
        Assert.Throws<FileNotFoundException>(() => new ModelFingerprint().Compute(_temp.Combine("empty"), ModelFingerprint.StableDiffusionSamplingParts, cancellationToken: TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData("cpu", ExecutionProviderKind.Cpu, 0)]
    [InlineData("CUDA", ExecutionProviderKind.Cuda, 0)]
    [InlineData("cuda:3", ExecutionProviderKind.Cuda, 3)]
    public void ExecutionDevice_Parses(string text, ExecutionProviderKind kind, int id)
    {
        OnnxRuntimeOptions options = ExecutionDevice.Parse(text);
        Assert.Equal((kind, id), (options.ExecutionProvider, options.CudaDeviceId));
        Assert.Equal(text.ToLowerInvariant() == "cuda" ? "cuda:0" : text, ExecutionDevice.Describe(options));
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    public void ExecutionDevice_Unknown_NamesTheValue(string text) =>
        Assert.Contains($"'{text}'", Assert.Throws<ArgumentException>(() => ExecutionDevice.Parse(text)).Message, StringComparison.Ordinal);
}
