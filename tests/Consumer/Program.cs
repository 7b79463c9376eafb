// The consumer smoke test (run by run.sh, in CI): what a user of the OvDiff.ML package does.
//   Consumer fit  VOC_DIR WORK_DIR   fits on four real VOC images, saves WORK_DIR/model.zip, writes the label maps it
//                                    gets for two other images to WORK_DIR/expected.bin
//   Consumer load VOC_DIR WORK_DIR   (a second process) loads the zip with mlContext.Model.Load, segments the same
//                                    images, and checks the label maps are identical and the class names are on the output
//   Consumer png  PNG_DIR WORK_DIR   checks label PNGs written by the `ovdiff` tool against expected.bin
using Microsoft.ML;
using Microsoft.ML.Data;
using OvDiff.Core.Segmentation;
using OvDiff.Imaging;
using OvDiff.ML;

if (args.Length != 3)
{
    Console.Error.WriteLine("usage: Consumer fit|load|png DIR WORK_DIR");
    return 2;
}

string mode = args[0], dir = args[1], work = args[2];
string zip = Path.Combine(work, "model.zip"), expectedFile = Path.Combine(work, "expected.bin");
string[] expectedNames = ["background", "aeroplane", "bird"];
(string Id, string Class)[] support = [("2007_000033", "aeroplane"), ("2007_001288", "aeroplane"), ("2007_001289", "bird"), ("2007_002094", "bird")];
string[] targets = ["2007_001377", "2007_002400"];
var ml = new MLContext(seed: 0);

switch (mode)
{
    case "fit":
    {
        // Support rows: an image path column and a class-name column.
        IDataView supportView = ml.Data.LoadFromEnumerable(support.Select(s => new ImageRow { ImagePath = $"JPEGImages/{s.Id}.jpg", Label = s.Class }));
        var options = new OvDiffSegmentOptions
        {
            ImageFolder = dir,
            Fit = new PrototypeFitOptions { SupportShortSide = 224, PartCount = 4 },
            Segmentation = new SegmentationOptions { ShortSide = 224, Windows = [] },
        };
        using OvDiffSegmentTransformer model = ml.Transforms.OvDiffSegment(options).Fit(supportView);
        ml.Model.Save(model, supportView.Schema, zip);
        List<Result> results = Segment(model);
        Require(model.LabelNames.SequenceEqual(expectedNames), $"LabelNames {string.Join(",", model.LabelNames)}");
        using var writer = new BinaryWriter(File.Create(expectedFile));
        writer.Write(results.Count);
        foreach (Result r in results)
        {
            writer.Write(r.Width);
            writer.Write(r.Height);
            writer.Write(r.Labels.Length);
            writer.Write(r.Labels);
        }

        Console.WriteLine($"consumer fit: {new FileInfo(zip).Length} B model, label maps {string.Join(", ", results.Select(r => $"{r.Width}x{r.Height}"))}");
        return 0;
    }

    case "load":
    {
        ITransformer loaded = ml.Model.Load(zip, out _);
        List<Result> results = Segment(loaded);
        Compare(results, "mlContext.Model.Load in a second process");
        using OvDiffModel model = OvDiffModel.Load(ml, zip);
        Require(model.LabelNames.SequenceEqual(expectedNames), $"OvDiffModel.LabelNames {string.Join(",", model.LabelNames)}");
        Console.WriteLine("consumer load: label maps identical, class names on the output: " + string.Join(", ", expectedNames));
        return 0;
    }

    case "png":
    {
        var reader = new LabelPngReader();
        var fromTool = targets.Select(id => reader.Read(Path.Combine(dir, id + ".png"))).Select(m => new Result(m.Width, m.Height, m.Labels, [])).ToList();
        Compare(fromTool, "the ovdiff tool's label PNGs");
        Console.WriteLine("consumer png: the ovdiff tool's label maps equal the library's");
        return 0;
    }

    default:
        Console.Error.WriteLine($"unknown mode '{mode}'");
        return 2;
}

List<Result> Segment(ITransformer model)
{
    IDataView images = ml.Data.LoadFromEnumerable(targets.Select(id => new ImageRow { ImagePath = $"JPEGImages/{id}.jpg" }));
    IDataView output = model.Transform(images);
    VBuffer<ReadOnlyMemory<char>> names = default;
    output.Schema["SegmentationLabelsClasses"].GetKeyValues(ref names);
    string[] labelNames = names.DenseValues().Select(n => n.ToString()).ToArray();
    Require(labelNames.SequenceEqual(expectedNames), $"KeyValues of SegmentationLabelsClasses: {string.Join(",", labelNames)}");
    return ml.Data.CreateEnumerable<OutputRow>(output, reuseRowObject: false)
        .Select(r => new Result(r.SegmentationLabelsWidth, r.SegmentationLabelsHeight, r.SegmentationLabels, r.SegmentationLabelsClasses.Select(k => labelNames[k - 1]).ToArray()))
        .ToList();
}

void Compare(List<Result> actual, string what)
{
    using var reader = new BinaryReader(File.OpenRead(expectedFile));
    int count = reader.ReadInt32();
    Require(count == actual.Count, $"{what}: {actual.Count} label maps, expected {count}");
    foreach (Result r in actual)
    {
        int width = reader.ReadInt32(), height = reader.ReadInt32();
        byte[] labels = reader.ReadBytes(reader.ReadInt32());
        Require(width == r.Width && height == r.Height, $"{what}: size {r.Width}x{r.Height}, expected {width}x{height}");
        Require(labels.AsSpan().SequenceEqual(r.Labels), $"{what}: label maps differ");
        Require(r.Labels.Any(l => l != 0), $"{what}: an all-background label map");
    }
}

static void Require(bool condition, string message)
{
    if (!condition)
    {
        throw new InvalidOperationException("consumer smoke test failed: " + message);
    }
}

internal sealed record Result(int Width, int Height, byte[] Labels, string[] ClassesPresent);

internal sealed class ImageRow
{
    public string ImagePath { get; set; } = "";

    public string Label { get; set; } = "";
}

internal sealed class OutputRow
{
    [VectorType]
    public byte[] SegmentationLabels { get; set; } = [];

    public int SegmentationLabelsWidth { get; set; }

    public int SegmentationLabelsHeight { get; set; }

    [VectorType]
    [KeyType(3)]
    public uint[] SegmentationLabelsClasses { get; set; } = [];
}
