using System.Security.Cryptography;

namespace OvDiff.Core.IO;

/// <summary>SHA-256 of a file's bytes, the one way OvDiff names a file's content (downloaded and verified model files, copies of one support image in several class folders).</summary>
public static class FileHash
{
    /// <summary>
    /// SHA-256 of the file at <paramref name="path"/>, lower-case hex, read sequentially in 1 MiB blocks;
    /// <paramref name="bytesRead"/> (optional) hears the running count after each block.
    /// </summary>
    public static string Sha256(string path, IProgress<long>? bytesRead = null, CancellationToken cancellationToken = default)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        long done = 0;
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            sha.AppendData(buffer, 0, read);
            done += read;
            bytesRead?.Report(done);
        }

        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
