using System.Buffers.Binary;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace OvDiff.ML.Tests;

public sealed class IdvBlockOrderTests
{
    private sealed class Row
    {
        public string Key { get; set; } = "";

        [VectorType(4096)]
        public float[] Value { get; set; } = [];
    }

    /// <summary>A two-column data view as a ValueMapping saves it: one small text block, one large vector block.</summary>
    private static byte[] Save(MLContext context)
    {
        var random = new Random(5);
        IDataView data = context.Data.LoadFromEnumerable(new[] { new Row { Key = "state", Value = [.. Enumerable.Range(0, 4096).Select(_ => (float)random.NextDouble())] } });
        using var stream = new MemoryStream();
        context.Data.SaveAsBinary(data, stream);
        return stream.ToArray();
    }

    [Fact]
    public void Canonical_PutsBlocksInColumnOrder_WhateverOrderTheSaverWroteThem_AndLoadsTheSameData()
    {
        var context = new MLContext(seed: 0);
        byte[][] saved = [.. Enumerable.Range(0, 12).Select(_ => Save(context))];
        byte[][] canonical = [.. saved.Select(s => IdvBlockOrder.Canonical(s) ?? throw new InvalidOperationException("not recognised"))];

        // One canonical form for every save, whatever order the compression threads finished in, and it is a fixed point.
        Assert.All(canonical, c => Assert.Equal(canonical[0], c));
        Assert.Equal(canonical[0], IdvBlockOrder.Canonical(canonical[0]));

        // Swapping the two blocks by hand (and their lookup offsets) is undone.
        byte[] swapped = Swap(canonical[0]);
        Assert.NotEqual(canonical[0], swapped);
        Assert.Equal(canonical[0], IdvBlockOrder.Canonical(swapped));

        // ML.NET reads the canonical and the swapped bytes as the data that was saved.
        foreach (byte[] bytes in new[] { canonical[0], swapped })
        {
            string path = Path.Combine(Path.GetTempPath(), $"ovdiff-idv-{Guid.NewGuid():N}.idv");
            File.WriteAllBytes(path, bytes);
            try
            {
                Row row = context.Data.CreateEnumerable<Row>(context.Data.LoadFromBinary(path), reuseRowObject: false).Single();
                Assert.Equal("state", row.Key);
                var random = new Random(5);
                Assert.Equal(Enumerable.Range(0, 4096).Select(_ => (float)random.NextDouble()), row.Value);
            }
            finally
            {
                File.Delete(path);
            }
        }
    }

    [Fact]
    public void Canonical_LeavesWhatIsNotASavedDataViewAlone()
    {
        byte[] idv = IdvBlockOrder.Canonical(Save(new MLContext(seed: 0)))!;
        Assert.Null(IdvBlockOrder.Canonical([]));
        Assert.Null(IdvBlockOrder.Canonical(new byte[300]));                  // no signature
        Assert.Null(IdvBlockOrder.Canonical(idv.AsSpan(0, idv.Length - 20)));  // cut short: the tail is gone
        byte[] bent = (byte[])idv.Clone();
        bent[idv.Length - 8 - 16 + 6] ^= 0x40;                                  // the last column's lookup table offset bent
        Assert.Null(IdvBlockOrder.Canonical(bent));
    }

    /// <summary>The canonical bytes with the two blocks' places exchanged (Value's block first), lookups rewritten.</summary>
    private static byte[] Swap(byte[] idv)
    {
        // Canonical: Key's block at 256 and Value's right after it; their lookup entries (offset, length, decompressed
        // length) follow the blocks, Key's then Value's: the one place where an entry pointing at 256 is followed by one
        // pointing just past it.
        long toc = BinaryPrimitives.ReadInt64LittleEndian(idv.AsSpan(24));
        int keyTable = Enumerable.Range(256, (int)toc - 256 - 31).Single(at =>
            BinaryPrimitives.ReadInt64LittleEndian(idv.AsSpan(at)) == 256
            && BinaryPrimitives.ReadInt64LittleEndian(idv.AsSpan(at + 16)) == 256 + BinaryPrimitives.ReadInt32LittleEndian(idv.AsSpan(at + 8)));
        int valueTable = keyTable + 16;
        int keyLength = BinaryPrimitives.ReadInt32LittleEndian(idv.AsSpan(keyTable + 8));
        int valueLength = BinaryPrimitives.ReadInt32LittleEndian(idv.AsSpan(valueTable + 8));
        Assert.Equal(keyTable, 256 + keyLength + valueLength); // the blocks end where the lookups begin
        byte[] swapped = (byte[])idv.Clone();
        idv.AsSpan(256 + keyLength, valueLength).CopyTo(swapped.AsSpan(256));
        idv.AsSpan(256, keyLength).CopyTo(swapped.AsSpan(256 + valueLength));
        BinaryPrimitives.WriteInt64LittleEndian(swapped.AsSpan(valueTable), 256);
        BinaryPrimitives.WriteInt64LittleEndian(swapped.AsSpan(keyTable), 256 + valueLength);
        return swapped;
    }
}
