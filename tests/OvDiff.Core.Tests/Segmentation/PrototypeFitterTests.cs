using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;

namespace OvDiff.Core.Tests.Segmentation;

public sealed class PrototypeFitterTests
{
    private static readonly (byte, byte, byte) Red = (200, 100, 100);   // feature (100, 0, 0)
    private static readonly (byte, byte, byte) Green = (100, 200, 100); // feature (0, 100, 0)
    private static readonly (byte, byte, byte) Blue = (100, 100, 200);  // feature (0, 0, 100)

    private static RgbImage Paint(int size, Func<int, int, (byte, byte, byte)> colour)
    {
        var pixels = new (byte, byte, byte)[size * size];
        for (int y = 0; y < size; y++)
        {
            for (int x = 0; x < size; x++)
            {
                pixels[(y * size) + x] = colour(x, y);
            }
        }

        return BlockMeanExtractor.Image(size, size, pixels);
    }

    private static SupportExample Example(string cls, string source, RgbImage image) => new(cls, source, _ => image);

    // 16x16 images (short side already 16: no resize), stride 4 → 4x4 grid of 16 cells, Split None → all cells foreground.
    private static readonly PrototypeFitOptions NoSplit = new() { SupportShortSide = 16, Split = ForegroundSplitMode.None, Levels = PrototypeLevels.ClassMean | PrototypeLevels.PerImage };

