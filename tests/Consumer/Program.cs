// The consumer smoke test (run by run.sh, in CI): what a user of the OvDiff.ML package does.
//   Consumer fit   VOC_DIR WORK_DIR  fits on four real VOC images, saves WORK_DIR/model.zip, writes the label maps it
//                                    gets for two other images to WORK_DIR/expected.bin
//   Consumer load  VOC_DIR WORK_DIR  (a second process) loads the zip with mlContext.Model.Load, segments the same
//                                    images, and checks the label maps are identical and the class names are on the output
//   Consumer serve VOC_DIR WORK_DIR  (a published app, a fresh process) as a web server: mlContext.Model.Load before any
//                                    OvDiff type is touched, then a PredictionEngine per thread and parallel Transform +
//                                    enumeration on four threads at once, and OvDiffModel.Load from a stream; every label
//                                    map must equal expected.bin
//   Consumer png   PNG_DIR WORK_DIR  checks label PNGs written by the `ovdiff` tool against expected.bin
// Main and Serving name no OvDiff type, so that `serve` shows ML.NET loading OvDiff.ML by itself.
using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using OvDiff.Core.Segmentation;
using OvDiff.Imaging;
using OvDiff.ML;

if (args.Length != 3)
{
    Console.Error.WriteLine("usage: Consumer fit|load|serve|png DIR WORK_DIR");
    return 2;
}

var run = new Shared(args[1], args[2]);
switch (args[0])
{
    case "fit":
        return Library.Fit(run);
    case "load":
        return Library.Load(run);
    case "serve":
        return Serving.Serve(run);
    case "png":
        return Library.Png(run);
    default:
        Console.Error.WriteLine($"unknown mode '{args[0]}'");
        return 2;
}

/// <summary>Modes that use OvDiff's own types.</summary>
internal static class Library
{
    public static int Fit(Shared run)
    {
        // Support rows: an image path column and a class-name column.
        IDataView supportView = run.Ml.Data.LoadFromEnumerable(Shared.Support.Select(s => new ImageRow { ImagePath = $"JPEGImages/{s.Id}.jpg", Label = s.Class }));
        var options = new OvDiffSegmentOptions
        {
            ImageFolder = run.Dir,
            Fit = new PrototypeFitOptions { SupportShortSide = 224, PartCount = 4 },
            Segmentation = new SegmentationOptions { ShortSide = 224, Windows = [] },
        };
        using OvDiffSegmentTransformer model = run.Ml.Transforms.OvDiffSegment(options).Fit(supportView);
        run.Ml.Model.Save(model, supportView.Schema, run.Zip);
        List<Result> results = Shared.Segment(model, run.Ml);
        Shared.Require(model.LabelNames.SequenceEqual(Shared.ExpectedNames), $"LabelNames {string.Join(",", model.LabelNames)}");
        using var writer = new BinaryWriter(File.Create(run.ExpectedFile));
        writer.Write(results.Count);
        foreach (Result r in results)
        {
            writer.Write(r.Width);
            writer.Write(r.Height);
            writer.Write(r.Labels.Length);
            writer.Write(r.Labels);
        }

        Console.WriteLine($"consumer fit: {new FileInfo(run.Zip).Length} B model, label maps {string.Join(", ", results.Select(r => $"{r.Width}x{r.Height}"))}");
        return 0;
    }

    public static int Load(Shared run)
    {
        ITransformer loaded = run.Ml.Model.Load(run.Zip, out _);
        run.Compare(Shared.Segment(loaded, run.Ml), "mlContext.Model.Load in a second process");
        using OvDiffModel model = OvDiffModel.Load(run.Ml, run.Zip);
        Shared.Require(model.LabelNames.SequenceEqual(Shared.ExpectedNames), $"OvDiffModel.LabelNames {string.Join(",", model.LabelNames)}");
        Console.WriteLine("consumer load: label maps identical, class names on the output: " + string.Join(", ", Shared.ExpectedNames));
        return 0;
    }

    public static int Png(Shared run)
    {
        var reader = new LabelPngReader();
        var fromTool = Shared.Targets.Select(id => reader.Read(Path.Combine(run.Dir, id + ".png"))).Select(m => new Result(m.Width, m.Height, m.Labels, [])).ToList();
        run.Compare(fromTool, "the ovdiff tool's label PNGs");
        Console.WriteLine("consumer png: the ovdiff tool's label maps equal the library's");
        return 0;
    }

    /// <summary>OvDiffModel.Load from a stream that cannot seek, as a model downloaded or read from a blob store is.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void LoadFromStream(Shared run)
    {
        using var forwardOnly = new System.IO.Compression.DeflateStream(Deflate(File.ReadAllBytes(run.Zip)), System.IO.Compression.CompressionMode.Decompress);
        using OvDiffModel model = OvDiffModel.Load(run.Ml, forwardOnly, "models/voc.zip");
        Shared.Require(model.Path == "models/voc.zip" && model.LabelNames.SequenceEqual(Shared.ExpectedNames), $"OvDiffModel.Load(stream): '{model.Path}', {string.Join(",", model.LabelNames)}");
        run.Compare(Shared.Segment(model.Transformer, run.Ml), "OvDiffModel.Load from a stream");
    }

