using System.Diagnostics;

namespace OvDiff.Cli.Tests;

/// <summary>What a finished <c>ovdiff</c> process left: its exit code and everything it printed (stdout then stderr).</summary>
internal sealed record ProcessOutcome(int ExitCode, string Output);

/// <summary>
/// The built <c>ovdiff</c> as a separate process, with its own environment (HF_ENDPOINT, HF_HUB_OFFLINE, ...), optionally on
/// a pseudo-terminal (util-linux <c>script</c>, CI unset) so that progress is drawn as a user sees it.
/// </summary>
internal static class OvdiffProcess
{
    public static string Executable => Path.Combine(AppContext.BaseDirectory, "ovdiff");

    /// <summary>Runs to completion (at most <paramref name="timeout"/>, default 5 minutes).</summary>
    public static ProcessOutcome Run(string workingDirectory, IReadOnlyDictionary<string, string?> environment, bool onTerminal, string[] args, TimeSpan? timeout = null)
    {
        using Process process = Start(workingDirectory, environment, onTerminal, args);
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"ovdiff {string.Join(' ', args)} did not finish in time");
        }

        return new ProcessOutcome(process.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>Starts the process (stdout, stderr and stdin redirected); the caller reads, waits or kills it.</summary>
    public static Process Start(string workingDirectory, IReadOnlyDictionary<string, string?> environment, bool onTerminal, string[] args)
    {
        ProcessStartInfo start;
        if (onTerminal)
        {
            string script = FindOnPath("script") ?? throw SkipException("util-linux 'script' is not installed; the pseudo-terminal test needs it.");
            start = new ProcessStartInfo(script);
            foreach (string arg in new[] { "-qec", string.Join(' ', new[] { Executable }.Concat(args).Select(Quote)), "/dev/null" })
            {
                start.ArgumentList.Add(arg);
            }

            start.Environment.Remove("CI");
            start.Environment["TERM"] = "xterm-256color";
        }
        else
        {
            start = new ProcessStartInfo(Executable);
            foreach (string arg in args)
            {
                start.ArgumentList.Add(arg);
            }
        }

        start.WorkingDirectory = workingDirectory;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        start.UseShellExecute = false;
        foreach ((string name, string? value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        return Process.Start(start) ?? throw new InvalidOperationException("could not start ovdiff");
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
