using System.Security.Cryptography;
using OvDiff.Core.IO;

namespace OvDiff.Core.Tests.IO;

public sealed class FileHashTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ovdiff-hash-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Sha256_KnownAnswer_Abc()
    {
        string path = Path.Combine(_folder, "abc.txt");
        File.WriteAllBytes(path, "abc"u8.ToArray());

        // FIPS 180-2, appendix B.1.
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", FileHash.Sha256(path, cancellationToken: TestContext.Current.CancellationToken));
    }

    [Fact]
    public void Sha256_SeveralBlocks_EqualsOneShotHash_AndReportsRunningCounts()
    {
        var bytes = new byte[(5 << 20) / 2]; // 2.5 MiB: two whole 1 MiB blocks and a half
        new Random(7).NextBytes(bytes);
        string path = Path.Combine(_folder, "big.bin");
        File.WriteAllBytes(path, bytes);
        var reports = new List<long>();

        string hash = FileHash.Sha256(path, new Recorder(reports), TestContext.Current.CancellationToken);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), hash);
        Assert.Equal([1L << 20, 2L << 20, bytes.Length], reports);
    }

    private sealed class Recorder(List<long> reports) : IProgress<long>
    {
        public void Report(long value) => reports.Add(value);
    }
}
