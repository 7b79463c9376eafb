using BenchmarkDotNet.Attributes;
using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;
using OvDiff.Imaging.Support;
using OvDiff.Onnx;

namespace OvDiff.Benchmarks;

/// <summary>
/// What the support store adds per sampled image, next to a UNet step (about 0.1 s on an H200 for a batch of 8, 100 s on
/// this CPU for one image): writing a 512x512 item (PNG image, .npy map, attribution-threshold mask at image size), and
/// hashing model files for the fingerprint (first run only).
/// Run: dotnet run -c Release --project tests/OvDiff.Benchmarks -- --filter '*SupportStore*' --job short
/// </summary>
[MemoryDiagnoser]
public class SupportStoreBenchmarks
{
    private string _folder = "";
    private SupportStore _store = null!;
    private RgbImage _image = null!;
    private AttributionMap _map = null!;
    private string _weights = "";
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "ovdiff-bench-store-" + Guid.NewGuid().ToString("N"));
        var settings = new SupportSamplingSettings("sha256:bench", "DpmSolverMultistep", 30, 8, 42, SupportImageRequest.ReferencePromptTemplate, SupportImageRequest.ReferenceNegativePrompt, 512, 512, 8, "bench");
        _store = SupportStore.OpenOrCreate(Path.Combine(_folder, "store"), "bench", settings, 100_000, [("cat", [5])]);
        var random = new Random(3);

        // A smooth image (like a photo, unlike noise) and a blob-shaped map.
        var pixels = new byte[512 * 512 * 3];
        for (int y = 0; y < 512; y++)
        {
            for (int x = 0; x < 512; x++)
            {
                int i = ((y * 512) + x) * 3;
                pixels[i] = (byte)(x / 2);
                pixels[i + 1] = (byte)(y / 2);
                pixels[i + 2] = (byte)(((x + y) / 4) + random.Next(8));
            }
        }

        _image = new RgbImage(512, 512, pixels);
        _map = new AttributionMap(64, 64, Enumerable.Range(0, 64 * 64).Select(i => (float)Math.Exp(-((Math.Pow((i % 64) - 30, 2) + Math.Pow((i / 64) - 34, 2)) / 200.0))).ToArray());
        _weights = Path.Combine(_folder, "model", "unet", "weights.pb");
        Directory.CreateDirectory(Path.GetDirectoryName(_weights)!);
        var block = new byte[1 << 20];
        random.NextBytes(block);
        using var file = File.Create(_weights);
        for (int i = 0; i < 256; i++)
        {
            file.Write(block);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_folder, recursive: true);

    /// <summary>One 512x512 item: map (.npy), mask (bilinear to 512, thresholds, erosion, PNG), image (PNG).</summary>
    [Benchmark]
    public void WriteItem512() => _store.WriteItem(_store.Class("cat"), _next++, _image, _map);

    /// <summary>SHA-256 of a 256 MB weights file (the fingerprint's first run reads the 4.3 GB of SD 1.5 once).</summary>
    [Benchmark]
    public string Fingerprint256MB() => new ModelFingerprint().Compute(Path.Combine(_folder, "model"));
}

/// <summary>
/// Reading an ONNX file's signature for <c>ovdiff models verify</c>: the streaming reader (skips weights) against
/// creating an ONNX Runtime session (what "opening the model" would otherwise cost), on the 64 MB ResNet18 export.
/// Run: dotnet run -c Release --project tests/OvDiff.Benchmarks -- --filter '*ModelSignature*' --job short
/// </summary>
[MemoryDiagnoser]
public class ModelSignatureBenchmarks
{
    private readonly string _model = Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");

    [Benchmark(Baseline = true)]
    public int OnnxRuntimeSession()
    {
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(_model);
        return session.InputMetadata.Count;
    }

    [Benchmark]
    public int StreamingSignature() => OnnxGraphInfo.Read(_model).Inputs.Count;
}
