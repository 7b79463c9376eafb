using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using OvDiff.Core.Images;
using OvDiff.Onnx;

namespace OvDiff.Benchmarks;

/// <summary>
/// ResNet18 dense features per image (CPU provider, ONNX Runtime's default threads): layer 4 vs dilated layer 4 vs layer 3+4, at 448x448 and
/// 448x672 (height x width). Run: <c>dotnet run -c Release --project tests/OvDiff.Benchmarks -- --filter *ResNet18*</c>.
/// The global cleanup prints the process's peak working set (model, session and buffers).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 3, iterationCount: 15)]
public class ResNet18ExtractorBenchmarks
{
    private ResNet18FeatureExtractor? _extractor;
    private RgbImage? _image;

    [Params(ResNet18Layers.Layer4, ResNet18Layers.Layer4Dilated, ResNet18Layers.Layer3And4)]
    public ResNet18Layers Layers { get; set; }

    [Params("448x448", "448x672")]
    public string Size { get; set; } = "448x448";

    [GlobalSetup]
    public void Setup()
    {
        var parts = Size.Split('x');
        int height = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), width = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        var random = new Random(1);
        var pixels = new byte[width * height * 3];
        random.NextBytes(pixels);
        _image = new RgbImage(width, height, pixels);
        _extractor = new ResNet18FeatureExtractor(new ResNet18Options { Layers = Layers });
    }

    [Benchmark]
    public int Extract() => _extractor!.Extract(_image!).Data.Length;

    [GlobalCleanup]
    public void Cleanup()
    {
        _extractor?.Dispose();
        using var process = Process.GetCurrentProcess();
        Console.WriteLine($"// {Layers} {Size}: peak working set {process.PeakWorkingSet64 / (1024.0 * 1024.0):F0} MiB");
    }
}
