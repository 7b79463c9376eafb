using OvDiff.Core.Segmentation;
using OvDiff.Diffusion.Pipeline;
using OvDiff.Diffusion.Schedulers;
using OvDiff.Diffusion.Surgery;
using OvDiff.Onnx;
using OvDiff.Testing;

namespace OvDiff.Diffusion.Tests.Pipeline;

/// <summary>The whole sampler on the tiny folders exported by PyTorch: shapes, determinism, batch invariance, errors.</summary>
public sealed class StableDiffusionPipelineTests
{
    private static readonly StableDiffusionOptions Fast = new() { Steps = 3, Width = 128, Height = 128, BatchSize = 2 };

    public static TheoryData<string> Variants() => new(TinyStableDiffusion.Variants);

    [Theory]
    [MemberData(nameof(Variants))]
    public void GeneratesImagesWithNormalisedAttributionMaps(string variant)
    {
        using var temp = new TempFolder();
        var folder = TinyStableDiffusion.CopyTo(temp, variant);
        using var pipeline = StableDiffusionPipeline.Open(folder, Fast);
        Assert.Equal(16, pipeline.PatchedUNet!.CrossAttentionLayers.Count);
        var requests = new[] { "cat", "traffic cone", "dog" }.Select((c, i) => SupportRequests.For(pipeline.Tokenizer, c, i, 42)).ToList();
        var steps = new List<StepProgress>();
        var images = Generate(pipeline, requests, new SynchronousProgress<StepProgress>(steps.Add));
        Assert.Equal(3, images.Count);
        foreach (var (image, request) in images.Zip(requests))
        {
            Assert.Same(request, image.Request);
            Assert.Equal((128, 128), (image.Image.Width, image.Image.Height));
            Assert.True(image.Image.Pixels.Distinct().Count() > 16, "the decoded image is not flat");
            var map = image.Attribution!;
            Assert.Equal((16, 16), (map.Height, map.Width));
            Assert.Equal(0f, map.Values.Min());
            Assert.Equal(1f, map.Values.Max());
            Assert.True(image.RawAttribution!.Min() >= 0);
        }

        // Two batches (2 + 1 images), three steps each, then one "decoded" report per batch.
        Assert.Equal(8, steps.Count);
        Assert.Equal(new StepProgress("denoising", 3, 3), steps[6]);
        Assert.Equal(new StepProgress("decoded", 1, 1), steps[^1]);

        // The time is accounted for: 6 UNet calls, and the parts add up to no more than the whole.
        var statistics = pipeline.Statistics;
        Assert.Equal((3, 6), (statistics.Images, statistics.UNetCalls));
        Assert.True(statistics.UNet > TimeSpan.Zero && statistics.Host >= TimeSpan.Zero);
        Assert.InRange(statistics.HostShare, 0, 1);
        pipeline.ResetStatistics();
        Assert.Equal(0, pipeline.Statistics.UNetCalls);
    }

    [Fact]
    public void AnImageDependsOnItsSeedAloneNotOnItsBatch()
    {
        using var temp = new TempFolder();
        var folder = TinyStableDiffusion.CopyTo(temp, "opset14-folded");
        using var batched = StableDiffusionPipeline.Open(folder, Fast with { BatchSize = 3 });
        using var single = StableDiffusionPipeline.Open(folder, Fast with { BatchSize = 1 });
        var requests = new[] { "cat", "potted plant", "cat" }.Select((c, i) => SupportRequests.For(batched.Tokenizer, c, i, 7)).ToList();
        var together = Generate(batched, requests);
        var alone = Generate(single, requests);
        var reordered = Generate(batched, [requests[2], requests[0]]);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(together[i].Image.Pixels, alone[i].Image.Pixels);
            Assert.Equal(together[i].Attribution!.Values, alone[i].Attribution!.Values);
        }

        Assert.Equal(together[2].Image.Pixels, reordered[0].Image.Pixels);
        Assert.Equal(together[0].Image.Pixels, reordered[1].Image.Pixels);
        Assert.NotEqual(together[0].Image.Pixels, together[2].Image.Pixels);

