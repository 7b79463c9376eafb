using System.Diagnostics;
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
        string script = FindOnPath("script") ?? throw SkipException("util-linux 'script' is not installed; the pseudo-terminal test needs it.");
        string ovdiff = Path.Combine(AppContext.BaseDirectory, "ovdiff");
        string config = Path.Combine(RepoPaths.Configs, "voc21-mini.json");
        using var temp = new TempFolder();

        string support = RunOnTerminal(script, temp.Path, ovdiff, "support", "from-labels", "-c", config, "--set", voc, "--per-class", "1", "-o", "s");
        Assert.Contains("support.csv", support, StringComparison.Ordinal);

        string fit = RunOnTerminal(script, temp.Path, ovdiff, "fit", "--support", "s/support.csv", "--out", "m.zip", "--levels", "mean");
        AssertDrewProgress(fit);
        Assert.True(File.Exists(temp.Combine("m.zip")));

        string image = File.ReadAllLines(temp.Combine("s", "support.csv"))[1].Split(',')[0];
        string segment = RunOnTerminal(script, temp.Path, ovdiff, "segment", image, "--model", "m.zip", "--out", "seg", "--no-overlay");
        AssertDrewProgress(segment);
        Assert.True(File.Exists(temp.Combine("seg", Path.GetFileNameWithoutExtension(image) + ".png")));

        string masks = RunOnTerminal(script, temp.Path, ovdiff, "masks", "--model", "m.zip", "--out", "masks");
        AssertDrewProgress(masks);

        string firstIds = temp.Combine("ids.txt");
        File.WriteAllLines(firstIds, File.ReadAllLines(temp.Combine("s", "holdout.txt")).Take(3));
        string eval = RunOnTerminal(script, temp.Path, ovdiff, "eval", "-c", config, "--set", voc, "--model", "m.zip", "--out", "eval",
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

    /// <summary>Runs <paramref name="program"/> under <c>script -qec</c> (a pty for stdin, stdout and stderr); returns what the terminal showed.</summary>
    private static string RunOnTerminal(string script, string workingDirectory, string program, params string[] args)
    {
        string commandLine = string.Join(' ', new[] { program }.Concat(args).Select(Quote));
        var start = new ProcessStartInfo(script)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "-qec", commandLine, "/dev/null" })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("CI");
        start.Environment["TERM"] = "xterm-256color";
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start script");
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"ovdiff {string.Join(' ', args)} did not finish in 5 minutes on a terminal");
        }

        string shown = stdout.Result + stderr.Result;
        Assert.True(process.ExitCode == 0, $"ovdiff {string.Join(' ', args)} exited {process.ExitCode} on a terminal:\n{shown}");
        return shown;
    }

    private static string Quote(string arg) => "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, name)).FirstOrDefault(File.Exists);

    private static Exception SkipException(string message)
    {
        Assert.Skip(message);
        return new InvalidOperationException(message);
    }
}
