using System.Diagnostics;
using System.Globalization;
using OvDiff.Core.Segmentation;
using OvDiff.Eval.Running;

namespace OvDiff.Cli.Infrastructure;

/// <summary>
/// Shows the progress of a long step (evaluation, fitting, segmenting) on one rewritten stderr line: done/total, items/s,
/// ETA; at most four times a second, and only on a terminal: nothing when stderr is redirected or CI is "true".
/// </summary>
internal sealed class ConsoleProgress : IProgress<EvalProgress>, IProgress<StepProgress>, IDisposable
{
    private readonly TextWriter _writer;
    private readonly bool _enabled;
    private readonly Func<TimeSpan> _clock;
    private readonly object _gate = new();
    private TimeSpan? _lastDraw;   // null until the first draw (TimeSpan.MinValue made Elapsed - _lastDraw overflow)
    private bool _drawn;
    private string? _step;         // the step of the last StepProgress, when it began, and when the last one came
    private TimeSpan _stepStart;
    private TimeSpan _lastReport;

    public ConsoleProgress()
        : this(Console.Error)
    {
    }

    public ConsoleProgress(TextWriter writer)
        : this(writer, ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected
            && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase), null)
    {
    }

    /// <summary>A display on <paramref name="writer"/>, drawn when <paramref name="enabled"/>, timed by <paramref name="clock"/> (a stopwatch when null).</summary>
    internal ConsoleProgress(TextWriter writer, bool enabled, Func<TimeSpan>? clock)
    {
        _writer = writer;
        _enabled = enabled;
        Stopwatch stopwatch = Stopwatch.StartNew();
        _clock = clock ?? (() => stopwatch.Elapsed);
    }

    public void Report(EvalProgress value) =>
        Draw(value.Done == value.Total, () => string.Create(CultureInfo.InvariantCulture,
            $"{value.Done}/{value.Total} images  {value.ImagesPerSecond:F1} img/s  ETA {value.Remaining:hh\\:mm\\:ss}  skipped {value.Skipped}"));

    public void Report(StepProgress value)
    {
        TimeSpan stepElapsed;
        lock (_gate)
        {
            // Each step's rate and ETA count from when it began: the previous step's last report, or this display's
            // creation for the first step (they counted from the creation for every step, so the prototypes step after a
            // 25 s feature pass showed a rate and an ETA many times too slow).
            TimeSpan now = _clock();
            if (!string.Equals(value.Step, _step, StringComparison.Ordinal))
            {
                (_step, _stepStart) = (value.Step, _lastReport);
            }

            _lastReport = now;
            stepElapsed = now - _stepStart;
        }

        Draw(value.Completed == value.Total || value.Completed == 0, () => StepLine(value, stepElapsed));   // a step's start too: one that follows a finished step at once was not drawn (fit's shared background)
    }

    /// <summary>
    /// One step's line: <c>step: done/total  rate/s  ETA</c>, the rate over <paramref name="stepElapsed"/> (the time since the
    /// step began); at a step's start (nothing done yet) only <c>step: 0/total</c>, since no rate is known.
    /// </summary>
    internal static string StepLine(StepProgress value, TimeSpan stepElapsed)
    {
        string total = value.Total > 0 ? string.Create(CultureInfo.InvariantCulture, $"/{value.Total}") : "";
        if (value.Completed <= 0 || stepElapsed <= TimeSpan.Zero)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{value.Step}: {value.Completed}{total}");
        }

        double rate = value.Completed / stepElapsed.TotalSeconds;
        string eta = value.Total > 0 ? string.Create(CultureInfo.InvariantCulture, $"  ETA {TimeSpan.FromSeconds(Math.Max(value.Total - value.Completed, 0) / rate):hh\\:mm\\:ss}") : "";
        return string.Create(CultureInfo.InvariantCulture, $"{value.Step}: {value.Completed}{total}  {rate:F2}/s{eta}");
    }

    public void Finish()
    {
        lock (_gate)
        {
            if (_drawn)
            {
                _writer.WriteLine();
                _drawn = false;
            }
        }
    }

    public void Dispose() => Finish();

    private void Draw(bool final, Func<string> line)
    {
        lock (_gate)
        {
            if (!_enabled || (_lastDraw is { } last && _clock() - last < TimeSpan.FromMilliseconds(250) && !final))
            {
                return;
            }

            _lastDraw = _clock();
            _drawn = true;
            _writer.Write($"\r{line()}   ");
        }
    }
}
