using OvDiff.Core.Images;
using SkiaSharp;

namespace OvDiff.Imaging;

/// <summary>
/// Renders a label map over its image for people: each label's VOC colour blended at <paramref name="Opacity"/>, plus a
/// legend strip naming the labels present (colour swatch and class name), written as PNG to a stream.
/// </summary>
/// <param name="Opacity">Weight of the label colour, 0 (image only) to 1 (colours only). Default 0.55.</param>
public sealed record OverlayRenderer(float Opacity = 0.55f)
{
    private const int LegendRow = 22;

    /// <summary>Writes the overlay as PNG to <paramref name="stream"/>.</summary>
    public void Write(Stream stream, RgbImage image, LabelMap labels, IReadOnlyList<string> labelNames)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(labelNames);
        if (image.Width != labels.Width || image.Height != labels.Height)
        {
            throw new ArgumentException($"The label map is {labels.Width}x{labels.Height} but the image is {image.Width}x{image.Height}.", nameof(labels));
        }

        var present = new SortedSet<byte>();
        foreach (byte label in labels.Labels)
        {
            present.Add(label);
        }

        int legendHeight = (LegendRow * present.Count) + 6;
        int width = Math.Max(image.Width, 160);
        using var bitmap = new SKBitmap(new SKImageInfo(width, image.Height + legendHeight, SKColorType.Rgba8888, SKAlphaType.Opaque));
        int rowBytes = bitmap.RowBytes;
        var pixels = new byte[rowBytes * bitmap.Height];
        pixels.AsSpan().Fill(255);
        Blend(image, labels, Opacity, pixels, rowBytes, 0);

        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using (var canvas = new SKCanvas(bitmap))
        using (var swatch = new SKPaint { IsAntialias = false })
        using (var text = new SKPaint { Color = SKColors.Black, IsAntialias = true, TextSize = 15, Typeface = SKTypeface.Default })
        {
            int row = 0;
            foreach (byte label in present)
            {
                (byte r, byte g, byte b) = VocColormap.GetColor(label);
                float top = image.Height + 4 + (row * LegendRow);
                swatch.Color = new SKColor(r, g, b);
                canvas.DrawRect(6, top, 16, 16, swatch);
                string name = label < labelNames.Count ? labelNames[label] : label == LabelMap.IgnoreIndex ? "ignore" : $"label {label}";
                canvas.DrawText($"{label}: {name}", 28, top + 13, text);
                row++;
            }
        }

        using SKData png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        png.SaveTo(stream);
    }

    /// <summary>
    /// Writes <paramref name="image"/> with each label's VOC colour blended at <paramref name="opacity"/> into RGBA
    /// <paramref name="rgba"/> (rows of <paramref name="rowBytes"/>), starting at column <paramref name="left"/>.
    /// </summary>
    internal static void Blend(RgbImage image, LabelMap labels, float opacity, Span<byte> rgba, int rowBytes, int left)
    {
        float keep = 1f - opacity;
        for (int y = 0; y < image.Height; y++)
        {
            for (int x = 0; x < image.Width; x++)
            {
                long i = ((long)y * image.Width) + x;
                (byte r, byte g, byte b) = VocColormap.GetColor(labels.Labels[i]);
                int o = (y * rowBytes) + ((left + x) * 4);
                rgba[o] = (byte)((image.Pixels[i * 3] * keep) + (r * opacity));
                rgba[o + 1] = (byte)((image.Pixels[(i * 3) + 1] * keep) + (g * opacity));
                rgba[o + 2] = (byte)((image.Pixels[(i * 3) + 2] * keep) + (b * opacity));
                rgba[o + 3] = 255;
            }
        }
    }
}
