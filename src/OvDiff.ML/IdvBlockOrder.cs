using System.Buffers.Binary;

namespace OvDiff.ML;

/// <summary>
/// Puts the blocks of an ML.NET binary data view (<c>.idv</c>, the format <c>mlContext.Model.Save</c> uses for a
/// ValueMapping's data) in column-then-block order. ML.NET's BinarySaver compresses blocks on several threads and writes
/// each as it is done, so the same data is saved with its blocks in a different order from one save to the next (its
/// <c>DeterministicBlockOrder</c> argument is not reachable through the public API). Only the blocks move and the block
/// lookup tables' offsets change; the header, the tables' places, the annotations and the table of contents stay.
/// </summary>
internal static class IdvBlockOrder
{
    private const int HeaderSize = 256;
    private const ulong Signature = 0x00425644004C4D43; // "CML\0DVB\0"

    /// <summary>
    /// The same data view with its blocks in canonical order, or null when <paramref name="idv"/> is not laid out as the
    /// BinarySaver writes (then it is left as it is).
    /// </summary>
    public static byte[]? Canonical(ReadOnlySpan<byte> idv)
    {
        if (idv.Length < HeaderSize || BinaryPrimitives.ReadUInt64LittleEndian(idv) != Signature)
        {
            return null;
        }

        long toc = BinaryPrimitives.ReadInt64LittleEndian(idv[24..]);
        long tail = BinaryPrimitives.ReadInt64LittleEndian(idv[32..]);
        long rows = BinaryPrimitives.ReadInt64LittleEndian(idv[40..]);
        int columns = BinaryPrimitives.ReadInt32LittleEndian(idv[48..]);
        if (toc < HeaderSize || tail < toc || tail > idv.Length || rows < 0 || columns < 0)
        {
            return null;
        }

        // The table of contents: per column its name, codec (name and parameters), compression, rows per block, and
        // the offsets of its block lookup table and annotations.
        var lookups = new List<(long Table, long Blocks)>(columns);
        int at = (int)toc;
        for (int c = 0; c < columns; c++)
        {
            if (!SkipString(idv, ref at) || !SkipString(idv, ref at) || !ReadLeb128(idv, ref at, out ulong parameters)
                || (ulong)(idv.Length - at) < parameters + 1)
            {
                return null;
            }

            at += (int)parameters + 1; // the codec's parameters, then the compression kind
            if (!ReadLeb128(idv, ref at, out ulong rowsPerBlock) || rowsPerBlock == 0 || idv.Length - at < 16)
            {
                return null;
            }

            long table = BinaryPrimitives.ReadInt64LittleEndian(idv[at..]);
            at += 16;
            long blocks = (rows + (long)rowsPerBlock - 1) / (long)rowsPerBlock;
            if (table < HeaderSize || blocks > (idv.Length - table) / 16)
            {
                return null;
            }

            lookups.Add((table, blocks));
        }

        if (at != tail)
        {
            return null;
        }

        // The blocks must tile the bytes between the header and the first lookup table exactly.
        var entries = new List<(long Table, int Index, long Offset, int Length)>();
        foreach ((long table, long blocks) in lookups)
        {
            for (int b = 0; b < blocks; b++)
            {
                ReadOnlySpan<byte> entry = idv.Slice((int)(table + (16L * b)), 16);
                entries.Add((table, b, BinaryPrimitives.ReadInt64LittleEndian(entry), BinaryPrimitives.ReadInt32LittleEndian(entry[8..])));
            }
        }

        long end = HeaderSize;
        foreach ((_, _, long offset, int length) in entries.OrderBy(e => e.Offset))
        {
            if (offset != end || length < 0)
            {
                return null;
            }

            end += length;
        }

        if (lookups.Count > 0 && end != lookups.Min(l => l.Table))
        {
            return null;
        }

        byte[] result = idv.ToArray();
        long position = HeaderSize;
        foreach ((long table, int index, long offset, int length) in entries)
        {
            idv.Slice((int)offset, length).CopyTo(result.AsSpan((int)position));
            BinaryPrimitives.WriteInt64LittleEndian(result.AsSpan((int)(table + (16L * index))), position);
            position += length;
        }

        return result;
    }

    // A .NET BinaryWriter string: a 7-bit encoded length, then UTF-8 bytes.
    private static bool SkipString(ReadOnlySpan<byte> data, ref int at)
    {
        if (!ReadLeb128(data, ref at, out ulong length) || (ulong)(data.Length - at) < length)
        {
            return false;
        }

        at += (int)length;
        return true;
    }

    private static bool ReadLeb128(ReadOnlySpan<byte> data, ref int at, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64 && at < data.Length; shift += 7)
        {
            byte b = data[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }
}
