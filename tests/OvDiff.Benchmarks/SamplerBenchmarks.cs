using System.Globalization;
using BenchmarkDotNet.Attributes;
using OvDiff.Core.Segmentation;
using OvDiff.Diffusion.Pipeline;

namespace OvDiff.Benchmarks;

/// <summary>
/// The Stable Diffusion sampler on the tiny PyTorch-exported SD folder of the tests (16x16 latents, 128x128 images):
/// one reference batch, 8 images x 30 DPM-Solver++ steps with guidance 8 (30 UNet calls at batch 16), maps captured,
/// decoded. The UNet here is tiny, so the sampler's own work (noise, guidance, scheduler, maps, binding, image
/// conversion) weighs far more than beside a real SD UNet; the cleanup prints its share of the run
/// (SamplingStatistics.HostShare; goal &lt; 5 %). With and without the attn1 fusion.
/// Run: dotnet run -c Release --project tests/OvDiff.Benchmarks -- --filter '*Sampler*' --job short.
/// </summary>
public class SamplerBenchmarks
{
    private string _folder = string.Empty;
    private StableDiffusionPipeline _pipeline = null!;
    private List<SupportImageRequest> _requests = [];

    [Params(false, true)]
    public bool FuseSelfAttention { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var source = FindFixture();
        _folder = Path.Combine(Path.GetTempPath(), "ovdiff-sampler-bench-" + Guid.NewGuid().ToString("N"));
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(_folder, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        _pipeline = StableDiffusionPipeline.Open(_folder, new StableDiffusionOptions { FuseSelfAttention = FuseSelfAttention });
        var prompt = SupportImageRequest.ReferencePromptTemplate.Replace("{class}", "traffic cone", StringComparison.Ordinal);
        _requests = Enumerable.Range(0, 8)
            .Select(i => new SupportImageRequest(prompt, SupportImageRequest.ReferenceNegativePrompt, SupportImageRequest.DeriveSeed(42, "traffic cone", i), _pipeline.Tokenizer.FindPhrase(prompt, "traffic cone")))
            .ToList();
        _pipeline.Generate(_requests);
        _pipeline.ResetStatistics();
    }

    [Benchmark]
    public int Generate8Images30Steps() => _pipeline.Generate(_requests).Count;

    [GlobalCleanup]
    public void Cleanup()
    {
        var s = _pipeline.Statistics;
        if (s.Images > 0)
        {
            static string Ms(TimeSpan t, long n) => (t.TotalMilliseconds / n).ToString("F1", CultureInfo.InvariantCulture);
            var runs = s.Images / 8;
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"// Sampler (fuse attn1: {FuseSelfAttention}): per run {Ms(s.Total, runs)} ms = text encoder {Ms(s.TextEncoder, runs)} + UNet {Ms(s.UNet, runs)} ({s.UNetCalls / runs} calls) + VAE {Ms(s.VaeDecoder, runs)} + sampler's own work {Ms(s.Host, runs)} ms; host share {s.HostShare:P2} over {runs} runs"));
        }

        _pipeline.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string FindFixture()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "OvDiff.Diffusion.Tests", "Fixtures", "tiny-sd", "opset14-folded");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/OvDiff.Diffusion.Tests/Fixtures/tiny-sd not found above " + AppContext.BaseDirectory);
    }
}
