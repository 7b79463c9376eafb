using System.Globalization;
using OvDiff.Core.Images;
using OvDiff.Imaging;
using OvDiff.Testing;

namespace OvDiff.Cli.Tests;

/// <summary>
/// The whole product through the command line on real VOC images: a tags-only support list, fit, segment, explain,
/// and eval of the fitted model (quick protocol so the test stays short).
/// </summary>
public sealed class ModelCommandsTests
{
    [Fact]
    public void SupportFitSegmentExplainEval_EndToEndOnVocMini()
    {
        string voc = SharedData.DatasetRootOverride("VOC2012");
        string config = Path.Combine(RepoPaths.Configs, "voc21-mini.json");
        using var temp = new TempFolder();

        _ = Cli.Run("support", "from-labels", "-c", config, "--set", voc, "--per-class", "1", "-o", temp.Path);
        string[] support = File.ReadAllLines(temp.Combine("support.csv"));
        Assert.Equal("image,classes", support[0]);
        Assert.InRange(support.Length - 1, 10, 20);   // one image per class, some images shared by two classes
        // Each image is listed with every class it shows (read back from its mask), not only the one it was picked for.
        string[] names = File.ReadAllLines(Path.Combine(SharedData.RequireFolder("VOC2012"), "classes.txt"));
        foreach (string line in support.Skip(1))
        {
            string[] fields = line.Split(',');
            string mask = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(fields[0]))!, "SegmentationClass", Path.GetFileNameWithoutExtension(fields[0]) + ".png");
            string[] present = [.. new LabelPngReader().Read(mask).Labels.Where(l => l is > 0 and < 255).Distinct().Order().Select(l => names[l])];
            Assert.Equal(present, fields[1].Split('|'));
        }

        Assert.Contains(support, line => line.Contains('|', StringComparison.Ordinal));
        string[] holdout = File.ReadAllLines(temp.Combine("holdout.txt"));
        Assert.DoesNotContain(holdout, id => support.Any(line => line.Contains(id + ".jpg", StringComparison.Ordinal)));

        // --config: the config's protocol becomes the model's inference default.
        string fitConfig = temp.Combine("fit.json");
        File.WriteAllText(fitConfig, $$"""{ "base": "{{config.Replace("\\", "/", StringComparison.Ordinal)}}", "protocol": { "shortSide": 320 } }""");
        string model = temp.Combine("model.zip");
        _ = Cli.Run("fit", "--support", temp.Combine("support.csv"), "--out", model, "--levels", "mean,image", "--config", fitConfig);
        Assert.True(new FileInfo(model).Length > 10_000);
        Assert.Equal(320, OvDiff.ML.OvDiffModel.Load(new Microsoft.ML.MLContext(seed: 0), model).State.Segmentation.ShortSide);

        string image = support[1].Split(',')[0];
        string segmented = temp.Combine("segmented");
        _ = Cli.Run("segment", image, "--model", model, "--out", segmented, "--scores");
        string stem = Path.Combine(segmented, Path.GetFileNameWithoutExtension(image));
        LabelMap labels = new LabelPngReader().Read(stem + ".png");
        Assert.Equal(ImageDecoder.ReadSize(image), (labels.Width, labels.Height));
        Assert.All(labels.Labels, l => Assert.InRange(l, 0, 20));
        Assert.Equal(ImageDecoder.ReadSize(image), (ImageDecoder.Decode(stem + ".overlay.png").Width, labels.Height));
        byte[] npy = File.ReadAllBytes(stem + ".scores.npy");
        string header = System.Text.Encoding.ASCII.GetString(npy, 10, BitConverter.ToUInt16(npy, 8));
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"'shape': (21, {labels.Height}, {labels.Width})"), header, StringComparison.Ordinal);
        Assert.Equal(10 + header.Length + (21L * labels.Width * labels.Height * 4), npy.LongLength);

        // Two inputs with one file name would overwrite each other's outputs: refused before any work.
        string twin = temp.Combine(Path.GetFileName(image));
        File.Copy(image, twin);
        string clash = Cli.Fails("segment", image, twin, "--model", model, "--out", temp.Combine("clash"));
        Assert.Contains(Path.GetFileNameWithoutExtension(image), clash, StringComparison.Ordinal);

        string explanation = Cli.Run("explain", image, "--model", model, "--x", "10", "--y", "10", "--top", "3");
        Assert.Contains("Pixel (10, 10)", explanation, StringComparison.Ordinal);
        Assert.Contains("support image", explanation, StringComparison.Ordinal);
        string prefiltered = Cli.Run("explain", image, "--model", model, "--x", "10", "--y", "10");
        Assert.Contains("Pre-filter support (", prefiltered, StringComparison.Ordinal);
        Assert.Contains("left out:", prefiltered, StringComparison.Ordinal);
        Assert.DoesNotContain("Pre-filter", Cli.Run("explain", image, "--model", model, "--x", "10", "--y", "10", "--prefilter", "none"), StringComparison.Ordinal);
        string outside = Cli.Fails("explain", image, "--model", model, "--x", "100000", "--y", "0");
        Assert.Contains($"outside {image}", outside, StringComparison.Ordinal);

        string report = temp.Combine("eval");
        _ = Cli.Run("eval", "-c", config, "--set", voc, "--model", model, "--out", report,
            "--set", $"dataset.splitFile={temp.Combine("holdout.txt")}", "--set", "protocol.windows=[]", "--set", "protocol.shortSide=224",
            "--set", $"output.ledger={temp.Combine("ledger.csv")}");   // the model's default pre-filter: support
        string[] summary = File.ReadAllLines(Path.Combine(report, "summary.csv"));
        string[] prefilter = File.ReadAllLines(Path.Combine(report, "prefilter.csv"));
        Assert.Equal("method,images,precision,recall,kept_per_image,ms_per_image", prefilter[0]);
        Assert.StartsWith($"support,{holdout.Length},", prefilter[1], StringComparison.Ordinal);
        Assert.EndsWith(",prefilter_kept,prefilter_missed,prefilter_ms", File.ReadLines(Path.Combine(report, "per_image.csv")).First(), StringComparison.Ordinal);
        double miou = double.Parse(summary[1].Split(',')[0], CultureInfo.InvariantCulture);
        Assert.InRange(miou, 5.0, 100.0);   // all-background scores about 3.5 on VOC; a fitted model must beat it
        Assert.Equal(22, File.ReadAllLines(Path.Combine(report, "per_class.csv")).Length);
    }

    [Fact]
    public void SupportFromLabels_OrderSplit_TakesTheFirstImagesOfEachClassInSplitOrder()
    {
        string voc = SharedData.DatasetRootOverride("VOC2012");
        string vocFolder = SharedData.RequireFolder("VOC2012");
        using var temp = new TempFolder();
        _ = Cli.Run("support", "from-labels", "-c", Path.Combine(RepoPaths.Configs, "voc21-mini.json"), "--set", voc, "--per-class", "1", "--order", "split", "-o", temp.Path);

        string[] ids = File.ReadAllLines(Path.Combine(vocFolder, "ImageSets", "Segmentation", "mini.txt")).Where(l => l.Length > 0).ToArray();
        var reader = new LabelPngReader();
        Dictionary<string, HashSet<byte>> tags = ids.ToDictionary(id => id, id => reader.Read(Path.Combine(vocFolder, "SegmentationClass", id + ".png")).Labels.Where(l => l is > 0 and < 255).ToHashSet());
        string[] expected = [.. Enumerable.Range(1, 20).Select(c => ids.First(id => tags[id].Contains((byte)c))).Distinct().Order(StringComparer.Ordinal)];
        string[] chosen = [.. File.ReadAllLines(temp.Combine("support.csv")).Skip(1).Select(line => Path.GetFileNameWithoutExtension(line.Split(',')[0])).Order(StringComparer.Ordinal)];
        Assert.Equal(expected, chosen);
    }

    [Fact]
    public void Fit_UnknownExtractor_FailsNamingItAndTheKnownOnes()
    {
        using var temp = new TempFolder();
        Directory.CreateDirectory(temp.Combine("support", "cat"));
        LabelPngWriter.Write(temp.Combine("support", "cat", "a.png"), new LabelMap(4, 4, new byte[16]), LabelPngFormat.Grayscale);
        string error = Cli.Fails("fit", "--support", temp.Combine("support"), "--out", temp.Combine("m.zip"), "--extractor", "vgg16");
        Assert.Contains("'vgg16'", error, StringComparison.Ordinal);
        Assert.Contains("resnet18-layer4", error, StringComparison.Ordinal);
        Assert.False(File.Exists(temp.Combine("m.zip")));
    }
}
