namespace OvDiff.Onnx.Tests;

/// <summary>
/// ONNX Runtime's intra-op threads spin-wait after a run unless told not to; OvDiff turns that off by default, because
/// its own parallel stages (matching, PAMR, labelling) follow every run and need the cores. Measured on the threads the
/// session itself started (Linux /proc schedstat, nanoseconds), so other tests' work does not count, and alone, so that
/// no other test starts threads while the session does.
/// </summary>
[Collection(nameof(ThreadSpinningTests))]
[CollectionDefinition(nameof(ThreadSpinningTests), DisableParallelization = true)]
public sealed class ThreadSpinningTests
{
    /// <summary>
    /// CPU time the session's own threads burn while the process idles just after a feature pass, least and most of 5
    /// rounds: on a loaded machine spinning threads get fewer turns on a CPU, so spinning is judged by its most.
    /// </summary>
    private static (double Least, double Most) IdleCpuMillisecondsOfSessionThreads(OnnxRuntimeOptions runtime)
    {
        HashSet<int> before = Threads();
        using var extractor = new ResNet18FeatureExtractor(new ResNet18Options { Runtime = runtime });
        var image = TestImages.Create(448, 448);
        extractor.Extract(image, TestContext.Current.CancellationToken); // the intra-op pool exists after this
        int[] sessionThreads = [.. Threads().Except(before)];
        Assert.NotEmpty(sessionThreads);
        double least = double.MaxValue, most = 0;
        for (int round = 0; round < 5; round++)
        {
            extractor.Extract(image, TestContext.Current.CancellationToken);
            Dictionary<int, long> start = CpuNanoseconds(sessionThreads);
            Thread.Sleep(200);
            Dictionary<int, long> end = CpuNanoseconds(sessionThreads);
            double burnt = end.Where(e => start.ContainsKey(e.Key)).Sum(e => Math.Max(0, e.Value - start[e.Key])) / 1e6;
            least = Math.Min(least, burnt);
            most = Math.Max(most, burnt);
        }

        return (least, most);
    }

    private static HashSet<int> Threads() => [.. Directory.GetDirectories("/proc/self/task").Select(d => int.Parse(Path.GetFileName(d), System.Globalization.CultureInfo.InvariantCulture))];

    // Per live thread, the first field of its schedstat: time spent on a CPU, in nanoseconds.
    private static Dictionary<int, long> CpuNanoseconds(IEnumerable<int> threads)
    {
        var times = new Dictionary<int, long>();
        foreach (int thread in threads)
        {
            try
            {
                times[thread] = long.Parse(File.ReadAllText($"/proc/self/task/{thread}/schedstat").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // the thread has exited
            }
        }

        return times;
    }

    [Fact]
    public void DefaultOptions_SessionThreadsSleepAfterARun_WhileSpinningBurnsCpu()
    {
        if (!File.Exists("/proc/self/schedstat"))
        {
            Assert.Skip("Needs Linux's /proc/self/task/*/schedstat to read per-thread CPU time.");
        }

        if (Environment.ProcessorCount < 2)
        {
            Assert.Skip("ONNX Runtime uses no intra-op threads on a single core, so nothing spins.");
        }

        double quiet = IdleCpuMillisecondsOfSessionThreads(OnnxRuntimeOptions.Default).Least;
        double spinning = IdleCpuMillisecondsOfSessionThreads(OnnxRuntimeOptions.Default with { AllowThreadSpinning = true }).Most;
        TestContext.Current.TestOutputHelper?.WriteLine($"CPU of the session's threads in 200 ms after a run: {quiet:F2} ms (default), {spinning:F2} ms (spinning allowed)");
        Assert.True(quiet < 5, $"with the default options the session's threads burnt {quiet:F2} ms of CPU in 200 ms of idling after a run");
        Assert.True(spinning > quiet + 5, $"with spinning allowed the session's threads burnt {spinning:F2} ms, against {quiet:F2} ms without: the option has no effect");
    }
}
