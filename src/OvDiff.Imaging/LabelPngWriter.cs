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

        PngEncoder.Write(stream, labels.Width, labels.Height, format == LabelPngFormat.VocPalette ? PngEncoder.Palette : PngEncoder.Grayscale,
            format == LabelPngFormat.VocPalette ? VocColormap.Palette : [], labels.Labels);
    }
}
