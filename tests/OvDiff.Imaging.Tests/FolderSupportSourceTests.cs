using OvDiff.Core.Segmentation;
using OvDiff.Imaging.Support;
using OvDiff.Testing;

namespace OvDiff.Imaging.Tests;

/// <summary>A folder per class, as users lay support images out; an image of several classes sits in each of their folders.</summary>
public sealed class FolderSupportSourceTests
{
    private static void Write(TempFolder temp, string relative, byte[] bytes)
    {
        string path = temp.Combine(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public void AnImageInSeveralClassFolders_IsOneSupportImageWithAllThoseClasses()
    {
        using var temp = new TempFolder();
        byte[] rider = [1, 2, 3], horse = [4, 5, 6], person = [7, 8, 9];
        Write(temp, "horse/1-rider.jpg", rider);
        Write(temp, "horse/2.jpg", horse);
        Write(temp, "person/copy-of-rider.jpg", rider);   // the same bytes under another name
        Write(temp, "person/3.jpg", person);
        Write(temp, "person/3-again.jpg", person);         // a duplicate within one folder is listed once

        SupportExample[] examples = [.. new FolderSupportSource(temp.Path).Enumerate(TestContext.Current.CancellationToken)];

        Assert.Equal(["horse", "person"], new FolderSupportSource(temp.Path).ClassNames);
        Assert.Equal(
            [("horse", "1-rider.jpg", "person"), ("horse", "2.jpg", ""), ("person", "3-again.jpg", "")],
            examples.Select(e => (e.ClassName, Path.GetFileName(e.Source), string.Join('|', e.AlsoShows))));
    }

    [Fact]
    public void DistinctImages_EachListedOnceUnderItsFolder()
    {
        using var temp = new TempFolder();
        Write(temp, "cat/a.jpg", [1]);
        Write(temp, "dog/b.jpg", [2]);

        SupportExample[] examples = [.. new FolderSupportSource(temp.Path, maxPerClass: 1).Enumerate(TestContext.Current.CancellationToken)];

        Assert.Equal([("cat", "a.jpg", 0), ("dog", "b.jpg", 0)], examples.Select(e => (e.ClassName, Path.GetFileName(e.Source), e.AlsoShows.Count)));
    }

    [Fact]
    public void EmptyFiles_AreNotOneImage()
    {
        // Two empty (broken) files have the same bytes but are not the same photo: each stays, so each is named when it fails.
        using var temp = new TempFolder();
        Write(temp, "cat/broken.jpg", []);
        Write(temp, "dog/broken-too.jpg", []);

        SupportExample[] examples = [.. new FolderSupportSource(temp.Path).Enumerate(TestContext.Current.CancellationToken)];

        Assert.Equal([("cat", "broken.jpg", 0), ("dog", "broken-too.jpg", 0)], examples.Select(e => (e.ClassName, Path.GetFileName(e.Source), e.AlsoShows.Count)));
    }

    [Fact]
    public void PhotosOfEveryImageExtension_AreListed_OtherFilesIgnored()
    {
        // GIF and .jfif (what browsers save) decode; HEIC, AVIF, TIFF do not, but are listed so that reading them names
        // them (fit checks every support image first) instead of fitting fewer images without a word.
        using var temp = new TempFolder();
        string[] images = ["a.JPG", "b.jfif", "c.gif", "d.heic", "e.avif", "f.tiff", "g.webp"];
        for (int i = 0; i < images.Length; i++)
        {
            Write(temp, "cat/" + images[i], [(byte)i]);
        }

        Write(temp, "cat/notes.txt", [100]);
        Write(temp, "cat/.DS_Store", [101]);

        SupportExample[] examples = [.. new FolderSupportSource(temp.Path).Enumerate(TestContext.Current.CancellationToken)];

        Assert.Equal(images, examples.Select(e => Path.GetFileName(e.Source)));
        var error = Assert.Throws<ImageFormatException>(() => ImageDecoder.CheckDecodable(temp.Combine("cat", "d.heic")));
        Assert.Equal(temp.Combine("cat", "d.heic"), error.FilePath);
    }
}
