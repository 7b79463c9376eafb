using System.Buffers.Binary;
using OvDiff.Core.Images;
using OvDiff.Core.IO;
using OvDiff.Testing;
using SkiaSharp;

namespace OvDiff.Imaging.Tests;

/// <summary>
/// Damaged and hostile image files, as a tester crafts them: cut short and closed with an end marker, bit-flipped,
/// headers claiming huge sizes. Each is an <see cref="ImageFormatException"/> naming the file, before any large buffer
/// is allocated; every real JPEG of the shared data still decodes.
/// </summary>
public sealed class HostileImageTests
{
    [Fact]
    public void JpegCutShortAndClosedWithEndMarker_IsAnError()
    {
        byte[] jpeg = Photo();
        using var folder = new TempFolder();
        string path = folder.Combine("cut.jpg");
        File.WriteAllBytes(path, [.. jpeg[..(jpeg.Length * 6 / 10)], 0xFF, 0xD9]);

        var error = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(path));

        Assert.Equal(path, error.FilePath);
        Assert.Contains("corrupt JPEG data: the image data ends early", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AFolderGivenAsAnImage_IsNamedAsAFolder()
    {
        using var folder = new TempFolder();
        string images = folder.Combine("images");
        Directory.CreateDirectory(images);

        Assert.Contains("a folder, not an image file", Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(images)).Message, StringComparison.Ordinal);
        Assert.Contains("a folder, not an image file", Assert.Throws<ImageFormatException>(() => ImageDecoder.CheckDecodable(images)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void JpegWithFlippedBits_IsAnError_ManyRandomFlipsToo()
    {
        byte[] jpeg = Photo();
        (int start, int end) = EntropyData(jpeg);
        byte[] flipped = (byte[])jpeg.Clone();
        for (int k = 1; k <= 5; k++)
        {
            flipped[start + ((end - start) * k / 6)] ^= 0x10;
        }

        Assert.Contains("corrupt JPEG data", Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(flipped, "flipped.jpg")).Message, StringComparison.Ordinal);

        // Random flips in the entropy-coded data of this noisy image (mostly value bits: the hardest case), seeded.
        Assert.InRange(DetectionRate(jpeg, start, end, flips: 5), 0.8, 1.0);     // measured 0.835
        Assert.InRange(DetectionRate(jpeg, start, end, flips: 1), 0.25, 1.0);    // measured 0.28
    }

    [Fact]
    public void RealJpegWithRandomFlips_MostAreFound()
    {
        // A flip in a coefficient's value bits keeps the code stream in step and cannot be seen (JPEG has no checksum),
        // and Huffman codes often fall back into step; what desynchronises the blocks or drives a DC value out of range
        // is found. Seeded, so these are fixed measurements of this image.
        string voc = SharedData.RequireFolder("VOC2012");
        byte[] jpeg = File.ReadAllBytes(Path.Combine(voc, "JPEGImages", "2007_000033.jpg"));
        (int start, int end) = EntropyData(jpeg);
        Assert.InRange(DetectionRate(jpeg, start, end, flips: 5), 0.88, 1.0);    // measured 0.92
        Assert.InRange(DetectionRate(jpeg, start, end, flips: 1), 0.35, 1.0);    // measured 0.395
    }

    [Theory]
    [InlineData(60000, 60000)]
    [InlineData(20000, 20000)]
    public void JpegHeaderClaimingHugeSize_IsAnErrorNamingSizeAndBound(int width, int height)
    {
        byte[] jpeg = Photo();
        int sof = jpeg.AsSpan().IndexOf([(byte)0xFF, (byte)0xC0]);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 5), (ushort)height);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 7), (ushort)width);

        var error = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(jpeg, "huge.jpg"));

        Assert.Contains($"huge.jpg: its header says {width}x{height}", error.Message, StringComparison.Ordinal);
        Assert.Contains("OVDIFF_MAX_PIXELS", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LabelPngHeaderClaimingHugeSize_IsAnErrorBeforeAllocating()
    {
        // A 1x1 grayscale PNG whose IHDR (bytes 16..23, CRC after) then claims 60000x60000.
        byte[] png = PngBuilder.Build(1, 1, 8, 0, [[0]], [0]);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(16), 60000);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(20), 60000);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), Crc32.Compute(png.AsSpan(12, 4), png.AsSpan(16, 13)));
        using var folder = new TempFolder();
        string path = folder.Combine("huge.png");
        File.WriteAllBytes(path, png);

        var error = Assert.Throws<ImageFormatException>(() => new LabelPngReader().Read(path));

        Assert.Contains("60000x60000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ProgressiveJpeg_CutShort_WithOrWithoutEndMarker_IsAnError()
    {
        // A hand-built 8x8 grey progressive JPEG: a DC scan, then an AC scan (coefficients 1..63) that brings the rest
        // to full precision. Without its AC scan and closed with an end marker, libjpeg decodes it without complaint.
        byte[] whole = [.. ProgressiveStart, .. AcScan, 0xFF, 0xD9];
        Assert.All(ImageDecoder.Decode(whole, "whole.jpg").Pixels, p => Assert.Equal(128, p));

        var closed = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode([.. ProgressiveStart, 0xFF, 0xD9], "closed.jpg"));
        Assert.Equal("closed.jpg: corrupt JPEG data: the progressive image data ends early (truncated): 63 of 64 coefficients never reach full precision", closed.Message);

        var cut = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode([.. ProgressiveStart, .. AcScan], "cut.jpg"));
        Assert.Equal("cut.jpg: corrupt JPEG data: no end-of-image marker (truncated)", cut.Message);
    }

    [Fact]
    public void ProgressiveJpeg_CutInsideATableBetweenScans_IsATruncationError()
    {
        // libjpeg's optimised progressive files define Huffman tables before each scan; a cut inside one was an
        // ArgumentOutOfRangeException (a 'bug' to the CLI) rather than an error naming the file.
        var error = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode([.. ProgressiveStart, 0xFF, 0xC4, 0x00, 0x14, 0x10, 1], "cut.jpg"));
        Assert.Equal("cut.jpg: corrupt JPEG data: the file ends inside a marker segment (truncated)", error.Message);
    }

    [Fact]
    public void JpegWithFillBytesBeforeItsRestartMarkers_Decodes_BaselineAndProgressive()
    {
        // Any marker may follow fill bytes (0xFF), restart markers inside the image data too (ITU T.81 B.1.1.2); libjpeg
        // reads them. Both were refused ('restart marker 0 missing', 'restart marker RST0 outside the image data').
        foreach (bool fill in new[] { false, true })
        {
            Assert.All(ImageDecoder.Decode(GreyJpegWithRestart(progressive: false, fill), "baseline.jpg").Pixels, p => Assert.Equal(128, p));
            Assert.All(ImageDecoder.Decode(GreyJpegWithRestart(progressive: true, fill), "progressive.jpg").Pixels, p => Assert.Equal(128, p));
        }
    }

    [Fact]
    public void BaselineJpegEndingItsScanWithOneMoreRestartMarker_Decodes_DataAfterItDoesNot()
    {
        // Some camera encoders close the last restart interval with a restart marker too; libjpeg skips it silently.
        // It was refused ('restart marker RST1 outside the image data'). Data after it is still damage.
        byte[] jpeg = GreyJpegWithRestart(progressive: false, fill: false);
        byte[] trailing = [.. jpeg[..^2], 0xFF, 0xD1, 0xFF, 0xD9];
        Assert.All(ImageDecoder.Decode(trailing, "trailing.jpg").Pixels, p => Assert.Equal(128, p));

        var error = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode([.. jpeg[..^2], 0xFF, 0xD1, 0x3F, 0xFF, 0xD9], "more.jpg"));
        Assert.StartsWith("more.jpg: corrupt JPEG data: expected a marker at byte", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void JpegWithRepeatedComponentIds_DecodesAsLibjpegReadsIt()
    {
        // Some cameras write the component ids 1, 1, 1; libjpeg-turbo takes a repeated id for one more than the largest
        // before it, in the frame and in each scan. Of a 4:2:0 JPEG, the check read all three as luma (2x2 blocks a
        // group) and refused it ('a DC value out of range').
        byte[] jpeg = Photo();
        byte[] repeated = (byte[])jpeg.Clone();
        int frame = jpeg.AsSpan().IndexOf([(byte)0xFF, (byte)0xC0]), scan = jpeg.AsSpan().IndexOf([(byte)0xFF, (byte)0xDA]);
        Assert.Equal(0x22, jpeg[frame + 11]);   // luma 2x2, chroma 1x1: 4:2:0
        for (int c = 0; c < 3; c++)
        {
            repeated[frame + 10 + (3 * c)] = 1;
            repeated[scan + 5 + (2 * c)] = 1;
        }

        Assert.Equal(ImageDecoder.Decode(jpeg, "ids123.jpg").Pixels, ImageDecoder.Decode(repeated, "ids111.jpg").Pixels);
    }

    /// <summary>
    /// SOI; a quantisation table of ones; a frame header (<paramref name="frameMarker"/>, 8-bit, <paramref name="width"/>
    /// x 8, one component); DC and AC Huffman tables of one 1-bit code '0' each (symbol 0: DC difference size 0; AC end
    /// of block or band).
    /// </summary>
    private static byte[] GreyJpegHeader(byte frameMarker, byte width) =>
    [
        0xFF, 0xD8,
        0xFF, 0xDB, 0x00, 0x43, 0x00, .. Enumerable.Repeat((byte)1, 64),
        0xFF, frameMarker, 0x00, 0x0B, 8, 0x00, 0x08, 0x00, width, 1, 1, 0x11, 0,
        0xFF, 0xC4, 0x00, 0x14, 0x00, 1, .. new byte[15], 0x00,
        0xFF, 0xC4, 0x00, 0x14, 0x10, 1, .. new byte[15], 0x00,
    ];

    /// <summary>
    /// An 8x8 grey progressive JPEG up to its DC scan (Ss 0, Se 0, Ah Al 0), whose one block is the code '0' padded
    /// with ones.
    /// </summary>
    private static byte[] ProgressiveStart => [.. GreyJpegHeader(0xC2, 8), 0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 0, 0x00, 0x7F];

    /// <summary>
    /// A 16x8 grey JPEG, all 128: two blocks with a restart interval of one (DRI 1), so a restart marker between them in
    /// each scan, after two fill bytes where <paramref name="fill"/>. Baseline: one scan, each block DC '0' and end of
    /// block '0' padded with ones (0x3F). Progressive: a DC scan and an AC scan, each block one code '0' (0x7F).
    /// </summary>
    private static byte[] GreyJpegWithRestart(bool progressive, bool fill)
    {
        byte[] header = [.. GreyJpegHeader(progressive ? (byte)0xC2 : (byte)0xC0, 16), 0xFF, 0xDD, 0x00, 0x04, 0x00, 0x01];
        byte[] restart = fill ? [0xFF, 0xFF, 0xFF, 0xD0] : [0xFF, 0xD0];
        return progressive
            ? [.. header, 0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 0, 0x00, 0x7F, .. restart, 0x7F, 0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 1, 63, 0x00, 0x7F, .. restart, 0x7F, 0xFF, 0xD9]
            : [.. header, 0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 63, 0x00, 0x3F, .. restart, 0x3F, 0xFF, 0xD9];
    }

    /// <summary>The AC scan (Ss 1, Se 63, Ah Al 0): the one block's end-of-band code '0' padded with ones.</summary>
    private static byte[] AcScan => [0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 1, 63, 0x00, 0x7F];

    [Fact]
    public void EveryRealJpegOfTheSharedData_PassesTheScanCheck()
    {
        string root = SharedData.RequireFolder(".");
        string[] files = Directory.GetFiles(root, "*.jpg", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        string[] failing = [.. files.Where(f => JpegScanCheck.FindProblem(File.ReadAllBytes(f)) is not null)];
        Assert.Empty(failing);
    }

    private static double DetectionRate(byte[] jpeg, int start, int end, int flips)
    {
        var random = new Random(7);
        int found = 0, trials = 200;
        for (int t = 0; t < trials; t++)
        {
            byte[] copy = (byte[])jpeg.Clone();
            for (int f = 0; f < flips; f++)
            {
                int at;
                do
                {
                    at = random.Next(start, end);
                }
                while (copy[at] == 0xFF || copy[at - 1] == 0xFF);   // keep byte stuffing and markers intact
                copy[at] ^= (byte)(1 << random.Next(8));
            }

            found += JpegScanCheck.FindProblem(copy) is null ? 0 : 1;
        }

        return (double)found / trials;
    }

    /// <summary>A 160x120 baseline JPEG of a noisy gradient.</summary>
    private static byte[] Photo()
    {
        var random = new Random(3);
        using var bitmap = new SKBitmap(160, 120, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        for (int y = 0; y < 120; y++)
        {
            for (int x = 0; x < 160; x++)
            {
                bitmap.SetPixel(x, y, new SKColor((byte)(x + random.Next(40)), (byte)(2 * y), (byte)random.Next(256)));
            }
        }

        using SKData data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90);
        return data.ToArray();
    }

    /// <summary>The entropy-coded data of a single-scan JPEG: after the SOS segment, up to EOI.</summary>
    private static (int Start, int End) EntropyData(byte[] jpeg)
    {
        int sos = jpeg.AsSpan().IndexOf([(byte)0xFF, (byte)0xDA]);
        int start = sos + 2 + BinaryPrimitives.ReadUInt16BigEndian(jpeg.AsSpan(sos + 2));
        return (start, jpeg.Length - 2);
    }
}
