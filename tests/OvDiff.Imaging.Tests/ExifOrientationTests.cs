using OvDiff.Core.Images;
using OvDiff.Testing;
using SkiaSharp;

namespace OvDiff.Imaging.Tests;

/// <summary>
/// Phone photos store their pixels as the sensor read them and say in an EXIF tag (APP1, tag 0x0112) how to turn them
/// upright. A 48x32 JPEG of six 16x16 colour blocks (stored rows "ABC" over "DEF") gets each orientation 1-8 written
/// by hand (<see cref="ExifJpeg"/>); the blocks must come out where the EXIF 2.32 definition puts them, worked out by hand below.
/// </summary>
public sealed class ExifOrientationTests
{
    private static readonly Dictionary<char, (byte R, byte G, byte B)> Colours = new()
    {
        ['A'] = (230, 20, 20), ['B'] = (20, 200, 20), ['C'] = (20, 20, 230),
        ['D'] = (230, 230, 20), ['E'] = (230, 20, 230), ['F'] = (20, 230, 230),
    };

    [Theory]
    [InlineData(1, "ABC/DEF")]      // as stored
    [InlineData(2, "CBA/FED")]      // mirrored left-right
    [InlineData(3, "FED/CBA")]      // rotated 180
    [InlineData(4, "DEF/ABC")]      // mirrored top-bottom
    [InlineData(5, "AD/BE/CF")]     // transposed: stored row 0 is the left column, stored column 0 the top row
    [InlineData(6, "DA/EB/FC")]     // stored row 0 is the right column, stored column 0 the top row: turned 90 clockwise
    [InlineData(7, "FC/EB/DA")]     // stored row 0 is the right column, stored column 0 the bottom row
    [InlineData(8, "CF/BE/AD")]     // stored row 0 is the left column, stored column 0 the bottom row: turned 90 counter-clockwise
    public void Decode_AppliesEachExifOrientation_ByDefault(int orientation, string upright)
    {
        using var folder = new TempFolder();
        string path = folder.Combine($"photo{orientation}.jpg");
        File.WriteAllBytes(path, ExifJpeg.WithOrientation(BlocksJpeg(), orientation, littleEndian: orientation % 2 == 0));

        Assert.Equal(upright, Blocks(ImageDecoder.Decode(path)));
        Assert.Equal(upright, Blocks(ImageDecoder.Decode(File.ReadAllBytes(path), "photo.jpg")));
        Assert.Equal(orientation <= 4 ? (48, 32) : (32, 48), ImageDecoder.ReadSize(path));
        Assert.Equal(orientation, ImageDecoder.ReadExifOrientation(path));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(6)]
    public void Decode_Ignore_KeepsTheStoredPixels(int orientation)
    {
        using var folder = new TempFolder();
        string path = folder.Combine("stored.jpg");
        File.WriteAllBytes(path, ExifJpeg.WithOrientation(BlocksJpeg(), orientation));

        Assert.Equal("ABC/DEF", Blocks(ImageDecoder.Decode(path, ExifOrientation.Ignore)));
        Assert.Equal((48, 32), ImageDecoder.ReadSize(path, ExifOrientation.Ignore));
    }

    [Fact]
    public void Decode_WithoutExif_IsAsStored()
    {
        using var folder = new TempFolder();
        string path = folder.Combine("plain.jpg");
        File.WriteAllBytes(path, BlocksJpeg());

        Assert.Equal("ABC/DEF", Blocks(ImageDecoder.Decode(path)));
        Assert.Equal(1, ImageDecoder.ReadExifOrientation(path));
    }

    /// <summary>The blocks of a decoded image, read at each 16x16 block's centre, rows separated by '/'.</summary>
    private static string Blocks(RgbImage image)
    {
        var rows = new List<string>();
        for (int by = 0; by < image.Height / 16; by++)
        {
            var row = new char[image.Width / 16];
            for (int bx = 0; bx < row.Length; bx++)
            {
                int at = ((((by * 16) + 8) * image.Width) + (bx * 16) + 8) * 3;
                (byte r, byte g, byte b) = (image.Pixels[at], image.Pixels[at + 1], image.Pixels[at + 2]);
                row[bx] = Colours.Single(c => Math.Abs(c.Value.R - r) + Math.Abs(c.Value.G - g) + Math.Abs(c.Value.B - b) < 60).Key;
            }

            rows.Add(new string(row));
        }

        return string.Join('/', rows);
    }

    /// <summary>A 48x32 JPEG (no EXIF; SkiaSharp writes none) of blocks "ABC" over "DEF".</summary>
    private static byte[] BlocksJpeg()
    {
        using var bitmap = new SKBitmap(48, 32, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        string[] layout = ["ABC", "DEF"];
        for (int y = 0; y < 32; y++)
        {
            for (int x = 0; x < 48; x++)
            {
                (byte r, byte g, byte b) = Colours[layout[y / 16][x / 16]];
                bitmap.SetPixel(x, y, new SKColor(r, g, b));
            }
        }

        using SKData data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 100);
        return data.ToArray();
    }
}
