using System.Text;

namespace OvDiff.Imaging;

/// <summary>
/// Names what a file that no image codec reads is, from its first bytes (magic numbers): an image format SkiaSharp does
/// not decode (TIFF, HEIC/HEIF, AVIF, JPEG XL, JPEG 2000, PSD, SVG), a document or video, a text or HTML file (a failed
/// download saved as <c>.jpg</c>), so the error tells the user what to convert rather than "unknown format".
/// </summary>
internal static class ImageSniffer
{
    private static ReadOnlySpan<byte> JpegXlCodestream => [0xFF, 0x0A];
    private static ReadOnlySpan<byte> JpegXlContainer => [0, 0, 0, 0x0C, (byte)'J', (byte)'X', (byte)'L', (byte)' '];
    private static ReadOnlySpan<byte> Jpeg2000Container => [0, 0, 0, 0x0C, (byte)'j', (byte)'P', (byte)' ', (byte)' '];
    private static ReadOnlySpan<byte> Jpeg2000Codestream => [0xFF, 0x4F, 0xFF, 0x51];

    /// <summary>The format of a file starting with <paramref name="head"/>, as a phrase ("a HEIC image"), or null when not one of those named above.</summary>
    public static string? Identify(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith("II*\0"u8) || head.StartsWith("MM\0*"u8))
        {
            return "a TIFF image (or a camera raw file)";
        }

        if (head.Length >= 12 && head.Slice(4, 4).SequenceEqual("ftyp"u8))
        {
            return IsoMediaFormat(head);
        }

        if (head.StartsWith(JpegXlCodestream) || head.StartsWith(JpegXlContainer))
        {
            return "a JPEG XL image";
        }

        if (head.StartsWith(Jpeg2000Container) || head.StartsWith(Jpeg2000Codestream))
        {
            return "a JPEG 2000 image";
        }

        if (head.StartsWith("8BPS"u8))
        {
            return "a Photoshop (PSD) file";
        }

        if (head.StartsWith("%PDF"u8))
        {
            return "a PDF document";
        }

        if (head.Length >= 3 && head[0] == (byte)'P' && head[1] is >= (byte)'1' and <= (byte)'7' && head[2] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')
        {
            return "a Netpbm (PPM, PGM or PBM) image";
        }

        string text = LeadingText(head).TrimStart('\uFEFF').TrimStart();
        return text.StartsWith("<svg", StringComparison.OrdinalIgnoreCase) || (text.StartsWith("<?xml", StringComparison.OrdinalIgnoreCase) && text.Contains("<svg", StringComparison.OrdinalIgnoreCase))
            ? "an SVG (vector) image"
            : null;
    }

    /// <summary>Why a file starting with <paramref name="head"/>, of no format <see cref="Identify"/> names, is not an image.</summary>
    public static string DescribeNonImage(ReadOnlySpan<byte> head)
    {
        string text = LeadingText(head);
        if (text.Length == 0)
        {
            return "not a readable image (unknown format or corrupt header)";
        }

        string start = text.TrimStart('\uFEFF').TrimStart();
        if (start.StartsWith("<!doctype html", StringComparison.OrdinalIgnoreCase) || start.StartsWith("<html", StringComparison.OrdinalIgnoreCase))
        {
            return "an HTML page, not an image (a failed download saved under an image name?)";
        }

        string firstLine = start.Split('\n', 2)[0].TrimEnd('\r');
        string quoted = firstLine.Length > 40 ? firstLine[..40] + "..." : firstLine;
        return $"a text file, not an image (it begins \"{quoted}\")";
    }

    /// <summary>
    /// The JPEG process of a JPEG file (starting with SOI) that SkiaSharp's 8-bit libjpeg-turbo cannot decode, as a phrase
    /// ("a 12-bit JPEG"): lossless, hierarchical, a sample precision other than 8, or a height left to a DNL marker; null
    /// for any other file, or when the frame header is not within <paramref name="data"/>.
    /// </summary>
    public static string? IdentifyUndecodableJpeg(ReadOnlySpan<byte> data)
    {
        if (!data.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8]))
        {
            return null;
        }

        int at = 2;
        while (at + 9 < data.Length && data[at] == 0xFF)
        {
            byte marker = data[at + 1];
            if (marker == 0xFF)
            {
                at++;   // a fill byte
                continue;
            }

            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
            {
                int precision = data[at + 4], height = (data[at + 5] << 8) | data[at + 6];
                return marker is 0xC3 or 0xC7 or 0xCB or 0xCF ? "a lossless JPEG"
                    : marker is 0xC5 or 0xC6 or 0xCD or 0xCE ? "a hierarchical JPEG"
                    : precision != 8 ? $"a {precision}-bit JPEG"
                    : height == 0 ? "a JPEG whose height is given by a DNL marker"
                    : null;
            }

            if (marker is 0xD9 or 0xDA)
            {
                return null;
            }

            at += 2 + ((data[at + 2] << 8) | data[at + 3]);
        }

        return null;
    }

    /// <summary>HEIC/HEIF, AVIF or a video, from an ISO base media file's major and compatible brands.</summary>
    private static string IsoMediaFormat(ReadOnlySpan<byte> head)
    {
        int boxSize = (head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3];
        int end = Math.Min(head.Length, boxSize is >= 16 and <= 4096 ? boxSize : 16);
        var brands = new List<string> { Encoding.ASCII.GetString(head.Slice(8, 4)) };
        for (int at = 16; at + 4 <= end; at += 4)
        {
            brands.Add(Encoding.ASCII.GetString(head.Slice(at, 4)));
        }

        if (brands.Contains("avif") || brands.Contains("avis"))
        {
            return "an AVIF image";
        }

        string[] heif = ["heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs", "mif1", "msf1"];
        return brands.Any(heif.Contains) ? "a HEIC/HEIF image" : "a video or other ISO media file (MP4, MOV)";
    }

    /// <summary>The first bytes as text when they are printable UTF-8 (letters, punctuation, spaces, line breaks); empty otherwise.</summary>
    private static string LeadingText(ReadOnlySpan<byte> head)
    {
        // The head may end inside a multi-byte character (up to 3 of its bytes): only those may be left out, so that a
        // binary file with a text header (a PPM's "P6 640 480 255") is not taken for text.
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        for (int cut = 0; cut <= Math.Min(3, head.Length - 1); cut++)
        {
            try
            {
                string text = strict.GetString(head[..^cut]);
                return text.All(c => !char.IsControl(c) || c is '\n' or '\r' or '\t') ? text : "";
            }
            catch (DecoderFallbackException)
            {
            }
        }

        return "";
    }
}
