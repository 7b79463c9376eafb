using System.Diagnostics;
using System.Text.RegularExpressions;
using OvDiff.Testing;

namespace OvDiff.Eval.Tests.Reports;

/// <summary>
/// Debian's headless Chromium, run as a user's browser would open a file: a screenshot, the DOM after scripts ran, and
/// every console message the page logged (Chromium logs them to stderr as CONSOLE lines with --enable-logging). The
/// network is off for it (no QUIC, no background traffic): a page that needed a CDN would come out broken.
/// </summary>
internal static partial class HeadlessChromium
{
    private static readonly string? Executable = new[] { Environment.GetEnvironmentVariable("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser" }
        .FirstOrDefault(p => !string.IsNullOrEmpty(p) && File.Exists(p));

    /// <summary>The browser's path; skips the test with a message where it is not installed.</summary>
    public static string Require()
    {
        if (Executable is null)
        {
            Assert.Skip("Chromium is not installed (Debian package 'chromium'; .ci/run installs it): the report is not rendered.");
        }

        return Executable;
    }

    /// <summary>Takes a <paramref name="width"/>x<paramref name="height"/> screenshot of <paramref name="page"/>; returns the console messages.</summary>
    public static IReadOnlyList<string> Screenshot(string page, string png, int width, int height) =>
        ConsoleMessages(Run(page, $"--window-size={width},{height} --hide-scrollbars --screenshot={png}").Stderr);

    /// <summary>The page's DOM after its scripts ran, and the console messages.</summary>
    public static (string Dom, IReadOnlyList<string> Console) DumpDom(string page)
    {
        (string stdout, string stderr) = Run(page, "--dump-dom");
        return (stdout, ConsoleMessages(stderr));
    }

    private static (string Stdout, string Stderr) Run(string page, string action)
    {
        using var profile = new TempFolder();
        var start = new ProcessStartInfo(Require())
        {
            Arguments = $"--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --user-data-dir={profile.Path} --enable-logging=stderr --log-level=0 --virtual-time-budget=10000 {action} {new Uri(page).AbsoluteUri}",
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"Chromium did not finish rendering {page} within 120 s.");
        }

        return (stdout.Result, stderr.Result);
    }

    private static List<string> ConsoleMessages(string stderr) => [.. ConsoleLine().Matches(stderr).Select(m => m.Groups[1].Value)];

    [GeneratedRegex(@":CONSOLE(?::\d+)?\]\s*(.*)$", RegexOptions.Multiline)]
    private static partial Regex ConsoleLine();
}
