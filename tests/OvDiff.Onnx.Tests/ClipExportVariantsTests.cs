using Google.Protobuf;
using OvDiff.Core.Images;
using OvDiff.Onnx.Text;
using OvDiff.Testing;

namespace OvDiff.Onnx.Tests;

/// <summary>
/// The CLIP towers as other exporters write them (transformers.js, Optimum split and combined, fp16, fixed batch), on tiny
/// CLIP-shaped models: each either gives the float64 embeddings or is refused in one line that says what fits.
/// </summary>
public sealed class ClipExportVariantsTests
{
    private static readonly string[] Prompts = ["a cat", "a potted plant and a dog and a car", "a sky"];

    private static ClipTokenizer Tokenizer() => ClipTokenizer.FromFolder(SharedData.RequireFolder("clip-tokenizer"));

    [Theory]
    [InlineData(false, true, 1, false, null)] // transformers.js text_model.onnx with a required attention_mask, batch fixed at 1
    [InlineData(true, false, null, true, null)] // Optimum int32 input_ids, text_model_fp16.onnx's float16 text_embeds
    [InlineData(false, false, 2, false, null)] // a batch fixed at 2: the short last batch is filled up
    [InlineData(false, true, 1, true, null)] // fp16, fixed batch 1 and a mask together
    [InlineData(true, true, 1, false, 77)] // a static-shape export: [1, 77] int32 ids and mask
    public void TextEncoder_ExportVariants_MatchFloat64(bool int32Ids, bool attentionMask, int? batch, bool float16Output, int? length)
    {
        using var temp = new TempFolder();
        var tiny = new TinyClipModel(seed: 17);
        string path = Path.Combine(temp.Path, "text_model.onnx");
        tiny.WriteText(path, int32Ids, attentionMask, fixedLength: length, batch: batch, float16Output: float16Output);
        ClipTokenizer tokenizer = Tokenizer();
        using var encoder = new ClipTextEncoder(path, tokenizer, batchSize: 32);

        float[][] embeddings = encoder.Encode(Prompts, TestContext.Current.CancellationToken);

        Assert.Equal(Prompts.Length, embeddings.Length);
        for (int i = 0; i < Prompts.Length; i++)
        {
            AssertClose(Unit(tiny.ReferenceText(tokenizer.Encode(Prompts[i]))), embeddings[i], float16Output ? 2e-3 : 1e-5);
        }
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData(1, true)] // vision_model_fp16.onnx: float16 pixel_values and image_embeds, batch fixed at 1
    public void ImageEncoder_ExportVariants_MatchFloat64(int? batch, bool float16)
    {
        using var temp = new TempFolder();
        var tiny = new TinyClipModel(seed: 19);
        string path = Path.Combine(temp.Path, "vision_model.onnx");
        tiny.WriteVision(path, size: 224, batch: batch, float16: float16);
        using var encoder = new ClipImageEncoder(path);
        RgbImage image = TestImages.Create(224, 224, seed: 5);

        float[] embedding = encoder.Encode(image, TestContext.Current.CancellationToken);

        AssertClose(Unit(tiny.ReferenceImage(ClipImageEncoder.Preprocess(image, 224, 224), 224, 224)), embedding, float16 ? 5e-3 : 1e-4);
    }

    [Fact]
    public void CombinedOptimumExport_EachEncoderRunsItsOwnTower_MatchingFloat64()
    {
        using var temp = new TempFolder();
        var tiny = new TinyClipModel(seed: 23);
        string path = Path.Combine(temp.Path, "model.onnx");
        tiny.WriteCombined(path);
        ClipTokenizer tokenizer = Tokenizer();
        RgbImage image = TestImages.Create(64, 48, seed: 2);
        var ct = TestContext.Current.CancellationToken;

        using var text = new ClipTextEncoder(path, tokenizer);
        using var vision = new ClipImageEncoder(path);
        float[][] embeddings = text.Encode(Prompts, ct);
        float[] imageEmbedding = vision.Encode(image, ct);

        for (int i = 0; i < Prompts.Length; i++)
        {
            AssertClose(Unit(tiny.ReferenceText(tokenizer.Encode(Prompts[i]))), embeddings[i], 1e-5);
        }

        // The combined export declares free H and W: the image is squashed to 224, as for the split tower.
        Assert.Equal((224, 224), (vision.InputHeight, vision.InputWidth));
        AssertClose(Unit(tiny.ReferenceImage(ClipImageEncoder.Preprocess(image, 224, 224), 224, 224)), imageEmbedding, 1e-4);
    }

