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

    /// <summary>
    /// Labels that cannot win are left out after matching (non-candidates, labels another one dominates): the label map
    /// must be the one scoring every label gives (which the test above ties to the reference loop), with the short-side
    /// resize, PAMR, the small-class rule and thresholds, and the left-out path must actually run.
    /// </summary>
    [Theory]
    [InlineData(11, false, 0f, 0f, false)]
    [InlineData(12, true, 0f, 0.1f, false)]
    [InlineData(13, false, 0.05f, 0.2f, true)]
    [InlineData(14, true, 0f, 0.3f, true)]
    [InlineData(15, false, -0.2f, 0.1f, false)]
    public void LabelsLeftOut_GiveTheLabelMapOfScoringEveryLabel(int seed, bool prefilter, float scoreThreshold, float minimumArea, bool pamr)
    {
        var random = new Random(seed);
        const int classes = 9;
        BlockMeanExtractor[] extractors = [RandomExtractor(random, "a", 8, 12)];
        PrototypeBank[] banks = [DominatedBank(random, "a", 12, classes)];
        var model = new PrototypeModel(Enumerable.Range(0, classes).Select(c => $"c{c}").ToArray(), new bool[classes], [], banks, new PrototypeFitOptions());
        var options = new SegmentationOptions
        {
            ShortSide = 64,
            Windows = [new(48, 32)],
            ScoreThreshold = scoreThreshold,
            MinimumClassArea = minimumArea,
            Pamr = pamr ? new PamrOptions { Iterations = 3, Dilations = [1, 2] } : null,
        };
        var segmenter = new PrototypeSegmenter(model, extractors, options, prefilter ? new FixedClassPrefilter(["c1", "c3", "c4", "c7"]) : null);
        long leftOut = 0;
        for (int i = 0; i < 6; i++)
        {
            var pixels = new byte[97 * 71 * 3];
            random.NextBytes(pixels);
            var image = new RgbImage(97, 71, pixels);

            SegmentationTimings before = segmenter.Timings;
            LabelMap pruned = segmenter.Segment(image, TestContext.Current.CancellationToken);
            leftOut += (classes + 1) - segmenter.Timings.Since(before).ScoredLabels;
            SegmentationResult every = segmenter.Segment(image, includeScores: true, TestContext.Current.CancellationToken);

            Assert.Equal(every.Labels.Labels, pruned.Labels);
        }

        Assert.True(scoreThreshold < 0 ? leftOut == 0 : leftOut > 0, $"{leftOut} label planes left out");
    }

    /// <summary>
    /// A left-out label whose only dominating label is then dropped by the small-class rule must be scored after all:
    /// "d" (label 1) wins one block of sixteen and is dropped; "a" (label 2) lies under "d" everywhere, so it was left
    /// out, but it beats the background on that block once "d" is gone, so it is scored again; holding that one block, it
    /// is then under the bound itself and dropped in turn (the rule repeats until no class is under it).
    /// </summary>
    [Fact]
    public void LeftOutLabel_WhoseDominatorIsDropped_IsScoredAgain()
    {
        // Features per 4x4 block (R - 100, G - 100): (100, 0) = 0 degrees everywhere, (0, 100) = 90 degrees on block (1, 1).
        var pixels = new byte[16 * 16 * 3];
        for (int y = 0; y < 16; y++)
        {
            for (int x = 0; x < 16; x++)
            {
                bool special = y / 4 == 1 && x / 4 == 1;
                pixels[((y * 16) + x) * 3] = (byte)(special ? 100 : 200);
                pixels[(((y * 16) + x) * 3) + 1] = (byte)(special ? 200 : 100);
            }
        }

        var extractor = new BlockMeanExtractor("a", 4, [1, 0, 0, 0, 1, 0], [-100, -100]);
        float aX = MathF.Cos(100 * MathF.PI / 180), aY = MathF.Sin(100 * MathF.PI / 180);
        var bank = new PrototypeBank("a", 2, [0, 1, 1, 0, aX, aY, 1, 0],
        [
            new PrototypeOrigin(0, PrototypeRole.Foreground, PrototypeLevels.ClassMean, -1, -1, 1),
            new PrototypeOrigin(0, PrototypeRole.Background, PrototypeLevels.ClassMean, -1, -1, 1),
            new PrototypeOrigin(1, PrototypeRole.Foreground, PrototypeLevels.ClassMean, -1, -1, 1),
            new PrototypeOrigin(1, PrototypeRole.Background, PrototypeLevels.ClassMean, -1, -1, 1),
        ]);
        var model = new PrototypeModel(["d", "a"], [false, false], [], [bank], new PrototypeFitOptions());
        var segmenter = new PrototypeSegmenter(model, [extractor], new SegmentationOptions { ShortSide = 0, Windows = [], MinimumClassArea = 0.15f });
        var image = new RgbImage(16, 16, pixels);

        LabelMap labels = segmenter.Segment(image, TestContext.Current.CancellationToken);
        SegmentationResult every = segmenter.Segment(image, includeScores: true, TestContext.Current.CancellationToken);

        Assert.Equal(every.Labels.Labels, labels.Labels);
        Assert.All(labels.Labels, l => Assert.Equal(0, l));   // "a" took the block, then was under the bound too
        Assert.Equal(2 + 3 + 3, segmenter.Timings.ScoredLabels); // background and "d", then all three again; then all three
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

    /// <summary>A class-mean bank where some classes' prototypes are blends leaning on others (so that labels dominate each other).</summary>
    private static PrototypeBank DominatedBank(Random random, string name, int channels, int classes)
    {
        var origins = new List<PrototypeOrigin>();
        var vectors = new float[classes * 2 * channels];
        for (int c = 0; c < classes; c++)
        {
            for (int r = 0; r < 2; r++)
            {
                int row = origins.Count;
                origins.Add(new PrototypeOrigin(c, (PrototypeRole)r, PrototypeLevels.ClassMean, -1, -1, 1));
                for (int k = 0; k < channels; k++)
                {
                    float own = (float)(random.NextDouble() - 0.5);
                    vectors[(row * channels) + k] = c >= 5 && r == 0 ? (0.3f * own) + vectors[((2 * (c - 5)) * channels) + k] : own;
                }
            }
        }

        Matrix.NormalizeRows(vectors, origins.Count, channels);
        return new PrototypeBank(name, channels, vectors, origins);
    }

    /// <summary>
    /// Flip test-time augmentation on the whole image: the scores are the average of the image's and of its mirror
    /// image's (segmented on their own, then mirrored back pixel by pixel), bit for bit; the label map follows them
    /// through the row-wise path too. An image width that is no multiple of the stride makes the two grids disagree,
    /// so the averaging must happen in pixel space.
    /// </summary>
    [Theory]
    [InlineData(31, 101, 83, 0f)]
    [InlineData(32, 77, 64, 0.1f)]
    public void FlipTestTime_AveragesTheMirrorImagesScoresInPixelSpace(int seed, int width, int height, float minimumArea)
    {
        var random = new Random(seed);
        BlockMeanExtractor[] extractors = [RandomExtractor(random, "a", 8, 12)];
        const int classes = 5;
        var model = new PrototypeModel(Enumerable.Range(0, classes).Select(c => $"c{c}").ToArray(), new bool[classes], [], [RandomBank(random, "a", 12, classes)], new PrototypeFitOptions());
        var pixels = new byte[width * height * 3];
        random.NextBytes(pixels);
        var image = new RgbImage(width, height, pixels);
        var plain = new SegmentationOptions { ShortSide = 0, Windows = [], MinimumClassArea = minimumArea };
        CancellationToken token = TestContext.Current.CancellationToken;

        SegmentationResult flipped = new PrototypeSegmenter(model, extractors, plain with { FlipTestTime = true }).Segment(image, includeScores: true, token);
        float[] own = new PrototypeSegmenter(model, extractors, plain).Segment(image, includeScores: true, token).Scores!;
        float[] mirror = new PrototypeSegmenter(model, extractors, plain).Segment(image.MirrorHorizontally(), includeScores: true, token).Scores!;

        var expected = new float[own.Length];
        for (int p = 0; p < own.Length / (width * height); p++)
        {
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    int plane = p * width * height, row = y * width;
                    expected[plane + row + x] = (own[plane + row + x] + mirror[plane + row + (width - 1 - x)]) * 0.5f;
                }
            }
        }

        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), flipped.Scores!.Select(BitConverter.SingleToInt32Bits));
        Assert.NotEqual(own.Select(BitConverter.SingleToInt32Bits), flipped.Scores!.Select(BitConverter.SingleToInt32Bits));
        LabelMap rowWise = new PrototypeSegmenter(model, extractors, plain with { FlipTestTime = true }).Segment(image, token);
        Assert.Equal(flipped.Labels.Labels, rowWise.Labels);
    }

    [Fact]
    public void MirrorHorizontally_KnownAnswer_AndTwiceIsTheImage()
    {
        var image = new RgbImage(3, 2, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);

        RgbImage mirrored = image.MirrorHorizontally();

        Assert.Equal([7, 8, 9, 4, 5, 6, 1, 2, 3, 16, 17, 18, 13, 14, 15, 10, 11, 12], mirrored.Pixels);
        Assert.Equal(image.Pixels, mirrored.MirrorHorizontally().Pixels);
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
