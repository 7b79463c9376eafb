using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;
using OvDiff.Imaging.Support;
using OvDiff.Testing;

namespace OvDiff.ML.Tests;

/// <summary>Support images with several tags reach the fitter as one image with all its tags, from a data view or a tagged list.</summary>
public sealed class SupportTagsTests
{
    private static SupportExample Row(string label, string source) => new(label, source, _ => new RgbImage(1, 1, new byte[3]));

    [Fact]
    public void Rows_OfOneImageFile_AndBarSeparatedLabels_BecomeOneMultiTagImage()
    {
        List<SupportExample> merged = OvDiffSegmentEstimator.MergeTags(
            [Row("horse", "a.jpg"), Row("cat", "b.jpg"), Row("person", "a.jpg"), Row("horse", "a.jpg"), Row("dog | cat", "c.jpg")],
            sameFileSameImage: true);

        Assert.Equal(["a.jpg", "b.jpg", "c.jpg"], merged.Select(e => e.Source));
        Assert.Equal("horse", merged[0].ClassName);
        Assert.Equal(["person"], merged[0].AlsoShows);
        Assert.Empty(merged[1].AlsoShows);
        Assert.Equal("dog", merged[2].ClassName);
        Assert.Equal(["cat"], merged[2].AlsoShows);

        // Encoded images have no file to match: each row stays one image.
        Assert.Equal(2, OvDiffSegmentEstimator.MergeTags([Row("horse", "support row 0"), Row("person", "support row 0")], sameFileSameImage: false).Count);
    }

    [Fact]
    public void TaggedList_KeepsEveryTag_AndUsesAnImageWhileOneOfItsClassesIsUnderTheCap()
    {
        using var temp = new TempFolder();
        foreach (string name in new[] { "a.jpg", "b.jpg", "c.jpg" })
        {
            File.WriteAllBytes(Path.Combine(temp.Path, name), []);
        }

        string csv = Path.Combine(temp.Path, "support.csv");
        File.WriteAllText(csv, "image,classes\na.jpg,horse|person\nb.jpg,person\nc.jpg,person|horse\n");

        // At most 1 per class: a.jpg (horse, person) is used; b.jpg (person, full) and c.jpg (both full) are not.
        var capped = new TaggedImageListSupportSource(csv, maxPerClass: 1);
        SupportExample only = Assert.Single(capped.Enumerate(TestContext.Current.CancellationToken));
        Assert.Equal("horse", only.ClassName);
        Assert.Equal(["person"], only.AlsoShows);

        var all = new TaggedImageListSupportSource(csv);
        Assert.Equal(["horse", "person"], all.ClassNames);
        Assert.Equal([["horse", "person"], ["person"], ["person", "horse"]], all.Enumerate(TestContext.Current.CancellationToken).Select(e => e.AlsoShows.Prepend(e.ClassName).ToArray()));
    }
}
