using System.Numerics.Tensors;
using OvDiff.Core.Features;
using OvDiff.Core.Images;
using OvDiff.Core.Numerics;
using OvDiff.Core.Segmentation;

namespace OvDiff.Core.Tests.Segmentation;

/// <summary>
/// The optimised segmenter (fused upsampling and accumulation, run-wise reductions, candidate-only matching, plane-wise
/// argmax) against a plain transcription of the reference's predict.py loop built from the library's primitives
/// (NormalizeRows, MultiplyByTransposed, BilinearPlanar): scores must agree bit for bit and labels exactly.
/// </summary>
public sealed class PrototypeSegmenterEquivalenceTests
{
    [Theory]
    [InlineData(1, false, 0f, 0f)]
    [InlineData(2, true, 0.3f, 0f)]
    [InlineData(3, true, 0.85f, 0.05f)]
    [InlineData(4, false, 0f, -0.2f)]
    public void OptimisedSegmenter_MatchesPlainReferenceLoop_BitForBit(int seed, bool prefilter, float stuffThreshold, float scoreThreshold)
    {
        var random = new Random(seed);
        const int classes = 6;
        BlockMeanExtractor[] extractors = [RandomExtractor(random, "a", 4, 16), RandomExtractor(random, "b", 8, 24)];
        PrototypeBank[] banks = extractors.Select(e => RandomBank(random, e.Name, e.Channels, classes)).ToArray();
        bool[] isStuff = [false, false, false, false, true, false];
        var model = new PrototypeModel(Enumerable.Range(0, classes).Select(c => $"c{c}").ToArray(), isStuff, [], banks, new PrototypeFitOptions());
        var pixels = new byte[101 * 83 * 3];
        random.NextBytes(pixels);
        var image = new RgbImage(101, 83, pixels);
        bool useBackground = seed != 4;
        var options = new SegmentationOptions
        {
            ShortSide = 0,
            Windows = [new(48, 32), new(40, 24)],
            UseBackgroundPrototypes = useBackground,
            StuffBackgroundFilterThreshold = stuffThreshold,
            ScoreThreshold = scoreThreshold,
        };
        bool[] candidates = prefilter ? [false, true, false, true, true, false] : Enumerable.Repeat(true, classes).ToArray();
        var segmenter = new PrototypeSegmenter(model, extractors, options, prefilter ? new FixedClassPrefilter(["c1", "c3"]) : null);

        SegmentationResult actual = segmenter.Segment(image, includeScores: true, TestContext.Current.CancellationToken);
        (float[] scores, byte[] labels) = Reference(model, extractors, segmenter.Windows(101, 83).ToArray(), image, candidates, options);

        Assert.Equal(scores.Select(BitConverter.SingleToInt32Bits), actual.Scores!.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(labels, actual.Labels.Labels);
    }

    private static (float[] Scores, byte[] Labels) Reference(PrototypeModel model, BlockMeanExtractor[] extractors, (int X1, int Y1, int X2, int Y2)[] windows, RgbImage image, bool[] candidates, SegmentationOptions options)
    {
        int labels = model.ClassNames.Count + 1, width = image.Width, height = image.Height, plane = width * height;
        var sum = new float[labels * plane];
        var counts = new int[plane];
        for (int e = 0; e < extractors.Length; e++)
        {
            PrototypeBank bank = model.Banks[e];
            bool[] use = Selected(model, bank, options);
            foreach ((int x1, int y1, int x2, int y2) in windows)
            {
                FeatureMap features = extractors[e].Extract(image.Crop(x1, y1, x2 - x1, y2 - y1));
                int cells = (int)features.CellCount;
                float[] unit = features.Data.ToArray();
                Matrix.NormalizeRows(unit, cells, features.Channels, 1e-6f);
                var similarity = new float[cells * bank.Count];
                Matrix.MultiplyByTransposed(unit, cells, bank.Vectors, bank.Count, bank.Channels, similarity);

                // Masked max as predict.py: left-out or unselected prototypes count as −1; bgmode zero → background 0.
                var grid = new float[labels * cells];
                Array.Fill(grid, -1f);
                if (!options.UseBackgroundPrototypes)
                {
                    Array.Clear(grid, 0, cells);
                }

                for (int cell = 0; cell < cells; cell++)
                {
                    for (int p = 0; p < bank.Count; p++)
                    {
                        PrototypeOrigin origin = bank.Origins[p];
                        if (!use[p] || !candidates[origin.ClassIndex])
                        {
                            continue;
                        }

                        int label = origin.Role == PrototypeRole.Background ? 0 : origin.ClassIndex + 1;
                        grid[(label * cells) + cell] = Math.Max(grid[(label * cells) + cell], similarity[(cell * bank.Count) + p]);
                    }
                }

                int ww = x2 - x1, wh = y2 - y1;
                var upsampled = new float[labels * ww * wh];
                Resampling.BilinearPlanar(grid, labels, features.Height, features.Width, upsampled, wh, ww);
                for (int l = 0; l < labels; l++)
                {
                    for (int r = 0; r < wh; r++)
                    {
                        for (int c = 0; c < ww; c++)
                        {
                            sum[(l * plane) + ((y1 + r) * width) + x1 + c] += Math.Clamp(upsampled[(l * ww * wh) + (r * ww) + c], -1f, 1f);
                        }
                    }
                }

                for (int r = y1; r < y2; r++)
                {
                    for (int c = x1; c < x2; c++)
                    {
                        counts[(r * width) + c]++;
                    }
                }
            }
        }

        var result = new byte[plane];
        for (int i = 0; i < plane; i++)
        {
            float inverse = 1f / Math.Max(counts[i], 1);
            float best = 0f;
            for (int l = 0; l < labels; l++)
            {
                sum[(l * plane) + i] *= inverse;
                float s = sum[(l * plane) + i] > options.ScoreThreshold ? sum[(l * plane) + i] : 0f;
                if (l == 0 ? true : s > best)
                {
                    best = s;
                    result[i] = (byte)l;
                }
            }
        }

        return (sum, result);
    }

    /// <summary>predict.py/protos.py selection: stuff classes have no bg; other bg dropped above the threshold to any stuff fg (when the class has more than one).</summary>
    private static bool[] Selected(PrototypeModel model, PrototypeBank bank, SegmentationOptions options)
    {
        var use = new bool[bank.Count];
        for (int p = 0; p < bank.Count; p++)
        {
            PrototypeOrigin origin = bank.Origins[p];
            if (origin.Role == PrototypeRole.Foreground)
            {
                use[p] = true;
                continue;
            }

            long siblings = bank.Origins.Count(o => o.ClassIndex == origin.ClassIndex && o.Role == PrototypeRole.Background);
            bool filtered = options.StuffBackgroundFilterThreshold > 0 && siblings > 1 && Enumerable.Range(0, bank.Count).Any(s =>
                bank.Origins[s].Role == PrototypeRole.Foreground && model.IsStuff[bank.Origins[s].ClassIndex]
                && TensorPrimitives.Dot(bank.Vector(p), bank.Vector(s)) > options.StuffBackgroundFilterThreshold);
            use[p] = options.UseBackgroundPrototypes && !model.IsStuff[origin.ClassIndex] && !filtered;
        }

        return use;
    }

    private static BlockMeanExtractor RandomExtractor(Random random, string name, int stride, int channels)
        => new(name, stride, Enumerable.Range(0, channels * 3).Select(_ => random.NextDouble() - 0.5).ToArray(), Enumerable.Range(0, channels).Select(_ => (random.NextDouble() * 40) - 20).ToArray());

    private static PrototypeBank RandomBank(Random random, string name, int channels, int classes)
    {
        // Per class 5 fg then 5 bg, then a few stragglers appended out of order (a bank not grouped by class).
        var origins = new List<PrototypeOrigin>();
        for (int c = 0; c < classes; c++)
        {
            for (int r = 0; r < 2; r++)
            {
                for (int k = 0; k < 5; k++)
                {
                    origins.Add(new PrototypeOrigin(c, (PrototypeRole)r, PrototypeLevels.Parts, -1, k, 1));
                }
            }
        }

        origins.Add(new PrototypeOrigin(2, PrototypeRole.Foreground, PrototypeLevels.ClassMean, -1, -1, 1));
        origins.Add(new PrototypeOrigin(0, PrototypeRole.Background, PrototypeLevels.ClassMean, -1, -1, 1));
        origins.Add(new PrototypeOrigin(2, PrototypeRole.Foreground, PrototypeLevels.ClassMean, -1, -1, 1));
        var vectors = new float[origins.Count * channels];
        for (int i = 0; i < vectors.Length; i++)
        {
            vectors[i] = (float)(random.NextDouble() - 0.5);
        }

        Matrix.NormalizeRows(vectors, origins.Count, channels);
        return new PrototypeBank(name, channels, vectors, origins);
    }
}
