using System.Buffers.Binary;
using System.IO.Compression;
using OvDiff.Imaging;

namespace OvDiff.Imaging.Tests;

/// <summary>Builds PNG files byte by byte (any colour type, bit depth and per-row filter) to test the reader against.</summary>
internal static class PngBuilder
{
    /// <summary>
    /// A PNG whose rows are <paramref name="rawRows"/> (already packed to <paramref name="bitDepth"/>), each encoded with
    /// the filter <c>filters[row % filters.Length]</c> (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth).
    /// </summary>
    public static byte[] Build(int width, int height, int bitDepth, int colorType, byte[][] rawRows, int[] filters, int bytesPerPixel = 1)
    {
        using var png = new MemoryStream();
        png.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var header = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), (uint)height);
        header[8] = (byte)bitDepth;
        header[9] = (byte)colorType;
        PngEncoder.WriteChunk(png, "IHDR"u8, header);
        if (colorType == 3)
        {
            PngEncoder.WriteChunk(png, "PLTE"u8, VocColormap.Palette);
        }

        using var compressed = new MemoryStream();
        using (var deflater = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            for (int row = 0; row < height; row++)
            {
                int filter = filters[row % filters.Length];
                deflater.WriteByte((byte)filter);
                deflater.Write(FilterRow(filter, rawRows[row], row == 0 ? null : rawRows[row - 1], bytesPerPixel));
            }
        }

        // Split the image data over two IDAT chunks, as encoders do for larger images.
        byte[] data = compressed.ToArray();
        int half = data.Length / 2;
        PngEncoder.WriteChunk(png, "IDAT"u8, data.AsSpan(0, half));
        PngEncoder.WriteChunk(png, "IDAT"u8, data.AsSpan(half));
        PngEncoder.WriteChunk(png, "IEND"u8, []);
        return png.ToArray();
    }

    private static byte[] FilterRow(int filter, byte[] raw, byte[]? prior, int unit)
    {
        var filtered = new byte[raw.Length];
        for (int i = 0; i < raw.Length; i++)
        {
            int left = i >= unit ? raw[i - unit] : 0;
            int up = prior?[i] ?? 0;
            int upLeft = i >= unit && prior is not null ? prior[i - unit] : 0;
            int predictor = filter switch
            {
                0 => 0,
                1 => left,
                2 => up,
                3 => (left + up) / 2,
                4 => Paeth(left, up, upLeft),
                _ => throw new ArgumentOutOfRangeException(nameof(filter)),
            };
            filtered[i] = (byte)(raw[i] - predictor);
        }

        return filtered;
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
