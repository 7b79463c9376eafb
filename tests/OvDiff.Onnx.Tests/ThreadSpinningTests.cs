using System.Diagnostics;

namespace OvDiff.Onnx.Tests;

/// <summary>
/// ONNX Runtime's intra-op threads spin-wait after a run unless told not to; OvDiff turns that off by default, because
/// its own parallel stages (matching, PAMR, labelling) follow every run and need the cores.
/// The test measures the whole process's CPU time, so it runs alone (no other test of this assembly beside it).
/// </summary>
[Collection(nameof(ThreadSpinningTests))]
[CollectionDefinition(nameof(ThreadSpinningTests), DisableParallelization = true)]
public sealed class ThreadSpinningTests
{
    /// <summary>CPU time the process burns while its threads should all be idle, just after a feature pass.</summary>
    private static double IdleCpuMillisecondsAfterARun(OnnxRuntimeOptions runtime)
    {
        using var extractor = new ResNet18FeatureExtractor(new ResNet18Options { Runtime = runtime });
        var image = TestImages.Create(448, 448);
        extractor.Extract(image, TestContext.Current.CancellationToken); // warm-up: the thread pool exists after this
        using var process = Process.GetCurrentProcess();
        double least = double.MaxValue;
        for (int round = 0; round < 3; round++)
        {
            extractor.Extract(image, TestContext.Current.CancellationToken);
            process.Refresh();
            TimeSpan before = process.TotalProcessorTime;
            Thread.Sleep(200);
            process.Refresh();
            least = Math.Min(least, (process.TotalProcessorTime - before).TotalMilliseconds);
        }

        return least;
    }

    [Fact]
    public void DefaultOptions_ThreadsSleepAfterARun_WhileSpinningBurnsCpu()
    {
        if (Environment.ProcessorCount < 2)
        {
            Assert.Skip("ONNX Runtime uses one intra-op thread on a single core, so nothing spins.");
        }

        double quiet = IdleCpuMillisecondsAfterARun(OnnxRuntimeOptions.Default);
        double spinning = IdleCpuMillisecondsAfterARun(OnnxRuntimeOptions.Default with { AllowThreadSpinning = true });
        TestContext.Current.TestOutputHelper?.WriteLine($"idle CPU in 200 ms after a run: {quiet:F1} ms (default), {spinning:F1} ms (spinning allowed)");
        Assert.True(quiet < 20, $"the default options burnt {quiet:F1} ms of CPU in 200 ms of idling after a run");
        Assert.True(spinning > quiet + 5, $"with spinning allowed {spinning:F1} ms were burnt, against {quiet:F1} ms without: the option has no effect");
    }
}
