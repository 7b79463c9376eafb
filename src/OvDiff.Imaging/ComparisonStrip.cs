using OvDiff.Core.Images;
using OvDiff.Core.Numerics;
using SkiaSharp;

namespace OvDiff.Imaging;

/// <summary>
/// A small side-by-side view of one evaluated image for people (the HTML report's best and worst images): the image,
/// the ground truth over it and the prediction over it, each scaled to <paramref name="Height"/> pixels and separated by
/// a white gap, as one JPEG (panels never wider than three times the height). Label colours are the VOC colour map's (<see cref="VocColormap"/>), so a legend can name them.
/// </summary>
/// <param name="Height">Height of the strip in pixels. Default 160.</param>
/// <param name="Opacity">Weight of the label colours over the image. Default 0.6.</param>
/// <param name="Quality">JPEG quality, 1 to 100. Default 85.</param>
public sealed record ComparisonStrip(int Height = 160, float Opacity = 0.6f, int Quality = 85)
{
    private const int Gap = 4;

    /// <summary>Encodes the strip of <paramref name="image"/>, <paramref name="groundTruth"/> and <paramref name="prediction"/> (all of one size).</summary>
    public byte[] Encode(RgbImage image, LabelMap groundTruth, LabelMap prediction)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(groundTruth);
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Height);
        foreach (LabelMap map in (ReadOnlySpan<LabelMap>)[groundTruth, prediction])
        {
            if (map.Width != image.Width || map.Height != image.Height)
            {
                throw new ArgumentException($"A label map is {map.Width}x{map.Height} but the image is {image.Width}x{image.Height}.", nameof(image));
            }
        }

        // Each panel at most Height tall and 3 x Height wide (very wide images are shrunk further), never enlarged.
        double scale = Math.Min(1.0, Math.Min((double)Height / image.Height, 3.0 * Height / image.Width));
        int height = Math.Max(1, (int)Math.Round(image.Height * scale));
        int width = Math.Max(1, (int)Math.Round(image.Width * scale));
        RgbImage small = width == image.Width && height == image.Height ? image : Resampling.ResizeImage(image, width, height, ImageFilter.Bilinear);
        LabelMap smallTruth = Resampling.ResizeNearest(groundTruth, width, height);
        LabelMap smallPrediction = Resampling.ResizeNearest(prediction, width, height);

        using var bitmap = new SKBitmap(new SKImageInfo((3 * width) + (2 * Gap), height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        int rowBytes = bitmap.RowBytes;
        var pixels = new byte[rowBytes * height];
        pixels.AsSpan().Fill(255);
        OverlayRenderer.Blend(small, smallTruth, 0f, pixels, rowBytes, 0);
        OverlayRenderer.Blend(small, smallTruth, Opacity, pixels, rowBytes, width + Gap);
        OverlayRenderer.Blend(small, smallPrediction, Opacity, pixels, rowBytes, 2 * (width + Gap));
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using SKData jpeg = bitmap.Encode(SKEncodedImageFormat.Jpeg, Quality);
        return jpeg.ToArray();
    }
}
