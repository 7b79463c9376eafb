using BenchmarkDotNet.Attributes;
using OvDiff.Core.Images;
using OvDiff.Eval.Metrics;
using OvDiff.Imaging;

/// <summary>
/// The evaluator's per-image hot path on a VOC-sized (500×375) label map: decoding a palette PNG and counting the
/// pixel pairs of ground truth and prediction. Run: dotnet run -c Release --project tests/OvDiff.Benchmarks -- --filter *EvalBenchmarks*
/// </summary>
[MemoryDiagnoser]
public class EvalBenchmarks
{
    private readonly LabelPngReader _reader = new();
    private readonly PixelPairCounter _counter = new();
    private readonly ConfusionMatrix _matrix = new(21);
    private byte[] _png = [];
    private byte[] _labels = [];
    private byte[] _groundTruth = [];
    private byte[] _prediction = [];

    [GlobalSetup]
    public void Setup()
    {
        const int width = 500, height = 375;
        _groundTruth = new byte[width * height];
        _prediction = new byte[width * height];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int i = (y * width) + x;
                // Blobs of a few classes with a void border, like a VOC mask.
                _groundTruth[i] = (byte)(((x / 60) + (y / 70)) % 7 == 0 ? 255 : ((x / 100) + (y / 90)) % 21);
                _prediction[i] = (byte)((((x + 7) / 100) + (y / 90)) % 21);
            }
        }

        using var stream = new MemoryStream();
        LabelPngWriter.Write(stream, new LabelMap(width, height, _groundTruth));
        _png = stream.ToArray();
    }

    [Benchmark]
    public int DecodePalettePng() => _reader.Decode("bench.png", _png, ref _labels).PixelCount;

    [Benchmark]
    public long CountPixelPairs()
    {
        _counter.Accumulate(_groundTruth, _prediction, _matrix, 255);
        return _matrix.Counts[0];
    }
}
