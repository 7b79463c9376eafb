using System.Globalization;

namespace OvDiff.Imaging;

/// <summary>
/// The largest image the decoders accept, checked against the file's header before any pixel buffer is allocated, so
/// that a corrupt or hostile header (60000x60000 over a few kilobytes of data) is an error naming the file rather than
/// gigabytes of memory or an overflow. Process-wide; the <c>ovdiff</c> command line sets it from <c>OVDIFF_MAX_PIXELS</c>.
/// </summary>
public static class ImageLimits
{
    /// <summary>The default bound: 89,478,485 pixels, Pillow's decompression-bomb threshold (e.g. 10,000 x 8,900).</summary>
    public const long DefaultMaxPixels = 89_478_485;

    private static long _maxPixels = DefaultMaxPixels;

    /// <summary>The most pixels (width x height) an image or label file may have. Default <see cref="DefaultMaxPixels"/>.</summary>
    public static long MaxPixels
    {
        get => Interlocked.Read(ref _maxPixels);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, (long)Array.MaxLength / 4);
            Interlocked.Exchange(ref _maxPixels, value);
        }
    }

    /// <summary>Throws <see cref="ImageFormatException"/> naming <paramref name="source"/> when its header's size is empty or over <see cref="MaxPixels"/>.</summary>
    public static void Check(string source, long width, long height)
    {
        if (width <= 0 || height <= 0)
        {
            throw new ImageFormatException(source, string.Create(CultureInfo.InvariantCulture, $"invalid image size {width}x{height} in its header"));
        }

        long limit = MaxPixels;
        if (width * height > limit)
        {
            throw new ImageFormatException(source, string.Create(CultureInfo.InvariantCulture,
                $"its header says {width}x{height} ({width * height / 1e6:F1} megapixels), over the bound of {limit} pixels (ImageLimits.MaxPixels; for ovdiff set OVDIFF_MAX_PIXELS)"));
        }
    }
}
