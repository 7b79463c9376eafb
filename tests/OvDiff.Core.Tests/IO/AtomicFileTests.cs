using OvDiff.Core.IO;

namespace OvDiff.Core.Tests.IO;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "ovdiff-atomic-" + Guid.NewGuid().ToString("N"));

    public AtomicFileTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Write_ReplacesTheTargetWhole()
    {
        string target = Path.Combine(_folder, "model.zip");
        File.WriteAllText(target, "old");
        AtomicFile.WriteAllBytes(target, "new content"u8);
        Assert.Equal("new content", File.ReadAllText(target));
        Assert.Equal([target], Directory.GetFiles(_folder));
    }

    [Fact]
    public void Write_FailingLikeAFullDisk_NamesTheTarget_KeepsItAndLeavesNoTemporaryFile()
    {
        // What FileStream says on ENOSPC names the file being written, here the temporary one.
        string target = Path.Combine(_folder, "model.zip");
        File.WriteAllText(target, "old");
        var error = Assert.Throws<IOException>(() => AtomicFile.Write(target, stream =>
        {
            stream.Write("partial"u8);
            throw new IOException($"No space left on device : '{((FileStream)stream).Name}'");
        }));

        Assert.StartsWith($"Could not write '{target}' (nothing was changed there): No space left on device : '{target}'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(".tmp", error.Message, StringComparison.Ordinal);
        Assert.Equal("old", File.ReadAllText(target));
        Assert.Equal([target], Directory.GetFiles(_folder));
    }
}