    private static MemoryStream Deflate(byte[] bytes)
    {
        var compressed = new MemoryStream();
        using (var deflate = new System.IO.Compression.DeflateStream(compressed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            deflate.Write(bytes);
        }

        compressed.Position = 0;
        return compressed;
    }
}

/// <summary>The saved model served as a web server would: plain ML.NET, several threads at once.</summary>
internal static class Serving
{
    private const int Threads = 4;

    public static int Serve(Shared run)
    {
        // A fresh process that has not touched OvDiff: ML.NET must find and register OvDiff.ML from the zip alone.
        Shared.Require(!OvDiffLoaded(), "OvDiff.ML was loaded before mlContext.Model.Load (the check would prove nothing)");
        ITransformer loaded = run.Ml.Model.Load(run.Zip, out DataViewSchema inputSchema);
        Shared.Require(OvDiffLoaded(), "OvDiff.ML not loaded by mlContext.Model.Load");
        Shared.Require(inputSchema.GetColumnOrNull("ImagePath") is not null, "the saved input schema lacks ImagePath");
        run.Compare(Shared.Segment(loaded, run.Ml), "mlContext.Model.Load in a fresh process");

        // A PredictionEngine per thread (PredictionEngine is not thread-safe; the transformer is), all predicting at once.
        var engines = new Result[Threads][];
        using (var start = new Barrier(Threads))
        {
            Thread[] threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
            {
                using PredictionEngine<ImageRow, OutputRow> engine = run.Ml.Model.CreatePredictionEngine<ImageRow, OutputRow>(loaded);
                start.SignalAndWait();
                // Each thread starts at another image, so different images are segmented at the same moment.
                engines[t] = Enumerable.Range(0, Shared.Targets.Length)
                    .Select(i => Shared.Targets[(i + t) % Shared.Targets.Length])
                    .Select(id => engine.Predict(new ImageRow { ImagePath = Path.Combine(run.Dir, "JPEGImages", id + ".jpg") }))
                    .Select(o => new Result(o.SegmentationLabelsWidth, o.SegmentationLabelsHeight, o.SegmentationLabels, []))
                    .ToArray();
            })).ToArray();
            Array.ForEach(threads, t => t.Start());
            Array.ForEach(threads, t => t.Join());
        }

        for (int t = 0; t < Threads; t++)
        {
            // Back in target order.
            run.Compare([.. Enumerable.Range(0, Shared.Targets.Length).Select(i => engines[t][(i - t + (Threads * Shared.Targets.Length)) % Shared.Targets.Length])], $"PredictionEngine on thread {t} of {Threads}");
        }

        // The one transformer's Transform and enumeration on several threads at once (each with its own MLContext).
        List<Result>[] parallel = new List<Result>[Threads];
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, t => parallel[t] = Shared.Segment(loaded, new MLContext(seed: t)));
        for (int t = 0; t < Threads; t++)
        {
            run.Compare(parallel[t], $"Transform + CreateEnumerable on thread {t} of {Threads}");
        }

        Library.LoadFromStream(run);
        Console.WriteLine($"consumer serve: mlContext.Model.Load in a fresh process registered OvDiff.ML by itself; {Threads} PredictionEngines and {Threads} parallel Transforms, and OvDiffModel.Load from a stream, gave the fitted label maps");
        return 0;
    }

    private static bool OvDiffLoaded() => AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "OvDiff.ML");
}

/// <summary>Paths, the images and the checks every mode shares (no OvDiff type).</summary>
internal sealed class Shared(string dir, string work)
{
    public static readonly string[] ExpectedNames = ["background", "aeroplane", "bird"];
    public static readonly (string Id, string Class)[] Support = [("2007_000033", "aeroplane"), ("2007_001288", "aeroplane"), ("2007_001289", "bird"), ("2007_002094", "bird")];
    public static readonly string[] Targets = ["2007_001377", "2007_002400"];

    public string Dir { get; } = dir;

    public string Zip { get; } = Path.Combine(work, "model.zip");

    public string ExpectedFile { get; } = Path.Combine(work, "expected.bin");

    public MLContext Ml { get; } = new(seed: 0);

    public static List<Result> Segment(ITransformer model, MLContext ml)
    {
        // Paths relative to the VOC folder: the model resolves them against the ImageFolder it was fitted with.
        IDataView images = ml.Data.LoadFromEnumerable(Targets.Select(id => new ImageRow { ImagePath = $"JPEGImages/{id}.jpg" }));
        IDataView output = model.Transform(images);
        VBuffer<ReadOnlyMemory<char>> names = default;
        output.Schema["SegmentationLabelsClasses"].GetKeyValues(ref names);
        string[] labelNames = names.DenseValues().Select(n => n.ToString()).ToArray();
        Require(labelNames.SequenceEqual(ExpectedNames), $"KeyValues of SegmentationLabelsClasses: {string.Join(",", labelNames)}");
        return ml.Data.CreateEnumerable<OutputRow>(output, reuseRowObject: false)
            .Select(r => new Result(r.SegmentationLabelsWidth, r.SegmentationLabelsHeight, r.SegmentationLabels, r.SegmentationLabelsClasses.Select(k => labelNames[k - 1]).ToArray()))
            .ToList();
    }

    public void Compare(List<Result> actual, string what)
    {
        using var reader = new BinaryReader(File.OpenRead(ExpectedFile));
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

    public static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException("consumer smoke test failed: " + message);
        }
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
