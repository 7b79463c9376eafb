using OvDiff.Core.Images;
using OvDiff.Core.Numerics;
using OvDiff.Core.Segmentation;

namespace OvDiff.Core.Tests.Segmentation;

public sealed class PrototypeSegmenterTests
{
    // Features at stride 1 with the default BlockMeanExtractor: f = rgb − 100.
    //   px0 (200,100,100) → (100,0,0)  → unit (1,0,0)
    //   px1 (100,200,100) → (0,100,0)  → unit (0,1,0)
    //   px2 (100,100,200) → (0,0,100)  → unit (0,0,1)
    //   px3 (160,180,100) → (60,80,0)  → unit (0.6,0.8,0)
    private static readonly RgbImage Image2x2 = BlockMeanExtractor.Image(2, 2, (200, 100, 100), (100, 200, 100), (100, 100, 200), (160, 180, 100));

    // Prototypes (unit): P0 cat fg (1,0,0); P1 dog fg (0,1,0); P2 dog fg (0.8,0.6,0); P3 cat bg (0,0,1); P4 dog bg (0.6,0,0.8);
    // P5 cat bg (0.6,0.8,0) (cos to P2 = 0.48 + 0.48 = 0.96); P6 cat bg (0,0.8,0.6) (cos to P1 = 0.8, to P2 = 0.48).
    private static readonly (int Class, PrototypeRole Role, float[] Vector)[] Prototypes =
    [
        (0, PrototypeRole.Foreground, [1f, 0f, 0f]),
        (1, PrototypeRole.Foreground, [0f, 1f, 0f]),
        (1, PrototypeRole.Foreground, [0.8f, 0.6f, 0f]),
        (0, PrototypeRole.Background, [0f, 0f, 1f]),
        (1, PrototypeRole.Background, [0.6f, 0f, 0.8f]),
    ];

    /// <summary>The prototypes above, for other tests.</summary>
    internal static (int Class, PrototypeRole Role, float[] Vector)[] SharedPrototypes => Prototypes;

    private static readonly (int Class, PrototypeRole Role, float[] Vector)[] StuffFilterPrototypes =
    [
        .. Prototypes,
        (0, PrototypeRole.Background, [0.6f, 0.8f, 0f]),
        (0, PrototypeRole.Background, [0f, 0.8f, 0.6f]),
    ];

    private static readonly SegmentationOptions FullImageOnly = new() { ShortSide = 0, Windows = [], IncludeFullImage = true };

    internal static PrototypeModel Model((int Class, PrototypeRole Role, float[] Vector)[] prototypes, bool dogIsStuff = false, string extractor = "block")
    {
        float[] vectors = prototypes.SelectMany(p => p.Vector).ToArray();
        PrototypeOrigin[] origins = prototypes.Select(p => new PrototypeOrigin(p.Class, p.Role, PrototypeLevels.ClassMean, -1, -1, 1)).ToArray();
        return new PrototypeModel(["cat", "dog"], [false, dogIsStuff], [], [new PrototypeBank(extractor, 3, vectors, origins)], new PrototypeFitOptions());
    }

    /// <summary>The same prototypes in a "block" and a "swap" bank.</summary>
    private static PrototypeModel TwoBankModel()
    {
        PrototypeModel one = Model(Prototypes);
        return new PrototypeModel(one.ClassNames, one.IsStuff, [], [one.Banks[0], new PrototypeBank("swap", 3, one.Banks[0].Vectors, one.Banks[0].Origins)], one.FitOptions);
    }

    private static float Score(float[] scores, int label, int pixel) => scores[(label * 4) + pixel];

