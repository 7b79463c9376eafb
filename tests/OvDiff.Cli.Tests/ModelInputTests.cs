using OvDiff.Core.Images;
using OvDiff.Imaging;
using OvDiff.Testing;

namespace OvDiff.Cli.Tests;

/// <summary>
/// fit and segment on careless and hostile input: elongated and huge-header images (refused naming the file, skippable),
/// class names that differ only in case, images listed twice, and segment's label order and label table.
/// </summary>
public sealed class ModelInputTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>
{
    [Fact]
    public void Fit_ElongatedSupportImage_RefusedUpFront_SkippedWithSkipBad()
    {
        using var temp = new TempFolder();
        Cli.WriteImage(temp.Combine("support", "cat", "a.jpg"), 96, 64, seed: 1);
        Cli.WriteImage(temp.Combine("support", "cat", "wide.png"), 2000, 3, seed: 2);
        Cli.WriteImage(temp.Combine("support", "dog", "b.jpg"), 96, 64, seed: 3);

        string error = Cli.Fails("fit", "--support", temp.Combine("support"), "--out", temp.Combine("m.zip"), "--levels", "mean");
        Assert.Contains($"support image {temp.Combine("support", "cat", "wide.png")}: the 2000x3 image is too elongated", error, StringComparison.Ordinal);
        Assert.Contains("--skip-bad", error, StringComparison.Ordinal);

        (int exit, _, string stderr) = Cli.Invoke("fit", "--support", temp.Combine("support"), "--out", temp.Combine("m.zip"), "--levels", "mean", "--skip-bad");
        Assert.Equal(0, exit);
        Assert.Contains("warning: skipped support image", stderr, StringComparison.Ordinal);
        Assert.Contains("2 support images", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Segment_BadImages_NamedOrSkipped_LabelTableWritten_SummaryPrinted()
    {
        using var temp = new TempFolder();
        string good = temp.Combine("good.jpg"), empty = temp.Combine("empty.jpg"), wide = temp.Combine("wide.png");
        Cli.WriteImage(good, 96, 64);
        Cli.WriteImage(wide, 2000, 3);
        File.WriteAllBytes(empty, []);

        string error = Cli.Fails("segment", good, wide, "--model", tiny.ModelPath, "--out", temp.Combine("strict"));
        Assert.Contains($"{wide}: the 2000x3 image is too elongated", error, StringComparison.Ordinal);

        (int exit, _, string stderr) = Cli.Invoke("segment", good, empty, wide, "--model", tiny.ModelPath, "--out", temp.Combine("out"), "--skip-bad", "--no-overlay");
        Assert.Equal(0, exit);
        Assert.Contains($"warning: skipped {empty}: empty file", stderr, StringComparison.Ordinal);
        Assert.Contains($"warning: skipped {wide}:", stderr, StringComparison.Ordinal);
        Assert.Contains("Wrote 1 label map (the model's label order;", stderr, StringComparison.Ordinal);
        Assert.Contains("skipped 2 bad images", stderr, StringComparison.Ordinal);
        Assert.True(File.Exists(temp.Combine("out", "good.png")));
        Assert.Equal(["background", "cat", "dog"], LabelTable.Read(temp.Combine("out")));

        (int noneExit, _, string noneErr) = Cli.Invoke("segment", empty, "--model", tiny.ModelPath, "--out", temp.Combine("none"), "--skip-bad");
        Assert.Equal(1, noneExit);
        Assert.Contains("error: No image could be segmented (1 skipped)", noneErr, StringComparison.Ordinal);
    }

    [Fact]
    public void Segment_ClassesFrom_WritesTheDatasetsOrder()
    {
        // The model numbers cat = 1, dog = 2; a dataset listing dog first gets dog = 1, cat = 2 in the PNGs.
        using var temp = new TempFolder();
        string image = temp.Combine("x.jpg");
        Cli.WriteImage(image, 96, 64, seed: 2);
        string config = temp.Combine("c.json");
        File.WriteAllText(config, """{ "dataset": { "root": "none", "classes": ["background", "Dog", "cat", "horse"] } }""");

        Cli.Run("segment", image, "--model", tiny.ModelPath, "--out", temp.Combine("model"), "--no-overlay");
        Cli.Run("segment", image, "--model", tiny.ModelPath, "--out", temp.Combine("dataset"), "--no-overlay", "--classes-from", config);

        byte[] inModelOrder = new LabelPngReader().Read(temp.Combine("model", "x.png")).Labels;
        byte[] inDatasetOrder = new LabelPngReader().Read(temp.Combine("dataset", "x.png")).Labels;
        Assert.Equal(inModelOrder.Select(l => l switch { 1 => (byte)2, 2 => (byte)1, _ => l }), inDatasetOrder);
        Assert.Contains(inModelOrder, l => l != 0);
        Assert.Equal(["background", "Dog", "cat", "horse"], LabelTable.Read(temp.Combine("dataset")));
    }

    [Fact]
    public void SupportList_CaseOnlyTwins_AndAnImageListedTwice_AreErrorsNamingBothLines()
    {
        using var temp = new TempFolder();
        Cli.WriteImage(temp.Combine("a.jpg"), 64, 48);
        Cli.WriteImage(temp.Combine("b.jpg"), 64, 48, seed: 2);
        File.WriteAllLines(temp.Combine("case.csv"), ["image,classes", "a.jpg,cat", "b.jpg,Cat"]);
        File.WriteAllLines(temp.Combine("twice.csv"), ["image,classes", "a.jpg,cat", "b.jpg,dog", "a.jpg,cat"]);

        string caseError = Cli.Fails("fit", "--support", temp.Combine("case.csv"), "--out", temp.Combine("m.zip"));
        string twiceError = Cli.Fails("fit", "--support", temp.Combine("twice.csv"), "--out", temp.Combine("m.zip"));

        Assert.Contains($"class 'Cat' ('{temp.Combine("case.csv")}' line 3) and class 'cat' ('{temp.Combine("case.csv")}' line 2) differ only in case", caseError, StringComparison.Ordinal);
        Assert.Contains("line 4: image", twiceError, StringComparison.Ordinal);
        Assert.Contains("is listed again (first on line 2)", twiceError, StringComparison.Ordinal);
    }

    [Fact]
    public void Fit_ClassOptionIgnoresCase_SetOverridesTheStoredProtocol()
    {
        using var temp = new TempFolder();
        string model = temp.Combine("m.zip");
        Cli.Run("fit", "--support", Path.Combine(tiny.Folder, "support"), "--out", model, "--levels", "mean", "--class", "DOG", "--set", "protocol.shortSide=320");

        using OvDiff.ML.OvDiffModel loaded = OvDiff.ML.OvDiffModel.Load(new Microsoft.ML.MLContext(seed: 0), model);
        Assert.Equal(["dog"], loaded.State.Model.ClassNames);
        Assert.Equal(320, loaded.State.Segmentation.ShortSide);
    }

    [Fact]
    public void Fit_FromARelativeSupportPath_StoresRootedPaths_MasksWorkFromAnywhere_AndSaySo()
    {
        using var temp = new TempFolder();
        Cli.WriteImage(temp.Combine("support", "cat", "a.jpg"), 96, 64, seed: 1);
        Cli.WriteImage(temp.Combine("support", "dog", "b.jpg"), 96, 64, seed: 2);
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, temp.Combine("support"));
        Assert.False(Path.IsPathRooted(relative));

        Cli.Run("fit", "--support", relative, "--out", temp.Combine("m.zip"), "--levels", "mean");
        using (OvDiff.ML.OvDiffModel loaded = OvDiff.ML.OvDiffModel.Load(new Microsoft.ML.MLContext(seed: 0), temp.Combine("m.zip")))
        {
            Assert.All(loaded.State.Model.SupportImages, s => Assert.True(Path.IsPathRooted(s.Source), s.Source));
        }

        (int exit, _, string stderr) = Cli.Invoke("masks", "--model", temp.Combine("m.zip"), "--out", temp.Combine("masks"));
        Assert.Equal(0, exit);
        Assert.Contains($"Wrote 2 mask overlays (foreground red, background green) to {temp.Combine("masks")}", stderr, StringComparison.Ordinal);
        Assert.True(File.Exists(temp.Combine("masks", "cat", "a.masks.png")));
    }

    [Fact]
    public void Fit_SupportFolderWithAHeicPhotoAndACutJpeg_NamesThem_SkippedWithSkipBad()
    {
        // An iPhone's HEIC beside JPEGs (was: left out without a word, fitting fewer images than the folder holds), and a
        // JPEG cut short whose header is sound (was: --skip-bad stopped the fit halfway on it).
        using var temp = new TempFolder();
        Cli.WriteImage(temp.Combine("support", "cat", "a.jpg"), 96, 64, seed: 1);
        Cli.WriteImage(temp.Combine("support", "dog", "b.jpg"), 96, 64, seed: 2);
        string heic = temp.Combine("support", "cat", "IMG_0042.HEIC");
        File.WriteAllBytes(heic, [0, 0, 0, 24, .. "ftypheic"u8, 0, 0, 0, 0, .. "mif1heic"u8, .. new byte[64]]);
        string cut = temp.Combine("support", "dog", "cut.jpg");
        Cli.WriteImage(cut, 96, 64, seed: 3);
        byte[] whole = File.ReadAllBytes(cut);
        File.WriteAllBytes(cut, [.. whole[..(whole.Length * 6 / 10)], 0xFF, 0xD9]);

        string error = Cli.Fails("fit", "--support", temp.Combine("support"), "--out", temp.Combine("m.zip"), "--levels", "mean");
        Assert.Contains($"support image {heic}: a HEIC/HEIF image, a format OvDiff cannot decode", error, StringComparison.Ordinal);

        (int exit, _, string stderr) = Cli.Invoke("fit", "--support", temp.Combine("support"), "--out", temp.Combine("m.zip"), "--levels", "mean", "--skip-bad");
        Assert.Equal(0, exit);
        Assert.Contains($"warning: skipped support image {heic}", stderr, StringComparison.Ordinal);
        Assert.Contains($"warning: skipped support image {cut}: corrupt JPEG data", stderr, StringComparison.Ordinal);
        Assert.Contains("2 support images", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Segment_ImagesSmallerThanAFeatureCell_GetLabelMapsOfTheirOwnSize()
    {
        // 1x1, 8x8 and 12x4 are under one 32-pixel ResNet cell; the short side is scaled to 448 first, the labels back.
        using var temp = new TempFolder();
        (string Name, int Width, int Height)[] small = [("one.png", 1, 1), ("eight.jpg", 8, 8), ("strip.png", 12, 4)];
        foreach ((string name, int width, int height) in small)
        {
            Cli.WriteImage(temp.Combine(name), width, height, seed: width);
        }

        Cli.Run(["segment", .. small.Select(t => temp.Combine(t.Name)), "--model", tiny.ModelPath, "--out", temp.Combine("out")]);

        Assert.All(small, t => Assert.Equal((t.Width, t.Height), Size(new LabelPngReader().Read(temp.Combine("out", Path.GetFileNameWithoutExtension(t.Name) + ".png")))));
    }

    [Fact]
    public void PhonePhotoWithExifOrientation_SegmentedAndFittedUpright_StoredOrientationOnRequest()
    {
        // A 240x176 stored JPEG tagged "turn 90 clockwise" (EXIF 6) is a 176x240 portrait in every viewer. (Overlays
        // add a legend below the image, at least 160 wide: their width is the image's.)
        using var temp = new TempFolder();
        string stored = temp.Combine("stored.jpg");
        Cli.WriteImage(stored, 240, 176, seed: 4);
        string photo = temp.Combine("photo.jpg");
        File.WriteAllBytes(photo, ExifJpeg.WithOrientation(File.ReadAllBytes(stored), 6));

        (int exit, _, string stderr) = Cli.Invoke("segment", photo, "--model", tiny.ModelPath, "--out", temp.Combine("upright"));
        Assert.Equal(0, exit);
        Assert.Equal((176, 240), Size(new LabelPngReader().Read(temp.Combine("upright", "photo.png"))));
        Assert.Equal(176, ImageDecoder.Decode(temp.Combine("upright", "photo.overlay.png")).Width);
        Assert.Contains("1 image was turned upright by its EXIF orientation", stderr, StringComparison.Ordinal);

        (exit, _, stderr) = Cli.Invoke("segment", photo, "--model", tiny.ModelPath, "--out", temp.Combine("stored"), "--stored-orientation");
        Assert.Equal(0, exit);
        Assert.Equal((240, 176), Size(new LabelPngReader().Read(temp.Combine("stored", "photo.png"))));
        Assert.DoesNotContain("upright", stderr, StringComparison.Ordinal);

        // fit pools the support photo upright: its mask grid is a portrait one, and masks draws it over the upright photo.
        Cli.WriteImage(temp.Combine("support", "dog", "d.jpg"), 96, 64, seed: 2);
        Directory.CreateDirectory(temp.Combine("support", "cat"));
        File.Copy(photo, temp.Combine("support", "cat", "c.jpg"));
        Cli.Run("fit", "--support", temp.Combine("support"), "--out", temp.Combine("m.zip"), "--levels", "mean");
        using (OvDiff.ML.OvDiffModel loaded = OvDiff.ML.OvDiffModel.Load(new Microsoft.ML.MLContext(seed: 0), temp.Combine("m.zip")))
        {
            var cat = loaded.State.Model.SupportImages.Single(s => s.Source.EndsWith("c.jpg", StringComparison.Ordinal));
            Assert.True(cat.MaskHeight > cat.MaskWidth, $"{cat.MaskWidth}x{cat.MaskHeight}");
        }

        Cli.Run("masks", "--model", temp.Combine("m.zip"), "--out", temp.Combine("masks"));
        Assert.Equal(176, ImageDecoder.Decode(temp.Combine("masks", "cat", "c.masks.png")).Width);
    }

    private static (int Width, int Height) Size(LabelMap map) => (map.Width, map.Height);
}
