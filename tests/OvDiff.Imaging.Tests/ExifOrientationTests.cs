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

    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    [InlineData(65535)]
    public void OrientationOutsideOneToEight_IsAsStored_NotAnError(int orientation)
    {
        using var folder = new TempFolder();
        string path = folder.Combine("odd.jpg");
        File.WriteAllBytes(path, ExifJpeg.WithOrientation(BlocksJpeg(), orientation));

        Assert.Equal("ABC/DEF", Blocks(ImageDecoder.Decode(path)));
        Assert.Equal((48, 32), ImageDecoder.ReadSize(path));
        Assert.Equal(1, ImageDecoder.ReadExifOrientation(path));
    }

    [Fact]
    public void MalformedExif_IsIgnored_NotAnError()
    {
        // An IFD0 offset past the block's end, and a block cut inside its entry: the photo decodes as stored.
        byte[] jpeg = BlocksJpeg();
        byte[] farOffset = [0xFF, 0xE1, 0x00, 0x10, .. "Exif\0\0II*\0"u8, 0xA0, 0x86, 0x01, 0x00];
        byte[] tagged = ExifJpeg.WithOrientation(jpeg, 6);
        byte[] cut = [.. tagged[..2], 0xFF, 0xE1, 0x00, 0x16, .. tagged[6..26], .. jpeg[2..]];   // 20 of its 32 bytes

        Assert.Equal("ABC/DEF", Blocks(ImageDecoder.Decode([.. jpeg[..2], .. farOffset, .. jpeg[2..]], "far.jpg")));
        Assert.Equal("ABC/DEF", Blocks(ImageDecoder.Decode(cut, "cut.jpg")));
    }

    [Fact]
    public void ExifAfterXmpAndIccSegments_IsApplied()
    {
        // Editors write XMP (another APP1) and an ICC profile (APP2) before the EXIF block too.
        byte[] xmp = [0xFF, 0xE1, 0x00, 0x2B, .. "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>"u8];
        byte[] icc = [0xFF, 0xE2, 0x00, 0x12, .. "ICC_PROFILE\0"u8, 1, 1, 0, 0];
        byte[] tagged = ExifJpeg.WithOrientation(BlocksJpeg(), 6);

        RgbImage image = ImageDecoder.Decode([.. tagged[..2], .. xmp, .. icc, .. tagged[2..]], "edited.jpg");

        Assert.Equal("DA/EB/FC", Blocks(image));
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
