using OvDiff.Core.Images;
using OvDiff.Core.IO;

namespace OvDiff.Imaging;

/// <summary>
/// Writes RGB images as 8-bit PNGs, losslessly and deterministically (equal pixels, equal bytes), e.g. generated support
/// images; <see cref="ImageDecoder"/> reads them back exactly.
/// </summary>
public static class RgbPngWriter
{
    /// <summary>Writes <paramref name="image"/> to <paramref name="path"/> atomically, creating its folder if needed.</summary>
    public static void Write(string path, RgbImage image)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(image);
        AtomicFile.Write(path, stream => Write(stream, image));
    }

    /// <summary>Writes <paramref name="image"/> as a PNG to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(image);
        PngEncoder.Write(stream, image.Width, image.Height, PngEncoder.Rgb, [], image.Pixels);
    }
}
