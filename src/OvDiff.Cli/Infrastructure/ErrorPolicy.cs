using System.Text.Json;
using OvDiff.Eval.Configuration;
using OvDiff.Eval.Datasets;
using OvDiff.Eval.Running;
using OvDiff.Onnx;

namespace OvDiff.Cli.Infrastructure;

/// <summary>
/// The one place where an exception that escapes a command becomes what the user sees. Bad input (a config, dataset,
/// image, model or option that cannot be used) is one <c>error:</c> line, whose message names the file, row, key or
/// value, and exit code <see cref="BadInputExitCode"/>. Anything else is a bug: one line saying so, exit code
/// <see cref="BugExitCode"/>. The stack trace is printed only with <c>--verbose</c>. Cancellation (Ctrl-C) exits
/// with <see cref="InterruptedExitCode"/>.
/// </summary>
internal static class ErrorPolicy
{
    /// <summary>Exit code of a command stopped by bad input.</summary>
    public const int BadInputExitCode = 1;

    /// <summary>Exit code of an unexpected failure (EX_SOFTWARE): a bug in ovdiff.</summary>
    public const int BugExitCode = 70;

    /// <summary>Exit code of a command stopped by Ctrl-C or SIGTERM.</summary>
    public const int InterruptedExitCode = 130;

    /// <summary>Writes <paramref name="exception"/> to <paramref name="error"/> as the policy says and returns the exit code.</summary>
    public static int Report(Exception exception, TextWriter error, bool verbose)
    {
        ArgumentNullException.ThrowIfNull(exception);
        ArgumentNullException.ThrowIfNull(error);
        int exitCode;
        if (FindInChain(exception, e => e is OperationCanceledException) is not null)
        {
            error.WriteLine("Interrupted.");
            exitCode = InterruptedExitCode;
        }
        else if (FindInChain(exception, IsBadInput) is { } badInput)
        {
            error.WriteLine($"error: {OneLine(badInput)}");
            exitCode = BadInputExitCode;
        }
        else
        {
            error.WriteLine($"error: unexpected {exception.GetType().Name}: {OneLine(exception)} (a bug in ovdiff: rerun with --verbose for the stack trace and report it)");
            exitCode = BugExitCode;
        }

        if (verbose)
        {
            error.WriteLine(exception.ToString());
        }

        return exitCode;
    }

    /// <summary>
    /// Whether <paramref name="exception"/> reports bad input rather than a bug: OvDiff's own input errors, file and
    /// format and network errors, and argument errors (every argument value of a command comes from the user's command line, config
    /// or files; a null argument is always a bug).
    /// </summary>
    public static bool IsBadInput(Exception exception) => exception is CommandLineException or ConfigException or DatasetException or BadInputException
        or OnnxModelMismatchException or ExecutionProviderUnavailableException or Diffusion.Surgery.FusedAttentionException
        or IOException or InvalidDataException or UnauthorizedAccessException or JsonException or FormatException or System.Net.Http.HttpRequestException
        or (ArgumentException and not ArgumentNullException);

    /// <summary>The first exception along the inner-exception chain (aggregates flattened) that <paramref name="match"/> accepts.</summary>
    private static Exception? FindInChain(Exception exception, Func<Exception, bool> match)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is AggregateException aggregate)
            {
                foreach (Exception inner in aggregate.Flatten().InnerExceptions)
                {
                    if (FindInChain(inner, match) is { } found)
                    {
                        return found;
                    }
                }

                return null;
            }

            if (match(e))
            {
                return e;
            }
        }

        return null;
    }

    /// <summary>The message on one line, without the "(Parameter 'x')" suffix an argument error adds.</summary>
    private static string OneLine(Exception exception)
    {
        string message = exception.Message;
        if (exception is ArgumentException { ParamName: { } name })
        {
            message = message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal);

            // An option's name may be all that says which value is out of range ("Must be in [0, 1). Actual value was 7.").
            if (exception is ArgumentOutOfRangeException && !message.Contains(name, StringComparison.Ordinal))
            {
                message = $"{name}: {message}";
            }
        }

        return string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }
}
