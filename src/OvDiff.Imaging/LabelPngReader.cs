using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using OvDiff.Core.Images;
using OvDiff.Core.IO;

namespace OvDiff.Imaging;

/// <summary>Width and height of a decoded label image; its labels are the first <see cref="PixelCount"/> bytes of the buffer.</summary>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
public readonly record struct LabelImageSize(int Width, int Height)
{
    /// <summary>Number of pixels.</summary>
    public int PixelCount => Width * Height;
}

/// <summary>
/// Reads label PNGs exactly: the value stored per pixel, never a colour or an interpolated value.
/// <list type="bullet">
/// <item>Palette PNGs (bit depth 1, 2, 4 or 8; VOC's <c>SegmentationClass</c>) give the palette index.</item>
/// <item>Grayscale PNGs (bit depth 1, 2, 4 or 8) give the gray value as stored (not rescaled).</item>
/// <item>8-bit RGB PNGs are taken as renderings with the VOC colour map and inverted exactly through
/// <see cref="VocColormap"/>; a colour outside the map is an error naming the pixel.</item>
/// <item>16-bit, alpha and Adam7-interlaced PNGs are rejected with an <see cref="ImageFormatException"/>.</item>
/// </list>
/// The decoder is written for throughput (it dominates evaluation time): the file, the compressed data and the
/// inflated rows live in buffers that are reused from call to call, chunk CRCs are checked, and a truncated or corrupt
/// file is an <see cref="ImageFormatException"/> naming it. An instance is not thread-safe: use one per thread.
/// </summary>
/// <example><code>
/// var reader = new LabelPngReader();
/// byte[] labels = [];
/// LabelImageSize size = reader.ReadInto("SegmentationClass/2007_000033.png", ref labels);
/// LabelMap map = reader.Read("SegmentationClass/2007_000033.png"); // allocates its own array
/// </code></example>
public sealed class LabelPngReader
{
    private static ReadOnlySpan<byte> Signature => [137, 80, 78, 71, 13, 10, 26, 10];

    private const uint ChunkIhdr = 0x49484452;
    private const uint ChunkIdat = 0x49444154;
    private const uint ChunkIend = 0x49454E44;

    private byte[] _file = new byte[1 << 16];
    private byte[] _compressed = new byte[1 << 16];
    private byte[] _inflated = new byte[1 << 16];

    /// <summary>Reads <paramref name="path"/> into a new <see cref="LabelMap"/>.</summary>
    public LabelMap Read(string path)
    {
        byte[] labels = [];
        LabelImageSize size = ReadInto(path, ref labels);
        if (labels.Length != size.PixelCount)
        {
            Array.Resize(ref labels, size.PixelCount);
        }

        return new LabelMap(size.Width, size.Height, labels);
    }

