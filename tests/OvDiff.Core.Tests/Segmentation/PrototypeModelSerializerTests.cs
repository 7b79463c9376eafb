using OvDiff.Core.Numerics;
using OvDiff.Core.Segmentation;

namespace OvDiff.Core.Tests.Segmentation;

public sealed class PrototypeModelSerializerTests
{
    private static PrototypeModel SampleModel()
    {
        // Floats chosen to catch any lossy path: −0, subnormal, extremes, NaN payload, values without short decimal forms.
        float[] a = [-0f, float.Epsilon, float.MaxValue, float.MinValue, 1f / 3f, BitConverter.Int32BitsToSingle(0x7FC01234), 0.1f, -2.5e-30f];
        float[] b = [1f, 2f, 3f, 4f, 5f, 6f];
        var fit = new PrototypeFitOptions
        {
            SupportShortSide = 320,
            Split = ForegroundSplitMode.BorderClusters,
            NormalizedCut = new NormalizedCutOptions { Tau = 0.2f, LanczosIterations = 33 },
            CenterFeaturesForSplit = false,
            MaskCutSegments = 2,
            BackgroundErosion = 0,
            AttributionBackgroundThreshold = 0.25f,
            AttributionForegroundThreshold = 0.6f,
            Levels = PrototypeLevels.ClassMean | PrototypeLevels.Parts,
            PartCount = 7,
            Seed = 11,
            StuffClasses = ["sky"],
        };
        SupportImageRecord[] supports =
        [
            new(0, "cats/ä 1.png", 3, 5, [true, false, true, true, false, false, false, true, true, true, false, true, false, true, true], [false, true, false, false, true, true, false, false, false, false, true, false, false, false, false]),
            new(1, "sky.jpg", 1, 1, [true], [false]),
        ];
        PrototypeBank[] banks =
        [
            new("resnet", 2, a, [new(0, PrototypeRole.Foreground, PrototypeLevels.ClassMean, -1, -1, 15), new(0, PrototypeRole.Background, PrototypeLevels.Parts, -1, 3, 4), new(1, PrototypeRole.Foreground, PrototypeLevels.PerImage, 1, -1, 1), new(1, PrototypeRole.Foreground, PrototypeLevels.Parts, -1, 0, 5_000_000_000)]),
            new("dino", 3, b, [new(1, PrototypeRole.Foreground, PrototypeLevels.ClassMean, -1, -1, 1), new(0, PrototypeRole.Background, PrototypeLevels.PerImage, 0, -1, 6)]),
        ];
        return new PrototypeModel(["cat", "sky"], [false, true], supports, banks, fit);
    }

