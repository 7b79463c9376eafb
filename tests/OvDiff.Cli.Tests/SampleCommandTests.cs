using System.Diagnostics;
using OvDiff.Diffusion.Tests;
using OvDiff.Imaging.Support;
using OvDiff.Testing;

namespace OvDiff.Cli.Tests;

/// <summary>
/// <c>ovdiff sample</c> as a user runs it, in its own process, on a tiny Stable Diffusion folder exported by PyTorch
/// (tests/OvDiff.Diffusion.Tests/Fixtures/tiny-sd: real text encoder, UNet and VAE graphs, 128x128 images, 16x16 maps):
/// determinism across processes, resume after kill -9 and after Ctrl-C, refusal of other settings, shards, the CUDA error
/// on the CPU build, and progress on a terminal.
/// </summary>
public sealed class SampleCommandTests : IDisposable
{
    private static readonly Dictionary<string, string?> Quiet = new() { ["CI"] = "true" };
    private readonly TempFolder _temp = new();
    private readonly string _model;

    public SampleCommandTests()
    {
        _model = TinyStableDiffusion.CopyTo(_temp, "opset17-split");
    }

    public void Dispose() => _temp.Dispose();

    /// <summary>2 classes x 6 images in batches of 2 at 128x128; 3 steps (about 0.1 s a batch here) unless <paramref name="extra"/> says otherwise.</summary>
    private string[] Args(string store, params string[] extra) =>
        ["sample", "--model", _model, "--classes", "cat,traffic cone", "--n", "6", "--batch", "2", "--size", "128", "--out", store, .. extra.Contains("--steps") ? extra : ["--steps", "3", .. extra]];

    private ProcessOutcome Sample(string store, params string[] extra) => OvdiffProcess.Run(_temp.Path, Quiet, onTerminal: false, Args(store, extra));

    /// <summary>Every file of a store except the lock and the hash cache, by relative path.</summary>
    private static Dictionary<string, byte[]> Files(string store) =>
        Directory.GetFiles(store, "*", SearchOption.AllDirectories)
            .Where(f => !Path.GetFileName(f).StartsWith('.'))
            .ToDictionary(f => Path.GetRelativePath(store, f), File.ReadAllBytes);

    private static void AssertSameFiles(Dictionary<string, byte[]> expected, Dictionary<string, byte[]> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        Assert.All(expected, f => Assert.True(f.Value.AsSpan().SequenceEqual(actual[f.Key]), $"{f.Key} differs"));
    }

    [Fact]
    public void Sample_TwoProcesses_ByteIdentical_RerunSkips_OtherSettingsRefused()
    {
        ProcessOutcome first = Sample(_temp.Combine("a"));
        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Contains("12 images sampled, 0 already there", first.Output, StringComparison.Ordinal);
        Assert.Contains("Next: ovdiff fit --support", first.Output, StringComparison.Ordinal);
        Dictionary<string, byte[]> a = Files(_temp.Combine("a"));
        Assert.Equal(37, a.Count);   // manifest + 2 classes x 6 x (image, map, mask)
        Assert.Equal(new[] { "cat", "traffic_cone" }, Directory.GetDirectories(_temp.Combine("a")).Select(Path.GetFileName).Order());

        SupportStore store = SupportStore.Open(_temp.Combine("a"));
        Assert.Equal(128, store.Manifest.Settings.Width);
        Assert.Equal("A good picture of a traffic cone", store.Class("traffic cone").Prompt);
        Assert.StartsWith("sha256:", store.Manifest.Settings.ModelFingerprint, StringComparison.Ordinal);
        var attribution = store.ReadAttribution(store.Class("cat"), 5);
        Assert.Equal((16, 16), (attribution.Height, attribution.Width));
        Assert.Equal(1f, attribution.Values.Max());
        Assert.Equal(0f, attribution.Values.Min());

        ProcessOutcome second = Sample(_temp.Combine("b"));
        Assert.True(second.ExitCode == 0, second.Output);
        AssertSameFiles(a, Files(_temp.Combine("b")));

        ProcessOutcome again = Sample(_temp.Combine("a"));
        Assert.Contains("0 images sampled, 12 already there", again.Output, StringComparison.Ordinal);
        AssertSameFiles(a, Files(_temp.Combine("a")));

        ProcessOutcome other = OvdiffProcess.Run(_temp.Path, Quiet, onTerminal: false,
            ["sample", "--model", _model, "--classes", "cat", "--n", "6", "--steps", "4", "--guidance", "7.5", "--batch", "2", "--size", "128", "--out", _temp.Combine("a")]);
        Assert.Equal(1, other.ExitCode);
        Assert.Contains("error: The support store", other.Output, StringComparison.Ordinal);
        Assert.Contains("steps: 3 in the store, 4 now; guidance: 8 in the store, 7.5 now", other.Output, StringComparison.Ordinal);
        AssertSameFiles(a, Files(_temp.Combine("a")));
    }

