namespace OvDiff.Cli.Infrastructure;

/// <summary>
/// Bad input found by the command line itself (an option value out of range, a class the support set lacks, outputs
/// that would overwrite each other). The message names the option, file or value; <see cref="ErrorPolicy"/> prints it
/// as one <c>error:</c> line.
/// </summary>
public sealed class CommandLineException : Exception
{
    /// <summary>Creates the exception with its one-line message.</summary>
    public CommandLineException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
