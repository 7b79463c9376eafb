using OvDiff.Core.Segmentation;
using OvDiff.Onnx;

namespace OvDiff.Cli.Infrastructure;

/// <summary>
/// Shows byte counts (download, copy, hash) as MB done of MB total on the terminal, one progress line per file and phase
/// (<see cref="ConsoleProgress"/> on <paramref name="writer"/>: nothing when it is not a terminal). A hash is shown as
/// "<paramref name="hashLabel"/> FILE (MB)".
/// </summary>
internal sealed class ByteProgressDisplay(TextWriter writer, string hashLabel = "sha256") : IProgress<ModelInstallProgress>, IProgress<DownloadProgress>, IDisposable
{
    private ConsoleProgress? _line;
    private string _current = "";

    public void Report(ModelInstallProgress value) =>
        Report($"[{value.FileNumber}/{value.FileCount}] {value.Phase} {value.Role}/{value.Path} (MB)", value.Bytes, value.TotalBytes);

    public void Report(DownloadProgress value) => Report($"{hashLabel} {value.RemotePath} (MB)", value.BytesReceived, value.TotalBytes);

    public void Dispose() => _line?.Dispose();

    private void Report(string step, long bytes, long? total)
    {
        if (step != _current)
        {
            _line?.Dispose();
            _line = new ConsoleProgress(writer);
            _current = step;
        }

        _line!.Report(new StepProgress(step, bytes >> 20, total is { } t ? t >> 20 : -1));
    }
}
