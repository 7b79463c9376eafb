using System.Runtime.InteropServices;
using OvDiff.Core.Images;
using SkiaSharp;

namespace OvDiff.Imaging;

/// <summary>
/// Decodes photographs (JPEG, PNG, WebP, BMP, GIF: whatever SkiaSharp 2.88 reads) into <see cref="RgbImage"/>,
/// dropping alpha (as OpenCV's <c>imread</c> and PIL's <c>convert("RGB")</c> do); an animated GIF or WebP gives its first
/// frame, 16-bit PNGs their high bytes, CMYK JPEGs their RGB conversion. By default a photo's EXIF orientation is applied
/// (<see cref="ExifOrientation.Apply"/>: the image is upright as viewers show it, as OpenCV's <c>imread</c> gives it);
/// <see cref="ExifOrientation.Ignore"/> keeps the stored pixels, the orientation VOC, Context and COCO ground truth
/// masks are annotated in (the evaluator's choice). A missing, truncated or corrupt file, one of a format SkiaSharp does
/// not read (TIFF, HEIC, AVIF, ...: named in the error), or one whose header exceeds <see cref="ImageLimits.MaxPixels"/>,
/// is an <see cref="ImageFormatException"/> naming it: a partly decoded image is never returned. Palette PNGs decode to
/// their colours here; read label maps with <see cref="LabelPngReader"/>. Thread-safe.
/// </summary>
/// <example><code>
/// RgbImage photo = ImageDecoder.Decode("phone/IMG_0042.jpg");                                  // upright
/// RgbImage image = ImageDecoder.Decode("JPEGImages/2007_000033.jpg", ExifOrientation.Ignore);  // as stored, like its mask
/// (int width, int height) = ImageDecoder.ReadSize("JPEGImages/2007_000033.jpg"); // header only
/// </code></example>
public static class ImageDecoder
{
    /// <summary>Decodes the image file at <paramref name="path"/>, upright unless <paramref name="orientation"/> is <see cref="ExifOrientation.Ignore"/>.</summary>
    public static RgbImage Decode(string path, ExifOrientation orientation = ExifOrientation.Apply)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Decode(ReadFile(path), path, orientation);
    }

    /// <summary>Decodes an encoded image held in memory; <paramref name="sourceName"/> names it in errors.</summary>
    public static RgbImage Decode(ReadOnlySpan<byte> encoded, string sourceName, ExifOrientation orientation = ExifOrientation.Apply)
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

        SKEncodedOrigin origin = orientation == ExifOrientation.Apply ? codec.EncodedOrigin : SKEncodedOrigin.TopLeft;
        return ToUprightRgb(rgba, info.Width, info.Height, origin);
    }

    /// <summary>
    /// The RGB image that <paramref name="origin"/> (the EXIF orientation of the stored <paramref name="width"/> x
    /// <paramref name="height"/> RGBA pixels) shows upright: output pixel (x, y) is the stored pixel (sx, sy) below, with
    /// W, H the stored size (EXIF 2.32, tag 0x0112; 5-8 swap width and height).
    /// </summary>
    private static RgbImage ToUprightRgb(byte[] rgba, int width, int height, SKEncodedOrigin origin)
    {
        bool swapped = origin >= SKEncodedOrigin.LeftTop;
        (int outWidth, int outHeight) = swapped ? (height, width) : (width, height);
        var rgb = new byte[checked(outWidth * outHeight * 3)];
        for (int y = 0, to = 0; y < outHeight; y++)
        {
            for (int x = 0; x < outWidth; x++, to += 3)
            {
                (int sx, int sy) = origin switch
                {
                    SKEncodedOrigin.TopRight => (width - 1 - x, y),                    // 2: mirrored left-right
                    SKEncodedOrigin.BottomRight => (width - 1 - x, height - 1 - y),    // 3: rotated 180
                    SKEncodedOrigin.BottomLeft => (x, height - 1 - y),                 // 4: mirrored top-bottom
                    SKEncodedOrigin.LeftTop => (y, x),                                 // 5: transposed
                    SKEncodedOrigin.RightTop => (y, height - 1 - x),                   // 6: shown rotated 90 clockwise
                    SKEncodedOrigin.RightBottom => (width - 1 - y, height - 1 - x),    // 7: transversed
                    SKEncodedOrigin.LeftBottom => (width - 1 - y, x),                  // 8: shown rotated 90 counter-clockwise
                    _ => (x, y),                                                       // 1: as stored
                };
                int from = ((sy * width) + sx) * 4;
                rgb[to] = rgba[from];
                rgb[to + 1] = rgba[from + 1];
                rgb[to + 2] = rgba[from + 2];
            }
        }

        return new RgbImage(outWidth, outHeight, rgb);
    }

    /// <summary>
    /// Reads only the width and height from the header of the image file at <paramref name="path"/>: the size
    /// <see cref="Decode(string, ExifOrientation)"/> gives with the same <paramref name="orientation"/> (EXIF orientations
    /// 5-8 swap them).
    /// </summary>
    public static (int Width, int Height) ReadSize(string path, ExifOrientation orientation = ExifOrientation.Apply)
    {
        using SKCodec codec = OpenHeader(path);
        bool swapped = orientation == ExifOrientation.Apply && codec.EncodedOrigin >= SKEncodedOrigin.LeftTop;
        return swapped ? (codec.Info.Height, codec.Info.Width) : (codec.Info.Width, codec.Info.Height);
    }

    /// <summary>The EXIF orientation (1-8; 1 = as stored) in the header of the image file at <paramref name="path"/>; 1 where it has none.</summary>
    public static int ReadExifOrientation(string path)
    {
        using SKCodec codec = OpenHeader(path);
        return (int)codec.EncodedOrigin;
    }

    /// <summary>
    /// Reads the header of the image file at <paramref name="path"/> and checks what <see cref="Decode(string, ExifOrientation)"/> would
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
        if (ImageSniffer.IdentifyUndecodableJpeg(head) is string jpeg)
        {
            return $"{jpeg}, which OvDiff cannot decode (it reads 8-bit baseline, progressive and arithmetic-coded JPEGs); convert it, e.g. to PNG";
        }

        head = head[..Math.Min(head.Length, HeadLength)];
        return ImageSniffer.Identify(head) is string format
            ? $"{format}, a format OvDiff cannot decode (it reads JPEG, PNG, WebP, BMP, GIF); convert it, e.g. to PNG or JPEG"
            : ImageSniffer.DescribeNonImage(head);
    }

    /// <summary>How many leading bytes name a file's format in errors.</summary>
    private const int HeadLength = 256;

    /// <summary>How many leading bytes of an unreadable file are read to name it: a JPEG's frame header may follow 64 KB segments of EXIF, ICC and XMP.</summary>
    private const int SniffLength = 1 << 20;

    private static byte[] ReadHead(string path)
    {
        using FileStream stream = File.OpenRead(path);
        var head = new byte[Math.Min(stream.Length, SniffLength)];
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
