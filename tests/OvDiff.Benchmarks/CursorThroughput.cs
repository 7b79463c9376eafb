using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using OvDiff.Core.Segmentation;
using OvDiff.ML;

namespace OvDiff.Benchmarks;

/// <summary>
/// Images per second through a fitted OvDiffSegment transformer with 1 and 2 parallel cursors (GetRowCursorSet, one
/// thread per cursor), as ML.NET consumers that parallelise (trainers, caches, user code) read it. Not BenchmarkDotNet:
/// each round segments whole VOC images for seconds, alternating 1 and 2 cursors so that load from other processes
/// on a shared machine falls on both alike; the median round is reported.
/// Run: dotnet run -c Release --project tests/OvDiff.Benchmarks -- cursors [IMAGES] [ROUNDS]   (needs OVDIFF_DATA)
/// </summary>
internal static class CursorThroughput
{
    public static void Run(string[] args)
    {
        int imageCount = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 16;
        int rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 3;
        string voc = Path.Combine(Environment.GetEnvironmentVariable("OVDIFF_DATA") ?? "../shared/data", "VOC2012");
        string[] ids = File.ReadAllLines(Path.Combine(voc, "ImageSets", "Segmentation", "mini.txt")).Where(l => l.Length > 0).ToArray();
        var ml = new MLContext(seed: 0);
        (string Id, string Class)[] support = [("2007_000033", "aeroplane"), ("2007_001288", "aeroplane"), ("2007_001289", "bird"), ("2007_002094", "bird")];
        IDataView supportView = ml.Data.LoadFromEnumerable(support.Select(s => new Row { ImagePath = Path.Combine(voc, "JPEGImages", s.Id + ".jpg"), Label = s.Class }));
        var options = new OvDiffSegmentOptions { Segmentation = new SegmentationOptions { Windows = [] } }; // 448 short side, whole image
        using OvDiffSegmentTransformer model = ml.Transforms.OvDiffSegment(options).Fit(supportView);
        IDataView targets = ml.Data.LoadFromEnumerable(ids.Take(imageCount).Select(id => new Row { ImagePath = Path.Combine(voc, "JPEGImages", id + ".jpg") }).ToArray());
        IDataView output = model.Transform(targets);
        Console.WriteLine($"{Environment.ProcessorCount} cores, {imageCount} VOC images per round, whole image at short side 448, {rounds} rounds");
        Time(output, 1); // warm-up: sessions, Skia, JIT
        var results = new Dictionary<int, List<double>> { [1] = [], [2] = [] };
        var cpu = new Dictionary<int, List<double>> { [1] = [], [2] = [] };
        for (int round = 0; round < rounds; round++)
        {
            foreach (int cursors in new[] { 1, 2 })
            {
                TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                (double seconds, int got) = Time(output, cursors);
                double cpuPerImage = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds / imageCount;
                results[cursors].Add(imageCount / seconds);
                cpu[cursors].Add(cpuPerImage);
                Console.WriteLine($"  round {round + 1}, {cursors} cursor(s) requested, {got} given: {imageCount / seconds:F2} images/s, {cpuPerImage:F0} ms CPU per image");
            }
        }

        foreach ((int cursors, List<double> rates) in results)
        {
            Console.WriteLine($"{cursors} cursor(s): median {rates.Order().ElementAt(rates.Count / 2):F2} images/s (min {rates.Min():F2}, max {rates.Max():F2}), median {cpu[cursors].Order().ElementAt(rates.Count / 2):F0} ms CPU per image");
        }
    }

    private static (double Seconds, int Cursors) Time(IDataView output, int cursors)
    {
        DataViewSchema.Column labels = output.Schema["SegmentationLabels"];
        var watch = Stopwatch.StartNew();
        DataViewRowCursor[] set = output.GetRowCursorSet([labels], cursors);
        Parallel.ForEach(set, new ParallelOptions { MaxDegreeOfParallelism = set.Length }, cursor =>
        {
            using (cursor)
            {
                ValueGetter<VBuffer<byte>> getter = cursor.GetGetter<VBuffer<byte>>(labels);
                VBuffer<byte> value = default;
                while (cursor.MoveNext())
                {
                    getter(ref value);
                }
            }
        });
        return (watch.Elapsed.TotalSeconds, set.Length);
    }

    private sealed class Row
    {
        public string ImagePath { get; set; } = "";

        public string Label { get; set; } = "";
    }
}
