using System.Buffers.Binary;
using System.IO.Compression;
using OvDiff.Core.IO;

namespace OvDiff.Imaging;

/// <summary>
/// The one PNG encoder of OvDiff: 8 bits per sample, no filtering, one IDAT chunk compressed by zlib. Its output is a pure
/// function of the pixels (no time stamps, no metadata), so equal images give byte-identical files.
/// </summary>
internal static class PngEncoder
{
    public const byte Grayscale = 0;
    public const byte Rgb = 2;
    public const byte Palette = 3;

    private static ReadOnlySpan<byte> Signature => [137, 80, 78, 71, 13, 10, 26, 10];

    /// <summary>Writes a PNG of <paramref name="pixels"/> (row-major, 1 byte per pixel, or 3 for <see cref="Rgb"/>).</summary>
    public static void Write(Stream stream, int width, int height, byte colorType, ReadOnlySpan<byte> palette, ReadOnlySpan<byte> pixels)
    {
        int rowBytes = width * (colorType == Rgb ? 3 : 1);
        if (pixels.Length != (long)rowBytes * height)
        {
            throw new ArgumentException($"A {width}x{height} PNG of colour type {colorType} needs {(long)rowBytes * height} bytes, got {pixels.Length}.", nameof(pixels));
        }

        stream.Write(Signature);
        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(header[4..], (uint)height);
        header[8] = 8;
        header[9] = colorType;
        header[10] = 0;
        header[11] = 0;
        header[12] = 0;
        WriteChunk(stream, "IHDR"u8, header);
        if (colorType == Palette)
        {
            WriteChunk(stream, "PLTE"u8, palette);
        }

        using (var compressed = new MemoryStream())
        {
            using (var deflater = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            {
                ReadOnlySpan<byte> noFilter = [0];
                for (int row = 0; row < height; row++)
                {
                    deflater.Write(noFilter);
                    deflater.Write(pixels.Slice(row * rowBytes, rowBytes));
                }
            }

            WriteChunk(stream, "IDAT"u8, compressed.GetBuffer().AsSpan(0, (int)compressed.Length));
        }

        WriteChunk(stream, "IEND"u8, []);
    }

    public static void WriteChunk(Stream stream, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, (uint)data.Length);
        stream.Write(word);
        stream.Write(type);
        stream.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.Compute(type, data));
        stream.Write(word);
    }
}
