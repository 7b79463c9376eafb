using BenchmarkDotNet.Attributes;
using OvDiff.Core.Features;
using OvDiff.Core.Numerics;

namespace OvDiff.Benchmarks;

/// <summary>Core numerics at realistic sizes (run: dotnet run -c Release -- --filter '*Numerics*' --job short).</summary>
[MemoryDiagnoser]
public class NumericsBenchmarks
{
    private float[] cells = [];
    private float[] prototypes = [];
    private float[] similarity = [];
    private float[] points = [];
    private FeatureMap grid = null!;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);

        // Matching: 196x196 window cells x 512 channels against 1365 prototypes.
        cells = Noise(random, 196 * 196 * 512);
        prototypes = Noise(random, 1365 * 512);
        similarity = new float[196 * 196 * 1365];

        // k-means: 50,000 points x 512 around 32 centres.
        float[] centres = Noise(random, 32 * 512);
        points = new float[50_000 * 512];
        for (int i = 0; i < 50_000; i++)
        {
            int c = random.Next(32);
            for (int d = 0; d < 512; d++)
            {
                points[i * 512 + d] = centres[c * 512 + d] + (0.3f * (float)(random.NextDouble() - 0.5));
            }
        }

        // Normalised cut: 64x64 grid x 768 channels, a blob of one direction on a noisy background.
        float[] data = Noise(random, 64 * 64 * 768);
        for (int y = 20; y < 44; y++)
        {
            for (int x = 16; x < 40; x++)
            {
                data[(y * 64 + x) * 768] += 3f;
            }
        }

        for (int i = 0; i < 64 * 64; i++)
        {
            data[i * 768 + 1] += 1.5f;
        }

        grid = new FeatureMap(64, 64, 768, data);
    }

    [Benchmark]
    public void MultiplyByTransposed_38416x512_by_1365x512() =>
        Matrix.MultiplyByTransposed(cells, 196 * 196, prototypes, 1365, 512, similarity);

    [Benchmark]
    public void MultiplyByTransposed_38416x512_by_1365x512_Avx2Kernel()
    {
        bool hardware = Matrix.UseVector512;
        Matrix.UseVector512 = false;
        Matrix.MultiplyByTransposed(cells, 196 * 196, prototypes, 1365, 512, similarity);
        Matrix.UseVector512 = hardware;
    }

    [Benchmark]
    public KMeansResult KMeans_50000x512_k32() => KMeans.Fit(points, 50_000, 512, 32, seed: 0);

    [Benchmark]
    public NormalizedCutResult NormalizedCut_64x64x768() => NormalizedCut.Bipartition(grid);

    private static float[] Noise(Random random, int length)
    {
        float[] values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (float)(random.NextDouble() - 0.5);
        }

        return values;
    }
}