    [Fact]
    public void SharedBackground_RoundTripsExactly_InVersion2_AndAModelWithoutOneStaysVersion1()
    {
        PrototypeModel plain = SampleModel();
        float[] parts = [0.6f, 0.8f, 1f / 3f, BitConverter.Int32BitsToSingle(0x7FC01234), -0f, 1f];
        var model = new PrototypeModel(plain.ClassNames, plain.IsStuff, plain.SupportImages, plain.Banks, plain.FitOptions, new SharedBackground("dino", 3, parts));
        byte[] bytes = PrototypeModelSerializer.ToBytes(model);
        Assert.Equal(2, BitConverter.ToInt32(bytes, 8));
        Assert.Equal(1, BitConverter.ToInt32(PrototypeModelSerializer.ToBytes(plain), 8));

        PrototypeModel back = PrototypeModelSerializer.FromBytes(bytes);
        Assert.NotNull(back.SharedBackground);
        Assert.Equal(("dino", 3, 2), (back.SharedBackground.ExtractorName, back.SharedBackground.Channels, back.SharedBackground.Count));
        Assert.Equal(parts.Select(BitConverter.SingleToInt32Bits), back.SharedBackground.Vectors.Select(BitConverter.SingleToInt32Bits));
        Assert.Null(PrototypeModelSerializer.FromBytes(PrototypeModelSerializer.ToBytes(plain)).SharedBackground);
        Assert.Same(model.SharedBackground, model.WithStuffClasses(["cat"]).SharedBackground);
        Assert.Equal(plain.PrototypeBytes + (6 * sizeof(float)), model.PrototypeBytes);

        // Cut inside the parts (before the end marker's 8 bytes, the masks' 2 + 2 + 1 + 1 bytes and the last part's float).
        int cut = bytes.Length - 8 - 6 - 4;
        var truncated = Assert.Throws<InvalidDataException>(() => PrototypeModelSerializer.FromBytes(bytes[..cut], "m.ovdiff"));
        Assert.Contains("'m.ovdiff'", truncated.Message);

        // A version-1 file cannot hold parts.
        byte[] relabelled = (byte[])bytes.Clone();
        BitConverter.TryWriteBytes(relabelled.AsSpan(8, 4), 1);
        Assert.Contains("shared background in a version 1 model", Assert.Throws<InvalidDataException>(() => PrototypeModelSerializer.FromBytes(relabelled, "m.ovdiff")).Message);

        // Parts on an extractor no bank has, or of another width, are refused.
        Assert.Throws<ArgumentException>(() => new PrototypeModel(plain.ClassNames, plain.IsStuff, plain.SupportImages, plain.Banks, plain.FitOptions, new SharedBackground("clip", 3, parts)));
        Assert.Throws<ArgumentException>(() => new PrototypeModel(plain.ClassNames, plain.IsStuff, plain.SupportImages, plain.Banks, plain.FitOptions, new SharedBackground("dino", 2, parts)));
        Assert.Throws<ArgumentException>(() => new SharedBackground("dino", 4, parts));
    }

    [Fact]
    public void RoundTrip_IsExact()
    {
        PrototypeModel model = SampleModel();
        byte[] bytes = PrototypeModelSerializer.ToBytes(model);
        PrototypeModel back = PrototypeModelSerializer.FromBytes(bytes);

        Assert.Equal(model.ClassNames, back.ClassNames);
        Assert.Equal(model.IsStuff, back.IsStuff);
        Assert.Equal(model.SupportImages.Count, back.SupportImages.Count);
        for (int i = 0; i < model.SupportImages.Count; i++)
        {
            SupportImageRecord x = model.SupportImages[i], y = back.SupportImages[i];
            Assert.Equal((x.ClassIndex, x.Source, x.MaskHeight, x.MaskWidth), (y.ClassIndex, y.Source, y.MaskHeight, y.MaskWidth));
            Assert.Equal(x.Foreground, y.Foreground);
            Assert.Equal(x.Background, y.Background);
        }

        Assert.Equal(model.Banks.Count, back.Banks.Count);
        for (int i = 0; i < model.Banks.Count; i++)
        {
            Assert.Equal((model.Banks[i].ExtractorName, model.Banks[i].Channels), (back.Banks[i].ExtractorName, back.Banks[i].Channels));
            Assert.Equal(model.Banks[i].Origins, back.Banks[i].Origins);
            Assert.Equal(model.Banks[i].Vectors.Select(BitConverter.SingleToInt32Bits), back.Banks[i].Vectors.Select(BitConverter.SingleToInt32Bits));
        }

        Assert.Equal(model.FitOptions.StuffClasses, back.FitOptions.StuffClasses);
        Assert.Equal(model.FitOptions with { StuffClasses = [] }, back.FitOptions with { StuffClasses = [] });

        // Writing what was read gives the same bytes.
        Assert.Equal(bytes, PrototypeModelSerializer.ToBytes(back));
    }

