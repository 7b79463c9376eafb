using System.Diagnostics;
using OvDiff.Core.Segmentation;

namespace OvDiff.Cli.Infrastructure;

/// <summary>
/// Progress of a long step on standard error: on a terminal one line rewritten in place (count, items/s, ETA); when
/// standard error is redirected or CI=true, one line every 10% (or every 30 s when the total is unknown).
/// </summary>
internal sealed class ConsoleProgress : IProgress<StepProgress>, IDisposable
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _interactive = !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("CI") is null or "" or "false";
    private readonly object _gate = new();
    private long _lastDecile = -1;
    private TimeSpan _lastPrint;
    private bool _wroteInPlace;

    public void Report(StepProgress value)
    {
        lock (_gate)
        {
            double seconds = Math.Max(_clock.Elapsed.TotalSeconds, 1e-9);
            double rate = value.Completed / seconds;
            string total = value.Total > 0 ? $"/{value.Total}" : "";
            string eta = value.Total > 0 && rate > 0 ? $", ETA {TimeSpan.FromSeconds((value.Total - value.Completed) / rate):hh\\:mm\\:ss}" : "";
            string line = $"{value.Step}: {value.Completed}{total} ({rate:F2}/s{eta})";
            if (_interactive)
            {
                Console.Error.Write($"\r{line}   ");
                _wroteInPlace = true;
                return;
            }

            long decile = value.Total > 0 ? value.Completed * 10 / value.Total : -1;
            bool due = value.Total > 0 ? decile != _lastDecile : _clock.Elapsed - _lastPrint > TimeSpan.FromSeconds(30);
            if (due)
            {
                _lastDecile = decile;
                _lastPrint = _clock.Elapsed;
                Console.Error.WriteLine(line);
            }
        }
    }

    public void Dispose()
    {
        if (_wroteInPlace)
        {
            Console.Error.WriteLine();
        }
    }
}