    [Fact]
    public void SelfPrototypes_MixTheImagesOwnLabelMeansIntoTheScores()
    {
        // First pass (see below): px0 cat, px1 dog, px2 background, px3 dog. The image's own prototypes (raw feature means):
        // background px2 (0,0,100) → (0,0,1); cat px0 → (1,0,0); dog px1 + px3 = (30,90,0) → (0.316228, 0.948683, 0).
        // α = 0.5: new = 0.5 · old + 0.5 · cos(cell, own prototype).
        using var extractor = new BlockMeanExtractor();
        var segmenter = new PrototypeSegmenter(Model(Prototypes), [extractor], FullImageOnly with { SelfPrototypeWeight = 0.5f });
        SegmentationResult result = segmenter.Segment(Image2x2, includeScores: true, TestContext.Current.CancellationToken);
        float[] s = result.Scores!;

        // Background: old (0.6, 0, 1, 0.36), cos (0, 0, 1, 0).
        Assert.Equal([0.3f, 0f, 1f, 0.18f], Enumerable.Range(0, 4).Select(p => Score(s, 0, p)), new FloatTolerance(1e-5f));
        // Cat: old (1, 0, 0, 0.6), cos (1, 0, 0, 0.6): unchanged.
        Assert.Equal([1f, 0f, 0f, 0.6f], Enumerable.Range(0, 4).Select(p => Score(s, 1, p)), new FloatTolerance(1e-5f));
        // Dog: old (0.8, 1, 0, 0.96), cos (0.316228, 0.948683, 0, 0.948683).
        Assert.Equal([0.558114f, 0.974342f, 0f, 0.954342f], Enumerable.Range(0, 4).Select(p => Score(s, 2, p)), new FloatTolerance(1e-5f));
        Assert.Equal([1, 2, 0, 2], result.Labels.Labels);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SegmentationOptions { SelfPrototypeWeight = 1.5f }.Validate());
    }

    private sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }

    [Fact]
    public void CosineMatching_ClassScoresAreMaxOverForegroundPrototypes_BackgroundMaxOverBackgroundPrototypes()
    {
        using var extractor = new BlockMeanExtractor();
        var segmenter = new PrototypeSegmenter(Model(Prototypes), [extractor], FullImageOnly);
        SegmentationResult result = segmenter.Segment(Image2x2, includeScores: true, TestContext.Current.CancellationToken);
        float[] s = result.Scores!;

        // px0 (1,0,0): cat = 1; dog = max(0, 0.8) = 0.8; bg = max(P3 0, P4 0.6) = 0.6 → cat.
        Assert.Equal(1f, Score(s, 1, 0), 6);
        Assert.Equal(0.8f, Score(s, 2, 0), 6);
        Assert.Equal(0.6f, Score(s, 0, 0), 6);

        // px1 (0,1,0): cat 0; dog max(1, 0.6) = 1; bg max(0, 0) = 0 → dog.
        Assert.Equal(0f, Score(s, 1, 1), 6);
        Assert.Equal(1f, Score(s, 2, 1), 6);
        Assert.Equal(0f, Score(s, 0, 1), 6);

        // px2 (0,0,1): cat 0; dog 0; bg max(1, 0.8) = 1 → background.
        Assert.Equal(1f, Score(s, 0, 2), 6);
        Assert.Equal(0f, Score(s, 2, 2), 6);

        // px3 (0.6,0.8,0): cat 0.6; dog max(0.8, 0.48 + 0.48) = 0.96; bg max(0, 0.36) = 0.36 → dog.
        Assert.Equal(0.6f, Score(s, 1, 3), 6);
        Assert.Equal(0.96f, Score(s, 2, 3), 6);
        Assert.Equal(0.36f, Score(s, 0, 3), 6);

        Assert.Equal(new byte[] { 1, 2, 0, 2 }, result.Labels.Labels);
        Assert.Equal([5], segmenter.ActivePrototypeCounts);
        Assert.Equal(1, extractor.Calls);
    }

    [Fact]
    public void Prefilter_ExcludedClassScoresMinusOne_AndItsBackgroundPrototypesDropOut()
    {
        using var extractor = new BlockMeanExtractor();
        var segmenter = new PrototypeSegmenter(Model(Prototypes), [extractor], FullImageOnly, new FixedClassPrefilter(["cat"]));
        SegmentationResult result = segmenter.Segment(Image2x2, includeScores: true, TestContext.Current.CancellationToken);
        float[] s = result.Scores!;
        for (int p = 0; p < 4; p++)
        {
            Assert.Equal(-1f, Score(s, 2, p));
        }

        // Background now only from cat's P3 (0,0,1): px0 0 (was 0.6 via dog's P4), px2 1, px3 0 (was 0.36).
        Assert.Equal(0f, Score(s, 0, 0), 6);
        Assert.Equal(1f, Score(s, 0, 2), 6);
        Assert.Equal(0f, Score(s, 0, 3), 6);

        // px1: cat 0, bg 0, dog −1 → every score ≤ 0 is zeroed → label 0; px3: cat 0.6 → cat.
        Assert.Equal(new byte[] { 1, 0, 0, 1 }, result.Labels.Labels);
    }

    [Fact]
    public void StuffClass_HasNoBackgroundPrototypes_FiltersOthersAbove085_AndIsAlwaysCandidate()
    {
        using var extractor = new BlockMeanExtractor();

        // Not stuff: all 7 columns. Dog stuff: P4 (dog's own bg) dropped; P5 (cos 0.96 to dog fg P2) dropped; P6 (max cos 0.8) kept → 5.
        Assert.Equal([7], new PrototypeSegmenter(Model(StuffFilterPrototypes), [extractor], FullImageOnly).ActivePrototypeCounts);
        var stuff = new PrototypeSegmenter(Model(StuffFilterPrototypes, dogIsStuff: true), [extractor], FullImageOnly, new FixedClassPrefilter([]));
        Assert.Equal([5], stuff.ActivePrototypeCounts);

        // Threshold 0 disables the filter: only P4 goes → 6.
        Assert.Equal([6], new PrototypeSegmenter(Model(StuffFilterPrototypes, dogIsStuff: true), [extractor], FullImageOnly with { StuffBackgroundFilterThreshold = 0 }).ActivePrototypeCounts);

        // The prefilter kept no class, yet the stuff class dog scores; cat (filtered out) is −1; bg comes from nothing → −1.
        float[] s = stuff.Segment(Image2x2, includeScores: true, TestContext.Current.CancellationToken).Scores!;
        Assert.Equal(1f, Score(s, 2, 1), 6);
        Assert.Equal(0.96f, Score(s, 2, 3), 6);
        Assert.Equal(-1f, Score(s, 1, 0));
        Assert.Equal(-1f, Score(s, 0, 2));

        // With cat as candidate: bg at px3 = max(P3 0, P6 0.64) = 0.64 (0.8·0.8); P5 would have given 1.
        float[] all = new PrototypeSegmenter(Model(StuffFilterPrototypes, dogIsStuff: true), [extractor], FullImageOnly).Segment(Image2x2, includeScores: true, TestContext.Current.CancellationToken).Scores!;
        Assert.Equal(0.64f, Score(all, 0, 3), 6);
    }

    [Fact]
    public void WithoutBackgroundPrototypes_BackgroundScoreIsZero()
    {
        using var extractor = new BlockMeanExtractor();
        var segmenter = new PrototypeSegmenter(Model(Prototypes), [extractor], FullImageOnly with { UseBackgroundPrototypes = false });
        Assert.Equal([3], segmenter.ActivePrototypeCounts);
        SegmentationResult result = segmenter.Segment(Image2x2, includeScores: true, TestContext.Current.CancellationToken);
        Assert.Equal(new float[4], result.Scores![..4]);

        // px2: cat 0, dog 0, bg 0 → 0.
        Assert.Equal(new byte[] { 1, 2, 0, 2 }, result.Labels.Labels);
    }

    [Fact]
    public void ScoreThreshold_ZeroesScoresAtOrBelowIt()
    {
        using var extractor = new BlockMeanExtractor();

        // Threshold 0.96: px3's best (dog 0.96) is not above it → all zeroed → background; px0/px1 score 1 → kept.
        var segmenter = new PrototypeSegmenter(Model(Prototypes), [extractor], FullImageOnly with { ScoreThreshold = 0.97f });
        Assert.Equal(new byte[] { 1, 2, 0, 0 }, segmenter.Segment(Image2x2, TestContext.Current.CancellationToken).Labels);

        // All-negative pixel: (0,100,100) → (−100,0,0): cat −1, dog max(0, −0.8) = 0, bg max(0, −0.6) = 0 → 0 at threshold 0.
        RgbImage negative = BlockMeanExtractor.Image(2, 1, (0, 100, 100), (200, 100, 100));
        var plain = new PrototypeSegmenter(Model(Prototypes), [extractor], FullImageOnly);
        Assert.Equal(new byte[] { 0, 1 }, plain.Segment(negative, TestContext.Current.CancellationToken).Labels);
    }

    [Fact]
    public void MinimumClassArea_DropsSmallClassAndReassignsItsPixels()
    {
        using var extractor = new BlockMeanExtractor();

        // Labels {cat, dog, bg, dog}: cat covers 1 of 4 pixels = 0.25 < 0.3 → dropped; px0 goes to dog 0.8 > bg 0.6.
        var segmenter = new PrototypeSegmenter(Model(Prototypes), [extractor], FullImageOnly with { MinimumClassArea = 0.3f });
        Assert.Equal(new byte[] { 2, 2, 0, 2 }, segmenter.Segment(Image2x2, TestContext.Current.CancellationToken).Labels);

        // 0.25 is not below 0.25 → kept.
        var edge = new PrototypeSegmenter(Model(Prototypes), [extractor], FullImageOnly with { MinimumClassArea = 0.25f });
        Assert.Equal(new byte[] { 1, 2, 0, 2 }, edge.Segment(Image2x2, TestContext.Current.CancellationToken).Labels);
    }

    [Fact]
    public void Windows_MatchReferenceSlideGrid()
    {
        // Reference (mmseg slide): grids = max(size − crop + stride − 1, 0) // stride + 1; y2 = min(y1 + crop, H); y1 = max(y2 − crop, 0).
        // 600 wide x 448 high. (448, 224): rows = 223 // 224 + 1 = 1; cols = 375 // 224 + 1 = 2:
        //   c0: x2 = 448, x1 = 0; c1: x2 = min(672, 600) = 600, x1 = 152.
        // (336, 224): rows = 335 // 224 + 1 = 2 (y: 0..336, 112..448); cols = 487 // 224 + 1 = 3:
        //   x: 0..336, 224..560, min(784, 600) = 600 → 264..600. Then the full image.
        using var extractor = new BlockMeanExtractor();
        var segmenter = new PrototypeSegmenter(Model(Prototypes), [extractor], new SegmentationOptions());
        (int, int, int, int)[] expected =
        [
            (0, 0, 448, 448), (152, 0, 600, 448),
            (0, 0, 336, 336), (224, 0, 560, 336), (264, 0, 600, 336),
            (0, 112, 336, 448), (224, 112, 560, 448), (264, 112, 600, 448),
            (0, 0, 600, 448),
        ];
        Assert.Equal(expected, segmenter.Windows(600, 448).Select(w => (w.X1, w.Y1, w.X2, w.Y2)).ToArray());

        // A window larger than the image collapses to the image itself.
        var big = new PrototypeSegmenter(Model(Prototypes), [extractor], new SegmentationOptions { Windows = [new(448, 224)], IncludeFullImage = false });
        Assert.Equal([(0, 0, 300, 200)], big.Windows(300, 200).Select(w => (w.X1, w.Y1, w.X2, w.Y2)).ToArray());
    }

    [Fact]
    public void OverlappingWindows_AverageScoresByCoverageCount()
    {
        // 3x1 image, window (2, 1): cols = (3 − 2 + 0) // 1 + 1 = 2 → x 0..2 and 1..3; plus the full image.
        // Coverage: px0 2, px1 3, px2 2. At stride 1 every window scores each pixel identically, so the average equals
        // the single-window score: a change in counting (e.g. dividing by a wrong count) would move it.
        using var extractor = new BlockMeanExtractor();
        RgbImage image = BlockMeanExtractor.Image(3, 1, (200, 100, 100), (160, 180, 100), (100, 200, 100));
        var segmenter = new PrototypeSegmenter(Model(Prototypes), [extractor], new SegmentationOptions { ShortSide = 0, Windows = [new(2, 1)] });
        float[] s = segmenter.Segment(image, includeScores: true, TestContext.Current.CancellationToken).Scores!;
        Assert.Equal(3, extractor.Calls);
        Assert.Equal(1f, s[3], 6); // cat at px0
        Assert.Equal(0.6f, s[4], 6); // cat at px1
        Assert.Equal(0.96f, s[7], 6); // dog at px1
        Assert.Equal(0.36f, s[1], 6); // bg at px1
    }

    [Fact]
    public void MissingExtractorOrWrongChannels_NamesThem()
    {
        using var other = new BlockMeanExtractor("other");
        var missing = Assert.Throws<ArgumentException>(() => new PrototypeSegmenter(Model(Prototypes), [other]));
        Assert.Contains("'block'", missing.Message);
        using var wide = new BlockMeanExtractor("block", weights: [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1], bias: [0, 0, 0, 0]);
        var channels = Assert.Throws<ArgumentException>(() => new PrototypeSegmenter(Model(Prototypes), [wide]));
        Assert.Contains("4 channels", channels.Message);
    }

    [Fact]
    public void TwoExtractors_ScoresAreAveraged()
    {
        // Extractor "swap" sees (G, R, B) − 100, so px0 (200,100,100) has unit feature (0,1,0) there:
        // cat 0, dog max(1, 0.6) = 1, bg max(0, 0) = 0. With "block" (cat 1, dog 0.8, bg 0.6) the averages over
        // count 2 are cat 0.5, dog 0.9, bg 0.3 → dog.
        using var block = new BlockMeanExtractor();
        using var swap = new BlockMeanExtractor("swap", weights: [0, 1, 0, 1, 0, 0, 0, 0, 1]);
        PrototypeModel model = TwoBankModel();
        var segmenter = new PrototypeSegmenter(model, [swap, block], FullImageOnly);
        SegmentationResult result = segmenter.Segment(BlockMeanExtractor.Image(1, 1, (200, 100, 100)), includeScores: true, TestContext.Current.CancellationToken);
        Assert.Equal(0.3f, result.Scores![0], 6);
        Assert.Equal(0.5f, result.Scores[1], 6);
        Assert.Equal(0.9f, result.Scores[2], 6);
        Assert.Equal(new byte[] { 2 }, result.Labels.Labels);
    }

    [Fact]
    public void ShortSideResize_ScoresAndLabelsComeBackAtImageSize()
    {
        // A uniform red 6x4 image is scaled to short side 2 (3x2, still uniform red: the resampling weights sum to one),
        // scored there (cat 1, dog 0.8, bg 0.6 everywhere) and the scores resized back to 6x4: constant planes stay constant.
        using var extractor = new BlockMeanExtractor();
        RgbImage red = BlockMeanExtractor.Image(6, 4, Enumerable.Repeat(((byte)200, (byte)100, (byte)100), 24).ToArray());
        var segmenter = new PrototypeSegmenter(Model(Prototypes), [extractor], FullImageOnly with { ShortSide = 2 });
        SegmentationResult result = segmenter.Segment(red, includeScores: true, TestContext.Current.CancellationToken);
        Assert.Equal((6, 4), (result.Labels.Width, result.Labels.Height));
        Assert.Equal(3 * 24, result.Scores!.Length);
        Assert.All(result.Scores[..24], v => Assert.Equal(0.6f, v, 6));
        Assert.All(result.Scores[24..48], v => Assert.Equal(1f, v, 6));
        Assert.All(result.Scores[48..], v => Assert.Equal(0.8f, v, 6));
        Assert.All(result.Labels.Labels, l => Assert.Equal(1, l));
    }

    [Fact]
    public void ShortSide_LongSideTruncatedLikeTorchvision()
    {
        // torchvision resize(size=448): long = int(448 · 500 / 333) = int(672.67) = 672 (mmcv's rounding would give 673).
        Assert.Equal((672, 448), Resampling.ShortSideSizeTruncated(500, 333, 448));
        Assert.Equal((448, 597), Resampling.ShortSideSizeTruncated(375, 500, 448)); // 597.33
        Assert.Equal((448, 448), Resampling.ShortSideSizeTruncated(90, 90, 448));
        using var extractor = new BlockMeanExtractor();
        var segmenter = new PrototypeSegmenter(Model(Prototypes), [extractor], new SegmentationOptions { ShortSide = 448, Windows = [] });
        LabelMap labels = segmenter.Segment(new RgbImage(500, 333, new byte[500 * 333 * 3]), TestContext.Current.CancellationToken);
        Assert.Equal([(672, 448)], extractor.Sizes);
        Assert.Equal((500, 333), (labels.Width, labels.Height));
    }

    [Fact]
    public void Extractors_RunOverAllWindowsInTurn_AsTheReferenceLoops()
    {
        // Reference predict.py: for each extractor, for each crop. 3x1 image, window (2, 1) → crops 2x1, 2x1, then 3x1.
        using var block = new BlockMeanExtractor();
        using var swap = new BlockMeanExtractor("swap", weights: [0, 1, 0, 1, 0, 0, 0, 0, 1]);
        PrototypeModel model = TwoBankModel();
        var order = new List<string>();
        var segmenter = new PrototypeSegmenter(model, [new Recording(block, order), new Recording(swap, order)], new SegmentationOptions { ShortSide = 0, Windows = [new(2, 1)] });
        segmenter.Segment(new RgbImage(3, 1, new byte[9]), TestContext.Current.CancellationToken);
        Assert.Equal(["block 2x1", "block 2x1", "block 3x1", "swap 2x1", "swap 2x1", "swap 3x1"], order);
    }

    private sealed class Recording(BlockMeanExtractor inner, List<string> log) : Features.IDenseFeatureExtractor
    {
        public string Name => inner.Name;

        public int Stride => inner.Stride;

        public int Channels => inner.Channels;

        public Features.FeatureMap Extract(RgbImage image, CancellationToken cancellationToken = default)
        {
            log.Add($"{Name} {image.Width}x{image.Height}");
            return inner.Extract(image, cancellationToken);
        }

        public void Dispose()
        {
        }
    }

    [Fact]
    public void StuffFilter_LeavesAClassWithASingleBackgroundPrototype()
    {
        // Reference filter_proto_bg2allfg returns a class's background prototypes untouched when it has at most one.
        // cat's only bg (0.6,0.8,0) has cos 0.96 > 0.85 to stuff dog's fg (0.8,0.6,0), yet stays: P0, P1, P2 + it = 4.
        (int, PrototypeRole, float[])[] single =
        [
            (0, PrototypeRole.Foreground, [1f, 0f, 0f]),
            (1, PrototypeRole.Foreground, [0f, 1f, 0f]),
            (1, PrototypeRole.Foreground, [0.8f, 0.6f, 0f]),
            (0, PrototypeRole.Background, [0.6f, 0.8f, 0f]),
        ];
        using var extractor = new BlockMeanExtractor();
        Assert.Equal([4], new PrototypeSegmenter(Model(single), [extractor], FullImageOnly).ActivePrototypeCounts);
        Assert.Equal([4], new PrototypeSegmenter(Model(single, dogIsStuff: true), [extractor], FullImageOnly).ActivePrototypeCounts);
    }
}
