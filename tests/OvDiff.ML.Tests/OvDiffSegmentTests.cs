using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using OvDiff.Core.Segmentation;
using OvDiff.Imaging;
using OvDiff.Testing;

namespace OvDiff.ML.Tests;

public sealed class OvDiffSegmentTests
{
    private static readonly SegmentationOptions QuickProtocol = VocFixture.QuickProtocol;

    [Fact]
    public void FitTransform_SaveThenLoadInFreshProcess_LabelMapsBitIdentical()
    {
        string voc = SharedData.RequireFolder("VOC2012");
        var context = new MLContext(seed: 0);
        IDataView support = SupportView(context, voc);
        var options = new OvDiffSegmentOptions
        {
            Fit = new PrototypeFitOptions { SupportShortSide = 224, PartCount = 4 },
            Segmentation = QuickProtocol,
        };
        using OvDiffSegmentTransformer model = context.Transforms.OvDiffSegment(options).Fit(support, TestContext.Current.CancellationToken);
        Assert.Equal(["background", "aeroplane", "bird"], model.LabelNames);

        string[] targets = VocFixture.Targets;
        List<(int Width, int Height, byte[] Labels)> inProcess = Transform(context, model, targets);
        for (int i = 0; i < targets.Length; i++)
        {
            (int w, int h) = ImageDecoder.ReadSize(targets[i]);
            Assert.Equal((w, h), (inProcess[i].Width, inProcess[i].Height));
            Assert.Equal((long)w * h, inProcess[i].Labels.LongLength);
            Assert.Contains(inProcess[i].Labels, l => l != 0);
        }

        using var temp = new TempFolder();
        string zip = temp.Combine("model.zip");
        context.Model.Save(model, support.Schema, zip);

        // Same process, through mlContext.Model.Load.
        ITransformer loaded = new MLContext(seed: 0).Model.Load(zip, out _);
        Assert.Equal(inProcess.Select(r => r.Labels), Transform(context, loaded, targets).Select(r => r.Labels));

        // The output says which label is which class, before and after Model.Load (key k names label k - 1).
        IDataView loadedOutput = loaded.Transform(VocFixture.PathView(context, targets));
        Assert.Equal(["background", "aeroplane", "bird"], VocFixture.KeyNames(model.Transform(VocFixture.PathView(context, targets)).Schema["SegmentationLabelsClasses"]));
        Assert.Equal(["background", "aeroplane", "bird"], VocFixture.KeyNames(loadedOutput.Schema["SegmentationLabelsClasses"]));
        List<uint[]> present = context.Data.CreateEnumerable<ClassesRow>(loadedOutput, reuseRowObject: false).Select(r => r.SegmentationLabelsClasses).ToList();
        for (int i = 0; i < targets.Length; i++)
        {
            Assert.Equal(inProcess[i].Labels.Distinct().Order().Select(l => (uint)l + 1), present[i]);
        }

        // A fresh process that only calls mlContext.Model.Load.
        LoadProbe.AssertSameLabelMaps(zip, temp.Path, targets, "background|aeroplane|bird", inProcess);

        // The loader gives back the state: classes, options and version stamp.
        using OvDiffModel reopened = OvDiffModel.Load(context, zip);
        Assert.Equal(["aeroplane", "bird"], reopened.State.Model.ClassNames);
        Assert.Equal(OvDiffModelState.CurrentVersion, reopened.State.OvDiffVersion);
        Assert.Equal(224, reopened.State.Segmentation.ShortSide);

        // OvDiffModel.Save: the same bytes each time (mlContext.Model.Save stamps every entry with the time of saving), and
        // the zip loads and segments as the other.
        string[] saved = [temp.Combine("same-1.zip"), temp.Combine("same-2.zip")];
        foreach (string path in saved)
        {
            using FileStream stream = File.Create(path);
            OvDiffModel.Save(context, model, support.Schema, stream);
        }

        Assert.Equal(File.ReadAllBytes(saved[0]), File.ReadAllBytes(saved[1]));
        using (ZipArchive archive = ZipFile.OpenRead(saved[0]))
        {
            Assert.NotEmpty(archive.Entries);
            Assert.All(archive.Entries, entry => Assert.Equal(OvDiffModel.EntryTime, entry.LastWriteTime));
        }

        using OvDiffModel stable = OvDiffModel.Load(context, saved[0]);
        Assert.Equal(inProcess.Select(r => r.Labels), Transform(context, stable.Transformer, targets).Select(r => r.Labels));
    }

