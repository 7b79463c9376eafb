using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;

namespace OvDiff.Core.Tests.Segmentation;

/// <summary>
/// Images too elongated or too large are refused before the allocation they would cause (a 2000x3 image once became
/// 298,666x448 and took 21 GB); class names compare trimmed and ignoring case, with case-only twins an error.
/// </summary>
public sealed class SizeBoundAndClassNamingTests
{
    private static readonly (int Class, PrototypeRole Role, float[] Vector)[] Prototypes =
    [
        (0, PrototypeRole.Foreground, [1f, 0f, 0f]),
        (1, PrototypeRole.Foreground, [0f, 1f, 0f]),
    ];

    [Fact]
    public void Segment_ElongatedImage_RefusedNamingSizesAndBound_BeforeResizing()
    {
        using var extractor = new BlockMeanExtractor();
        var segmenter = new PrototypeSegmenter(PrototypeSegmenterTests.Model(Prototypes), [extractor], new SegmentationOptions { Windows = [] });
        RgbImage wide = BlockMeanExtractor.Image(2000, 3, Enumerable.Repeat(((byte)200, (byte)100, (byte)100), 6000).ToArray());

        var error = Assert.Throws<ImageTooLargeException>(() => segmenter.Segment(wide, TestContext.Current.CancellationToken));

        Assert.Contains("2000x3", error.Message, StringComparison.Ordinal);
        Assert.Contains("298666x448", error.Message, StringComparison.Ordinal);   // torchvision's truncating size
        Assert.Contains("4096", error.Message, StringComparison.Ordinal);
        Assert.Contains("MaxLongSide", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, extractor.Calls);
    }

    [Fact]
    public void Segment_WithinTheBound_Segments_AndTheBoundIsAnOption()
    {
        using var extractor = new BlockMeanExtractor();
        RgbImage panorama = BlockMeanExtractor.Image(40, 10, Enumerable.Repeat(((byte)200, (byte)100, (byte)100), 400).ToArray());
        var options = new SegmentationOptions { ShortSide = 10, Windows = [], MaxLongSide = 40 };

        Assert.Equal(400, new PrototypeSegmenter(PrototypeSegmenterTests.Model(Prototypes), [extractor], options).Segment(panorama, TestContext.Current.CancellationToken).PixelCount);
        Assert.Throws<ImageTooLargeException>(() => new PrototypeSegmenter(PrototypeSegmenterTests.Model(Prototypes), [extractor], options with { MaxLongSide = 39 }).Segment(panorama, TestContext.Current.CancellationToken));
        Assert.Throws<ArgumentOutOfRangeException>(() => (options with { MaxLongSide = 0 }).Validate());
    }

