using System.Buffers.Binary;
using System.IO.Compression;
using OvDiff.Core.Images;
using OvDiff.Core.IO;

namespace OvDiff.Imaging;

/// <summary>How <see cref="LabelPngWriter"/> stores class indices.</summary>
public enum LabelPngFormat
{
    /// <summary>8-bit palette PNG with the VOC colour map: the class index is the palette index (VOC's own format).</summary>
    VocPalette = 0,

    /// <summary>8-bit grayscale PNG: the class index is the gray value.</summary>
    Grayscale = 1,
}

/// <summary>
/// Writes label maps as 8-bit PNGs that <see cref="LabelPngReader"/> (and PIL, mmsegmentation, any viewer) reads back
/// exactly: by default a palette PNG with the VOC colour map, so a file looks like VOC's own masks and holds the class
/// index as the palette index; or a grayscale PNG. Files are written to a temporary name and moved into place, so a
/// reader never sees a half-written file.
/// </summary>
/// <example><code>
/// LabelPngWriter.Write("predictions/2007_000033.png", segmenter.Segment(image));
/// </code></example>
public static class LabelPngWriter
{
    private static ReadOnlySpan<byte> Signature => [137, 80, 78, 71, 13, 10, 26, 10];

    /// <summary>Writes <paramref name="labels"/> to <paramref name="path"/>, creating its folder if needed.</summary>
    public static void Write(string path, LabelMap labels, LabelPngFormat format = LabelPngFormat.VocPalette)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(labels);
        AtomicFile.Write(path, stream => Write(stream, labels, format));
    }

    /// <summary>Writes <paramref name="labels"/> as a PNG to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, LabelMap labels, LabelPngFormat format = LabelPngFormat.VocPalette)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(labels);
        if (!Enum.IsDefined(format))
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown label PNG format.");
        }

        stream.Write(Signature);
        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)labels.Width);
        BinaryPrimitives.WriteUInt32BigEndian(header[4..], (uint)labels.Height);
        header[8] = 8;
        header[9] = format == LabelPngFormat.VocPalette ? (byte)3 : (byte)0;
        header[10] = 0;
        header[11] = 0;
        header[12] = 0;
        WriteChunk(stream, "IHDR"u8, header);
        if (format == LabelPngFormat.VocPalette)
        {
            WriteChunk(stream, "PLTE"u8, VocColormap.Palette);
        }

        using (var compressed = new MemoryStream())
        {
            using (var deflater = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            {
                ReadOnlySpan<byte> pixels = labels.Labels;
                ReadOnlySpan<byte> noFilter = [0];
                for (int row = 0; row < labels.Height; row++)
                {
                    deflater.Write(noFilter);
                    deflater.Write(pixels.Slice(row * labels.Width, labels.Width));
                }
            }

            WriteChunk(stream, "IDAT"u8, compressed.GetBuffer().AsSpan(0, (int)compressed.Length));
        }

        WriteChunk(stream, "IEND"u8, []);
    }

    internal static void WriteChunk(Stream stream, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
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
