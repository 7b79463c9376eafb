using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;
using OvDiff.Eval.Configuration;
using OvDiff.Eval.Running;
using OvDiff.Imaging;
using OvDiff.Onnx;

namespace OvDiff.Benchmarks.Speed;

/// <summary>
/// <c>dotnet run -c Release --project tests/OvDiff.Benchmarks -- speed</c>: segmentation speed as ratios measured in one
/// run, on real VOC 2012 dev images with the embedded ResNet18 and a model fitted here (class-mean prototypes, 40 of
/// them, minimum class area 0.1: what <c>ovdiff fit</c> gives by default):
/// <list type="bullet">
/// <item>segmenting an image / its feature-extractor passes, whole image and official protocol (goal ≤ 1.15);</item>
/// <item>PAMR / the whole-image feature pass (goal ≤ 0.5);</item>
/// <item>the official protocol's windows one ONNX call each vs one batch per window size;</item>
/// <item><c>ovdiff eval</c> throughput (images/s) and how busy it keeps the cores, sequential vs overlapped;</item>
/// <item>ovdiff's whole-image time per image / a plain PyTorch peer's on the same images and cores (goal ≤ 0.7).</item>
/// </list>
/// Configurations are interleaved image by image, so machine load hits them alike; every round's ratio is printed and
/// the median is the figure. Options: --images N (24), --rounds R (3), --support K per class (3), --no-peer, --no-eval.
/// </summary>
internal static class SpeedBenchmark
{
    public static int Run(string[] args)
    {
        int images = IntOption(args, "--images", 24), rounds = IntOption(args, "--rounds", 3), perClass = IntOption(args, "--support", 3);
        string data = Environment.GetEnvironmentVariable("OVDIFF_DATA") ?? FindSharedData()
            ?? throw new DirectoryNotFoundException("Real data not found: set OVDIFF_DATA to the shared/data folder.");
        string voc = Path.Combine(data, "VOC2012");
        Console.WriteLine($"OvDiff speed benchmark · {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC · {Environment.ProcessorCount} cores · load average {LoadAverage()}");

        var (support, test) = PickImages(voc, perClass, images);
        using var extractor = new ResNet18FeatureExtractor();
        var fitWatch = Stopwatch.StartNew();
        PrototypeModel model = PrototypeFitter.Fit(support, VocClasses, [extractor], new PrototypeFitOptions { Levels = PrototypeLevels.ClassMean });
        Console.WriteLine($"Fitted {VocClasses.Length} classes from {support.Count} support images in {fitWatch.Elapsed.TotalSeconds:F1} s; timing {test.Count} other dev images x {rounds} rounds.");
        RgbImage[] decoded = [.. test.Select(id => ImageDecoder.Decode(Path.Combine(voc, "JPEGImages", id + ".jpg")))];
        var tags = new TagPrefilter(test.Select((id, i) => (decoded[i], Tags(voc, id))));

        var whole = new SegmentationOptions { Windows = [], Levels = PrototypeLevels.ClassMean, MinimumClassArea = 0.1f };
        Variant[] variants =
        [
            new("whole image", new PrototypeSegmenter(model, [extractor], whole)),
            new("official protocol, one ONNX call per window", new PrototypeSegmenter(model, [extractor], whole with { Windows = new SegmentationOptions().Windows, BatchWindows = false })),
            new("official protocol, windows of one size as one batch", new PrototypeSegmenter(model, [extractor], whole with { Windows = new SegmentationOptions().Windows, BatchWindows = true })),
            new("whole image + PAMR", new PrototypeSegmenter(model, [extractor], whole with { Pamr = new() })),
            new("whole image + PAMR, pre-filter keeping the image's classes", new PrototypeSegmenter(model, [extractor], whole with { Pamr = new() }, tags)),
        ];
        Console.WriteLine($"Prototypes matched: {variants[0].Segmenter.ActivePrototypeCounts[0]}.");
        foreach (Variant variant in variants)
        {
            variant.Segmenter.Segment(decoded[0]);
        }

        for (int round = 0; round < rounds; round++)
        {
            foreach (Variant variant in variants)
            {
                variant.StartRound();
            }

            foreach (RgbImage image in decoded)
            {
                foreach (Variant variant in variants)
                {
                    variant.Time(image);
                }
            }
        }

        Console.WriteLine();
        foreach (Variant variant in variants)
        {
            variant.Print();
        }

        long differing = decoded.Sum(image => variants[1].Segmenter.Segment(image).Labels.Zip(variants[2].Segmenter.Segment(image).Labels).LongCount(p => p.First != p.Second));
        Console.WriteLine($"Batched windows vs one call each: {differing} of {decoded.Sum(i => i.PixelCount)} pixels labelled differently.");
        Variant wholeImage = variants[0];
        foreach (Variant pamr in variants[3..5])
        {
            double[] pamrRatios = [.. pamr.Rounds.Select((t, r) => t.PerImage(t.Refinement) / wholeImage.Rounds[r].ExtractionMillisecondsPerImage)];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"PAMR ({pamr.Name}): {Median(pamr.Rounds.Select(t => t.PerImage(t.Refinement))):F1} ms per image = {Median(pamrRatios):F2} x the whole-image feature pass (goal <= 0.5; rounds {Join(pamrRatios)})"));
        }

        double ovdiffWholeMs = Median(wholeImage.Rounds.Select(t => t.PerImage(t.FeatureExtraction + t.Other)));
        if (!args.Contains("--no-eval"))
        {
            RunEval(voc, test, wholeImage.Segmenter, rounds);
        }

        if (!args.Contains("--no-peer"))
        {
            RunPeer(voc, test, rounds, variants[0].Segmenter.ActivePrototypeCounts[0], ovdiffWholeMs);
        }

        return 0;
    }

    private static readonly string[] VocClasses =
    [
        "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
        "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
    ];

    /// <summary>Support: per class the first <paramref name="perClass"/> dev images tagged with that class alone (tags from the masks); test: the first other dev images.</summary>
    private static (List<SupportExample> Support, List<string> Test) PickImages(string voc, int perClass, int testCount)
    {
        string[] ids = [.. File.ReadLines(Path.Combine(voc, "ImageSets", "Segmentation", "dev.txt")).Where(l => l.Length > 0)];
        var reader = new LabelPngReader();
        var support = new List<SupportExample>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        var taken = new int[VocClasses.Length];
        foreach (string id in ids)
        {
            LabelMap mask = reader.Read(Path.Combine(voc, "SegmentationClass", id + ".png"));
            int[] present = [.. mask.Labels.Where(l => l is > 0 and < 255).Distinct().Select(l => (int)l)];
            if (present.Length == 1 && taken[present[0] - 1] < perClass)
            {
                taken[present[0] - 1]++;
                string path = Path.Combine(voc, "JPEGImages", id + ".jpg");
                support.Add(new SupportExample(VocClasses[present[0] - 1], path, _ => ImageDecoder.Decode(path)));
                used.Add(id);
            }
        }

        return (support, [.. ids.Where(id => !used.Contains(id)).Take(testCount)]);
    }

    /// <summary>ovdiff eval over the timed images with the whole-image segmenter: reading ahead on another thread or not.</summary>
    private static void RunEval(string voc, IReadOnlyList<string> test, PrototypeSegmenter segmenter, int rounds)
    {
        string folder = Path.Combine(Path.GetTempPath(), "ovdiff-speed-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string split = Path.Combine(folder, "split.txt");
            File.WriteAllLines(split, test);
            var config = new EvalConfig
            {
                Name = "speed",
                Dataset = new DatasetConfig { Kind = DatasetKind.Voc, Root = voc, SplitFile = split, Classes = ["background", .. VocClasses] },
                Output = new OutputConfig { Ledger = Path.Combine(folder, "ledger.csv") },
            };
            var results = new Dictionary<int, List<(double Rate, double Busy)>> { [0] = [], [3] = [] };
            for (int round = 0; round < rounds; round++)
            {
                foreach (int ahead in results.Keys)
                {
                    using var process = Process.GetCurrentProcess();
                    TimeSpan cpu = process.TotalProcessorTime;
                    var watch = Stopwatch.StartNew();
                    EvalRunner.Run(config, new EvalRunOptions { SegmenterFactory = _ => new Borrowed(segmenter), OutputDir = Path.Combine(folder, $"out{ahead}-{round}"), ReadAhead = ahead });
                    process.Refresh();
                    results[ahead].Add((test.Count / watch.Elapsed.TotalSeconds, (process.TotalProcessorTime - cpu).TotalSeconds / watch.Elapsed.TotalSeconds));
                }
            }

            foreach ((int ahead, List<(double Rate, double Busy)> r) in results)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"ovdiff eval, whole image, {(ahead == 0 ? "images read in the loop" : $"images read {ahead} ahead on another thread")}: {Median(r.Select(x => x.Rate)):F2} images/s, {Median(r.Select(x => x.Busy)):F2} of {Environment.ProcessorCount} cores busy (rounds {Join(r.Select(x => x.Rate))} images/s)"));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The benchmark's segmenter lent to an eval run (which disposes what its factory returns).</summary>
    private sealed class Borrowed(PrototypeSegmenter segmenter) : ISegmenter
    {
        public IReadOnlyList<string> ClassNames => segmenter.ClassNames;

        public LabelMap Segment(RgbImage image, CancellationToken cancellationToken = default) => segmenter.Segment(image, cancellationToken);
    }

    private static void RunPeer(string voc, IReadOnlyList<string> test, int rounds, int prototypes, double ovdiffMs)
    {
        const string python = "/usr/bin/python3";
        string script = Path.Combine(AppContext.BaseDirectory, "Peer", "torch_whole_image.py");
        if (!File.Exists(python))
        {
            Console.WriteLine("Peer skipped: /usr/bin/python3 (with Debian's python3-torch) is not installed.");
            return;
        }

        string list = Path.GetTempFileName();
        File.WriteAllLines(list, test.Select(id => Path.Combine(voc, "JPEGImages", id + ".jpg")));
        var start = new ProcessStartInfo(python, $"{script} --images {list} --prototypes {prototypes} --labels {VocClasses.Length + 1} --threads {Environment.ProcessorCount} --rounds {rounds}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process process = Process.Start(start)!;
        string stdout = process.StandardOutput.ReadToEnd();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        File.Delete(list);
        string? json = stdout.Split('\n').LastOrDefault(l => l.StartsWith('{'));
        if (process.ExitCode != 0 || json is null)
        {
            Console.WriteLine($"Peer failed (exit {process.ExitCode}): {stderr.Split('\n').LastOrDefault(l => l.Length > 0)}");
            return;
        }

        using var result = JsonDocument.Parse(json);
        double peerMs = result.RootElement.GetProperty("ms_per_image").GetDouble();
        double[] peerRounds = [.. result.RootElement.GetProperty("rounds").EnumerateArray().Select(e => e.GetDouble())];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Peer (PyTorch {result.RootElement.GetProperty("torch").GetString()}, {result.RootElement.GetProperty("threads").GetInt32()} threads, same images and prototype count): {peerMs:F1} ms per image (rounds {Join(peerRounds)}); ovdiff whole image {ovdiffMs:F1} ms = {ovdiffMs / peerMs:F2} x the peer (goal <= 0.7)"));
    }

    /// <summary>The classes in an image's ground truth (a pre-filter that is always right: the candidate-only case).</summary>
    private static string[] Tags(string voc, string id) =>
        [.. new LabelPngReader().Read(Path.Combine(voc, "SegmentationClass", id + ".png")).Labels.Where(l => l is > 0 and < 255).Distinct().Select(l => VocClasses[l - 1])];

    private sealed class TagPrefilter(IEnumerable<(RgbImage Image, string[] Tags)> tags) : IClassPrefilter
    {
        private readonly Dictionary<RgbImage, string[]> _tags = tags.ToDictionary(t => t.Image, t => t.Tags);

        public string Name => "ground-truth tags";

        public ClassPrefilterDecision Select(ClassPrefilterInput input, CancellationToken cancellationToken = default) =>
            new FixedClassPrefilter(_tags[input.Image]).Select(input, cancellationToken);
    }

    private sealed class Variant(string name, PrototypeSegmenter segmenter)
    {
        private SegmentationTimings _roundStart;

        public string Name { get; } = name;

        public PrototypeSegmenter Segmenter { get; } = segmenter;

        public List<SegmentationTimings> Rounds { get; } = [];

        public void StartRound() => _roundStart = Segmenter.Timings;

        public void Time(RgbImage image)
        {
            Segmenter.Segment(image);
            SegmentationTimings now = Segmenter.Timings.Since(_roundStart);
            if (now.Images == 1)
            {
                Rounds.Add(now);
            }
            else
            {
                Rounds[^1] = now;
            }
        }

        public void Print()
        {
            double[] ratios = [.. Rounds.Select(t => (t.FeatureExtraction + t.Other) / t.FeatureExtraction)];
            SegmentationTimings t = Rounds[Rounds.Count / 2];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{Name}: {Median(Rounds.Select(r => r.PerImage(r.FeatureExtraction + r.Other))):F1} ms per image = feature passes {Median(Rounds.Select(r => r.ExtractionMillisecondsPerImage)):F1} + other {Median(Rounds.Select(r => r.OtherMillisecondsPerImage)):F1}: ratio {Median(ratios):F2} (rounds {Join(ratios)})"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"    other, per image: resize {t.PerImage(t.Resize):F1}, matching {t.PerImage(t.Matching):F1}, averaging {t.PerImage(t.Averaging):F1}, PAMR {t.PerImage(t.Refinement):F1}, labelling {t.PerImage(t.Labelling):F1} ms; labels scored past matching {(double)t.ScoredLabels / t.Images:F1} of {Segmenter.ClassNames.Count}"));
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length == 0 ? double.NaN : (sorted[(sorted.Length - 1) / 2] + sorted[sorted.Length / 2]) / 2;
    }

    private static string Join(IEnumerable<double> values) => string.Join(" ", values.Select(v => v.ToString("F2", CultureInfo.InvariantCulture)));

    private static int IntOption(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    private static string? FindSharedData()
    {
        for (string? folder = AppContext.BaseDirectory; folder is not null; folder = Path.GetDirectoryName(folder))
        {
            string candidate = Path.Combine(folder, "shared", "data");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
