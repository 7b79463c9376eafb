using System.Text;
using OvDiff.Testing;
using SkiaSharp;

namespace OvDiff.Imaging.Tests;

/// <summary>
/// Files users bring that SkiaSharp does not decode: another image format (HEIC from a phone, AVIF, TIFF), or something
/// else under an image name (a text file, a web page saved as .jpg). Each is one error naming the file and what it is;
/// the header check that fit runs first says the same.
/// </summary>
public sealed class PhotoFormatTests
{
    [Theory]
    [InlineData("IMG_0042.heic", "heic", "a HEIC/HEIF image")]
    [InlineData("photo.heif", "mif1", "a HEIC/HEIF image")]
    [InlineData("photo.avif", "avif", "an AVIF image")]
    public void IsoMediaImage_IsNamedByItsBrand(string name, string brand, string expected)
    {
        // An ISO base media file: a 'ftyp' box (size, 'ftyp', major brand, minor version, compatible brands), then more boxes.
        byte[] ftyp = [0, 0, 0, 24, .. "ftyp"u8, .. Encoding.ASCII.GetBytes(brand), 0, 0, 0, 0, .. "mif1"u8, .. Encoding.ASCII.GetBytes(brand), .. new byte[200]];

        AssertRefused(name, ftyp, $"{expected}, a format OvDiff cannot decode (it reads JPEG, PNG, WebP, BMP, GIF); convert it");
    }

    [Theory]
    [InlineData(new byte[] { (byte)'I', (byte)'I', 42, 0, 8, 0, 0, 0 })]
    [InlineData(new byte[] { (byte)'M', (byte)'M', 0, 42, 0, 0, 0, 8 })]
    public void Tiff_EitherByteOrder_IsNamed(byte[] header) =>
        AssertRefused("scan.tif", [.. header, .. new byte[100]], "a TIFF image (or a camera raw file), a format OvDiff cannot decode");

    [Fact]
    public void TextFileNamedJpg_SaysItIsText_QuotingItsStart()
    {
        AssertRefused("notes.jpg", Encoding.UTF8.GetBytes("hello, this is not an image\nsecond line\n"),
            "a text file, not an image (it begins \"hello, this is not an image\")");
    }

    [Fact]
    public void WebPageSavedAsJpg_SaysItIsHtml()
    {
        AssertRefused("download.jpg", Encoding.UTF8.GetBytes("\n<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head></html>"),
            "an HTML page, not an image");
    }

    [Fact]
    public void UnknownBinary_KeepsTheGeneralMessage()
    {
        AssertRefused("noise.jpg", [0x00, 0x13, 0x99, 0xFE, 0x01, 0x02, 0x80, 0x81], "not a readable image (unknown format or corrupt header)");
    }

    [Theory]
    [InlineData(0xC1, 12, 16, "a 12-bit JPEG")]
    [InlineData(0xC3, 8, 16, "a lossless JPEG")]
    [InlineData(0xC0, 8, 0, "a JPEG whose height is given by a DNL marker")]
    public void JpegOfAProcessLibjpegTurboDoesNotDecode_IsNamed(byte frameMarker, byte precision, byte height, string expected)
    {
        // Valid JPEGs SkiaSharp's 8-bit libjpeg-turbo refuses (medical, scanner or camera-raw exports), behind 40 KB of
        // EXIF as a camera writes it: was 'not a readable image (unknown format or corrupt header)', as if damaged.
        using SKBitmap bitmap = new(16, 16);
        using SKData data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90);
        byte[] jpeg = data.ToArray();
        int frame = jpeg.AsSpan().IndexOf([(byte)0xFF, (byte)0xC0]);
        (jpeg[frame + 1], jpeg[frame + 4], jpeg[frame + 5], jpeg[frame + 6]) = (frameMarker, precision, 0, height);
        byte[] exif = [0xFF, 0xE1, 40002 >> 8, 40002 & 0xFF, .. "Exif\0\0"u8, .. new byte[39994]];

        AssertRefused("scan.jpg", [.. jpeg[..2], .. exif, .. jpeg[2..]], $"{expected}, which OvDiff cannot decode (it reads 8-bit baseline, progressive and arithmetic-coded JPEGs); convert it");
    }

    [Fact]
    public void NetpbmImage_IsNamed_NotTakenForText()
    {
        // A PPM's header is text, its pixels binary: it was 'a text file, not an image (it begins "P6")'.
        AssertRefused("frame.ppm", [.. "P6\n2 1\n255\n"u8, 0xFF, 0x80, 0x00, 0x10, 0xC0, 0xFE], "a Netpbm (PPM, PGM or PBM) image, a format OvDiff cannot decode");
        AssertRefused("data.jpg", [.. "RECORD 17 "u8, 0xFF, 0xFE, 0x80, 0x90, 0xC0, 0x01], "not a readable image (unknown format or corrupt header)");
    }

    [Fact]
    public void PngVariantsPhonesAndEditorsWrite_DecodeToTheirColours()
    {
        // 16-bit RGB: the high byte of each sample. 8-bit grey + alpha: grey in every channel, alpha dropped (as OpenCV
        // and PIL's convert("RGB") do). 16-bit RGBA: alpha dropped, not premultiplied into the colour.
        byte[] rgb16 = PngBuilder.Build(2, 1, 16, 2, [[0x12, 0x34, 0xAB, 0xCD, 0xFF, 0x00, 0x00, 0x00, 0x80, 0x01, 0x40, 0xFF]], [0], bytesPerPixel: 6);
        byte[] grayAlpha = PngBuilder.Build(2, 1, 8, 4, [[200, 255, 90, 0]], [0], bytesPerPixel: 2);
        byte[] rgba16 = PngBuilder.Build(1, 1, 16, 6, [[0xC8, 0x00, 0x64, 0x00, 0x32, 0x00, 0x40, 0x00]], [0], bytesPerPixel: 8);

        Assert.Equal(new byte[] { 0x12, 0xAB, 0xFF, 0x00, 0x80, 0x40 }, ImageDecoder.Decode(rgb16, "rgb16.png").Pixels);
        Assert.Equal(new byte[] { 200, 200, 200, 90, 90, 90 }, ImageDecoder.Decode(grayAlpha, "ga.png").Pixels);
        Assert.Equal(new byte[] { 200, 100, 50 }, ImageDecoder.Decode(rgba16, "rgba16.png").Pixels);
    }

    private static void AssertRefused(string name, byte[] content, string reason)
    {
        using var folder = new TempFolder();
        string path = folder.Combine(name);
        File.WriteAllBytes(path, content);

        var decodeError = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(path));
        var headerError = Assert.Throws<ImageFormatException>(() => ImageDecoder.CheckDecodable(path));

        Assert.StartsWith($"{path}: {reason}", decodeError.Message, StringComparison.Ordinal);
        Assert.Equal(decodeError.Message, headerError.Message);
        Assert.DoesNotContain('\n', decodeError.Message);
    }
}
