using OvDiff.Core.Images;
using OvDiff.Imaging;

using OvDiff.Testing;

namespace OvDiff.Imaging.Tests;

public sealed class ImageDecoderTests
{
    [Fact]
    public void Decode_GrayscalePng_GivesGrayInEveryChannel()
    {
        using var folder = new TempFolder();
        string path = folder.Combine("g.png");
        LabelPngWriter.Write(path, new LabelMap(2, 1, [10, 200]), LabelPngFormat.Grayscale);

        RgbImage image = ImageDecoder.Decode(path);

        Assert.Equal(new byte[] { 10, 10, 10, 200, 200, 200 }, image.Pixels);
        Assert.Equal((2, 1), ImageDecoder.ReadSize(path));
    }

    [Fact]
    public void Decode_RealJpeg_HasItsMaskSize()
    {
        string voc = SharedData.RequireFolder("VOC2012");
        string id = File.ReadLines(Path.Combine(voc, "ImageSets", "Segmentation", "mini.txt")).First();
        RgbImage image = ImageDecoder.Decode(Path.Combine(voc, "JPEGImages", id + ".jpg"));
        LabelMap mask = new LabelPngReader().Read(Path.Combine(voc, "SegmentationClass", id + ".png"));

        Assert.Equal((mask.Width, mask.Height), (image.Width, image.Height));
        Assert.Contains(image.Pixels, p => p > 0);
    }

    [Fact]
    public void Decode_TruncatedJpeg_ThrowsNamingFile()
    {
        string voc = SharedData.RequireFolder("VOC2012");
        string id = File.ReadLines(Path.Combine(voc, "ImageSets", "Segmentation", "mini.txt")).First();
        byte[] jpeg = File.ReadAllBytes(Path.Combine(voc, "JPEGImages", id + ".jpg"));
        using var folder = new TempFolder();
        string path = folder.Combine("cut.jpg");
        File.WriteAllBytes(path, jpeg[..(jpeg.Length / 3)]);

        var error = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(path));

        Assert.Equal(path, error.FilePath);
        Assert.True(error.Message.Contains("truncated", StringComparison.Ordinal), error.Message);
    }

    [Fact]
    public void Decode_GarbageOrMissing_ThrowsNamingFile()
    {
        using var folder = new TempFolder();
        string garbage = folder.Combine("garbage.jpg");
        File.WriteAllText(garbage, "this is not an image");

        Assert.Contains("garbage.jpg", Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(garbage)).Message, StringComparison.Ordinal);
        Assert.Contains("missing.jpg", Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(folder.Combine("missing.jpg"))).Message, StringComparison.Ordinal);
    }
}