    [Fact]
    public void TruncatedStream_IsInvalidDataNamingTheSource()
    {
        byte[] bytes = PrototypeModelSerializer.ToBytes(SampleModel());
        int headerLength = BitConverter.ToInt32(bytes, 12);
        int afterHeader = 16 + headerLength;

        // Inside magic, version, header length, the JSON, the first and second banks' floats, the masks, the end marker.
        int[] cuts = [0, 3, 8, 10, 14, 16 + (headerLength / 2), afterHeader, afterHeader + 5, afterHeader + 32 + 4, afterHeader + 32 + 24 + 1, bytes.Length - 8, bytes.Length - 1];
        foreach (int cut in cuts)
        {
            var ex = Assert.Throws<InvalidDataException>(() => PrototypeModelSerializer.FromBytes(bytes[..cut], "model.ovd"));
            Assert.Contains("model.ovd", ex.Message);
        }
    }

    [Fact]
    public void BadMagic_NewerVersion_MissingEndMarker_AreInvalidData()
    {
        byte[] bytes = PrototypeModelSerializer.ToBytes(SampleModel());

        byte[] magic = (byte[])bytes.Clone();
        magic[0] = (byte)'X';
        var bad = Assert.Throws<InvalidDataException>(() => PrototypeModelSerializer.FromBytes(magic, "m.bin"));
        Assert.Contains("m.bin", bad.Message);
        Assert.Contains("magic", bad.Message);

        byte[] newer = (byte[])bytes.Clone();
        BitConverter.TryWriteBytes(newer.AsSpan(8, 4), PrototypeModelSerializer.FormatVersion + 1);
        var version = Assert.Throws<InvalidDataException>(() => PrototypeModelSerializer.FromBytes(newer, "m.bin"));
        Assert.Contains("m.bin", version.Message);
        Assert.Contains($"version {PrototypeModelSerializer.FormatVersion + 1}", version.Message);

        byte[] end = (byte[])bytes.Clone();
        end[^3] ^= 0xFF;
        var marker = Assert.Throws<InvalidDataException>(() => PrototypeModelSerializer.FromBytes(end, "m.bin"));
        Assert.Contains("end marker", marker.Message);

        byte[] header = (byte[])bytes.Clone();
        header[17] = (byte)'#';
        Assert.Contains("m.bin", Assert.Throws<InvalidDataException>(() => PrototypeModelSerializer.FromBytes(header, "m.bin")).Message);
    }

    [Theory]
    [InlineData("Banks", null)]
    [InlineData("SupportImages", null)]
    [InlineData("ClassNames", null)]
    [InlineData("FitOptions", null)]
    [InlineData("Banks.0.Channels", -2)]
    [InlineData("Banks.0.Origins", null)]
    [InlineData("Banks.0.Channels", 1_000_000_000)]
    [InlineData("Banks.1.Channels", 50_000_000)]
    [InlineData("SupportImages.0.MaskHeight", -3)]
    public void CorruptButWellFormedHeader_IsInvalidDataNamingTheSource(string path, int? value)
    {
        // A header that parses as JSON but holds nulls or negative sizes must not escape as NullReference/Overflow.
        byte[] bytes = PrototypeModelSerializer.ToBytes(SampleModel());
        int headerLength = BitConverter.ToInt32(bytes, 12);
        var header = System.Text.Json.Nodes.JsonNode.Parse(bytes.AsSpan(16, headerLength))!;
        string[] parts = path.Split('.');
        System.Text.Json.Nodes.JsonNode node = header;
        foreach (string part in parts[..^1])
        {
            node = int.TryParse(part, out int index) ? node[index]! : node[part]!;
        }

        node[parts[^1]] = value is null ? null : System.Text.Json.Nodes.JsonValue.Create(value.Value);
        byte[] json = System.Text.Encoding.UTF8.GetBytes(header.ToJsonString());
        byte[] corrupt = [.. bytes[..12], .. BitConverter.GetBytes(json.Length), .. json, .. bytes[(16 + headerLength)..]];
        var ex = Assert.Throws<InvalidDataException>(() => PrototypeModelSerializer.FromBytes(corrupt, "m.bin"));
        Assert.Contains("m.bin", ex.Message);
    }
}
