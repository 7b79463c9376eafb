using OvDiff.Core.Numerics;

namespace OvDiff.Core.Tests.Numerics;

public sealed class PamrTests
{
    [Fact]
    public void ConstantImage_UniformAffinity_HandComputed()
    {
        // Constant image: |I_i - I_j| = 0, every logit 0, softmax = 1/8 over the 8 neighbours (dilation 1).
        // 1x3 grid, replicate padding: the 8 offsets have dx = -1 (3 times), 0 (2 times), +1 (3 times), dy irrelevant.
        // m = [0, 3, 6]: x=0: (3*m0 + 2*m0 + 3*m1)/8 = 9/8 = 1.125; x=1: (3*0 + 2*3 + 3*6)/8 = 3; x=2: (3*3 + 5*6)/8 = 4.875.
        float[] image = [0.5f, 0.5f, 0.5f];
        float[] scores = [0f, 3f, 6f];
        Pamr.Refine(image, 1, scores, 1, 1, 3, new PamrOptions { Iterations = 1, Dilations = [1] });
        Assert.Equal(1.125f, scores[0], 5);
        Assert.Equal(3f, scores[1], 5);
        Assert.Equal(4.875f, scores[2], 5);

        // Second iteration on [1.125, 3, 4.875]: x=0: (5*1.125 + 3*3)/8 = 1.828125.
        Pamr.Refine(image, 1, scores, 1, 1, 3, new PamrOptions { Iterations = 1, Dilations = [1] });
        Assert.Equal(1.828125f, scores[0], 5);
    }

    [Fact]
    public void Edge_IsPreserved_TwoPixelHandComputed()
    {
        // Image [0, 1] (1x2), dilation 1. Pixel 0's padded 3x3 window has columns (0, 0, 1): six 0s and three 1s,
        // mean 1/3, unbiased variance (6/9 + 3*4/9)/8 = 0.25, std 0.5, scale 1e-8 + 0.05.
        // Neighbours: 5 equal (logit 0), 3 across the edge (logit -1/0.05 = -20). Softmax weights 1/(5+3e^-20), e^-20/(5+3e^-20).
        // Class plane [1, 0]: pixel 0 -> 5/(5+3e^-20); pixel 1 (symmetric) -> 3e^-20/(5+3e^-20).
        float[] image = [0f, 1f];
        float[] scores = [1f, 0f];
        Pamr.Refine(image, 1, scores, 1, 1, 2, new PamrOptions { Iterations = 1, Dilations = [1] });
        double e = Math.Exp(-20);
        Assert.Equal(5 / (5 + 3 * e), scores[0], 6);
        Assert.Equal(3 * e / (5 + 3 * e), scores[1], 12);
    }

    [Theory]
    [InlineData(7, 9, 2, 3)] // 8-wide vectors, the last block overlapping the first
    [InlineData(96, 128, 4, 6)] // large enough for the parallel row paths (affinities and propagation)
    [InlineData(40, 131, 2, 2)] // column blocks whose neighbours lie wholly past the right edge; last block overlaps
    [InlineData(5, 3, 2, 3)] // narrower than any vector: one lane
    [InlineData(6, 5, 1, 4)] // 4-wide vectors; rows fewer than the largest dilation
    [InlineData(30, 37, 7, 5)] // two class groups (4 + 3), an odd number of iterations (a single pass after the pairs)
    public void MatchesIndependentFloat64Reference(int h, int w, int c, int iterations)
    {
        AssertMatchesReference(h, w, c, iterations, [1, 2, 8]);
    }

    [Fact]
    public void DefaultDilations_ParallelBandsOfPairedPasses_MatchIndependentFloat64Reference()
    {
        // Reach 24, 120 rows: on two or more cores the paired passes split the rows into bands (60 rows on two) whose
        // 24-row edges go first and feed the neighbouring bands; the rows between are swept.
        AssertMatchesReference(120, 64, 3, 10, [1, 2, 4, 8, 12, 24]);
    }

    [Theory]
    [InlineData(150, 64, 3, 10)] // bands with swept rows between their edges
    [InlineData(130, 70, 5, 7)] // two class groups, a single pass after the pairs
    [InlineData(20, 33, 2, 4)] // one band, every row an edge
    public void PairedPasses_EqualOnePassPerSweep_BitForBit(int h, int w, int c, int iterations)
    {
        var random = new Random(11);
        float[] image = Enumerable.Range(0, 3 * h * w).Select(_ => (float)random.Next(256)).ToArray();
        float[] paired = Enumerable.Range(0, c * h * w).Select(_ => (float)random.NextDouble()).ToArray();
        float[] single = (float[])paired.Clone();
        var options = new PamrOptions { Iterations = iterations };
        Pamr.Refine(image, 3, paired, c, h, w, options, pairPasses: true);
        Pamr.Refine(image, 3, single, c, h, w, options, pairPasses: false);
        Assert.Equal(single, paired);
    }