    [Fact]
    public void Fit_MissingImageColumn_ErrorNamesColumn()
    {
        var context = new MLContext(seed: 0);
        IDataView data = context.Data.LoadFromEnumerable(new[] { new OtherRow { Path = "a.jpg", Label = "cat" } });
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => context.Transforms.OvDiffSegment().Fit(data, TestContext.Current.CancellationToken));
        Assert.Contains("'ImagePath'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fit_LabelColumnNotText_ErrorNamesColumnExpectedAndActualType()
    {
        var context = new MLContext(seed: 0);
        IDataView data = context.Data.LoadFromEnumerable(new[] { new NumericLabelRow { ImagePath = "a.jpg", Label = 3f } });
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => context.Transforms.OvDiffSegment().Fit(data, TestContext.Current.CancellationToken));
        Assert.Contains("'Label'", error.Message, StringComparison.Ordinal);
        Assert.Contains("expected String", error.Message, StringComparison.Ordinal);
        Assert.Contains("Single", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fit_ClassWithoutSupportImage_ErrorNamesClass()
    {
        string voc = SharedData.RequireFolder("VOC2012");
        var context = new MLContext(seed: 0);
        var options = new OvDiffSegmentOptions
        {
            ClassNames = ["aeroplane", "bird", "dog"],
            Fit = new PrototypeFitOptions { SupportShortSide = 224, Levels = PrototypeLevels.ClassMean },
        };
        var error = Assert.Throws<InvalidOperationException>(() => context.Transforms.OvDiffSegment(options).Fit(SupportView(context, voc), TestContext.Current.CancellationToken));
        Assert.Contains("'dog' has no support image", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fit_UnreadableImage_ErrorNamesFile()
    {
        using var temp = new TempFolder();
        string bogus = temp.Combine("not-an-image.jpg");
        File.WriteAllText(bogus, "this is text");
        var context = new MLContext(seed: 0);
        IDataView data = context.Data.LoadFromEnumerable(new[] { new SupportRow { ImagePath = bogus, Label = "cat" } });
        Exception error = Assert.ThrowsAny<Exception>(() => context.Transforms.OvDiffSegment().Fit(data, TestContext.Current.CancellationToken));
        Assert.Contains(bogus, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_TruncatedZip_ClearErrorNamingFile()
    {
        var context = new MLContext(seed: 0);
        using var temp = new TempFolder();
        string zip = SaveClassMeanModel(context, temp);

        byte[] bytes = File.ReadAllBytes(zip);
        string truncated = temp.Combine("truncated.zip");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var error = Assert.Throws<InvalidDataException>(() => OvDiffModel.Load(context, truncated));
        Assert.Contains(truncated, error.Message, StringComparison.Ordinal);

        // One flipped byte inside the compressed data of the largest entry (the prototypes): ZipArchive does not check
        // CRCs and the deflate stream often still decodes, so without the CRC check such a model loaded and segmented.
        string largest;
        using (var archive = System.IO.Compression.ZipFile.OpenRead(zip))
        {
            largest = archive.Entries.MaxBy(e => e.CompressedLength)!.FullName;
        }

        byte[] name = System.Text.Encoding.UTF8.GetBytes(largest);
        int header = bytes.AsSpan().IndexOf(name) - 30;
        Assert.Equal(0x04034b50u, BitConverter.ToUInt32(bytes, header));
        int data = header + 30 + name.Length + BitConverter.ToUInt16(bytes, header + 28);
        int compressed = BitConverter.ToInt32(bytes, header + 18);
        byte[] flipped = (byte[])bytes.Clone();
        flipped[data + (compressed / 2)] ^= 0x10;
        string corrupt = temp.Combine("flipped.zip");
        File.WriteAllBytes(corrupt, flipped);
        var crc = Assert.Throws<InvalidDataException>(() => OvDiffModel.Load(context, corrupt));
        Assert.Contains($"'{corrupt}'", crc.Message, StringComparison.Ordinal);
        Assert.Contains($"its entry '{largest}' fails its CRC-32 check", crc.Message, StringComparison.Ordinal);

        // The same entry cut short and stored again (so its CRC-32 matches): ML.NET's reader fails inside reflection, and
        // the error once reached the user as "Unable to read beyond the end of the stream." with no file named.
        string cut = temp.Combine("cut.zip");
        File.Copy(zip, cut);
        using (var archive = System.IO.Compression.ZipFile.Open(cut, System.IO.Compression.ZipArchiveMode.Update))
        {
            var entry = archive.GetEntry(largest)!;
            byte[] content;
            using (var reader = new MemoryStream())
            {
                using (Stream stream = entry.Open())
                {
                    stream.CopyTo(reader);
                }

                content = reader.ToArray();
            }

            entry.Delete();
            using Stream writer = archive.CreateEntry(largest).Open();
            writer.Write(content.AsSpan(0, content.Length - 3000));
        }

        var cutShort = Assert.Throws<InvalidDataException>(() => OvDiffModel.Load(context, cut));
        Assert.StartsWith($"'{cut}' is not a readable ML.NET model zip", cutShort.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_FromStream_SegmentsAsFromFile_NamesTheStreamInErrors()
    {
        var context = new MLContext(seed: 0);
        using var temp = new TempFolder();
        string zip = SaveClassMeanModel(context, temp);

        string[] targets = VocFixture.Targets[..1];
        List<(int Width, int Height, byte[] Labels)> fromFile;
        using (OvDiffModel model = OvDiffModel.Load(context, zip))
        {
            fromFile = Transform(context, model.Transformer, targets);
        }

        // A FileStream is named by its file; a stream that cannot seek (here a gzip decompressor, as a download or an
        // upload is) is read to its end, from where it stands.
        using (FileStream file = File.OpenRead(zip))
        using (OvDiffModel model = OvDiffModel.Load(context, file))
        {
            Assert.Equal(zip, model.Path);
            Assert.Equal(["background", "aeroplane", "bird"], model.LabelNames);
            Assert.Equal(fromFile.Select(r => r.Labels), Transform(context, model.Transformer, targets).Select(r => r.Labels));
        }

        byte[] bytes = File.ReadAllBytes(zip);
        using (Stream forwardOnly = Gunzip([7, 7, 7, .. bytes]))
        {
            Assert.False(forwardOnly.CanSeek);
            Assert.Equal([7, 7, 7], new[] { forwardOnly.ReadByte(), forwardOnly.ReadByte(), forwardOnly.ReadByte() });   // what stands before the zip
            using OvDiffModel model = OvDiffModel.Load(context, forwardOnly, "blob://models/voc.zip");
            Assert.Equal("blob://models/voc.zip", model.Path);
            Assert.Equal(fromFile.Select(r => r.Labels), Transform(context, model.Transformer, targets).Select(r => r.Labels));
        }

        using Stream half = Gunzip(bytes[..(bytes.Length / 2)]);
        var error = Assert.Throws<InvalidDataException>(() => OvDiffModel.Load(context, half));
        Assert.StartsWith("'model stream' is not a readable ML.NET model zip", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Fits the quickest model (class means, aeroplane and bird) and saves it as model.zip in <paramref name="temp"/>.</summary>
    private static string SaveClassMeanModel(MLContext context, TempFolder temp)
    {
        string voc = SharedData.RequireFolder("VOC2012");
        string zip = temp.Combine("model.zip");
        var options = new OvDiffSegmentOptions { Fit = new PrototypeFitOptions { SupportShortSide = 224, Levels = PrototypeLevels.ClassMean }, Segmentation = QuickProtocol with { Levels = PrototypeLevels.ClassMean } };
        using OvDiffSegmentTransformer model = context.Transforms.OvDiffSegment(options).Fit(SupportView(context, voc), TestContext.Current.CancellationToken);
        context.Model.Save(model, SupportView(context, voc).Schema, zip);
        return zip;
    }

    private static GZipStream Gunzip(byte[] content)
    {
        var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(content);
        }

        compressed.Position = 0;
        return new GZipStream(compressed, CompressionMode.Decompress);
    }

    [Fact]
    public void Load_ForeignModelZip_SaysNotAnOvDiffModel()
    {
        var context = new MLContext(seed: 0);
        using var temp = new TempFolder();
        IDataView data = context.Data.LoadFromEnumerable(new[] { new SupportRow { ImagePath = "a.jpg", Label = "cat" } });
        ITransformer plain = context.Transforms.CopyColumns("Copy", "Label").Fit(data);
        string zip = temp.Combine("plain.zip");
        context.Model.Save(plain, data.Schema, zip);
        var error = Assert.Throws<InvalidDataException>(() => OvDiffModel.Load(context, zip));
        Assert.Contains("not an OvDiff model", error.Message, StringComparison.Ordinal);

        string notZip = temp.Combine("random.zip");
        File.WriteAllBytes(notZip, [1, 2, 3, 4, 5]);
        Assert.Throws<InvalidDataException>(() => OvDiffModel.Load(context, notZip));
        Assert.Throws<FileNotFoundException>(() => OvDiffModel.Load(context, temp.Combine("missing.zip")));
    }

    [Fact]
    public void ModelState_RoundTripsAndRejectsForeignBytes()
    {
        var origins = new[] { new PrototypeOrigin(0, PrototypeRole.Foreground, PrototypeLevels.ClassMean, -1, -1, 3) };
        var model = new PrototypeModel(["cat"], [false], [], [new PrototypeBank("resnet18-layer4", 2, [0.6f, 0.8f], origins)], new PrototypeFitOptions());
        var state = new OvDiffModelState(["resnet18-layer4"], new SegmentationOptions { ShortSide = 320 }, model) { ImageFolder = "/data" };
        OvDiffModelState back = OvDiffModelState.FromBytes(state.ToBytes(), "test");
        Assert.Equal(320, back.Segmentation.ShortSide);
        Assert.Equal("/data", back.ImageFolder);
        Assert.Equal([0.6f, 0.8f], back.Model.Banks[0].Vectors);
        Assert.Equal(state.Segmentation.Windows, back.Segmentation.Windows);
        var error = Assert.Throws<InvalidDataException>(() => OvDiffModelState.FromBytes([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], "foreign"));
        Assert.Contains("foreign", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"OvDiffVersion":"x","FeatureExtractors":null,"Segmentation":{}}""", "incomplete")]
    [InlineData("""{"OvDiffVersion":"x","FeatureExtractors":[null],"Segmentation":{}}""", "incomplete")]
    [InlineData("""{"OvDiffVersion":"x","FeatureExtractors":["resnet18-layer4"]}""", "incomplete")]
    [InlineData("""{"OvDiffVersion":"x","FeatureExtractors":["resnet18-layer4"],"Segmentation":{"Windows":null}}""", "incomplete")]
    [InlineData("""{"OvDiffVersion":"x","FeatureExtractors":["resnet18-layer4"],"Segmentation":{"ShortSide":-1}}""", "ShortSide")]
    public void ModelState_WellFormedButIncompleteHeader_InvalidDataExceptionNamingSource(string json, string expected)
    {
        using var memory = new MemoryStream();
        using (var writer = new BinaryWriter(memory, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            byte[] header = System.Text.Encoding.UTF8.GetBytes(json);
            writer.Write("OVDIFFST"u8);
            writer.Write(OvDiffModelState.StateVersion);
            writer.Write(header.Length);
            writer.Write(header);
        }

        var error = Assert.Throws<InvalidDataException>(() => OvDiffModelState.FromBytes(memory.ToArray(), "state.bin"));
        Assert.Contains("'state.bin'", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    private static IDataView SupportView(MLContext context, string voc) => VocFixture.SupportView(context);

    private static List<(int Width, int Height, byte[] Labels)> Transform(MLContext context, ITransformer model, string[] images)
    {
        IDataView output = model.Transform(context.Data.LoadFromEnumerable(images.Select(p => new SupportRow { ImagePath = p, Label = "" }).ToArray()));
        return context.Data.CreateEnumerable<LabelRow>(output, reuseRowObject: false).Select(r => (r.SegmentationLabelsWidth, r.SegmentationLabelsHeight, r.SegmentationLabels)).ToList();
    }

    private sealed class SupportRow
    {
        public string ImagePath { get; set; } = "";

        public string Label { get; set; } = "";
    }

    private sealed class OtherRow
    {
        public string Path { get; set; } = "";

        public string Label { get; set; } = "";
    }

    private sealed class NumericLabelRow
    {
        public string ImagePath { get; set; } = "";

        public float Label { get; set; }
    }

    private sealed class ClassesRow
    {
        [VectorType]
        [KeyType(3)]
        public uint[] SegmentationLabelsClasses { get; set; } = [];
    }

    private sealed class LabelRow
    {
        [VectorType]
        public byte[] SegmentationLabels { get; set; } = [];

        public int SegmentationLabelsWidth { get; set; }

        public int SegmentationLabelsHeight { get; set; }
    }
}
