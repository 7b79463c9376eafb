using OvDiff.Core.Images;
using OvDiff.Imaging;

using OvDiff.Testing;

namespace OvDiff.Imaging.Tests;

public sealed class LabelPngReaderTests
{
    // A 7x5 pattern that varies along both axes and wraps past 255 where bytes are summed, so each filter's arithmetic matters.
    private static byte[][] Pattern(int width, int height, Func<int, int, int> value) =>
        [.. Enumerable.Range(0, height).Select(y => Enumerable.Range(0, width).Select(x => (byte)value(x, y)).ToArray())];

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Decode_EightBitPaletteWithEachFilter_GivesStoredIndices(int filter)
    {
        byte[][] rows = Pattern(7, 5, (x, y) => ((x * 37) + (y * 91) + (x * y * 13)) % 256);
        byte[] png = PngBuilder.Build(7, 5, 8, 3, rows, [filter]);

        byte[] labels = [];
        LabelImageSize size = new LabelPngReader().Decode("test.png", png, ref labels);

        Assert.Equal(new LabelImageSize(7, 5), size);
        Assert.Equal(rows.SelectMany(r => r).ToArray(), labels.AsSpan(0, 35).ToArray());
    }

    [Fact]
    public void Decode_MixedFiltersGrayscale_GivesStoredGrayValues()
    {
        byte[][] rows = Pattern(9, 6, (x, y) => (x * 29) ^ (y * 71));
        byte[] png = PngBuilder.Build(9, 6, 8, 0, rows, [4, 3, 2, 1, 0]);

        LabelMap map = new LabelPngReader().Read(WriteTemp(png, out var folder));
        using (folder)
        {
            Assert.Equal(rows.SelectMany(r => r).ToArray(), map.Labels);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Decode_LowBitDepthPalette_UnpacksIndicesMostSignificantFirst(int bitDepth)
    {
        int width = 11, height = 3, max = (1 << bitDepth) - 1;
        int[,] values = new int[height, width];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                values[y, x] = ((x * 3) + y) % (max + 1);
            }
        }

        int stride = ((width * bitDepth) + 7) / 8;
        var rows = new byte[height][];
        for (int y = 0; y < height; y++)
        {
            rows[y] = new byte[stride];
            for (int x = 0; x < width; x++)
            {
                int bitOffset = x * bitDepth;
                rows[y][bitOffset / 8] |= (byte)(values[y, x] << (8 - bitDepth - (bitOffset % 8)));
            }
        }

        byte[] png = PngBuilder.Build(width, height, bitDepth, 3, rows, [1, 4, 2]);
        byte[] labels = [];
        new LabelPngReader().Decode("low.png", png, ref labels);

        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                Assert.Equal(values[y, x], labels[(y * width) + x]);
            }
        }
    }

    [Fact]
    public void Decode_RgbRenderedWithVocColours_InvertsToIndices()
    {
        byte[] indices = [0, 1, 15, 20, 255, 7];
        byte[] rgb = indices.SelectMany(i => { var (r, g, b) = VocColormap.GetColor(i); return new[] { r, g, b }; }).ToArray();
        byte[] png = PngBuilder.Build(3, 2, 8, 2, [rgb[..9], rgb[9..]], [1, 2], bytesPerPixel: 3);

        byte[] labels = [];
        new LabelPngReader().Decode("rgb.png", png, ref labels);

        Assert.Equal(indices, labels.AsSpan(0, 6).ToArray());
    }

    [Fact]
    public void Decode_RgbWithForeignColour_ThrowsNamingPixelAndColour()
    {
        byte[] rgb = [0, 0, 0, 128, 0, 0, 1, 2, 3];
        byte[] png = PngBuilder.Build(3, 1, 8, 2, [rgb], [0], bytesPerPixel: 3);

        var error = Assert.Throws<ImageFormatException>(() => { byte[] l = []; new LabelPngReader().Decode("odd.png", png, ref l); });

        Assert.Contains("odd.png", error.Message, StringComparison.Ordinal);
        Assert.Contains("(1,2,3) at pixel (2,0)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_SixteenBitGray_IsRejectedClearly()
    {
        byte[] png = PngBuilder.Build(2, 1, 16, 0, [[0, 1, 0, 2]], [0]);
        var error = Assert.Throws<ImageFormatException>(() => { byte[] l = []; new LabelPngReader().Decode("deep.png", png, ref l); });
        Assert.Contains("16-bit grayscale", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_TruncatedFile_ThrowsNamingFile()
    {
        byte[] png = PngBuilder.Build(64, 64, 8, 3, Pattern(64, 64, (x, y) => x ^ y), [2]);
        using var folder = new TempFolder();
        string path = folder.Combine("cut.png");
        File.WriteAllBytes(path, png[..(png.Length / 2)]);

        var error = Assert.Throws<ImageFormatException>(() => new LabelPngReader().Read(path));

        Assert.Equal(path, error.FilePath);
        Assert.Contains("truncated", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_FlippedByteInImageData_ThrowsCrcMismatch()
    {
        byte[] png = PngBuilder.Build(16, 16, 8, 3, Pattern(16, 16, (x, y) => x + y), [0]);
        png[^20] ^= 0x40;
        var error = Assert.Throws<ImageFormatException>(() => { byte[] l = []; new LabelPngReader().Decode("flip.png", png, ref l); });
        Assert.Contains("CRC", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_MissingFile_ThrowsNamingFile()
    {
        string path = Path.Combine(Path.GetTempPath(), "ovdiff-no-such-file.png");
        var error = Assert.Throws<ImageFormatException>(() => new LabelPngReader().Read(path));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadInto_LargerThenSmallerImage_ReusesBuffer()
    {
        var reader = new LabelPngReader();
        byte[] labels = [];
        reader.Decode("a.png", PngBuilder.Build(8, 8, 8, 0, Pattern(8, 8, (x, y) => 9), [0]), ref labels);
        byte[] first = labels;
        LabelImageSize size = reader.Decode("b.png", PngBuilder.Build(2, 3, 8, 0, Pattern(2, 3, (x, y) => 4), [0]), ref labels);

        Assert.Same(first, labels);
        Assert.Equal(6, size.PixelCount);
        Assert.All(labels.AsSpan(0, 6).ToArray(), v => Assert.Equal(4, v));
    }

    [Fact]
    public void Read_RealVocMasks_AgreeWithSkiaColoursInvertedThroughColormap()
    {
        string voc = SharedData.RequireFolder("VOC2012");
        string[] ids = File.ReadAllLines(Path.Combine(voc, "ImageSets", "Segmentation", "mini.txt")).Where(l => l.Length > 0).Take(20).ToArray();
        var reader = new LabelPngReader();
        foreach (string id in ids)
        {
            string path = Path.Combine(voc, "SegmentationClass", id + ".png");
            LabelMap labels = reader.Read(path);
            RgbImage colours = ImageDecoder.Decode(path);
            Assert.Equal((colours.Width, colours.Height), (labels.Width, labels.Height));
            for (int i = 0; i < labels.Labels.Length; i++)
            {
                Assert.True(VocColormap.TryGetIndex(colours.Pixels[i * 3], colours.Pixels[(i * 3) + 1], colours.Pixels[(i * 3) + 2], out byte expected));
                if (expected != labels.Labels[i])
                {
                    Assert.Fail($"{id} pixel {i}: reader {labels.Labels[i]}, colour map {expected}");
                }
            }
        }
    }

    private static string WriteTemp(byte[] png, out TempFolder folder)
    {
        folder = new TempFolder();
        string path = folder.Combine("x.png");
        File.WriteAllBytes(path, png);
        return path;
    }
}
