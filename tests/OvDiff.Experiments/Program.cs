using System.Globalization;
using OvDiff.Onnx;

namespace OvDiff.Experiments;

/// <summary>Candidate classes per test image (index 1..20; 0 unused).</summary>
internal delegate bool[] Prefilter(ImageRecord image);

internal sealed record RunResult(double MeanIoU, double[] ClassIoU, double Precision, double Recall);

internal static class Program
{
    private static readonly string[] Names =
        ["background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"];

    public static int Main(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        string data = Environment.GetEnvironmentVariable("OVDIFF_DATA") ?? "../shared/data";
        string voc = Path.Combine(data, "VOC2012");
        Crops.VocRoot = voc;
        string cache = Environment.GetEnvironmentVariable("EXP_CACHE") ?? "runs/exp/dev-l4.bin";
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // EXP_LAYERS=Layer4Dilated (stride 16), EXP_SIZE (short side, default 448), EXP_FLIP=1 (also cache flipped images).
        var layers = Enum.Parse<ResNet18Layers>(Environment.GetEnvironmentVariable("EXP_LAYERS") ?? nameof(ResNet18Layers.Layer4));
        int shortSide = int.Parse(Environment.GetEnvironmentVariable("EXP_SIZE") ?? "448", CultureInfo.InvariantCulture);
        List<ImageRecord> all = FeatureCache.Load(voc, "dev", cache, layers, Environment.GetEnvironmentVariable("EXP_FLIP") == "1", shortSide);
        if (Environment.GetEnvironmentVariable("EXP_CACHE2") is { } second)
        {
            int side2 = int.Parse(Environment.GetEnvironmentVariable("EXP_SIZE2") ?? "640", CultureInfo.InvariantCulture);
            var byId = FeatureCache.Load(voc, "dev", second, layers, Environment.GetEnvironmentVariable("EXP_FLIP") == "1", side2).ToDictionary(r => r.Id);
            all.ForEach(r => r.OtherScale = byId[r.Id]);
        }

        Console.Error.WriteLine($"loaded {all.Count} images in {clock.Elapsed.TotalSeconds:F1} s");
        foreach (string experiment in args)
        {
            clock.Restart();
            Experiments.Run(experiment, all);
            Console.Error.WriteLine($"{experiment}: {clock.Elapsed.TotalSeconds:F1} s");
        }

        return 0;
    }

    public static RunResult Evaluate(Fold fold, Protos protos, Prefilter? prefilter, float minimumArea, Func<ImageRecord, bool[], GridScores>? scorer = null)
    {
        var confusion = new long[Engine.Labels * Engine.Labels];
        float[] flat = protos.Flat(fold.Test[0].Features.Channels);
        long tp = 0, fp = 0, fn = 0;
        object gate = new();
        Parallel.ForEach(fold.Test, new ParallelOptions { MaxDegreeOfParallelism = 2 }, image =>
        {
            bool[] candidates = prefilter?.Invoke(image) ?? Enumerable.Repeat(true, Engine.Labels).ToArray();
            GridScores grid = scorer is null ? Engine.Score(image, protos, flat, candidates) : scorer(image, candidates);
            byte[] labels = Engine.Predict(image, grid, minimumArea, out _);
            var local = new long[confusion.Length];
            Engine.Accumulate(local, Engine.Fast ? image.HalfTruth : image.Truth, labels);
            lock (gate)
            {
                for (int i = 0; i < local.Length; i++)
                {
                    confusion[i] += local[i];
                }

                for (int c = 1; c < Engine.Labels; c++)
                {
                    bool present = image.Tags.Contains(c);
                    tp += present && candidates[c] ? 1 : 0;
                    fp += !present && candidates[c] ? 1 : 0;
                    fn += present && !candidates[c] ? 1 : 0;
                }
            }
        });
        double[] iou = Engine.IoU(confusion);
        return new RunResult(Engine.Mean(iou), iou, (double)tp / Math.Max(tp + fp, 1), (double)tp / Math.Max(tp + fn, 1));
    }

    public static void Report(string name, IReadOnlyList<(string Fold, RunResult Result)> results)
    {
        double[] m = results.Select(r => r.Result.MeanIoU).ToArray();
        double mean = m.Average(), sd = Math.Sqrt(m.Select(v => (v - mean) * (v - mean)).Sum() / Math.Max(m.Length - 1, 1));
        var perClass = Enumerable.Range(0, Engine.Labels).Select(c => results.Select(r => r.Result.ClassIoU[c]).Where(v => !double.IsNaN(v)).DefaultIfEmpty(double.NaN).Average() * 100).ToArray();
        int worst = Enumerable.Range(1, Engine.Labels - 1).MinBy(c => perClass[c]);
        Console.WriteLine($"{name,-48} mIoU {mean,5:F2} ± {sd:F2} [{string.Join(' ', m.Select(v => v.ToString("F1")))}] min {Names[worst]} {perClass[worst]:F1} person {perClass[15]:F1} P/R {results.Average(r => r.Result.Precision):F2}/{results.Average(r => r.Result.Recall):F2}");
        if (Environment.GetEnvironmentVariable("EXP_VERBOSE") == "1")
        {
            Console.WriteLine("   " + string.Join(' ', Enumerable.Range(0, Engine.Labels).Select(c => $"{Names[c][..Math.Min(5, Names[c].Length)]}:{perClass[c]:F0}")));
        }
    }
}
