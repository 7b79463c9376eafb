using OvDiff.Core.Sharding;
using OvDiff.Eval.Configuration;

namespace OvDiff.Eval.Running;

/// <summary>
/// An exclusive lock on what one run writes in an output folder: the counts of one shard (and, for a whole or merged
/// run, the reports). A second <c>ovdiff eval</c> or <c>eval merge</c> writing the same shard of the same folder gets a
/// clear error instead of interleaving its files with the first's. Shards of one run lock separately, so they may share
/// a folder. The lock is an OS file lock (flock on Linux; released by the OS if the process dies), on a small file
/// <c>.counts-&lt;i&gt;-of-&lt;n&gt;.lock</c> that stays in the folder.
/// </summary>
public sealed class OutputFolderLock : IDisposable
{
    private readonly FileStream _stream;

    private OutputFolderLock(FileStream stream)
    {
        _stream = stream;
    }

    /// <summary>Takes the lock for <paramref name="shard"/> of <paramref name="outputDir"/> (created if missing), or throws <see cref="ConfigException"/> naming the folder.</summary>
    public static OutputFolderLock Acquire(string outputDir, ShardSpec shard)
    {
        ArgumentException.ThrowIfNullOrEmpty(outputDir);
        Directory.CreateDirectory(outputDir);
        string path = Path.Combine(outputDir, $".counts-{shard.Index}-of-{shard.Count}.lock");
        try
        {
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            return new OutputFolderLock(stream);
        }
        catch (IOException e) when (File.Exists(path))
        {
            string what = shard.Count == 1 ? "" : $" (shard {shard.Index}/{shard.Count})";
            throw new ConfigException($"{outputDir}: another ovdiff eval is writing to this folder{what} now (it holds {path}); wait for it to finish, or choose another --out.", e);
        }
    }

    /// <summary>Releases the lock.</summary>
    public void Dispose() => _stream.Dispose();
}
