using System.Text;
using OvDiff.Testing;

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
