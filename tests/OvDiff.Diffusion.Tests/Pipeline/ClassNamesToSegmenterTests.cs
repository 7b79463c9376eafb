using OvDiff.Core.Segmentation;
using OvDiff.Diffusion.Features;
using OvDiff.Diffusion.Pipeline;
using OvDiff.Diffusion.Support;
using OvDiff.Testing;

namespace OvDiff.Diffusion.Tests.Pipeline;

/// <summary>From class names alone to a fitted segmenter: generated support images, their maps ranking the segments.</summary>
public sealed class ClassNamesToSegmenterTests
{
    [Fact]
    public void ClassNamesBecomeAFittedSegmenter()
    {
        using var temp = new TempFolder();
        var folder = TinyStableDiffusion.CopyTo(temp, "opset17-split");
        using var generator = new StableDiffusionSupportGenerator(folder, new StableDiffusionOptions { Steps = 2, Width = 128, Height = 128, BatchSize = 6 });
        var pipeline = generator.Pipeline;
        using var extractor = new StableDiffusionFeatureExtractor(new StableDiffusionFeatureOptions { ModelFolder = folder, InputSize = 128 });
        string[] classes = ["cat", "traffic cone"];
        var requests = classes.SelectMany(c => Enumerable.Range(0, 3).Select(i => SupportRequests.For(pipeline.Tokenizer, c, i, 11))).ToList();
        var generated = generator.Generate(requests, null, TestContext.Current.CancellationToken);
        var examples = generated.Select((g, i) => new SupportExample(classes[i / 3], $"sd:{classes[i / 3]}#{i % 3}", _ => g.Image, g.Attribution)).ToList();
        Assert.All(generated, g => Assert.Equal((16, 16), (g.Attribution.Height, g.Attribution.Width)));
        Assert.Contains("Stable Diffusion", generator.Description, StringComparison.Ordinal);

        // The same (seed, class, index) regenerates the same image on its own.
        var alone = generator.Generate([SupportRequests.For(pipeline.Tokenizer, "traffic cone", 2, 11)], null, TestContext.Current.CancellationToken)[0];
        Assert.Equal(alone.Image.Pixels, examples[5].Load(TestContext.Current.CancellationToken).Pixels);

        var model = PrototypeFitter.Fit(examples, classes, [extractor], new PrototypeFitOptions(), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(classes, model.ClassNames);
        Assert.Equal(6, model.SupportImages.Count);

        // The maps take part in the split: without them (MaskCut's own seed rule) other cells are foreground.
        var withoutMaps = PrototypeFitter.Fit(examples.Select(e => e with { Attribution = null }), classes, [extractor], new PrototypeFitOptions(), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Contains(Enumerable.Range(0, 6), i => !model.SupportImages[i].Foreground.SequenceEqual(withoutMaps.SupportImages[i].Foreground));
        var segmenter = new PrototypeSegmenter(model, [extractor]);
        var labels = segmenter.Segment(examples[0].Load(TestContext.Current.CancellationToken), TestContext.Current.CancellationToken);
        Assert.Equal((128, 128), (labels.Width, labels.Height));
    }
}
