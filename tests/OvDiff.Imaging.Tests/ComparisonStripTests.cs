using OvDiff.Core.Images;
using OvDiff.Imaging;

namespace OvDiff.Imaging.Tests;

public sealed class ComparisonStripTests
{
    [Fact]
    public void Encode_ThreePanelsScaledToHeight_WithLabelColoursBlended()
    {
        // A 40x20 mid-grey image; ground truth all class 1 (VOC red 128,0,0), prediction all class 2 (green 0,128,0).
        var image = new RgbImage(40, 20, Enumerable.Repeat((byte)100, 40 * 20 * 3).ToArray());
        var truth = new LabelMap(40, 20, Enumerable.Repeat((byte)1, 800).ToArray());
        var prediction = new LabelMap(40, 20, Enumerable.Repeat((byte)2, 800).ToArray());

        byte[] jpeg = new ComparisonStrip(Height: 10, Opacity: 0.5f, Quality: 100).Encode(image, truth, prediction);

        RgbImage strip = ImageDecoder.Decode(jpeg, "strip.jpg");
        Assert.Equal((3 * 20 + 8, 10), (strip.Width, strip.Height));

        // Centre pixels of each panel: grey; (100 + 128) / 2 red; (100 + 128) / 2 green (JPEG: within a few levels).
        AssertNear((100, 100, 100), Pixel(strip, 10, 5));
        AssertNear((114, 50, 50), Pixel(strip, 34, 5));
        AssertNear((50, 114, 50), Pixel(strip, 58, 5));
    }

    private static (int R, int G, int B) Pixel(RgbImage image, int x, int y)
    {
        long i = ((long)y * image.Width) + x;
        return (image.Pixels[i * 3], image.Pixels[(i * 3) + 1], image.Pixels[(i * 3) + 2]);
    }

    private static void AssertNear((int R, int G, int B) expected, (int R, int G, int B) actual)
    {
        Assert.True(Math.Abs(expected.R - actual.R) <= 6 && Math.Abs(expected.G - actual.G) <= 6 && Math.Abs(expected.B - actual.B) <= 6, $"expected about {expected}, got {actual}");
    }
}