    private static void AssertMatchesReference(int h, int w, int c, int iterations, int[] dilations)
    {
        const int k = 3;
        var random = new Random(5);
        float[] image = Enumerable.Range(0, k * h * w).Select(_ => (float)random.NextDouble()).ToArray();
        float[] scores = Enumerable.Range(0, c * h * w).Select(_ => (float)random.NextDouble()).ToArray();
        double[] expected = Reference(image, k, scores, c, h, w, dilations, iterations);
        Pamr.Refine(image, k, scores, c, h, w, new PamrOptions { Iterations = iterations, Dilations = dilations });
        for (int i = 0; i < scores.Length; i++)
        {
            Assert.True(Math.Abs(scores[i] - expected[i]) < 1e-5, $"{i}: {scores[i]} vs {expected[i]}");
        }
    }

    // Literal float64 transcription of PAMR.forward: replicate-pad by d, 3x3 dilated "conv" shifts, std over
    // (dilations x 9) values (torch.std, unbiased), logits -|x - shift| / (1e-8 + 0.1 std), mean over channels,
    // softmax over the 8 * dilations shifts, then mask = sum(shifted mask * aff) per iteration.
    private static double[] Reference(float[] image, int k, float[] scores, int c, int h, int w, int[] dilations, int iterations)
    {
        double Pad(float[] data, int planeIndex, int y, int x) =>
            data[planeIndex * h * w + Math.Clamp(y, 0, h - 1) * w + Math.Clamp(x, 0, w - 1)];

        int shifts = dilations.Length * 8;
        var aff = new double[shifts, h, w];
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < w; x++)
            {
                var logit = new double[shifts];
                for (int ch = 0; ch < k; ch++)
                {
                    var window = new List<double>();
                    foreach (int d in dilations)
                    {
                        for (int ky = 0; ky < 3; ky++)
                        {
                            for (int kx = 0; kx < 3; kx++)
                            {
                                window.Add(Pad(image, ch, y + (ky - 1) * d, x + (kx - 1) * d));
                            }
                        }
                    }

                    double mean = window.Average();
                    double std = Math.Sqrt(window.Sum(v => (v - mean) * (v - mean)) / (window.Count - 1));
                    int s = 0;
                    foreach (int d in dilations)
                    {
                        for (int ky = 0; ky < 3; ky++)
                        {
                            for (int kx = 0; kx < 3; kx++)
                            {
                                if (ky == 1 && kx == 1)
                                {
                                    continue;
                                }

                                double diff = Math.Abs(Pad(image, ch, y, x) - Pad(image, ch, y + (ky - 1) * d, x + (kx - 1) * d));
                                logit[s++] += -diff / (1e-8 + 0.1 * std) / k;
                            }
                        }
                    }
                }

                double max = logit.Max();
                double total = logit.Sum(v => Math.Exp(v - max));
                for (int s = 0; s < shifts; s++)
                {
                    aff[s, y, x] = Math.Exp(logit[s] - max) / total;
                }
            }
        }

        float[] mask = (float[])scores.Clone();
        double[] result = new double[mask.Length];
        for (int it = 0; it < iterations; it++)
        {
            for (int cl = 0; cl < c; cl++)
            {
                for (int y = 0; y < h; y++)
                {
                    for (int x = 0; x < w; x++)
                    {
                        double sum = 0;
                        int s = 0;
                        foreach (int d in dilations)
                        {
                            for (int ky = 0; ky < 3; ky++)
                            {
                                for (int kx = 0; kx < 3; kx++)
                                {
                                    if (ky != 1 || kx != 1)
                                    {
                                        sum += Pad(mask, cl, y + (ky - 1) * d, x + (kx - 1) * d) * aff[s++, y, x];
                                    }
                                }
                            }
                        }

                        result[cl * h * w + y * w + x] = sum;
                    }
                }
            }

            for (int i = 0; i < mask.Length; i++)
            {
                mask[i] = (float)result[i];
            }
        }

        return result;
    }
}
