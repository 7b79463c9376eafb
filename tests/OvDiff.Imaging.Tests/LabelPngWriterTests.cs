using OvDiff.Core.Images;
using OvDiff.Imaging;

using OvDiff.Testing;

namespace OvDiff.Imaging.Tests;

public sealed class LabelPngWriterTests
{
    [Theory]
    [InlineData(LabelPngFormat.VocPalette)]
    [InlineData(LabelPngFormat.Grayscale)]
    public void Write_ThenRead_GivesEveryByteValueBack(LabelPngFormat format)
    {
        byte[] values = [.. Enumerable.Range(0, 16 * 17).Select(i => (byte)(i * 7))];
        var map = new LabelMap(16, 17, values);
        using var folder = new TempFolder();
        string path = folder.Combine("sub", "map.png");

        LabelPngWriter.Write(path, map, format);
        LabelMap back = new LabelPngReader().Read(path);

        Assert.Equal((16, 17), (back.Width, back.Height));
        Assert.Equal(values, back.Labels);
        Assert.Single(Directory.GetFiles(folder.Combine("sub")));
    }

    [Fact]
    public void Write_Palette_SkiaSeesVocColours()
    {
        var map = new LabelMap(3, 1, [0, 1, 255]);
        using var folder = new TempFolder();
        string path = folder.Combine("p.png");

        LabelPngWriter.Write(path, map);
        RgbImage image = ImageDecoder.Decode(path);

        // VOC colours: 0 -> (0,0,0), 1 -> (128,0,0), 255 -> (224,224,192).
        Assert.Equal(new byte[] { 0, 0, 0, 128, 0, 0, 224, 224, 192 }, image.Pixels);
    }

    [Fact]
    public void VocColormap_KnownEntriesAndExactInverse()
    {
        Assert.Equal(((byte)128, (byte)0, (byte)0), VocColormap.GetColor(1));
        Assert.Equal(((byte)192, (byte)128, (byte)128), VocColormap.GetColor(15));
        Assert.Equal(((byte)0, (byte)64, (byte)128), VocColormap.GetColor(20));
        Assert.Equal(((byte)224, (byte)224, (byte)192), VocColormap.GetColor(255));
        for (int i = 0; i < 256; i++)
        {
            var (r, g, b) = VocColormap.GetColor((byte)i);
            Assert.True(VocColormap.TryGetIndex(r, g, b, out byte back));
            Assert.Equal(i, back);
        }

        Assert.False(VocColormap.TryGetIndex(1, 2, 3, out _));
    }
}
