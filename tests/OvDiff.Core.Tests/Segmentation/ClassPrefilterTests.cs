using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;

namespace OvDiff.Core.Tests.Segmentation;

public sealed class ClassPrefilterTests
{
    [Fact]
    public void FirstStage_KeepsClassesAtOrAboveOneOverC_InIndexOrder()
    {
        // softmax(0.3, 0.1, 0.2): e^0.3 = 1.349859, e^0.1 = 1.105171, e^0.2 = 1.221403, sum 3.676433
        // → 0.367165, 0.300610, 0.332225; 1/3 = 0.333333: only class 0 passes (class 2 misses by 0.0011).
        ClipFirstStage first = ClipClassSelection.FirstStage([0.3f, 0.1f, 0.2f]);
        Assert.Equal([0], first.Candidates);
        Assert.Equal(0.367165f, first.Probabilities[0], 2e-6f);
        Assert.Equal(0.300610f, first.Probabilities[1], 2e-6f);
        Assert.Equal(0.332225f, first.Probabilities[2], 2e-6f);

        // Equal similarities: every probability is exactly 1/C, so all pass (the reference's >=), in index order.
        Assert.Equal([0, 1, 2, 3], ClipClassSelection.FirstStage([0.25f, 0.25f, 0.25f, 0.25f]).Candidates);
    }

    [Fact]
    public void FirstStage_MoreThanTheCapPass_TheMostProbableFirst_TiesByIndex()
    {
        // p = e^s / (e^0.5 + e^0.6 + e^0.5 + e^0.1) = (0.264866, 0.292722, 0.264866, 0.177545): classes 0, 1, 2 pass 1/4;
        // capped at 2: class 1 (most probable), then class 0 (tie with class 2, lower index first).
        ClipFirstStage first = ClipClassSelection.FirstStage([0.5f, 0.6f, 0.5f, 0.1f], maxClasses: 2);
        Assert.Equal([1, 0], first.Candidates);
        Assert.Equal(0.292722f, first.Probabilities[1], 2e-6f);
        Assert.Equal(0.177545f, first.Probabilities[3], 2e-6f);
    }

    [Fact]
    public void Subsets_AreItertoolsCombinationsBySize_InCandidateOrder()
    {
        int[][] subsets = ClipClassSelection.Subsets([2, 0, 1]).ToArray();
        Assert.Equal(7, subsets.Length);
        Assert.Equal<int[]>([[2], [0], [1], [2, 0], [2, 1], [0, 1], [2, 0, 1]], subsets);
        Assert.Equal((1 << 10) - 1, ClipClassSelection.Subsets(Enumerable.Range(0, 10).ToArray()).Count());
        Assert.Empty(ClipClassSelection.Subsets([]));
    }

    [Fact]
    public void Prompts_AreTheReferenceWording()
    {
        Assert.Equal("a cat and a potted plant", ClipClassSelection.SubsetPrompt(["cat", "potted plant"], "a {class}", " and "));
        Assert.Equal("a photo of a dog", ClipClassSelection.ClassPrompt("a photo of a {class}", "dog"));
        Assert.Equal(1, ClipClassSelection.ArgMax([0.1f, 0.5f, 0.5f]));
    }