    /// <summary>
    /// Reads <paramref name="path"/> into <paramref name="labels"/>, replacing the array with a larger one when it is
    /// too small; the labels are its first <see cref="LabelImageSize.PixelCount"/> bytes, row-major.
    /// </summary>
    public LabelImageSize ReadInto(string path, ref byte[] labels)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        int fileLength = ReadWholeFile(path);
        try
        {
            return Decode(path, _file.AsSpan(0, fileLength), ref labels);
        }
        catch (InvalidDataException e)
        {
            throw new ImageFormatException(path, $"corrupt PNG image data ({e.Message})", e);
        }
    }

    /// <summary>Decodes an in-memory PNG; <paramref name="sourceName"/> names it in errors.</summary>
    public LabelImageSize Decode(string sourceName, ReadOnlySpan<byte> png, ref byte[] labels)
    {
        if (png.Length < Signature.Length + 12 || !png[..Signature.Length].SequenceEqual(Signature))
        {
            throw new ImageFormatException(sourceName, png.Length == 0 ? "empty file, not a PNG" : "not a PNG (bad signature)");
        }

        int width = 0, height = 0, bitDepth = 0, colorType = -1;
        int compressedLength = 0;
        bool sawEnd = false;
        int position = Signature.Length;
        while (position < png.Length)
        {
            if (position + 12 > png.Length)
            {
                throw new ImageFormatException(sourceName, "truncated PNG (incomplete chunk header)");
            }

            uint length = BinaryPrimitives.ReadUInt32BigEndian(png[position..]);
            uint type = BinaryPrimitives.ReadUInt32BigEndian(png[(position + 4)..]);
            if (length > int.MaxValue || position + 12L + length > png.Length)
            {
                throw new ImageFormatException(sourceName, "truncated PNG (chunk runs past the end of the file)");
            }

            ReadOnlySpan<byte> typeBytes = png.Slice(position + 4, 4);
            ReadOnlySpan<byte> data = png.Slice(position + 8, (int)length);
            uint storedCrc = BinaryPrimitives.ReadUInt32BigEndian(png[(position + 8 + (int)length)..]);
            if (Crc32.Compute(typeBytes, data) != storedCrc)
            {
                throw new ImageFormatException(sourceName, $"corrupt PNG (CRC mismatch in chunk '{System.Text.Encoding.ASCII.GetString(typeBytes)}')");
            }

            position += 12 + (int)length;
            if (type == ChunkIhdr)
            {
                if (length != 13)
                {
                    throw new ImageFormatException(sourceName, "corrupt PNG (IHDR is not 13 bytes)");
                }

                uint w = BinaryPrimitives.ReadUInt32BigEndian(data);
                uint h = BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
                ImageLimits.Check(sourceName, w, h);

                width = (int)w;
                height = (int)h;
                bitDepth = data[8];
                colorType = data[9];
                if (data[12] != 0)
                {
                    throw new ImageFormatException(sourceName, "Adam7-interlaced PNGs are not supported for labels; save the label map without interlacing");
                }

                ValidateFormat(sourceName, colorType, bitDepth);
            }
            else if (type == ChunkIdat)
            {
                EnsureCapacity(ref _compressed, compressedLength + data.Length, preserve: compressedLength);
                data.CopyTo(_compressed.AsSpan(compressedLength));
                compressedLength += data.Length;
            }
            else if (type == ChunkIend)
            {
                sawEnd = true;
                break;
            }
        }

        if (colorType < 0)
        {
            throw new ImageFormatException(sourceName, "corrupt PNG (no IHDR chunk)");
        }

        if (!sawEnd)
        {
            throw new ImageFormatException(sourceName, "truncated PNG (no IEND chunk)");
        }

        int samplesPerPixel = colorType == 2 ? 3 : 1;
        int bitsPerPixel = bitDepth * samplesPerPixel;
        int filterUnit = Math.Max(1, bitsPerPixel / 8);
        int stride = (int)(((long)width * bitsPerPixel + 7) / 8);
        int inflatedLength = checked(height * (stride + 1));
        EnsureCapacity(ref _inflated, inflatedLength, preserve: 0);
        Inflate(sourceName, compressedLength, inflatedLength);

        int pixelCount = width * height;
        if (labels.Length < pixelCount)
        {
            labels = new byte[pixelCount];
        }

        Span<byte> inflated = _inflated.AsSpan(0, inflatedLength);
        Span<byte> output = labels.AsSpan(0, pixelCount);
        for (int row = 0; row < height; row++)
        {
            Span<byte> line = inflated.Slice((row * (stride + 1)) + 1, stride);
            ReadOnlySpan<byte> prior = row == 0 ? default : inflated.Slice(((row - 1) * (stride + 1)) + 1, stride);
            Unfilter(sourceName, row, inflated[row * (stride + 1)], line, prior, filterUnit);
            Span<byte> target = output.Slice(row * width, width);
            if (colorType == 2)
            {
                InvertColormap(sourceName, row, line, target);
            }
            else if (bitDepth == 8)
            {
                line.CopyTo(target);
            }
            else
            {
                UnpackBits(line, target, bitDepth);
            }
        }

        return new LabelImageSize(width, height);
    }

    private static void ValidateFormat(string sourceName, int colorType, int bitDepth)
    {
        switch (colorType)
        {
            case 0 or 3 when bitDepth is 1 or 2 or 4 or 8:
            case 2 when bitDepth == 8:
                return;
            case 0 or 3:
                throw new ImageFormatException(sourceName, $"{bitDepth}-bit {(colorType == 0 ? "grayscale" : "palette")} PNGs are not supported for labels (expected 1, 2, 4 or 8 bits)");
            case 2:
                throw new ImageFormatException(sourceName, $"{bitDepth}-bit RGB PNGs are not supported for labels (expected 8-bit palette or grayscale)");
            default:
                throw new ImageFormatException(sourceName, $"PNG colour type {colorType} (with alpha) is not supported for labels (expected 8-bit palette or grayscale)");
        }
    }

    private void Inflate(string sourceName, int compressedLength, int inflatedLength)
    {
        using var compressed = new MemoryStream(_compressed, 0, compressedLength, writable: false);
        using var inflater = new ZLibStream(compressed, CompressionMode.Decompress);
        int read = inflater.ReadAtLeast(_inflated.AsSpan(0, inflatedLength), inflatedLength, throwOnEndOfStream: false);
        if (read < inflatedLength)
        {
            throw new ImageFormatException(sourceName, $"truncated PNG (image data holds {read} of {inflatedLength} bytes)");
        }
    }

    private static void Unfilter(string sourceName, int row, byte filter, Span<byte> line, ReadOnlySpan<byte> prior, int unit)
    {
        switch (filter)
        {
            case 0:
                return;
            case 1:
                for (int i = unit; i < line.Length; i++)
                {
                    line[i] += line[i - unit];
                }

                return;
            case 2:
                if (!prior.IsEmpty)
                {
                    AddInPlace(line, prior);
                }

                return;
            case 3:
                for (int i = 0; i < line.Length; i++)
                {
                    int left = i >= unit ? line[i - unit] : 0;
                    int up = prior.IsEmpty ? 0 : prior[i];
                    line[i] += (byte)((left + up) >> 1);
                }

                return;
            case 4:
                for (int i = 0; i < line.Length; i++)
                {
                    int left = i >= unit ? line[i - unit] : 0;
                    int up = prior.IsEmpty ? 0 : prior[i];
                    int upLeft = i >= unit && !prior.IsEmpty ? prior[i - unit] : 0;
                    line[i] += (byte)Paeth(left, up, upLeft);
                }

                return;
            default:
                throw new ImageFormatException(sourceName, $"corrupt PNG (unknown filter type {filter} on row {row})");
        }
    }

    private static int Paeth(int left, int up, int upLeft)
    {
        int estimate = left + up - upLeft;
        int distanceLeft = Math.Abs(estimate - left);
        int distanceUp = Math.Abs(estimate - up);
        int distanceUpLeft = Math.Abs(estimate - upLeft);
        if (distanceLeft <= distanceUp && distanceLeft <= distanceUpLeft)
        {
            return left;
        }

        return distanceUp <= distanceUpLeft ? up : upLeft;
    }

    private static void AddInPlace(Span<byte> line, ReadOnlySpan<byte> prior)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= line.Length - Vector<byte>.Count; i += Vector<byte>.Count)
            {
                var sum = new Vector<byte>(line[i..]) + new Vector<byte>(prior[i..]);
                sum.CopyTo(line[i..]);
            }
        }

        for (; i < line.Length; i++)
        {
            line[i] += prior[i];
        }
    }

    private static void UnpackBits(ReadOnlySpan<byte> line, Span<byte> target, int bitDepth)
    {
        int perByte = 8 / bitDepth;
        int mask = (1 << bitDepth) - 1;
        for (int x = 0; x < target.Length; x++)
        {
            int shift = 8 - (bitDepth * ((x % perByte) + 1));
            target[x] = (byte)((line[x / perByte] >> shift) & mask);
        }
    }

    private static void InvertColormap(string sourceName, int row, ReadOnlySpan<byte> line, Span<byte> target)
    {
        int lastColor = -1;
        byte lastIndex = 0;
        for (int x = 0; x < target.Length; x++)
        {
            byte r = line[x * 3], g = line[(x * 3) + 1], b = line[(x * 3) + 2];
            int color = (r << 16) | (g << 8) | b;
            if (color != lastColor)
            {
                if (!VocColormap.TryGetIndex(r, g, b, out lastIndex))
                {
                    throw new ImageFormatException(sourceName, $"RGB label PNG has colour ({r},{g},{b}) at pixel ({x},{row}) that is not in the VOC colour map; save labels as palette or grayscale PNGs");
                }

                lastColor = color;
            }

            target[x] = lastIndex;
        }
    }

    private int ReadWholeFile(string path)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            long length = RandomAccess.GetLength(handle);
            if (length > int.MaxValue / 2)
            {
                throw new ImageFormatException(path, $"file of {length} bytes is too large for a label PNG");
            }

            EnsureCapacity(ref _file, (int)length, preserve: 0);
            int total = 0;
            while (total < length)
            {
                int read = RandomAccess.Read(handle, _file.AsSpan(total, (int)length - total), total);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }

            return total;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ImageFormatException(path, "file not found", e);
        }
        catch (Exception e) when (e is IOException and not ImageFormatException or UnauthorizedAccessException)
        {
            throw new ImageFormatException(path, $"cannot read file ({e.Message})", e);
        }
    }

    private static void EnsureCapacity(ref byte[] buffer, int required, int preserve)
    {
        if (buffer.Length >= required)
        {
            return;
        }

        var larger = new byte[Math.Max(required, buffer.Length * 2)];
        buffer.AsSpan(0, preserve).CopyTo(larger);
        buffer = larger;
    }
}