    [Fact]
    public void Sample_KilledWithSigkillThenInterruptedWithCtrlC_ResumesToTheSameBytes()
    {
        // 12 steps: about 0.4 s a batch, so the run can be caught in the middle.
        ProcessOutcome reference = Sample(_temp.Combine("reference"), "--steps", "12");
        Assert.True(reference.ExitCode == 0, reference.Output);

        string store = _temp.Combine("resumed");
        KillWhenImagesAppear(store, images: 2, signal: null);                 // kill -9: no chance to clean up
        int afterKill = Directory.GetFiles(store, "*.png", SearchOption.AllDirectories).Count(f => !f.EndsWith(".mask.png", StringComparison.Ordinal));
        Assert.InRange(afterKill, 2, 11);

        int exit = KillWhenImagesAppear(store, images: afterKill + 2, signal: "INT");   // Ctrl-C: stops after the current model call
        Assert.Equal(130, exit);

        ProcessOutcome finish = Sample(store, "--steps", "12");
        Assert.True(finish.ExitCode == 0, finish.Output);
        Assert.Contains("already there", finish.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("0 already there", finish.Output, StringComparison.Ordinal);
        // Byte-identical to the uninterrupted run, and nothing left of the killed writes (no *.tmp).
        AssertSameFiles(Files(_temp.Combine("reference")), Files(store));
    }

    [Fact]
    public void Sample_ShardsIntoOneStore_EqualOneRun_AndCudaOnTheCpuBuildIsAClearError()
    {
        ProcessOutcome whole = Sample(_temp.Combine("whole"));
        Assert.True(whole.ExitCode == 0, whole.Output);
        ProcessOutcome shard0 = Sample(_temp.Combine("sharded"), "--shard", "0/2");
        Assert.Contains("6 images of these classes are still missing", shard0.Output, StringComparison.Ordinal);
        ProcessOutcome partialMasks = OvdiffProcess.Run(_temp.Path, Quiet, onTerminal: false, ["masks", "--support", _temp.Combine("sharded"), "--out", _temp.Combine("partial-masks")]);
        Assert.True(partialMasks.ExitCode == 0, partialMasks.Output);
        Assert.Contains("Wrote 6 mask overlays", partialMasks.Output, StringComparison.Ordinal);
        Assert.Contains("6 of 12 items are not sampled yet", partialMasks.Output, StringComparison.Ordinal);
        ProcessOutcome shard1 = Sample(_temp.Combine("sharded"), "--shard", "1/2");
        Assert.True(shard1.ExitCode == 0, shard1.Output);
        Assert.Contains("Complete.", shard1.Output, StringComparison.Ordinal);
        AssertSameFiles(Files(_temp.Combine("whole")), Files(_temp.Combine("sharded")));

        ProcessOutcome cuda = Sample(_temp.Combine("cuda"), "--device", "cuda:0");
        Assert.Equal(1, cuda.ExitCode);
        Assert.Contains("error: The CUDA execution provider (device 0) could not be loaded", cuda.Output, StringComparison.Ordinal);
        Assert.Contains("-p:OvDiffUseGpu=true", cuda.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_temp.Combine("cuda")), "a refused --device must leave no store behind");
    }

