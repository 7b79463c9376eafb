using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;
using OvDiff.Onnx.Text;
using OvDiff.Testing;

namespace OvDiff.Onnx.Tests;

/// <summary>
/// The CLIP pre-filter on tiny CLIP-shaped towers: embeddings equal to a float64 recomputation, and the decision equal to
/// the reference's rule worked out in float64 from those embeddings (softmax, 1/C threshold, exact subset search).
/// </summary>
public sealed class ClipClassPrefilterTests
{
    private static readonly string[] Classes = ["cat", "dog", "car", "potted plant", "sky"];

    private static ClipTokenizer Tokenizer() => ClipTokenizer.FromFolder(SharedData.RequireFolder("clip-tokenizer"));

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void TextEncoder_MatchesFloat64_ForIdTypesAndMasks_WhateverTheBatchPadding(bool int32Ids, bool attentionMask)
    {
        using var temp = new TempFolder();
        var tiny = new TinyClipModel();
        string path = Path.Combine(temp.Path, "text.onnx");
        tiny.WriteText(path, int32Ids, attentionMask);
        ClipTokenizer tokenizer = Tokenizer();
        string[] prompts = ["a cat", "a potted plant and a dog and a car", "a sky"];
        using var encoder = new ClipTextEncoder(path, tokenizer, batchSize: 2);

        float[][] embeddings = encoder.Encode(prompts, TestContext.Current.CancellationToken);

        for (int i = 0; i < prompts.Length; i++)
        {
            double[] expected = Unit(tiny.ReferenceText(tokenizer.Encode(prompts[i])));
            Assert.Equal(expected.Length, embeddings[i].Length);
            for (int e = 0; e < expected.Length; e++)
            {
                Assert.Equal(expected[e], embeddings[i][e], 1e-5);
            }
        }
    }

    [Fact]
    public void ImageEncoder_SquashesToTheModelSize_AndMatchesFloat64()
    {
        using var temp = new TempFolder();
        var tiny = new TinyClipModel();
        string path = Path.Combine(temp.Path, "vision.onnx");
        tiny.WriteVision(path, size: 224);
        using var encoder = new ClipImageEncoder(path);
        Assert.Equal(224, encoder.InputHeight);
        RgbImage image = TestImages.Create(224, 224);

        float[] embedding = encoder.Encode(image, TestContext.Current.CancellationToken);

        // At the model's size no resampling happens: the input is CLIP's normalisation of the pixels.
        float[] planar = ClipImageEncoder.Preprocess(image, 224, 224);
        Assert.Equal(((image.Pixels[0] / 255.0) - 0.48145466) / 0.26862954, planar[0], 1e-5);
        Assert.Equal(((image.Pixels[(5 * 3) + 2] / 255.0) - 0.40821073) / 0.27577711, planar[(2 * 224 * 224) + 5], 1e-5);
        double[] expected = Unit(tiny.ReferenceImage(planar, 224, 224));
        for (int e = 0; e < expected.Length; e++)
        {
            Assert.Equal(expected[e], embedding[e], 1e-4);
        }

        // Any other size is squashed (no crop) to 224 x 224 first: a 300 x 120 image gives an embedding.
        Assert.Equal(expected.Length, encoder.Encode(TestImages.Create(300, 120), TestContext.Current.CancellationToken).Length);
    }

    [Fact]
    public void Prefilter_DecidesAsTheReferenceRule_WorkedOutInFloat64()
    {
        using var temp = new TempFolder();
        var tiny = new TinyClipModel(seed: 9);
        string vision = Path.Combine(temp.Path, "vision.onnx"), text = Path.Combine(temp.Path, "text.onnx");
        tiny.WriteVision(vision);
        tiny.WriteText(text);
        ClipTokenizer tokenizer = Tokenizer();
        bool[] stuff = [false, false, false, false, true];
        var options = new ClassPrefilterOptions { Kind = ClassPrefilterKind.Clip, ClipMaxClasses = 3 };
        using var prefilter = new ClipClassPrefilter(new ClipImageEncoder(vision), new ClipTextEncoder(text, tokenizer), options, ownsEncoders: true);
        RgbImage image = TestImages.Create(224, 224);

        ClassPrefilterDecision decision = prefilter.Select(new ClassPrefilterInput(image, Classes, stuff), TestContext.Current.CancellationToken);

        // float64: image and prompt embeddings, cosines, softmax over the 4 non-stuff classes, p >= 1/4, subsets.
        double[] img = Unit(tiny.ReferenceImage(ClipImageEncoder.Preprocess(image, 224, 224), 224, 224));
        double[] Embed(string prompt) => Unit(tiny.ReferenceText(tokenizer.Encode(prompt)));
        double[] cos = Classes.Take(4).Select(c => Dot(img, Embed("a " + c))).ToArray();
        double[] exp = cos.Select(Math.Exp).ToArray();
        double[] p = exp.Select(v => v / exp.Sum()).ToArray();
        int[] passing = Enumerable.Range(0, 4).Where(i => p[i] >= 0.25).ToArray();
        int[] candidates = passing.Length <= 3 ? passing : passing.OrderByDescending(i => p[i]).Take(3).ToArray();
        int[] best = [];
        double bestScore = double.NegativeInfinity;
        foreach (int[] subset in ClipClassSelection.Subsets(candidates))
        {
            double s = Dot(img, Embed(string.Join(" and ", subset.Select(i => "a " + Classes[i]))));
            if (s > bestScore)
            {
                (best, bestScore) = (subset, s);
            }
        }

        Assert.Equal("clip", decision.Method);
        Assert.Equal(best.Order(), decision.Kept);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(p[i], decision.Scores[i], 1e-5);
        }

        Assert.True(float.IsNaN(decision.Scores[4]));
        Assert.True(decision.Milliseconds >= 0);

        // Every prompt is encoded once: a second image needs no text model for the classes and subsets it shares.
        long encoded = prefilter.PromptsEncoded;
        prefilter.Select(new ClassPrefilterInput(image, Classes, stuff), TestContext.Current.CancellationToken);
        Assert.Equal(encoded, prefilter.PromptsEncoded);
    }

    [Fact]
    public void MissingModel_IsAnErrorNamingTheFileAndHowToGetIt()
    {
        using var temp = new TempFolder();
        var error = Assert.Throws<ModelFileNotFoundException>(() => ClipClassPrefilter.FromStore(new ModelStore(temp.Path)));
        Assert.Contains("vision_model.onnx", error.Message, StringComparison.Ordinal);
        Assert.Contains("ovdiff models download clip-vit-b16", error.Message, StringComparison.Ordinal);
    }

    private static double[] Unit(double[] v)
    {
        double n = Math.Sqrt(v.Sum(x => x * x));
        return v.Select(x => x / n).ToArray();
    }

    private static double Dot(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum();
}
