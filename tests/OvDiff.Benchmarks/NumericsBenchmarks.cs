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
    private FeatureMap hardGrid = null!;
    private float[] pamrImage = [];
    private float[] pamrScores = [];
    private float[] pamrWork = [];

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

        // Normalised cut: 64x64 grid x 768 channels: a 24x24 object along e0 on a background along e1, plus noise of
        // norm ~0.8 (cos ~0.6 within a region, ~0 across): an easy cut that Lanczos solves in one 60-step run.
        float[] data = Noise(random, 64 * 64 * 768);
        for (int i = 0; i < 64 * 64; i++)
        {
            int y = i / 64, x = i % 64;
            int axis = y >= 20 && y < 44 && x >= 16 && x < 40 ? 0 : 1;
            for (int c = 0; c < 768; c++)
            {
                data[i * 768 + c] *= 0.1f;
            }

            data[i * 768 + axis] += 1f;
        }

        // The same grid with unit-scale noise (norm ~8) and offsets 3.5: within-region cosines ~0.16 ± 0.03 straddle τ and λ2 ≈ λ3, so Lanczos needs its restarts.
        float[] hard = Noise(random, 64 * 64 * 768);
        for (int i = 0; i < 64 * 64; i++)
        {
            int y = i / 64, x = i % 64;
            hard[i * 768 + (y >= 20 && y < 44 && x >= 16 && x < 40 ? 0 : 1)] += 3.5f;
        }

        hardGrid = new FeatureMap(64, 64, 768, hard);

        // PAMR at image resolution: 448x448 RGB, 21 classes (VOC), default 10 iterations and dilations 1..24.
        pamrImage = Noise(random, 3 * 448 * 448);
        pamrScores = Noise(random, 21 * 448 * 448);
        pamrWork = new float[pamrScores.Length];
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

    [Benchmark]
    public NormalizedCutResult NormalizedCut_64x64x768_Noisy() => NormalizedCut.Bipartition(hardGrid);

    [Benchmark]
    public void Pamr_448x448_21classes()
    {
        pamrScores.CopyTo(pamrWork, 0);
        Pamr.Refine(pamrImage, 3, pamrWork, 21, 448, 448);
    }

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