    [Fact]
    public void SampleFitSegmentMasks_EndToEnd_TwoFitsGiveTheSameLabelMaps()
    {
        string store = _temp.Combine("store");
        Assert.Equal(0, Sample(store).ExitCode);
        string image = SupportStore.Open(store).PathsOf(SupportStore.Open(store).Class("cat"), 0).Image;
        var labelMaps = new List<byte[]>();
        foreach (string name in new[] { "m1", "m2" })
        {
            ProcessOutcome fit = OvdiffProcess.Run(_temp.Path, Quiet, onTerminal: false, ["fit", "--support", store, "--out", _temp.Combine(name + ".zip"), "--levels", "all"]);
            Assert.True(fit.ExitCode == 0, fit.Output);
            Assert.Contains("2 classes, 12 support images", fit.Output, StringComparison.Ordinal);
            ProcessOutcome segment = OvdiffProcess.Run(_temp.Path, Quiet, onTerminal: false, ["segment", image, "--model", _temp.Combine(name + ".zip"), "--out", _temp.Combine(name)]);
            Assert.True(segment.ExitCode == 0, segment.Output);
            labelMaps.Add(File.ReadAllBytes(_temp.Combine(name, "000.png")));
        }

        Assert.Equal(labelMaps[0], labelMaps[1]);
        var labels = new OvDiff.Imaging.LabelPngReader().Read(_temp.Combine("m1", "000.png"));
        Assert.Equal((128, 128), (labels.Width, labels.Height));
        Assert.All(labels.Labels, l => Assert.InRange(l, 0, 2));

        ProcessOutcome storeMasks = OvdiffProcess.Run(_temp.Path, Quiet, onTerminal: false, ["masks", "--support", store, "--out", _temp.Combine("store-masks")]);
        Assert.True(storeMasks.ExitCode == 0, storeMasks.Output);
        Assert.Equal(6, Directory.GetFiles(_temp.Combine("store-masks", "traffic_cone"), "*.masks.png").Length);
        ProcessOutcome modelMasks = OvdiffProcess.Run(_temp.Path, Quiet, onTerminal: false, ["masks", "--model", _temp.Combine("m1.zip"), "--out", _temp.Combine("model-masks")]);
        Assert.True(modelMasks.ExitCode == 0, modelMasks.Output);
        Assert.Equal(6, Directory.GetFiles(_temp.Combine("model-masks", "cat"), "*.masks.png").Length);
        ProcessOutcome neither = OvdiffProcess.Run(_temp.Path, Quiet, onTerminal: false, ["masks", "--out", _temp.Combine("x")]);
        Assert.Equal(1, neither.ExitCode);
        Assert.Contains("error: Give either --model", neither.Output, StringComparison.Ordinal);

        // An incomplete store is refused by fit, naming what is missing and how to finish it.
        File.Delete(SupportStore.Open(store).PathsOf(SupportStore.Open(store).Class("traffic cone"), 4).Mask);
        ProcessOutcome incomplete = OvdiffProcess.Run(_temp.Path, Quiet, onTerminal: false, ["fit", "--support", store, "--out", _temp.Combine("m3.zip")]);
        Assert.Equal(1, incomplete.ExitCode);
        Assert.Contains("1 of 12 images are missing (traffic cone: 1)", incomplete.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Sample_OnATerminal_DrawsProgress()
    {
        ProcessOutcome run = OvdiffProcess.Run(_temp.Path, new Dictionary<string, string?>(), onTerminal: true, Args(_temp.Combine("tty")));
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("sample (image-steps)", run.Output, StringComparison.Ordinal);
        Assert.Contains('\r', run.Output);
        Assert.DoesNotContain("Exception", run.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Starts a sampling run into <paramref name="store"/>, waits until it has written <paramref name="images"/> images, then
    /// kills it (SIGKILL when <paramref name="signal"/> is null, else that signal); returns its exit code.
    /// </summary>
    private int KillWhenImagesAppear(string store, int images, string? signal)
    {
        using Process process = OvdiffProcess.Start(_temp.Path, Quiet, onTerminal: false, Args(store, "--steps", "12"));
        process.StandardInput.Close();
        Task<string> output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        Task<string> error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        var clock = Stopwatch.StartNew();
        while (!process.HasExited && clock.Elapsed < TimeSpan.FromMinutes(3))
        {
            int written = Directory.Exists(store)
                ? Directory.GetFiles(store, "*.png", SearchOption.AllDirectories).Count(f => !f.EndsWith(".mask.png", StringComparison.Ordinal))
                : 0;
            if (written >= images)
            {
                break;
            }

            Thread.Sleep(20);
        }

        if (process.HasExited)
        {
            Assert.Fail($"the run finished before it could be interrupted: {output.Result}{error.Result}");   // (.Result waits for the exit: only here)
        }

        if (signal is null)
        {
            process.Kill();   // SIGKILL
        }
        else
        {
            using Process kill = Process.Start("kill", ["-" + signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
            kill.WaitForExit();
        }

        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(1)), "the interrupted run did not stop");
        if (signal is not null)
        {
            Assert.Contains("Interrupted:", error.Result, StringComparison.Ordinal);
            Assert.Contains("run the same command again to continue", error.Result, StringComparison.Ordinal);
        }

        return process.ExitCode;
    }
}