        // Same seed, same image, in a fresh pipeline.
        using var again = StableDiffusionPipeline.Open(folder, Fast);
        Assert.Equal(together[1].Image.Pixels, Generate(again, [requests[1]])[0].Image.Pixels);
    }

    [Fact]
    public void GuidanceCombinesTheTwoHalves()
    {
        using var temp = new TempFolder();
        var folder = TinyStableDiffusion.CopyTo(temp, "opset14-folded");
        using var guided = StableDiffusionPipeline.Open(folder, Fast);
        using var unguided = StableDiffusionPipeline.Open(folder, Fast with { GuidanceScale = 1 });

        // With the negative prompt equal to the prompt both halves agree, so any scale gives the unguided image exactly.
        var same = new SupportImageRequest("a cat", "a cat", 5, [2]);
        Assert.Equal(Generate(unguided, [same])[0].Image.Pixels, Generate(guided, [same])[0].Image.Pixels);
        var different = same with { NegativePrompt = "blurry" };
        Assert.NotEqual(Generate(unguided, [different])[0].Image.Pixels, Generate(guided, [different])[0].Image.Pixels);
    }

    [Theory]
    [InlineData(SchedulerKind.Ddim)]
    [InlineData(SchedulerKind.EulerDiscrete)]
    public void OtherSchedulersRunAndDiffer(SchedulerKind kind)
    {
        using var temp = new TempFolder();
        var folder = TinyStableDiffusion.CopyTo(temp, "opset17-split");
        using var dpm = StableDiffusionPipeline.Open(folder, Fast);
        using var other = StableDiffusionPipeline.Open(folder, Fast with { Scheduler = kind });
        var request = SupportRequests.For(dpm.Tokenizer, "bird", 0, 1);
        Assert.NotEqual(Generate(dpm, [request])[0].Image.Pixels, Generate(other, [request])[0].Image.Pixels);
    }

    [Fact]
    public void CancellationStopsBetweenSteps()
    {
        using var temp = new TempFolder();
        var folder = TinyStableDiffusion.CopyTo(temp, "opset14-folded");
        using var pipeline = StableDiffusionPipeline.Open(folder, Fast with { Steps = 20 });
        using var cancellation = new CancellationTokenSource();
        var seen = 0;
        var progress = new SynchronousProgress<StepProgress>(_ =>
        {
            if (++seen == 2)
            {
                cancellation.Cancel();
            }
        });
        var request = SupportRequests.For(pipeline.Tokenizer, "cat", 0, 1);
        Assert.ThrowsAny<OperationCanceledException>(() => pipeline.Generate([request], progress, cancellation.Token));
        Assert.Equal(2, seen);
    }

    [Fact]
    public void ThePatchedUNetIsCachedBesideTheOriginal()
    {
        using var temp = new TempFolder();
        var folder = TinyStableDiffusion.CopyTo(temp, "opset14-folded");
        string first;
        using (var pipeline = StableDiffusionPipeline.Open(folder, Fast))
        {
            first = pipeline.PatchedUNet!.Path!;
        }

        Assert.Equal(Path.Combine(folder, "unet"), Path.GetDirectoryName(first));
        var written = File.GetLastWriteTimeUtc(first);
        using (var again = StableDiffusionPipeline.Open(folder, Fast))
        {
            Assert.Equal(first, again.PatchedUNet!.Path);
            Assert.Equal(written, File.GetLastWriteTimeUtc(first));
            Assert.Equal(16, again.PatchedUNet.CrossAttentionLayers.Count);
        }

        // Other options (fusion): another file beside the first, so sampling and features do not evict each other.
        using (var fused = StableDiffusionPipeline.Open(folder, Fast with { FuseSelfAttention = true }))
        {
            Assert.NotEqual(first, fused.PatchedUNet!.Path);
            Assert.Equal(16, fused.PatchedUNet.FusedSelfAttentionLayers);
        }

        Assert.Equal(2, Directory.GetFiles(Path.Combine(folder, "unet"), "model.ovdiff-*.onnx").Length);

        // A replaced UNet (other time stamp) is patched again and its stale patch deleted.
        File.SetLastWriteTimeUtc(Path.Combine(folder, "unet", "model.onnx"), DateTime.UtcNow.AddMinutes(1));
        using (var replaced = StableDiffusionPipeline.Open(folder, Fast))
        {
            Assert.NotEqual(first, replaced.PatchedUNet!.Path);
            Assert.False(File.Exists(first));
        }

        Assert.Equal(2, Directory.GetFiles(Path.Combine(folder, "unet"), "model.ovdiff-*.onnx").Length);
    }

    [Fact]
    public void MissingFilesAreListedInOneError()
    {
        using var temp = new TempFolder();
        var folder = TinyStableDiffusion.CopyTo(temp, "opset14-folded");
        File.Delete(Path.Combine(folder, "vae_decoder", "model.onnx"));
        File.Delete(Path.Combine(folder, "tokenizer", "merges.txt"));
        var error = Assert.Throws<ModelFileNotFoundException>(() => StableDiffusionPipeline.Open(folder, Fast));
        Assert.Contains("vae_decoder/model.onnx", error.Message, StringComparison.Ordinal);
        Assert.Contains("tokenizer/merges.txt", error.Message, StringComparison.Ordinal);
        Assert.Contains(folder, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AWrongSignatureIsAClearError()
    {
        using var temp = new TempFolder();
        var folder = TinyStableDiffusion.CopyTo(temp, "opset14-folded");
        File.Copy(Path.Combine(folder, "vae_encoder", "model.onnx"), Path.Combine(folder, "text_encoder", "model.onnx"), overwrite: true);
        var error = Assert.Throws<OnnxModelMismatchException>(() => StableDiffusionPipeline.Open(folder, Fast));
        Assert.Contains("text_encoder", error.Message, StringComparison.Ordinal);
        Assert.Contains("input 'input_ids' is missing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AFusedUNetIsAClearErrorWhenMapsAreAskedFor()
    {
        using var temp = new TempFolder();
        var folder = TinyStableDiffusion.CopyTo(temp, "opset14-folded");
        var unet = Path.Combine(folder, "unet", "model.onnx");
        var model = OnnxGraphSurgery.Load(unet, "fixture");
        foreach (var node in model.Graph.Node.Where(n => n.OpType == "Softmax"))
        {
            node.OpType = "MultiHeadAttention";
            node.Domain = "com.microsoft";
        }

        File.WriteAllBytes(unet, Google.Protobuf.MessageExtensions.ToByteArray(model));
        var error = Assert.Throws<FusedAttentionException>(() => StableDiffusionPipeline.Open(folder, Fast));
        Assert.Contains(unet, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ASizeTheUNetCannotTakeIsAClearError()
    {
        using var temp = new TempFolder();
        var folder = TinyStableDiffusion.CopyTo(temp, "opset14-folded");
        var error = Assert.Throws<OnnxModelMismatchException>(() => StableDiffusionPipeline.Open(folder, Fast with { Width = 256 }));
        Assert.Contains("16x16", error.Message, StringComparison.Ordinal);
    }

    private static IReadOnlyList<GeneratedImage> Generate(StableDiffusionPipeline pipeline, IReadOnlyList<SupportImageRequest> requests, IProgress<StepProgress>? progress = null) =>
        pipeline.Generate(requests, progress, TestContext.Current.CancellationToken);

    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
