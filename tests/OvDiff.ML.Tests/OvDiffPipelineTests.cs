using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using OvDiff.Testing;

namespace OvDiff.ML.Tests;

/// <summary>OvDiffSegment as an ML.NET user meets it: inside longer pipelines, with bytes input, bad rows, and disposal.</summary>
public sealed class OvDiffPipelineTests
{
    [Fact]
    public void PipelineZip_OvDiffModelLoadFindsTheSegmentationInsideTheChain()
    {
        var context = new MLContext(seed: 0);
        // The user's columns are named differently: a CopyColumns before and a ConvertType after the segmentation.
        IDataView support = context.Data.LoadFromEnumerable(VocFixture.Support.Select(s => new UserRow { File = VocFixture.Image(s.Id), Tag = s.Class }).ToArray());
        var pipeline = context.Transforms.CopyColumns("ImagePath", "File")
            .Append(context.Transforms.CopyColumns("Label", "Tag"))
            .Append(context.Transforms.OvDiffSegment(VocFixture.QuickOptions))
            .Append(context.Transforms.Conversion.ConvertType("Width", "SegmentationLabelsWidth", DataKind.Single));
        using var temp = new TempFolder();
        string zip = temp.Combine("pipeline.zip");
        var fitted = pipeline.Fit(support);
        try
        {
            context.Model.Save(fitted, support.Schema, zip);
        }
        finally
        {
            fitted.Dispose();
        }

        using OvDiffModel model = OvDiffModel.Load(context, zip);
        Assert.Equal(["background", "aeroplane", "bird"], model.LabelNames);
        Assert.Equal("ImagePath", model.State.ImageColumnName);
        IDataView output = model.Transform(context.Data.LoadFromEnumerable(VocFixture.Targets.Select(p => new UserRow { File = p }).ToArray()));
        float[] widths = output.GetColumn<float>("Width").ToArray();
        Assert.Equal(VocFixture.Targets.Select(p => (float)OvDiff.Imaging.ImageDecoder.ReadSize(p).Width), widths);
    }

