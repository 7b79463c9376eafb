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
}
