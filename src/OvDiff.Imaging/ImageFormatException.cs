namespace OvDiff.Imaging;

/// <summary>
/// An image or label file that cannot be read: missing, truncated, corrupt or of an unsupported kind.
/// The message always names the file; <see cref="FilePath"/> holds it for callers that count or skip bad files.
/// </summary>
public sealed class ImageFormatException : IOException
{
    /// <summary>Creates the exception for <paramref name="filePath"/> with a reason.</summary>
    public ImageFormatException(string filePath, string reason, Exception? innerException = null)
        : base($"{filePath}: {reason}", innerException)
    {
        FilePath = filePath;
        Reason = reason;
    }

    /// <summary>The file that could not be read.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with it, without the file name.</summary>
    public string Reason { get; }
}
