using System.Runtime.InteropServices;
using OvDiff.Core.Images;
using SkiaSharp;

namespace OvDiff.Imaging;

/// <summary>
/// Decodes photographs (JPEG, PNG, WebP, BMP, GIF: whatever SkiaSharp 2.88 reads) into <see cref="RgbImage"/>,
/// dropping alpha (as OpenCV's <c>imread</c> and PIL's <c>convert("RGB")</c> do); an animated GIF or WebP gives its first
/// frame, 16-bit PNGs their high bytes, CMYK JPEGs their RGB conversion. Pixels come in the file's stored orientation
/// (EXIF orientation is not applied), as VOC, Context and COCO ground truth is stored. A missing, truncated or corrupt
/// file, one of a format SkiaSharp does not read (TIFF, HEIC, AVIF, ...: named in the error), or one whose header
/// exceeds <see cref="ImageLimits.MaxPixels"/>, is an <see cref="ImageFormatException"/> naming it: a partly decoded
/// image is never returned. Palette PNGs decode to their colours here; read label maps with <see cref="LabelPngReader"/>.
/// Thread-safe.
/// </summary>
/// <example><code>
/// RgbImage image = ImageDecoder.Decode("JPEGImages/2007_000033.jpg");
/// (int width, int height) = ImageDecoder.ReadSize("JPEGImages/2007_000033.jpg"); // header only
/// </code></example>
public static class ImageDecoder
{
    /// <summary>Decodes the image file at <paramref name="path"/>.</summary>
    public static RgbImage Decode(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Decode(ReadFile(path), path);
    }

    /// <summary>Decodes an encoded image held in memory; <paramref name="sourceName"/> names it in errors.</summary>
    public static RgbImage Decode(ReadOnlySpan<byte> encoded, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(sourceName);
        if (encoded.IsEmpty)
        {
            throw new ImageFormatException(sourceName, "empty file, not an image");
        }

        using SKData data = SKData.CreateCopy(encoded);
        using SKCodec codec = SKCodec.Create(data) ?? throw new ImageFormatException(sourceName, Unreadable(encoded));
        ImageLimits.Check(sourceName, codec.Info.Width, codec.Info.Height);
        if (codec.EncodedFormat == SKEncodedImageFormat.Jpeg && JpegScanCheck.FindProblem(encoded) is string problem)
        {
            throw new ImageFormatException(sourceName, $"corrupt JPEG data: {problem}");
        }
        SKImageInfo info = new(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[checked(info.Width * info.Height * 4)];
        SKCodecResult result;
        GCHandle pin = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        try
        {
            result = codec.GetPixels(info, pin.AddrOfPinnedObject());
        }
        finally
        {
            pin.Free();
        }

        if (result != SKCodecResult.Success)
        {
            string reason = result == SKCodecResult.IncompleteInput ? "truncated image (incomplete data)" : $"cannot decode image ({result})";
            throw new ImageFormatException(sourceName, reason);
        }

        var rgb = new byte[info.Width * info.Height * 3];
        ReadOnlySpan<byte> source = rgba;
        for (int pixel = 0, from = 0, to = 0; pixel < info.Width * info.Height; pixel++, from += 4, to += 3)
        {
            rgb[to] = source[from];
            rgb[to + 1] = source[from + 1];
            rgb[to + 2] = source[from + 2];
        }

        return new RgbImage(info.Width, info.Height, rgb);
    }

    /// <summary>Reads only the width and height from the header of the image file at <paramref name="path"/>.</summary>
    public static (int Width, int Height) ReadSize(string path)
    {
        using SKCodec codec = OpenHeader(path);
        return (codec.Info.Width, codec.Info.Height);
    }

    /// <summary>
    /// Reads the header of the image file at <paramref name="path"/> and checks what <see cref="Decode(string)"/> would
    /// check before decoding (present, non-empty, a known format, within <see cref="ImageLimits.MaxPixels"/>); returns
    /// its size. For checking a whole list of images before a long run starts.
    /// </summary>
    public static (int Width, int Height) CheckDecodable(string path)
    {
        (int width, int height) = ReadSize(path);
        ImageLimits.Check(path, width, height);
        return (width, height);
    }

    private static SKCodec OpenHeader(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new ImageFormatException(path, Directory.Exists(path) ? FolderNotImage : "file not found");
        }

        if (new FileInfo(path).Length == 0)
        {
            throw new ImageFormatException(path, "empty file, not an image");
        }

        return SKCodec.Create(path) ?? throw new ImageFormatException(path, Unreadable(ReadHead(path)));
    }

    /// <summary>Why SkiaSharp found no codec for a file starting with <paramref name="head"/>: the format it is, where known.</summary>
    private static string Unreadable(ReadOnlySpan<byte> head)
    {
        head = head[..Math.Min(head.Length, HeadLength)];
        return ImageSniffer.Identify(head) is string format
            ? $"{format}, a format OvDiff cannot decode (it reads JPEG, PNG, WebP, BMP, GIF); convert it, e.g. to PNG or JPEG"
            : ImageSniffer.DescribeNonImage(head);
    }

    /// <summary>How many leading bytes name a file's format in errors.</summary>
    private const int HeadLength = 256;

    private static byte[] ReadHead(string path)
    {
        using FileStream stream = File.OpenRead(path);
        var head = new byte[Math.Min(stream.Length, HeadLength)];
        stream.ReadExactly(head);
        return head;
    }

    /// <summary>The reason given for a folder where an image file was expected.</summary>
    private const string FolderNotImage = "a folder, not an image file (name the images, e.g. folder/*.jpg)";

    private static byte[] ReadFile(string path)
    {
        if (Directory.Exists(path))
        {
            throw new ImageFormatException(path, FolderNotImage);
        }

        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ImageFormatException(path, "file not found", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageFormatException(path, $"cannot read file ({e.Message})", e);
        }
    }
}
