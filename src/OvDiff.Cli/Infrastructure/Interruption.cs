using System.Runtime.InteropServices;

namespace OvDiff.Cli.Infrastructure;

/// <summary>
/// Ctrl-C and SIGTERM for a long command (fit, eval, sample): the first cancels <see cref="Token"/> (the command stops at
/// its next check, keeps what it finished, says so, exits <see cref="ErrorPolicy.InterruptedExitCode"/>); a second one
/// ends the process at once. Create it inside the command's action, and dispose it when the action ends.
/// </summary>
internal sealed class Interruption : IDisposable
{
    private readonly CancellationTokenSource _source;
    private readonly PosixSignalRegistration _interrupt;
    private readonly PosixSignalRegistration _terminate;

    public Interruption(CancellationToken outer)
    {
        _source = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
    }

    /// <summary>Cancelled by the first Ctrl-C or SIGTERM (or by the outer token).</summary>
    public CancellationToken Token => _source.Token;

    public void Dispose()
    {
        _interrupt.Dispose();
        _terminate.Dispose();
        _source.Dispose();
    }

    private void Stop(PosixSignalContext context)
    {
        if (!_source.IsCancellationRequested)
        {
            context.Cancel = true;
            _source.Cancel();
        }
    }
}
