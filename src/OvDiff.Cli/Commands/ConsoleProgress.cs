using System.Diagnostics;
using System.Globalization;
using OvDiff.Eval.Running;

namespace OvDiff.Cli.Commands;

/// <summary>
/// Shows evaluation progress (done/total, images/s, ETA) on one rewritten stderr line, at most four times a second,
/// and only on a terminal: nothing when stderr is redirected or the CI environment variable is "true".
/// </summary>
internal sealed class ConsoleProgress : IProgress<EvalProgress>, IDisposable
{
    private readonly TextWriter _writer;
    private readonly bool _enabled;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _lastDraw = TimeSpan.MinValue;
    private bool _drawn;

    public ConsoleProgress(TextWriter writer)
    {
        _writer = writer;
        _enabled = ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected
            && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
    }

    public void Report(EvalProgress value)
    {
        if (!_enabled || (_clock.Elapsed - _lastDraw < TimeSpan.FromMilliseconds(250) && value.Done != value.Total))
        {
            return;
        }

        _lastDraw = _clock.Elapsed;
        _drawn = true;
        _writer.Write(string.Create(CultureInfo.InvariantCulture,
            $"\r{value.Done}/{value.Total} images  {value.ImagesPerSecond:F1} img/s  ETA {value.Remaining:hh\\:mm\\:ss}  skipped {value.Skipped}   "));
    }

    public void Finish()
    {
        if (_drawn)
        {
            _writer.WriteLine();
            _drawn = false;
        }
    }

    public void Dispose() => Finish();
}
