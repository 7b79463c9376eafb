namespace OvDiff.Core.IO;

/// <summary>The CRC-32 (ISO 3309, polynomial 0xEDB88320) that guards PNG chunks and zip entries.</summary>
public static class Crc32
{
    /// <summary>The register before any byte (<see cref="Update"/> from it, <see cref="Finish"/> at the end).</summary>
    public const uint Initial = 0xFFFFFFFFu;

    private static readonly uint[] Table = BuildTable();

    /// <summary>The CRC-32 of <paramref name="first"/> followed by <paramref name="second"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        uint crc = 0xFFFFFFFFu;
        crc = Update(crc, first);
        crc = Update(crc, second);
        return crc ^ 0xFFFFFFFFu;
    }

    /// <summary>The CRC-32 of a stream read to its end.</summary>
    public static uint Compute(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        byte[] buffer = new byte[81920];
        uint crc = Initial;
        for (int read; (read = stream.Read(buffer)) > 0;)
        {
            crc = Update(crc, buffer.AsSpan(0, read));
        }

        return Finish(crc);
    }

    /// <summary>The register after <paramref name="data"/>, continuing from <paramref name="crc"/>.</summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        uint[] table = Table;
        foreach (byte value in data)
        {
            crc = table[(crc ^ value) & 0xFF] ^ (crc >> 8);
        }

        return crc;
    }

    /// <summary>The CRC-32 from the register.</summary>
    public static uint Finish(uint crc) => crc ^ 0xFFFFFFFFu;

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }
}
