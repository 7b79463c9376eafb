namespace OvDiff.Core.Images;

/// <summary>
/// An 8-bit RGB image held as interleaved bytes (R, G, B per pixel, rows top to bottom).
/// A plain value holder: decoding and encoding live in OvDiff.Imaging.
/// </summary>
public sealed class RgbImage
{
    /// <summary>Creates an image over <paramref name="pixels"/> (length must be width * height * 3); the array is not copied.</summary>
    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.LongLength != (long)width * height * 3)
        {
            throw new ArgumentException($"Expected {(long)width * height * 3} bytes for a {width}x{height} RGB image, got {pixels.LongLength}.", nameof(pixels));
        }

        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Interleaved RGB bytes, row-major, length Width * Height * 3.</summary>
    public byte[] Pixels { get; }

    /// <summary>Number of pixels.</summary>
    public long PixelCount => (long)Width * Height;

    /// <summary>A copy of the rectangle at (<paramref name="x"/>, <paramref name="y"/>) of the given size.</summary>
    public RgbImage Crop(int x, int y, int width, int height)
    {
        if (x < 0 || y < 0 || width <= 0 || height <= 0 || x + width > Width || y + height > Height)
        {
            throw new ArgumentOutOfRangeException(nameof(x), $"Crop ({x}, {y}, {width}x{height}) is outside the {Width}x{Height} image.");
        }

        if (x == 0 && y == 0 && width == Width && height == Height)
        {
            return this;
        }

        var pixels = new byte[(long)width * height * 3];
        for (int row = 0; row < height; row++)
        {
            Array.Copy(Pixels, (((long)(y + row) * Width) + x) * 3, pixels, (long)row * width * 3, (long)width * 3);
        }

        return new RgbImage(width, height, pixels);
    }

    /// <summary>The image mirrored left to right (a new image).</summary>
    public RgbImage MirrorHorizontally()
    {
        var pixels = new byte[Pixels.Length];
        int stride = Width * 3;
        for (int y = 0; y < Height; y++)
        {
            ReadOnlySpan<byte> source = Pixels.AsSpan(y * stride, stride);
            Span<byte> target = pixels.AsSpan(y * stride, stride);
            for (int x = 0; x < Width; x++)
            {
                source.Slice(x * 3, 3).CopyTo(target.Slice((Width - 1 - x) * 3, 3));
            }
        }

        return new RgbImage(Width, Height, pixels);
    }

    /// <summary>The image as planar floats (3 planes of Height x Width, values 0-255), e.g. as PAMR's guide.</summary>
    public float[] ToPlanarFloats()
    {
        var planar = new float[PixelCount * 3];
        ToPlanarFloats(planar);
        return planar;
    }

    /// <summary>Writes the image as planar floats (3 planes of Height x Width, values 0-255) into the start of <paramref name="planar"/>.</summary>
    public void ToPlanarFloats(Span<float> planar)
    {
        long plane = PixelCount;
        if (planar.Length < plane * 3)
        {
            throw new ArgumentException($"Need {plane * 3} floats for a {Width}x{Height} image, got {planar.Length}.", nameof(planar));
        }

        for (int i = 0; i < plane; i++)
        {
            planar[i] = Pixels[i * 3];
            planar[(int)plane + i] = Pixels[(i * 3) + 1];
            planar[(int)(2 * plane) + i] = Pixels[(i * 3) + 2];
        }
    }
}
