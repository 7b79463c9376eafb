using OvDiff.Cli.Infrastructure;
using OvDiff.Core.Segmentation;

namespace OvDiff.Cli.Tests;

/// <summary>The progress line's text and timing, drawn into a string with a hand-set clock.</summary>
public sealed class ConsoleProgressTests
{
    [Fact]
    public void StepLine_AtAStepsStart_ShowsNoRate()
    {
        Assert.Equal("shared background: 0/1", ConsoleProgress.StepLine(new StepProgress("shared background", 0, 1), TimeSpan.FromSeconds(3)));
    }

    [Fact]
    public void StepLine_RateAndEta_FromTheStepsOwnTime()
    {
        // 5 of 20 in 2 s: 2.5 per second, 15 left take 6 s.
        Assert.Equal("prototypes: 5/20  2.50/s  ETA 00:00:06", ConsoleProgress.StepLine(new StepProgress("prototypes", 5, 20), TimeSpan.FromSeconds(2)));
        // An unknown total (-1): no total, no ETA.
        Assert.Equal("hashing: 30  3.00/s", ConsoleProgress.StepLine(new StepProgress("hashing", 30, -1), TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Report_ALaterStep_CountsItsRateFromWhenItBegan()
    {
        var now = TimeSpan.Zero;
        var writer = new StringWriter();
        using (var progress = new ConsoleProgress(writer, enabled: true, () => now))
        {
            // A 20 s first step, then 10 of 20 prototypes in the next 2 s: 5 per second, not 10 / 22 s.
            now = TimeSpan.FromSeconds(10);
            ((IProgress<StepProgress>)progress).Report(new StepProgress("fit", 1, 2));
            now = TimeSpan.FromSeconds(20);
            ((IProgress<StepProgress>)progress).Report(new StepProgress("fit", 2, 2));
            now = TimeSpan.FromSeconds(22);
            ((IProgress<StepProgress>)progress).Report(new StepProgress("prototypes", 10, 20));
        }

        string shown = writer.ToString();
        Assert.Contains("fit: 2/2  0.10/s  ETA 00:00:00", shown, StringComparison.Ordinal);
        Assert.Contains("prototypes: 10/20  5.00/s  ETA 00:00:02", shown, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_WhenDisabled_DrawsNothing()
    {
        var writer = new StringWriter();
        using (var progress = new ConsoleProgress(writer, enabled: false, () => TimeSpan.FromSeconds(1)))
        {
            ((IProgress<StepProgress>)progress).Report(new StepProgress("fit", 1, 1));
        }

        Assert.Equal("", writer.ToString());
    }
}