    [Fact]
    public void Options_RejectAPromptWithoutTheClassPlaceholder()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClassPrefilterOptions { ClipPrompt = "a photo" }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new SegmentationOptions { Prefilter = new ClassPrefilterOptions { SupportMinimumArea = 1f } }.Validate());
    }

    [Fact]
    public void SupportPrefilter_KeepsClassesWinningEnoughOfTheFirstPass_ThenMatchesOnlyThose()
    {
        // First pass over both classes (PrototypeSegmenterTests' hand-worked scores): px0 cat (1 > dog 0.8 > bg 0.6),
        // px1 dog (1), px2 background (1), px3 dog (0.96): areas cat 1/4, dog 2/4, background 1/4.
        using var extractor = new BlockMeanExtractor();
        RgbImage image = BlockMeanExtractor.Image(2, 2, (200, 100, 100), (100, 200, 100), (100, 100, 200), (160, 180, 100));
        PrototypeModel model = PrototypeSegmenterTests.Model(PrototypeSegmenterTests.SharedPrototypes);
        var options = new SegmentationOptions { ShortSide = 0, Windows = [], IncludeFullImage = true };
        var prefilter = new SupportEvidencePrefilter(new ClassPrefilterOptions { Kind = ClassPrefilterKind.Support, SupportMinimumArea = 0.3f });
        var segmenter = new PrototypeSegmenter(model, [extractor], options, prefilter);

        SegmentationResult result = segmenter.Segment(image, includeScores: false, TestContext.Current.CancellationToken);

        ClassPrefilterDecision decision = Assert.IsType<ClassPrefilterDecision>(result.Prefilter);
        Assert.Equal("support", decision.Method);
        Assert.Equal([1], decision.Kept);
        Assert.Equal([0.25f, 0.5f], decision.Scores);
        // Second pass, dog only (background = dog's background prototype (0.6, 0, 0.8) alone): px0 dog 0.8 > bg 0.6;
        // px2 bg 0.8 > dog 0; px1, px3 dog.
        Assert.Equal([2, 2, 0, 2], result.Labels.Labels);

        // At 0.2 both classes pass and the segmentation is the plain one.
        var lenient = new PrototypeSegmenter(model, [extractor], options, new SupportEvidencePrefilter(new ClassPrefilterOptions { SupportMinimumArea = 0.2f }));
        SegmentationOutcome outcome = lenient.SegmentWithPrefilter(image, TestContext.Current.CancellationToken);
        Assert.Equal([1, 2, 0, 2], outcome.Labels.Labels);
        Assert.Equal([1, 2], outcome.Prefilter!.Kept);
        Assert.Empty(outcome.Prefilter.Dropped);
        Assert.True(float.IsNaN(outcome.Prefilter.Scores[0]));
    }

    [Fact]
    public void SupportPrefilter_SharedBackground_TakesFirstPassCellsOnly()
    {
        // The first pass of the test above, with a shared background part (0.6, 0.8, 0): px3 (unit (0.6, 0.8, 0)) now
        // scores background 1 against dog's 0.96, so the areas are cat 1/4, dog 1/4 (background 2/4). The second pass does
        // not use the part: with both classes kept (area 0.2) px3 is dog again.
        using var extractor = new BlockMeanExtractor();
        RgbImage image = BlockMeanExtractor.Image(2, 2, (200, 100, 100), (100, 200, 100), (100, 100, 200), (160, 180, 100));
        PrototypeModel plain = PrototypeSegmenterTests.Model(PrototypeSegmenterTests.SharedPrototypes);
        var model = new PrototypeModel(plain.ClassNames, plain.IsStuff, [], plain.Banks, plain.FitOptions, new SharedBackground("block", 3, [0.6f, 0.8f, 0f]));
        var prefilter = new ClassPrefilterOptions { Kind = ClassPrefilterKind.Support, SupportMinimumArea = 0.2f, SupportSharedBackground = true };
        SegmentationOutcome Run(PrototypeModel m, ClassPrefilterOptions p) =>
            new PrototypeSegmenter(m, [extractor], new SegmentationOptions { ShortSide = 0, Windows = [], IncludeFullImage = true, Prefilter = p }, new SupportEvidencePrefilter(p))
                .SegmentWithPrefilter(image, TestContext.Current.CancellationToken);

        // Scores in label terms (background first, NaN).
        SegmentationOutcome shared = Run(model, prefilter);
        Assert.Equal([0.25f, 0.25f], shared.Prefilter!.Scores.Skip(1));
        Assert.Equal([1, 2], shared.Prefilter.Kept);
        Assert.Equal([1, 2, 0, 2], shared.Labels.Labels);

        // Turned off, or a model without parts: the areas of the test above.
        Assert.Equal([0.25f, 0.5f], Run(model, prefilter with { SupportSharedBackground = false }).Prefilter!.Scores.Skip(1));
        Assert.Equal([0.25f, 0.5f], Run(plain, prefilter).Prefilter!.Scores.Skip(1));

        // At 0.3 the part decides: without it dog (0.5) is kept alone; with it neither class reaches 0.3 and only the
        // pre-filter's top class stays.
        Assert.Equal([2], Run(model, prefilter with { SupportMinimumArea = 0.3f, SupportSharedBackground = false }).Prefilter!.Kept);
        Assert.Single(Run(model, prefilter with { SupportMinimumArea = 0.3f }).Prefilter!.Kept);
    }

    [Fact]
    public void SupportImageShares_CountEachImageOnce_WhateverItsTags()
    {
        // Images a (cat, dog), b (cat), c (cat), d (bird): 4 images; cat in 3, dog in 1, bird in 1.
        PrototypeModel model = WithSupport(["cat", "dog", "bird"], [(0, "a"), (1, "a"), (0, "b"), (0, "c"), (2, "d")]);
        Assert.Equal([0.75, 0.25, 0.25], model.SupportImageShares);
        Assert.Equal(4, model.SupportImageCount);
        Assert.Equal([0.0, 0.0], WithSupport(["cat", "dog"], []).SupportImageShares);
    }

    [Fact]
    public void AreaThresholds_FollowTheTagShares_HandWorked()
    {
        // Shares 0.75, 0.25, 0.5 and a stuff class (0.25, out of the mean): mean 0.5. Prior 1: 0.15 x 0.5 / share.
        float[] t = SupportEvidencePrefilter.AreaThresholds(0.15f, 1f, [0.75, 0.25, 0.5, 0.25], [false, false, false, true]);
        Assert.Equal([0.1f, 0.3f, 0.15f, 0.3f], t, (a, b) => Math.Abs(a - b) < 1e-6f);

        // Prior 2: squared ratios.
        float[] squared = SupportEvidencePrefilter.AreaThresholds(0.15f, 2f, [0.75, 0.25, 0.5, 0.25], [false, false, false, true]);
        Assert.Equal([0.15f * 4 / 9, 0.6f, 0.15f, 0.6f], squared, (a, b) => Math.Abs(a - b) < 1e-6f);

        // A class with no support image counts as the rarest (share 0.25 here): mean (0.75 + 0.25 + 0.25) / 3.
        float[] missing = SupportEvidencePrefilter.AreaThresholds(0.15f, 1f, [0.75, 0.25, 0], [false, false, false]);
        Assert.Equal(0.15f * (1.25f / 3) / 0.25f, missing[2], 1e-6f);

        // Prior 0, no shares, or equal shares: the one threshold.
        Assert.All(SupportEvidencePrefilter.AreaThresholds(0.15f, 0f, [0.75, 0.25], [false, false]), v => Assert.Equal(0.15f, v));
        Assert.All(SupportEvidencePrefilter.AreaThresholds(0.15f, 1f, null, [false, false]), v => Assert.Equal(0.15f, v));
        Assert.All(SupportEvidencePrefilter.AreaThresholds(0.15f, 1f, [0.5, 0.5], [false, false]), v => Assert.Equal(0.15f, v, 1e-6f));
        Assert.Throws<ArgumentException>(() => SupportEvidencePrefilter.AreaThresholds(0.15f, 1f, [0.5], [false, false]));
    }

    [Fact]
    public void SupportPrefilter_TagPrior_KeepsAClassTheSupportShowsOften()
    {
        // The first pass of the tests above: areas cat 1/4, dog 2/4. At 0.3 alone only dog stays. The support shows cat in
        // 3 of 3 images, dog in 1 (shares 1 and 1/3, mean 2/3): with prior 1 cat needs 0.3 x (2/3) / 1 = 0.2 and stays;
        // dog would need 0.6 but is the top class. The second pass is then the plain segmentation.
        using var extractor = new BlockMeanExtractor();
        RgbImage image = BlockMeanExtractor.Image(2, 2, (200, 100, 100), (100, 200, 100), (100, 100, 200), (160, 180, 100));
        PrototypeModel plain = PrototypeSegmenterTests.Model(PrototypeSegmenterTests.SharedPrototypes);
        PrototypeModel model = WithSupport(plain, [(0, "a"), (1, "a"), (0, "b"), (0, "c")]);
        var prefilter = new ClassPrefilterOptions { Kind = ClassPrefilterKind.Support, SupportMinimumArea = 0.3f };
        SegmentationOutcome Run(ClassPrefilterOptions p) =>
            new PrototypeSegmenter(model, [extractor], new SegmentationOptions { ShortSide = 0, Windows = [], IncludeFullImage = true, Prefilter = p }, new SupportEvidencePrefilter(p))
                .SegmentWithPrefilter(image, TestContext.Current.CancellationToken);

        Assert.Equal([2], Run(prefilter).Prefilter!.Kept);
        SegmentationOutcome withPrior = Run(prefilter with { SupportTagPrior = 1f });
        Assert.Equal([1, 2], withPrior.Prefilter!.Kept);
        Assert.Equal([1, 2, 0, 2], withPrior.Labels.Labels);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(-0.5f)]
    [InlineData(5f)]
    public void SupportTagPrior_OutOfRange_IsRefusedByName(float prior)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new ClassPrefilterOptions { SupportTagPrior = prior }.Validate());
        Assert.Equal("SupportTagPrior", error.ParamName);
    }

    private static PrototypeModel WithSupport(string[] classes, (int Class, string Source)[] supports)
    {
        var bank = new PrototypeBank("block", 3, new float[classes.Length * 3], classes.Select((_, c) => new PrototypeOrigin(c, PrototypeRole.Foreground, PrototypeLevels.ClassMean, -1, -1, 1)).ToArray());
        return new PrototypeModel(classes, new bool[classes.Length], Records(supports), [bank], new PrototypeFitOptions());
    }

    private static PrototypeModel WithSupport(PrototypeModel model, (int Class, string Source)[] supports)
        => new(model.ClassNames, model.IsStuff, Records(supports), model.Banks, model.FitOptions, model.SharedBackground);

    private static SupportImageRecord[] Records((int Class, string Source)[] supports)
        => supports.Select(s => new SupportImageRecord(s.Class, s.Source + ".jpg", 1, 1, [true], [false])).ToArray();

    [Fact]
    public void SupportPrefilter_NeverDropsEveryClass_NorDecidesStuff()
    {
        var evidence = new ClassEvidence([0.01f, 0.02f, 0.5f], [0.3f, 0.4f, 0.9f], 0.47f);
        var input = new ClassPrefilterInput(BlockMeanExtractor.Image(1, 1, (0, 0, 0)), ["a", "b", "sky"], [false, false, true], () => evidence);
        ClassPrefilterDecision decision = new SupportEvidencePrefilter().Select(input, TestContext.Current.CancellationToken);
        Assert.Equal([1], decision.Kept);
        Assert.True(float.IsNaN(decision.Scores[2]));
    }

    [Fact]
    public void FirstPassEvidence_BackgroundBias_HandsNarrowWinsToTheBackground()
    {
        // 4 cells, labels background, a, b. Cell 0: a beats background by 0.02; cell 1: by 0.10; cell 2: b by 0.04;
        // cell 3: background wins. A bias of 0.05 turns cells 0 and 2 to background and leaves cell 1 to a.
        float[] grid =
        [
            0.30f, 0.30f, 0.20f, 0.50f, // background
            0.32f, 0.40f, 0.10f, 0.10f, // a
            0.00f, 0.00f, 0.24f, 0.00f, // b
        ];

        ClassEvidence plain = FirstPassEvidence.FromGrids([(grid, 4)], 3, 0f);
        ClassEvidence biased = FirstPassEvidence.FromGrids([(grid, 4)], 3, 0f, backgroundBias: 0.05f);

        Assert.Equal([0.5f, 0.25f], plain.Area);
        Assert.Equal(0.25f, plain.BackgroundArea);
        Assert.Equal([0.25f, 0f], biased.Area);
        Assert.Equal(0.75f, biased.BackgroundArea);
        Assert.Equal(plain.MaxScore, biased.MaxScore); // the bias moves areas only
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(1.5f)]
    public void SupportBackgroundBias_OutOfRange_IsRefusedByName(float bias)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new ClassPrefilterOptions { SupportBackgroundBias = bias }.Validate());
        Assert.Equal("SupportBackgroundBias", error.ParamName);
    }
}