    [Theory]
    [InlineData("clip-vit-b16/onnx/model.onnx")]
    [InlineData("clip-vit-b16/model.onnx")]
    public void CombinedExportInTheStore_ThePrefilterDecidesAsWithTheSplitTowers(string combinedPath)
    {
        using var temp = new TempFolder();
        var tiny = new TinyClipModel(seed: 29);
        string tokenizerFolder = SharedData.RequireFolder("clip-tokenizer");
        string combinedStore = Path.Combine(temp.Path, "combined"), splitStore = Path.Combine(temp.Path, "split");
        tiny.WriteCombined(Path.Combine(combinedStore, combinedPath));
        tiny.WriteText(Path.Combine(splitStore, "clip-vit-b16/onnx/text_model.onnx"), attentionMask: true);
        tiny.WriteVision(Path.Combine(splitStore, "clip-vit-b16/onnx/vision_model.onnx"), size: null);
        foreach (string store in new[] { combinedStore, splitStore })
        {
            foreach (string file in new[] { "vocab.json", "merges.txt" })
            {
                File.Copy(Path.Combine(tokenizerFolder, file), Path.Combine(store, "clip-vit-b16", file));
            }
        }

        var input = new Core.Segmentation.ClassPrefilterInput(TestImages.Create(96, 80, seed: 3), ["cat", "dog", "car", "sky"], [false, false, false, true]);
        var ct = TestContext.Current.CancellationToken;
        using var fromCombined = ClipClassPrefilter.FromStore(new ModelStore(combinedStore));
        using var fromSplit = ClipClassPrefilter.FromStore(new ModelStore(splitStore));

        var combined = fromCombined.Select(input, ct);
        var split = fromSplit.Select(input, ct);

        Assert.Equal(split.Kept, combined.Kept);
        Assert.Equal(3, combined.Scores.Count(float.IsFinite));
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(split.Scores[c], combined.Scores[c], 1e-6);
        }
    }

    [Fact]
    public void TextTowerWithoutProjection_IsRefusedOnTheFirstLine_SayingWhichExportFits()
    {
        using var temp = new TempFolder();
        string path = Path.Combine(temp.Path, "text_model.onnx");
        new TinyClipModel().WriteText(path);
        var model = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        model.Graph.Node.Single(n => n.Output.Contains("text_embeds")).Output[0] = "pooler_output";
        model.Graph.Output.Single(o => o.Name == "text_embeds").Name = "pooler_output";
        File.WriteAllBytes(path, model.ToByteArray());

        var error = Assert.Throws<OnnxModelMismatchException>(() => new ClipTextEncoder(path, Tokenizer()));

        string first = error.Message.Split('\n')[0];
        Assert.Contains($"'{Path.GetFullPath(path)}'", first, StringComparison.Ordinal);
        Assert.Contains("output 'text_embeds' is missing", first, StringComparison.Ordinal);
        Assert.Contains("Xenova/clip-vit-base-patch16", first, StringComparison.Ordinal);
        Assert.Contains("pooler_output", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void VisionTowerGivenToTheTextEncoder_IsRefusedSayingWhatFits()
    {
        using var temp = new TempFolder();
        string path = Path.Combine(temp.Path, "vision_model.onnx");
        new TinyClipModel().WriteVision(path);

        var error = Assert.Throws<OnnxModelMismatchException>(() => new ClipTextEncoder(path, Tokenizer()));

        string first = error.Message.Split('\n')[0];
        Assert.Contains("input 'input_ids' is missing", first, StringComparison.Ordinal);
        Assert.Contains("onnx/text_model.onnx (input_ids int64 or int32", first, StringComparison.Ordinal);
    }

    private static void AssertClose(double[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int e = 0; e < expected.Length; e++)
        {
            Assert.Equal(expected[e], actual[e], tolerance);
        }
    }

    private static double[] Unit(double[] v)
    {
        double n = Math.Sqrt(v.Sum(x => x * x));
        return v.Select(x => x / n).ToArray();
    }
}