    [Fact]
    public void EncodedBytesColumn_FitAndTransform_SameLabelMapsAsPaths_AndSurvivesSaveLoad()
    {
        var context = new MLContext(seed: 0);
        using OvDiffSegmentTransformer byPath = context.Transforms.OvDiffSegment(VocFixture.QuickOptions).Fit(VocFixture.SupportView(context), TestContext.Current.CancellationToken);
        List<(int Width, int Height, byte[] Labels)> expected = VocFixture.LabelMaps(context, byPath.Transform(VocFixture.PathView(context, VocFixture.Targets)));

        // LoadRawImageBytes turns the path column into the Vector<Byte> column serving code would get from uploads.
        var pipeline = context.Transforms.LoadRawImageBytes("Image", null, "ImagePath")
            .Append(context.Transforms.OvDiffSegment(VocFixture.QuickOptions with { ImageColumnName = "Image" }));
        var fitted = pipeline.Fit(VocFixture.SupportView(context));
        using var temp = new TempFolder();
        string zip = temp.Combine("bytes.zip");
        try
        {
            Assert.Equal(expected.Select(e => e.Labels), VocFixture.LabelMaps(context, fitted.Transform(VocFixture.PathView(context, VocFixture.Targets))).Select(e => e.Labels));
            context.Model.Save(fitted, VocFixture.SupportView(context).Schema, zip);
        }
        finally
        {
            fitted.Dispose();
        }

        using OvDiffModel loaded = OvDiffModel.Load(context, zip);
        Assert.Equal(expected.Select(e => e.Labels), VocFixture.LabelMaps(context, loaded.Transform(VocFixture.PathView(context, VocFixture.Targets))).Select(e => e.Labels));

        // Bytes given directly (no file on disk) to the segmentation alone.
        using OvDiffSegmentTransformer byBytes = context.Transforms.OvDiffSegment(VocFixture.QuickOptions with { ImageColumnName = "Image" })
            .Fit(context.Data.LoadFromEnumerable(VocFixture.Support.Select(s => new BytesRow { Image = File.ReadAllBytes(VocFixture.Image(s.Id)), Label = s.Class }).ToArray()), TestContext.Current.CancellationToken);
        IDataView bytesOutput = byBytes.Transform(context.Data.LoadFromEnumerable(VocFixture.Targets.Select(p => new BytesRow { Image = File.ReadAllBytes(p) }).ToArray()));
        Assert.Equal(expected.Select(e => e.Labels), VocFixture.LabelMaps(context, bytesOutput).Select(e => e.Labels));

        // A path column given to a model fitted on bytes is an error naming the column and both kinds.
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => byBytes.Transform(context.Data.LoadFromEnumerable(new[] { new TextImageRow { Image = "x.jpg" } })));
        Assert.Contains("Column 'Image'", error.Message, StringComparison.Ordinal);
        Assert.Contains("encoded image bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PhotoWithExifOrientation_IsSegmentedUpright_FromAPathOrBytes()
    {
        // A VOC target tagged "turn 90 clockwise" (EXIF 6, written by hand): viewers show it with width and height swapped,
        // and so is its label map, whether the row holds its path or its bytes.
        var context = new MLContext(seed: 0);
        using OvDiffSegmentTransformer model = context.Transforms.OvDiffSegment(VocFixture.QuickOptions).Fit(VocFixture.SupportView(context), TestContext.Current.CancellationToken);
        string target = VocFixture.Targets[0];
        (int width, int height) = OvDiff.Imaging.ImageDecoder.ReadSize(target);
        using var temp = new TempFolder();
        string photo = temp.Combine("photo.jpg");
        File.WriteAllBytes(photo, ExifJpeg.WithOrientation(File.ReadAllBytes(target), 6));

        var byPath = VocFixture.LabelMaps(context, model.Transform(VocFixture.PathView(context, [target, photo])));
        Assert.Equal((width, height), (byPath[0].Width, byPath[0].Height));
        Assert.Equal((height, width), (byPath[1].Width, byPath[1].Height));

        using OvDiffSegmentTransformer byBytes = context.Transforms.OvDiffSegment(VocFixture.QuickOptions with { ImageColumnName = "Image" })
            .Fit(context.Data.LoadFromEnumerable(VocFixture.Support.Select(s => new BytesRow { Image = File.ReadAllBytes(VocFixture.Image(s.Id)), Label = s.Class }).ToArray()), TestContext.Current.CancellationToken);
        var fromBytes = VocFixture.LabelMaps(context, byBytes.Transform(context.Data.LoadFromEnumerable(new[] { new BytesRow { Image = File.ReadAllBytes(photo) } })));
        Assert.Equal((height, width), (fromBytes[0].Width, fromBytes[0].Height));
    }

    [Fact]
    public void ParallelCursors_SegmentConcurrently_SameLabelMapsAsOneCursor()
    {
        var context = new MLContext(seed: 0);
        using OvDiffSegmentTransformer model = context.Transforms.OvDiffSegment(VocFixture.QuickOptions).Fit(VocFixture.SupportView(context), TestContext.Current.CancellationToken);
        string[] images = [.. VocFixture.Targets, .. VocFixture.Support.Select(s => VocFixture.Image(s.Id))];
        IDataView output = model.Transform(VocFixture.PathView(context, images));
        Dictionary<string, byte[]> single = images.Zip(VocFixture.LabelMaps(context, output), (path, map) => (path, map.Labels)).ToDictionary(p => p.path, p => p.Labels);

        DataViewSchema.Column path = output.Schema["ImagePath"], labels = output.Schema["SegmentationLabels"];
        DataViewRowCursor[] cursors = output.GetRowCursorSet([path, labels], 2);
        Assert.Equal(2, cursors.Length);
        var parallel = new System.Collections.Concurrent.ConcurrentDictionary<string, byte[]>();
        Parallel.ForEach(cursors, new ParallelOptions { MaxDegreeOfParallelism = 2 }, cursor =>
        {
            using (cursor)
            {
                ValueGetter<ReadOnlyMemory<char>> getPath = cursor.GetGetter<ReadOnlyMemory<char>>(path);
                ValueGetter<VBuffer<byte>> getLabels = cursor.GetGetter<VBuffer<byte>>(labels);
                ReadOnlyMemory<char> p = default;
                VBuffer<byte> l = default;
                while (cursor.MoveNext())
                {
                    getPath(ref p);
                    getLabels(ref l);
                    parallel[p.ToString()] = l.DenseValues().ToArray();
                }
            }
        });

        Assert.Equal(images.Order(), parallel.Keys.Order());
        Assert.All(images, image => Assert.Equal(single[image], parallel[image]));
    }

    [Fact]
    public void BadRows_ErrorsNameRowColumnAndPath_SkipGivesEmptyLabelMapAndCounts()
    {
        var context = new MLContext(seed: 0);
        using var temp = new TempFolder();
        string corrupt = temp.Combine("corrupt.jpg");
        File.WriteAllBytes(corrupt, [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]);

        // Fit: an empty path names the row and column (with an image folder it used to be "access denied" for the folder).
        var rows = VocFixture.Support.Select(s => new VocFixture.SupportRow { ImagePath = VocFixture.Image(s.Id), Label = s.Class }).ToList();
        rows.Insert(2, new VocFixture.SupportRow { ImagePath = "", Label = "bird" });
        var fitError = Assert.Throws<InvalidDataException>(() => context.Transforms.OvDiffSegment(VocFixture.QuickOptions with { ImageFolder = temp.Path })
            .Fit(context.Data.LoadFromEnumerable(rows), TestContext.Current.CancellationToken));
        Assert.Contains("Support row 2, column 'ImagePath'", fitError.Message, StringComparison.Ordinal);
        Assert.Contains("empty", fitError.Message, StringComparison.Ordinal);

        // Transform without skipping: the error names the column and the file.
        using (OvDiffSegmentTransformer strict = context.Transforms.OvDiffSegment(VocFixture.QuickOptions).Fit(VocFixture.SupportView(context), TestContext.Current.CancellationToken))
        {
            Exception error = Assert.ThrowsAny<Exception>(() => VocFixture.LabelMaps(context, strict.Transform(VocFixture.PathView(context, [VocFixture.Targets[0], corrupt]))));
            string message = Flatten(error);
            Assert.Contains(corrupt, message, StringComparison.Ordinal);
            Assert.Contains("column 'ImagePath'", message, StringComparison.Ordinal);
        }

        // With SkipBadImages: the support row is left out and counted, bad targets get an empty map and are counted.
        using OvDiffSegmentTransformer lenient = context.Transforms.OvDiffSegment(VocFixture.QuickOptions with { SkipBadImages = true })
            .Fit(context.Data.LoadFromEnumerable(rows), TestContext.Current.CancellationToken);
        Assert.Equal(1, lenient.SkippedSupportImages);
        List<(int Width, int Height, byte[] Labels)> maps = VocFixture.LabelMaps(context, lenient.Transform(VocFixture.PathView(context, [VocFixture.Targets[0], corrupt, "", VocFixture.Targets[1]])));
        Assert.Equal([false, true, true, false], maps.Select(m => m.Width == 0 && m.Height == 0 && m.Labels.Length == 0));
        Assert.Equal(2, lenient.SkippedImages);
    }

    [Fact]
    public void WrongColumnTypeAfterModelLoad_ErrorNamesTheUsersColumn()
    {
        var context = new MLContext(seed: 0);
        using var temp = new TempFolder();
        string zip = temp.Combine("model.zip");
        using (OvDiffSegmentTransformer model = context.Transforms.OvDiffSegment(VocFixture.QuickOptions).Fit(VocFixture.SupportView(context), TestContext.Current.CancellationToken))
        {
            context.Model.Save(model, VocFixture.SupportView(context).Schema, zip);
        }

        ITransformer loaded = context.Model.Load(zip, out _);
        IDataView numbers = context.Data.LoadFromEnumerable(new[] { new NumberRow { ImagePath = 3f } });
        Exception error = Assert.ThrowsAny<Exception>(() => loaded.Transform(numbers));
        Assert.Contains("'ImagePath'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("__OvDiff", error.Message, StringComparison.Ordinal);
        (loaded as IDisposable)?.Dispose();
    }

    private static string Flatten(Exception error)
    {
        var messages = new List<string>();
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            messages.Add(e.Message);
        }

        return string.Join(" | ", messages);
    }

    private sealed class UserRow
    {
        public string File { get; set; } = "";

        public string Tag { get; set; } = "";
    }

    private sealed class BytesRow
    {
        [VectorType]
        public byte[] Image { get; set; } = [];

        public string Label { get; set; } = "";
    }

    private sealed class TextImageRow
    {
        public string Image { get; set; } = "";
    }

    private sealed class NumberRow
    {
        public float ImagePath { get; set; }
    }
}

/// <summary>Zips saved before bytes input and class names (chain version 1) still load.</summary>
public sealed class Version1ZipTests
{
    [Fact]
    public void Version1Chain_SavedThenLoaded_SegmentsLikeTheCurrentOne()
    {
        var context = new MLContext(seed: 0);
        using OvDiffSegmentTransformer current = context.Transforms.OvDiffSegment(VocFixture.QuickOptions).Fit(VocFixture.SupportView(context), TestContext.Current.CancellationToken);
        byte[] state = current.State.ToBytes();

        // The chain exactly as version 1 wrote it (OvDiffSegmentTransformer.CreateChain before the names and bytes input).
        var t = context.Transforms;
        SegmentPathMappingV1.MappingRunner runner = new SegmentPathMappingV1().Create();
        var chain = t.CopyColumns(InternalColumns.ImagePath, "ImagePath")
            .Append(t.CustomMapping(new StateKeyMappingV1().GetMapping(), StateKeyMappingV1.ContractName))
            .Append(t.Conversion.MapValue(InternalColumns.State, new[] { new KeyValuePair<string, byte[]>(InternalColumns.StateKeyValue, state) }, InternalColumns.StateKey))
            .Append(t.CustomMapping<PathInputRow, SegmentationOutputRowV1>(runner.Map, SegmentPathMappingV1.ContractName))
            .Append(t.CopyColumns("SegmentationLabels", InternalColumns.Labels))
            .Append(t.CopyColumns("SegmentationLabelsWidth", InternalColumns.Width))
            .Append(t.CopyColumns("SegmentationLabelsHeight", InternalColumns.Height))
            .Append(t.DropColumns(InternalColumns.ImagePath, InternalColumns.StateKey, InternalColumns.State, InternalColumns.Labels, InternalColumns.Width, InternalColumns.Height));
        IDataView support = VocFixture.SupportView(context);
        using var temp = new TempFolder();
        string zip = temp.Combine("v1.zip");
        using (runner)
        {
            context.Model.Save(chain.Fit(support), support.Schema, zip);
        }

        using OvDiffModel loaded = OvDiffModel.Load(context, zip);
        Assert.Equal(["background", "aeroplane", "bird"], loaded.LabelNames);
        Assert.Equal(
            VocFixture.LabelMaps(context, current.Transform(VocFixture.PathView(context, VocFixture.Targets))).Select(m => m.Labels),
            VocFixture.LabelMaps(context, loaded.Transform(VocFixture.PathView(context, VocFixture.Targets))).Select(m => m.Labels));
    }
}