    [Fact]
    public void Fit_ElongatedSupportImage_RefusedNamingIt()
    {
        using var extractor = new BlockMeanExtractor(stride: 4);
        RgbImage wide = BlockMeanExtractor.Image(400, 4, Enumerable.Repeat(((byte)200, (byte)100, (byte)100), 1600).ToArray());
        var options = new PrototypeFitOptions { SupportShortSide = 16, Split = ForegroundSplitMode.None, Levels = PrototypeLevels.ClassMean, MaxLongSide = 1000 };

        var error = Assert.Throws<ImageTooLargeException>(() => PrototypeFitter.Fit([new SupportExample("cat", "wide.png", _ => wide)], ["cat"], [extractor], options, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains("'wide.png'", error.Message, StringComparison.Ordinal);
        Assert.Contains("1600x16", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, extractor.Calls);
    }

    [Fact]
    public void Fit_LabelsDifferingInCaseAndSpaces_AreTheListedClass()
    {
        using var extractor = new BlockMeanExtractor(stride: 4);
        RgbImage image = BlockMeanExtractor.Image(16, 16, Enumerable.Repeat(((byte)200, (byte)100, (byte)100), 256).ToArray());
        var options = new PrototypeFitOptions { SupportShortSide = 16, Split = ForegroundSplitMode.None, Levels = PrototypeLevels.ClassMean, StuffClasses = ["SKY"] };

        PrototypeModel model = PrototypeFitter.Fit(
            [new SupportExample(" Cat", "a.png", _ => image), new SupportExample("sky", "b.png", _ => image)], ["cat", " sky "], [extractor], options, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(["cat", "sky"], model.ClassNames);
        Assert.Equal([false, true], model.IsStuff);
        Assert.Throws<ArgumentException>(() => PrototypeFitter.Fit([new SupportExample("cat", "a.png", _ => image)], ["cat", "CAT"], [extractor], options with { StuffClasses = [] }, cancellationToken: TestContext.Current.CancellationToken));
    }

    [Fact]
    public void ClassListBuilder_CaseOnlyTwins_ErrorNamesBothSpellingsAndPlaces_SameSpellingIsOneClass()
    {
        var builder = new ClassListBuilder();
        Assert.Equal("cat", builder.Add("cat", "s.csv line 2"));
        Assert.Equal("dog", builder.Add(" dog ", "s.csv line 3"));
        Assert.Equal("cat", builder.Add("cat ", "s.csv line 4"));

        var error = Assert.Throws<InvalidDataException>(() => builder.Add("Cat", "s.csv line 5"));

        Assert.Equal("class 'Cat' (s.csv line 5) and class 'cat' (s.csv line 2) differ only in case; class names are compared ignoring case, so spell them the same way.", error.Message);
        Assert.Equal(["cat", "dog"], builder.Names);
        Assert.Throws<InvalidDataException>(() => builder.Add("  ", "s.csv line 6"));
    }

    [Fact]
    public void MapByName_RenumbersByName_IgnoringCase_MissingIsTheCallersError()
    {
        byte[] map = ClassNaming.MapByName(["background", "Boat", "aeroplane"], ["background", "aeroplane", "bicycle", "boat"], n => new KeyNotFoundException(n));

        Assert.Equal([0, 3, 1, 3, 4], map[..5]);   // labels past the list map to themselves
        Assert.Equal(255, map[255]);
        Assert.Equal("zebra", Assert.Throws<KeyNotFoundException>(() => ClassNaming.MapByName(["background", "zebra"], ["background"], n => new KeyNotFoundException(n))).Message);
    }

    [Fact]
    public void MinimumClassArea_AClassBroughtUnderTheBoundByReassignment_IsDroppedToo()
    {
        // 10 pixels, labels background, a, b, c. a wins pixel 0 only (10 % < 15 %), b is second there and wins nowhere
        // else, c wins pixels 1..9. Dropping a hands pixel 0 to b, now at 10 %: one pass left b standing; b goes too and
        // the pixel falls to background.
        const int pixels = 10;
        var scores = new float[4 * pixels];
        for (int i = 0; i < pixels; i++)
        {
            scores[i] = 0.1f;                                  // background
            scores[pixels + i] = i == 0 ? 0.9f : 0f;           // a
            scores[(2 * pixels) + i] = i == 0 ? 0.8f : 0f;     // b
            scores[(3 * pixels) + i] = i == 0 ? 0f : 0.7f;     // c
        }

        LabelMap labels = RowLabelling.Label(new PlanarScoreRows(scores, 1, pixels), 4, pixels, 1, 0f, 0.15f, null, out bool[] active);

        Assert.Equal([0, 3, 3, 3, 3, 3, 3, 3, 3, 3], labels.Labels);
        Assert.Equal([true, false, false, true], active);
    }

    [Fact]
    public void Explain_ListsOnlyThePrototypesTheSegmenterMatches()
    {
        (int Class, PrototypeRole Role, float[] Vector)[] prototypes =
        [
            (0, PrototypeRole.Foreground, [1f, 0f, 0f]),
            (0, PrototypeRole.Background, [0.9f, 0.1f, 0f]),
            (1, PrototypeRole.Foreground, [0f, 1f, 0f]),
        ];
        using var extractor = new BlockMeanExtractor();
        RgbImage image = BlockMeanExtractor.Image(1, 1, ((byte)200, (byte)100, (byte)100));
        var options = new SegmentationOptions { ShortSide = 0, Windows = [] };

        var withBackground = new PrototypeSegmenter(PrototypeSegmenterTests.Model(prototypes), [extractor], options).Explain(image, 0, 0, top: 3, TestContext.Current.CancellationToken);
        var withoutBackground = new PrototypeSegmenter(PrototypeSegmenterTests.Model(prototypes), [extractor], options with { UseBackgroundPrototypes = false }).Explain(image, 0, 0, top: 3, TestContext.Current.CancellationToken);

        Assert.Equal([0, 1, 2], withBackground.Select(m => m.PrototypeIndex));
        Assert.Equal([0, 2], withoutBackground.Select(m => m.PrototypeIndex));   // bank rows, background left out
    }
}
