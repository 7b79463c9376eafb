using OvDiff.Imaging.Support;
using OvDiff.Testing;

namespace OvDiff.Imaging.Tests;

/// <summary>
/// Support lists and label tables as users write them (BOM, CRLF, blank lines, quoted commas) are read; a row with a
/// field too many or too few, or a quote left open, is one error naming the file and line instead of a class silently
/// dropped or the rest of the file swallowed.
/// </summary>
public sealed class SupportListParsingTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public SupportListParsingTests()
    {
        foreach (string name in new[] { "a.jpg", "b.jpg" })
        {
            File.WriteAllBytes(_temp.Combine(name), []);
        }
    }

    public void Dispose() => _temp.Dispose();

    private string Write(string text)
    {
        string path = _temp.Combine("support.csv");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void BomCrlfBlankLinesAndQuotedCommas_AreRead()
    {
        var list = new TaggedImageListSupportSource(Write("\uFEFFimage,classes\r\n\"a.jpg\",horse | person\r\n\r\nb.jpg,\"boat, small\"\r\n"));
        Assert.Equal(["horse", "person", "boat, small"], list.ClassNames);
        Assert.Equal(2, list.Rows.Count);
    }

    [Theory]
    [InlineData("image,classes\na.jpg,horse,person\nb.jpg,boat\n", "line 2: 3 fields where the header 'image,classes' has 2; separate an image's classes with '|'")]
    [InlineData("image,classes\na.jpg,horse\nb.jpg\n", "line 3: 1 fields where the header 'image,classes' has 2")]
    [InlineData("image,classes\na.jpg,\"horse\nb.jpg,boat\n", "line 2: malformed CSV")]
    [InlineData("image,classes\na.jpg,hor\"se\nb.jpg,boat\n", "line 2: malformed CSV")]
    public void BadRows_AreOneErrorNamingFileAndLine(string text, string expected)
    {
        string path = Write(text);
        var error = Assert.Throws<InvalidDataException>(() => new TaggedImageListSupportSource(path));
        Assert.Contains($"'{path}' {expected}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LabelTable_WithAFieldTooMany_IsAnErrorNamingTheLine()
    {
        LabelTable.Write(_temp.Path, ["background", "boat, small", "cat"]);
        Assert.Equal(["background", "boat, small", "cat"], LabelTable.Read(_temp.Path));
        File.WriteAllText(_temp.Combine(LabelTable.FileName), "index,name\n0,background\n1,boat, small\n");
        var error = Assert.Throws<InvalidDataException>(() => LabelTable.Read(_temp.Path));
        Assert.Contains("labels.csv' line 3: 3 fields where the header 'index,name' has 2", error.Message, StringComparison.Ordinal);
    }
}
