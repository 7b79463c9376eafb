namespace OvDiff.Eval.Configuration;

/// <summary>A config that cannot be used: unknown key, wrong type, missing value or unreadable file. The message names the key and the file.</summary>
public sealed class ConfigException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ConfigException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
