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
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly object _gate = new();
    private TimeSpan? _lastDraw;   // null until the first draw (TimeSpan.MinValue made Elapsed - _lastDraw overflow)
    private bool _drawn;

    public ConsoleProgress()
        : this(Console.Error)
    {
    }

    public ConsoleProgress(TextWriter writer)
    {
        _writer = writer;
        _enabled = ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected
            && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
    }

    public void Report(EvalProgress value) =>
        Draw(value.Done == value.Total, () => string.Create(CultureInfo.InvariantCulture,
            $"{value.Done}/{value.Total} images  {value.ImagesPerSecond:F1} img/s  ETA {value.Remaining:hh\\:mm\\:ss}  skipped {value.Skipped}"));

    public void Report(StepProgress value) =>
        Draw(value.Completed == value.Total || value.Completed == 0, () =>   // a step's start too: one that follows a finished step at once was not drawn (fit's shared background)
        {
            double rate = value.Completed / Math.Max(_clock.Elapsed.TotalSeconds, 1e-9);
            string total = value.Total > 0 ? string.Create(CultureInfo.InvariantCulture, $"/{value.Total}") : "";
            string eta = value.Total > 0 && rate > 0 ? string.Create(CultureInfo.InvariantCulture, $"  ETA {TimeSpan.FromSeconds((value.Total - value.Completed) / rate):hh\\:mm\\:ss}") : "";
            return string.Create(CultureInfo.InvariantCulture, $"{value.Step}: {value.Completed}{total}  {rate:F2}/s{eta}");
        });

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
            if (!_enabled || (_lastDraw is { } last && _clock.Elapsed - last < TimeSpan.FromMilliseconds(250) && !final))
            {
                return;
            }

            _lastDraw = _clock.Elapsed;
            _drawn = true;
            _writer.Write($"\r{line()}   ");
        }
    }
}
