using OvDiff.Core.Segmentation;
using OvDiff.Diffusion.Features;
using OvDiff.Diffusion.Pipeline;
using OvDiff.Testing;

namespace OvDiff.Diffusion.Tests.Pipeline;

/// <summary>From class names alone to a fitted segmenter: generated support images, their maps ranking the segments.</summary>
public sealed class DiffusionSupportSourceTests
{
    [Fact]
    public void ClassNamesBecomeAFittedSegmenter()
    {
        using var temp = new TempFolder();
        var folder = TinyStableDiffusion.CopyTo(temp, "opset17-split");
        using var pipeline = StableDiffusionPipeline.Open(folder, new StableDiffusionOptions { Steps = 2, Width = 128, Height = 128, BatchSize = 2 });
        using var extractor = new StableDiffusionFeatureExtractor(new StableDiffusionFeatureOptions { ModelFolder = folder, InputSize = 128 });
        string[] classes = ["cat", "traffic cone"];
        var source = new DiffusionSupportSource(pipeline, classes, imagesPerClass: 3, seed: 11);
        var examples = source.Enumerate(TestContext.Current.CancellationToken).ToList();
        Assert.Equal(6, examples.Count);
        Assert.Equal(["cat", "cat", "cat", "traffic cone", "traffic cone", "traffic cone"], examples.Select(e => e.ClassName));
        Assert.Equal("sd:traffic cone#2", examples[5].Source);
        Assert.All(examples, e => Assert.Equal((16, 16), (e.Attribution!.Height, e.Attribution.Width)));

        // The same (seed, class, index) regenerates the same image on its own.
        var alone = pipeline.Generate([SupportPrompts.Reference.Request(pipeline.Tokenizer, "traffic cone", 2, 11)], cancellationToken: TestContext.Current.CancellationToken)[0];
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
