using BenchmarkDotNet.Attributes;
using OvDiff.Core.Features;
using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;

namespace OvDiff.Benchmarks;

/// <summary>
/// PrototypeSegmenter.Segment minus the extractors: a 600x448 image (no resize), the default windows (448/224, 336/224,
/// full: 9 windows), 21 labels (20 classes), 1400 prototypes (35 fg + 35 bg per class), with a cached-noise extractor
/// so that only matching, upsampling, accumulation, normalisation and the argmax are timed.
/// Run: dotnet run -c Release -- --filter '*Segmenter*' --job short.
/// </summary>
[MemoryDiagnoser]
public class SegmenterBenchmarks
{
    private PrototypeSegmenter segmenter = null!;
    private PrototypeSegmenter prefiltered = null!;
    private RgbImage image = null!;
    private CachedNoiseExtractor extractor = null!;
    private float[] prototypes = [];
    private float[] similarity = [];
    private int prototypeCount;

    [Params("s32x512", "s8x768")]
    public string Config { get; set; } = "s32x512";

    [GlobalSetup]
    public void Setup()
    {
        (int stride, int channels) = Config == "s8x768" ? (8, 768) : (32, 512);
        var random = new Random(3);
        const int classes = 20, perRole = 35;
        var origins = new List<PrototypeOrigin>();
        var vectors = new float[(long)classes * 2 * perRole * channels];
        for (int c = 0; c < classes; c++)
        {
            for (int r = 0; r < 2; r++)
            {
                for (int k = 0; k < perRole; k++)
                {
                    origins.Add(new PrototypeOrigin(c, (PrototypeRole)r, k == 0 ? PrototypeLevels.ClassMean : PrototypeLevels.Parts, -1, k == 0 ? -1 : k - 1, 10));
                }
            }
        }

        for (int i = 0; i < vectors.Length; i++)
        {
            vectors[i] = (float)(random.NextDouble() - 0.5);
        }

        OvDiff.Core.Numerics.Matrix.NormalizeRows(vectors, origins.Count, channels);
        var model = new PrototypeModel(
            Enumerable.Range(0, classes).Select(c => $"class{c}").ToArray(),
            new bool[classes],
            [],
            [new PrototypeBank("noise", channels, vectors, origins)],
            new PrototypeFitOptions());
        extractor = new CachedNoiseExtractor(stride, channels);
        prototypes = vectors;
        prototypeCount = origins.Count;
        segmenter = new PrototypeSegmenter(model, [extractor]);
        prefiltered = new PrototypeSegmenter(model, [extractor], prefilter: new FixedClassPrefilter(["class2", "class7", "class15"]));
        var pixels = new byte[600 * 448 * 3];
        random.NextBytes(pixels);
        image = new RgbImage(600, 448, pixels);
        segmenter.Segment(image);
        prefiltered.Segment(image);
    }

    [Benchmark]
    public LabelMap Segment() => segmenter.Segment(image);

    /// <summary>With a prefilter keeping 3 of the 20 classes (a typical VOC image after the CLIP filter).</summary>
    [Benchmark]
    public LabelMap SegmentPrefiltered() => prefiltered.Segment(image);

    /// <summary>The floor: only the cosine matrix products of the 9 windows (normalised cells x prototypes).</summary>
    [Benchmark]
    public float MatchOnly()
    {
        float total = 0;
        foreach ((int x1, int y1, int x2, int y2) in segmenter.Windows(image.Width, image.Height))
        {
            FeatureMap features = extractor.Extract(image.Crop(x1, y1, x2 - x1, y2 - y1));
            int cells = (int)features.CellCount;
            similarity = similarity.Length >= cells * prototypeCount ? similarity : new float[cells * prototypeCount];
            OvDiff.Core.Numerics.Matrix.MultiplyByTransposed(features.Data, cells, prototypes, prototypeCount, features.Channels, similarity.AsSpan(0, cells * prototypeCount));
            total += similarity[0];
        }

        return total;
    }

    /// <summary>Noise features per window size, computed once: extraction costs a dictionary look-up.</summary>
    private sealed class CachedNoiseExtractor(int stride, int channels) : IDenseFeatureExtractor
    {
        private readonly Dictionary<(int, int), FeatureMap> _cache = [];

        public string Name => "noise";

        public int Stride => stride;

        public int Channels => channels;

        public FeatureMap Extract(RgbImage image, CancellationToken cancellationToken = default)
        {
            if (!_cache.TryGetValue((image.Width, image.Height), out FeatureMap? map))
            {
                int gh = (image.Height + stride - 1) / stride, gw = (image.Width + stride - 1) / stride;
                var random = new Random(gh * 1000 + gw);
                var data = new float[(long)gh * gw * channels];
                for (int i = 0; i < data.Length; i++)
                {
                    data[i] = (float)random.NextDouble();
                }

                map = new FeatureMap(gh, gw, channels, data);
                _cache[(image.Width, image.Height)] = map;
            }

            return map;
        }

        public void Dispose()
        {
        }
    }
}