    private static void AssertVector(double[] expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 5);
        }
    }

    [Fact]
    public void ClassMeanAndPerImagePrototypes_AreNormalisedHandComputedMeans_WithProvenance()
    {
        using var extractor = new BlockMeanExtractor(stride: 4);
        SupportExample[] examples =
        [
            Example("cat", "a.png", Paint(16, (_, _) => Red)),                  // support 0: 16 x (100,0,0)
            Example("dog", "c.png", Paint(16, (_, _) => Blue)),                 // support 1: 16 x (0,0,100)
            Example("cat", "b.png", Paint(16, (x, _) => x < 8 ? Green : Blue)), // support 2: 8 x (0,100,0) + 8 x (0,0,100)
        ];
        PrototypeModel model = PrototypeFitter.Fit(examples, ["cat", "dog"], [extractor], NoSplit, cancellationToken: TestContext.Current.CancellationToken);
        PrototypeBank bank = Assert.Single(model.Banks);

        // Order per class: class mean, then per-image means in support order; no background (Split None).
        PrototypeOrigin[] expected =
        [
            new(0, PrototypeRole.Foreground, PrototypeLevels.ClassMean, -1, -1, 32),
            new(0, PrototypeRole.Foreground, PrototypeLevels.PerImage, 0, -1, 16),
            new(0, PrototypeRole.Foreground, PrototypeLevels.PerImage, 2, -1, 16),
            new(1, PrototypeRole.Foreground, PrototypeLevels.ClassMean, -1, -1, 16),
            new(1, PrototypeRole.Foreground, PrototypeLevels.PerImage, 1, -1, 16),
        ];
        Assert.Equal(expected, bank.Origins);

        // cat mean = (16·(100,0,0) + 8·(0,100,0) + 8·(0,0,100)) / 32 = (50, 25, 25) → (2, 1, 1)/√6.
        double s6 = Math.Sqrt(6);
        AssertVector([2 / s6, 1 / s6, 1 / s6], bank.Vector(0));
        AssertVector([1, 0, 0], bank.Vector(1));
        AssertVector([0, Math.Sqrt(0.5), Math.Sqrt(0.5)], bank.Vector(2)); // (0, 50, 50) normalised
        AssertVector([0, 0, 1], bank.Vector(3));
        AssertVector([0, 0, 1], bank.Vector(4));

        Assert.Equal([0, 1, 0], model.SupportImages.Select(s => s.ClassIndex));
        Assert.Equal(["a.png", "c.png", "b.png"], model.SupportImages.Select(s => s.Source));
        Assert.All(model.SupportImages, s => Assert.Equal((4, 4, 16, 0), (s.MaskHeight, s.MaskWidth, s.Foreground.Count(f => f), s.Background.Count(b => b))));
    }

    [Fact]
    public void PartPrototypes_KMeansCentroidsOfTheCells_CountAtMostK()
    {
        using var extractor = new BlockMeanExtractor(stride: 4);
        SupportExample[] examples =
        [
            Example("cat", "a.png", Paint(16, (_, _) => Red)),
            Example("cat", "b.png", Paint(16, (x, _) => x < 8 ? Green : Blue)),
        ];

        // Three distinct cell features (16 red, 8 green, 8 blue): K = 3 finds them exactly.
        PrototypeModel three = PrototypeFitter.Fit(examples, ["cat"], [extractor], NoSplit with { Levels = PrototypeLevels.Parts, PartCount = 3 }, cancellationToken: TestContext.Current.CancellationToken);
        PrototypeBank bank = three.Banks[0];
        Assert.Equal(3, bank.Count);
        Assert.All(bank.Origins, o => Assert.Equal((PrototypeLevels.Parts, -1, PrototypeRole.Foreground), (o.Level, o.SupportImage, o.Role)));
        Assert.Equal([0, 1, 2], bank.Origins.Select(o => o.Cluster).Order());
        var bySize = Enumerable.Range(0, 3).OrderByDescending(i => bank.Origins[i].CellCount).ThenBy(i => bank.Vector(i)[2]).ToArray();
        Assert.Equal([16L, 8L, 8L], bySize.Select(i => bank.Origins[i].CellCount));
        AssertVector([1, 0, 0], bank.Vector(bySize[0]));
        AssertVector([0, 1, 0], bank.Vector(bySize[1]));
        AssertVector([0, 0, 1], bank.Vector(bySize[2]));

        // K = 2 gives at most 2 parts covering all 32 cells.
        PrototypeModel two = PrototypeFitter.Fit(examples, ["cat"], [extractor], NoSplit with { Levels = PrototypeLevels.Parts, PartCount = 2 }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.InRange(two.Banks[0].Count, 1, 2);
        Assert.Equal(32L, two.Banks[0].Origins.Sum(o => o.CellCount));
    }

    [Fact]
    public void BorderClustersSplit_PoolsForegroundAndBackgroundSeparately()
    {
        // 32x32, stride 4 → 8x8 grid; cells 2..5 x 2..5 red (16 cells), the other 48 blue and touching or near the border.
        using var extractor = new BlockMeanExtractor(stride: 4);
        RgbImage image = Paint(32, (x, y) => x is >= 8 and < 24 && y is >= 8 and < 24 ? Red : Blue);
        var options = new PrototypeFitOptions { SupportShortSide = 32, Split = ForegroundSplitMode.BorderClusters, BackgroundErosion = 0, Levels = PrototypeLevels.ClassMean };
        PrototypeModel model = PrototypeFitter.Fit([Example("cat", "a.png", image)], ["cat"], [extractor], options, cancellationToken: TestContext.Current.CancellationToken);
        PrototypeBank bank = model.Banks[0];
        Assert.Equal(
            [new PrototypeOrigin(0, PrototypeRole.Foreground, PrototypeLevels.ClassMean, -1, -1, 16), new PrototypeOrigin(0, PrototypeRole.Background, PrototypeLevels.ClassMean, -1, -1, 48)],
            bank.Origins);
        AssertVector([1, 0, 0], bank.Vector(0));
        AssertVector([0, 0, 1], bank.Vector(1));
        SupportImageRecord support = Assert.Single(model.SupportImages);
        Assert.True(support.Foreground[(3 * 8) + 3]);
        Assert.False(support.Foreground[0]);
        Assert.True(support.Background[0]);

        // One erosion (cross structure, zero border): a cell survives iff it and its 4 neighbours are in the grid and background.
        // The outer ring (28 cells) goes; of ring 1 (the 20 cells of rows/cols 1 and 6) the 16 that touch the red square
        // 4-wise go ((1,2)..(1,5) and the like); only its 4 corners (1,1), (1,6), (6,1), (6,6) survive.
        PrototypeModel eroded = PrototypeFitter.Fit([Example("cat", "a.png", image)], ["cat"], [extractor], options with { BackgroundErosion = 1 }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(4L, eroded.Banks[0].Origins[1].CellCount);
        Assert.Equal([9, 14, 49, 54], eroded.SupportImages[0].Background.Select((b, i) => (b, i)).Where(t => t.b).Select(t => t.i));
    }

    [Fact]
    public void MultiTagImage_ForegroundSharedOutAmongItsClasses_NoTaggedClassInABackground()
    {
        // 32x32, stride 4 → 8x8 grids. A "horse": red square (cells 2..5 x 2..5) on blue; B "person": green square on blue;
        // C tagged horse and person: red cells x 1..3, green cells x 4..6 (rows 2..5), blue elsewhere (40 cells).
        using var extractor = new BlockMeanExtractor(stride: 4);
        RgbImage a = Paint(32, (x, y) => x is >= 8 and < 24 && y is >= 8 and < 24 ? Red : Blue);
        RgbImage b = Paint(32, (x, y) => x is >= 8 and < 24 && y is >= 8 and < 24 ? Green : Blue);
        RgbImage c = Paint(32, (x, y) => y is >= 8 and < 24 && x is >= 4 and < 16 ? Red : y is >= 8 and < 24 && x is >= 16 and < 28 ? Green : Blue);
        SupportExample[] examples =
        [
            Example("horse", "a.png", a),
            Example("person", "b.png", b),
            Example("horse", "c.png", c) with { AlsoShows = ["person", "unicorn"] },
        ];
        var options = new PrototypeFitOptions { SupportShortSide = 32, Split = ForegroundSplitMode.BorderClusters, BackgroundErosion = 0, Levels = PrototypeLevels.ClassMean };

        PrototypeModel model = PrototypeFitter.Fit(examples, ["horse", "person"], [extractor], options, cancellationToken: TestContext.Current.CancellationToken);

        // C gives one support record per class (the unknown tag is ignored): its red cells are horse, its green cells person,
        // its blue cells the background of both.
        SupportImageRecord[] records = [.. model.SupportImages.Where(r => r.Source == "c.png")];
        Assert.Equal([0, 1], records.Select(r => r.ClassIndex));
        int[] Cells(bool[] mask) => [.. mask.Select((m, i) => (m, i)).Where(t => t.m).Select(t => t.i)];
        int[] red = [.. Enumerable.Range(2, 4).SelectMany(y => Enumerable.Range(1, 3).Select(x => (y * 8) + x))];
        int[] green = [.. Enumerable.Range(2, 4).SelectMany(y => Enumerable.Range(4, 3).Select(x => (y * 8) + x))];
        Assert.Equal(red, Cells(records[0].Foreground));
        Assert.Equal(green, Cells(records[1].Foreground));
        Assert.Equal(Enumerable.Range(0, 64).Except(red).Except(green), Cells(records[0].Background));
        Assert.Equal(records[0].Background, records[1].Background);

        // So every prototype is one pure colour: horse fg (1,0,0) over 16 + 12 cells, person fg (0,1,0), both backgrounds (0,0,1).
        PrototypeBank bank = model.Banks[0];
        AssertVector([1, 0, 0], bank.Vector(0));
        AssertVector([0, 0, 1], bank.Vector(1));
        AssertVector([0, 1, 0], bank.Vector(2));
        AssertVector([0, 0, 1], bank.Vector(3));
        Assert.Equal(28L, bank.Origins[0].CellCount);

        // Fitting each tag alone (0 rounds) puts the other class into a prototype: C's split takes red and green together
        // or one of them as background, and either way a horse prototype then has green in it.
        PrototypeModel alone = PrototypeFitter.Fit(examples, ["horse", "person"], [extractor], options with { MultiTagIterations = 0 }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(alone.Banks[0].Vector(0)[1] > 0.05f || alone.Banks[0].Vector(1)[1] > 0.05f);
    }

    [Fact]
    public void SharedBackgroundParts_KeepAnIndoorWallOutOfTheChair()
    {
        // 32x32, stride 4 → 8x8 grids; features = colour − 100. Three "person" images: green square on blue (outdoor
        // background (0,0,100)). One "chair" image: red square (100,0,0) on a wall (90,0,44), which points nearer the chair
        // than the outdoor background. D, tagged chair and person: red cells x 1..3, green cells x 4..6 (rows 2..5), wall
        // elsewhere (40 cells). The background mean is mostly outdoor (144 blue cells, 48 wall), so with one mean D's walls
        // are nearer the chair; with two background parts (outdoor, wall) they find the wall part.
        using var extractor = new BlockMeanExtractor(stride: 4);
        static bool Square(int x, int y) => x is >= 8 and < 24 && y is >= 8 and < 24;
        (byte, byte, byte) wall = (190, 100, 144);
        RgbImage person = Paint(32, (x, y) => Square(x, y) ? Green : Blue);
        RgbImage chair = Paint(32, (x, y) => Square(x, y) ? Red : wall);
        RgbImage both = Paint(32, (x, y) => y is >= 8 and < 24 && x is >= 4 and < 16 ? Red : y is >= 8 and < 24 && x is >= 16 and < 28 ? Green : wall);
        SupportExample[] examples =
        [
            Example("person", "p1.png", person), Example("person", "p2.png", person), Example("person", "p3.png", person),
            Example("chair", "c.png", chair),
            Example("chair", "d.png", both) with { AlsoShows = ["person"] },
        ];
        var options = new PrototypeFitOptions { SupportShortSide = 32, Split = ForegroundSplitMode.BorderClusters, BackgroundErosion = 0, Levels = PrototypeLevels.ClassMean };
        int[] Cells(bool[] mask) => [.. mask.Select((m, i) => (m, i)).Where(t => t.m).Select(t => t.i)];
        int[] red = [.. Enumerable.Range(2, 4).SelectMany(y => Enumerable.Range(1, 3).Select(x => (y * 8) + x))];
        int[] green = [.. Enumerable.Range(2, 4).SelectMany(y => Enumerable.Range(4, 3).Select(x => (y * 8) + x))];
        int[] walls = [.. Enumerable.Range(0, 64).Except(red).Except(green)];

        PrototypeModel oneMean = PrototypeFitter.Fit(examples, ["chair", "person"], [extractor], options, cancellationToken: TestContext.Current.CancellationToken);
        SupportImageRecord chairOfD = oneMean.SupportImages.Single(r => r.Source == "d.png" && r.ClassIndex == 0);
        Assert.Equal(red.Concat(walls).Order(), Cells(chairOfD.Foreground));
        Assert.Empty(Cells(chairOfD.Background));
        Assert.Null(oneMean.SharedBackground);

        var steps = new StepLog();
        PrototypeModel withParts = PrototypeFitter.Fit(examples, ["chair", "person"], [extractor], options with { SharedBackgroundParts = 2 }, steps, TestContext.Current.CancellationToken);
        SupportImageRecord[] d = [.. withParts.SupportImages.Where(r => r.Source == "d.png")];
        Assert.Equal(red, Cells(d[0].Foreground));
        Assert.Equal(green, Cells(d[1].Foreground));
        Assert.Equal(walls, Cells(d[0].Background));
        Assert.Equal(walls, Cells(d[1].Background));
        AssertVector([1, 0, 0], withParts.Banks[0].Vector(0));   // the chair's foreground is red only
        Assert.Equal(2, withParts.FitOptions.SharedBackgroundParts);

        // The parts stay in the model: the outdoor background (0,0,1) and the wall (90,0,44) / 100.1798, on the first extractor.
        SharedBackground parts = Assert.IsType<SharedBackground>(withParts.SharedBackground);
        Assert.Equal(("block", 3, 2), (parts.ExtractorName, parts.Channels, parts.Count));
        float[][] rows = [.. new[] { parts.Vectors[..3], parts.Vectors[3..] }.OrderBy(r => r[0])];
        AssertVector([0, 0, 1], rows[0]);
        AssertVector([0.89838, 0, 0.43921], rows[1]);

        // Its k-means is a step of its own in the progress, between the images and the prototypes (was: the line stayed
        // on "fit: 5/5" while tens of thousands of parts took minutes).
        Assert.Equal(["fit", "shared background", "prototypes"], steps.Steps.Where((p, i) => i == 0 || p.Step != steps.Steps[i - 1].Step).Select(p => p.Step));
        Assert.Equal([new StepProgress("shared background", 0, 1), new StepProgress("shared background", 1, 1, "2 parts")], steps.Steps.Where(p => p.Step == "shared background"));
    }

    [Fact]
    public void SharedBackgroundParts_EachTagFittedAlone_TakeNothingOfAMultiTagImage()
    {
        // 32x32, stride 4 → 8x8 grids; features = colour − 100. "person": green square on blue; "chair": red square on a
        // wall (90,0,44); D, tagged chair and person, shows both squares on a floor (0,50,50) that no single-tag image shows.
        // With 0 multi-tag rounds D is fitted once per tag, its floor in the background of each; the shared parts stay the
        // single-tag images' backgrounds: 2 distinct cells (blue, wall) for 3 parts asked (was: 3 parts, one the floor).
        using var extractor = new BlockMeanExtractor(stride: 4);
        static bool Square(int x, int y) => x is >= 8 and < 24 && y is >= 8 and < 24;
        (byte, byte, byte) wall = (190, 100, 144), floor = (100, 150, 150);
        SupportExample[] examples =
        [
            Example("person", "p.png", Paint(32, (x, y) => Square(x, y) ? Green : Blue)),
            Example("chair", "c.png", Paint(32, (x, y) => Square(x, y) ? Red : wall)),
            Example("chair", "d.png", Paint(32, (x, y) => y is >= 8 and < 24 && x is >= 4 and < 16 ? Red : y is >= 8 and < 24 && x is >= 16 and < 28 ? Green : floor)) with { AlsoShows = ["person"] },
        ];
        var options = new PrototypeFitOptions
        {
            SupportShortSide = 32, Split = ForegroundSplitMode.BorderClusters, BackgroundErosion = 0, Levels = PrototypeLevels.ClassMean,
            MultiTagIterations = 0, ForegroundCleaningRounds = 0, SharedBackgroundParts = 3,
        };

        PrototypeModel model = PrototypeFitter.Fit(examples, ["chair", "person"], [extractor], options, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(2, model.SupportImages.Count(r => r.Source == "d.png"));   // fitted once per tag
        Assert.Contains(model.SupportImages.Single(r => r.Source == "d.png" && r.ClassIndex == 0).Background, cell => cell);
        SharedBackground parts = Assert.IsType<SharedBackground>(model.SharedBackground);
        Assert.Equal(2, parts.Count);
        float[][] rows = [.. new[] { parts.Vectors[..3], parts.Vectors[3..] }.OrderBy(r => r[0])];
        AssertVector([0, 0, 1], rows[0]);
        AssertVector([0.89838, 0, 0.43921], rows[1]);
    }

    /// <summary>Records progress reports in order, on the reporting thread.</summary>
    private sealed class StepLog : IProgress<StepProgress>
    {
        public List<StepProgress> Steps { get; } = [];

        public void Report(StepProgress value) => Steps.Add(value);
    }

    [Fact]
    public void ForegroundCleaning_MovesTheCellTheSplitWronglyCalledForegroundToTheBackground()
    {
        // 16x16 images, stride 4 → 4x4 grids; features = colour − 100. Object o = (150, 0, 0) in the 2x2 interior, background
        // b = (0, 10, 0) on the border. B's interior cell 10 is x = (100, 130, 0): nearer o than b in distance (2-means puts
        // it in the foreground) but nearer b in direction. Round 1: foreground mean (1150, 130) → unit (0.99367, 0.11233),
        // background (0, 1); x's unit (0.60971, 0.79262) has cosines 0.69489 and 0.79262 (+ 0.02): it moves. Round 2 moves
        // nothing (foreground (1, 0); background (100, 370) → unit (0.26091, 0.96536); o's cosines 1 and 0.26091).
        using var extractor = new BlockMeanExtractor(stride: 4);
        static bool Interior(int x, int y) => x is >= 4 and < 12 && y is >= 4 and < 12;
        RgbImage a = Paint(16, (x, y) => Interior(x, y) ? ((byte)250, (byte)100, (byte)100) : ((byte)100, (byte)110, (byte)100));
        RgbImage b = Paint(16, (x, y) => x is >= 8 and < 12 && y is >= 8 and < 12 ? ((byte)200, (byte)230, (byte)100)
            : Interior(x, y) ? ((byte)250, (byte)100, (byte)100) : ((byte)100, (byte)110, (byte)100));
        SupportExample[] examples = [Example("cat", "a.png", a), Example("cat", "b.png", b)];
        var options = new PrototypeFitOptions { SupportShortSide = 16, Split = ForegroundSplitMode.BorderClusters, BackgroundErosion = 0, Levels = PrototypeLevels.ClassMean };
        int[] Cells(bool[] mask) => [.. mask.Select((m, i) => (m, i)).Where(t => t.m).Select(t => t.i)];

        PrototypeModel plain = PrototypeFitter.Fit(examples, ["cat"], [extractor], options, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal([5, 6, 9, 10], Cells(plain.SupportImages[1].Foreground));   // the split took x in
        AssertVector([0.99367, 0.11233, 0], plain.Banks[0].Vector(0));

        PrototypeModel cleaned = PrototypeFitter.Fit(examples, ["cat"], [extractor], options with { ForegroundCleaningRounds = 2 }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(["a.png", "b.png"], cleaned.SupportImages.Select(r => r.Source));
        Assert.Equal([5, 6, 9, 10], Cells(cleaned.SupportImages[0].Foreground));
        Assert.Equal([5, 6, 9], Cells(cleaned.SupportImages[1].Foreground));
        Assert.Contains(10, Cells(cleaned.SupportImages[1].Background));
        AssertVector([1, 0, 0], cleaned.Banks[0].Vector(0));
        AssertVector([0.26091, 0.96536, 0], cleaned.Banks[0].Vector(1));
        Assert.Equal(2, cleaned.FitOptions.ForegroundCleaningRounds);
    }

    [Fact]
    public void ClassWithoutSupport_OrUnknownClass_IsAnErrorNamingIt()
    {
        using var extractor = new BlockMeanExtractor(stride: 4);
        SupportExample cat = Example("cat", "a.png", Paint(16, (_, _) => Red));
        var none = Assert.Throws<InvalidOperationException>(() => PrototypeFitter.Fit([cat], ["cat", "dog"], [extractor], NoSplit, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Contains("'dog'", none.Message);
        Assert.Contains("no support image", none.Message);

        var unknown = Assert.Throws<ArgumentException>(() => PrototypeFitter.Fit([cat, Example("bird", "z.png", Paint(16, (_, _) => Red))], ["cat"], [extractor], NoSplit, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Contains("'bird'", unknown.Message);
        Assert.Contains("z.png", unknown.Message);

        var stuff = Assert.Throws<ArgumentException>(() => PrototypeFitter.Fit([cat], ["cat"], [extractor], NoSplit with { StuffClasses = ["sky"] }, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Contains("'sky'", stuff.Message);
    }

    [Fact]
    public void FittedModel_SegmentsItsOwnColours()
    {
        // End to end: fit red=cat (fg) with blue surroundings (bg), green=dog; segment a stride-1 image of the three colours.
        using var fit = new BlockMeanExtractor(stride: 4);
        RgbImage catImage = Paint(32, (x, y) => x is >= 8 and < 24 && y is >= 8 and < 24 ? Red : Blue);
        RgbImage dogImage = Paint(32, (x, y) => x is >= 8 and < 24 && y is >= 8 and < 24 ? Green : Blue);
        var options = new PrototypeFitOptions { SupportShortSide = 32, Split = ForegroundSplitMode.BorderClusters, BackgroundErosion = 0, PartCount = 2 };
        PrototypeModel model = PrototypeFitter.Fit([Example("cat", "a", catImage), Example("dog", "b", dogImage)], ["cat", "dog"], [fit], options, cancellationToken: TestContext.Current.CancellationToken);
        using var segment = new BlockMeanExtractor(stride: 1);
        var segmenter = new PrototypeSegmenter(model, [segment], new SegmentationOptions { ShortSide = 0, Windows = [] });
        LabelMap labels = segmenter.Segment(BlockMeanExtractor.Image(3, 1, Red, Green, Blue), TestContext.Current.CancellationToken);
        Assert.Equal(new byte[] { 1, 2, 0 }, labels.Labels);

        // One call timed: the extractor's share and the rest are both accounted for.
        SegmentationTimings timings = segmenter.Timings;
        Assert.Equal(1, timings.Images);
        Assert.True(timings.FeatureExtraction > TimeSpan.Zero && timings.Other > TimeSpan.Zero);
    }

    [Fact]
    public void ImageWithoutForegroundOnAnExtractorsGrid_ContributesNoBackgroundThere()
    {
        // Split on the stride-1 grid (16x16): red square rows/cols 1..4 = foreground (no border cells), the rest background.
        // The stride-16 extractor has a 1x1 grid; bilinear resampling 16 → 1 reads source 7.5, i.e. cells 7 and 8 only,
        // which are background: that grid has no foreground. The reference (gen_proto_vit.py) then skips the image for
        // that extractor, background included, so the coarse bank holds nothing for it.
        using var fine = new BlockMeanExtractor("fine", stride: 1);
        using var coarse = new BlockMeanExtractor("coarse", stride: 16);
        RgbImage image = Paint(16, (x, y) => x is >= 1 and <= 4 && y is >= 1 and <= 4 ? Red : Blue);
        var options = new PrototypeFitOptions { SupportShortSide = 16, Split = ForegroundSplitMode.BorderClusters, BackgroundErosion = 0, Levels = PrototypeLevels.ClassMean };
        PrototypeModel model = PrototypeFitter.Fit([Example("cat", "a", image)], ["cat"], [fine, coarse], options, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal([new PrototypeOrigin(0, PrototypeRole.Foreground, PrototypeLevels.ClassMean, -1, -1, 16), new PrototypeOrigin(0, PrototypeRole.Background, PrototypeLevels.ClassMean, -1, -1, 240)], model.Banks[0].Origins);
        Assert.Empty(model.Banks[1].Origins);
    }
}
