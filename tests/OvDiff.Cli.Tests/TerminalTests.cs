using OvDiff.Testing;

namespace OvDiff.Cli.Tests;

/// <summary>
/// The built <c>ovdiff</c> process as a user runs it: on a pseudo-terminal (util-linux <c>script</c>), CI unset, so the
/// progress display is live. In-process tests redirect stderr and never draw progress; this is where a drawing bug
/// (the first update once overflowed a TimeSpan and killed every long command) shows up.
/// </summary>
public sealed class TerminalTests
{
    [Fact]
    public void LongRunningCommands_OnAPseudoTerminal_ShowProgressAndSucceed()
    {
        string voc = SharedData.DatasetRootOverride("VOC2012");
        string config = Path.Combine(RepoPaths.Configs, "voc21-mini.json");
        using var temp = new TempFolder();

        string support = RunOnTerminal(temp.Path, "support", "from-labels", "-c", config, "--set", voc, "--per-class", "1", "-o", "s");
        Assert.Contains("support.csv", support, StringComparison.Ordinal);

        string fit = RunOnTerminal(temp.Path, "fit", "--support", "s/support.csv", "--out", "m.zip", "--levels", "mean");
        AssertDrewProgress(fit);
        Assert.True(File.Exists(temp.Combine("m.zip")));

        string image = File.ReadAllLines(temp.Combine("s", "support.csv"))[1].Split(',')[0];
        string segment = RunOnTerminal(temp.Path, "segment", image, "--model", "m.zip", "--out", "seg", "--no-overlay");
        AssertDrewProgress(segment);
        Assert.True(File.Exists(temp.Combine("seg", Path.GetFileNameWithoutExtension(image) + ".png")));

        string masks = RunOnTerminal(temp.Path, "masks", "--model", "m.zip", "--out", "masks");
        AssertDrewProgress(masks);

        string firstIds = temp.Combine("ids.txt");
        File.WriteAllLines(firstIds, File.ReadAllLines(temp.Combine("s", "holdout.txt")).Take(3));
        string eval = RunOnTerminal(temp.Path, "eval", "-c", config, "--set", voc, "--model", "m.zip", "--out", "eval",
            "--set", $"dataset.splitFile={firstIds}", "--set", "protocol.windows=[]", "--set", $"output.ledger={temp.Combine("ledger.csv")}");
        AssertDrewProgress(eval);
        Assert.Contains("3/3 images", eval, StringComparison.Ordinal);
        Assert.True(File.Exists(temp.Combine("eval", "summary.csv")));
    }

    private static void AssertDrewProgress(string terminalOutput)
    {
        Assert.DoesNotContain("Exception", terminalOutput, StringComparison.Ordinal);
        Assert.Contains('\r', terminalOutput);   // the progress line is redrawn in place
    }

    /// <summary>Runs ovdiff under <c>script -qec</c> (a pty for stdin, stdout and stderr, CI unset); returns what the terminal showed.</summary>
    private static string RunOnTerminal(string workingDirectory, params string[] args)
    {
        ProcessOutcome outcome = OvdiffProcess.Run(workingDirectory, new Dictionary<string, string?>(), onTerminal: true, args);
        Assert.True(outcome.ExitCode == 0, $"ovdiff {string.Join(' ', args)} exited {outcome.ExitCode} on a terminal:\n{outcome.Output}");
        return outcome.Output;
    }
}
