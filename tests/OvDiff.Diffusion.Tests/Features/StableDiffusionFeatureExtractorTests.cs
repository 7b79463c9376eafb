using OvDiff.Core.Images;
using OvDiff.Diffusion.Features;
using OvDiff.Diffusion.Tests.Surgery;
using OvDiff.Onnx;
using OvDiff.Testing;

namespace OvDiff.Diffusion.Tests.Features;

/// <summary>SD features against PyTorch: make_tiny_sd.py's feature_reference runs the same recipe on the same image.</summary>
public sealed class StableDiffusionFeatureExtractorTests
{
    public static TheoryData<string> Variants() => new(TinyStableDiffusion.Variants);

    [Theory]
    [MemberData(nameof(Variants))]
    public void FeaturesEqualThePyTorchRecipe(string variant)
    {
        using var temp = new TempFolder();
        var folder = TinyStableDiffusion.CopyTo(temp, variant);
        using var extractor = new StableDiffusionFeatureExtractor(new StableDiffusionFeatureOptions { ModelFolder = folder, InputSize = 128 });
        Assert.Equal(72, extractor.Channels);
        Assert.Equal(8, extractor.Stride);
        Assert.Equal("sd15-q-l0.6.7.8.9.10.11.12.15-t200-s128", extractor.Name);

        var map = extractor.Extract(Pattern(128, 128), TestContext.Current.CancellationToken);
        Assert.Equal((16, 16, 72), (map.Height, map.Width, map.Channels));

        // The reference is planar [1, 72, 16, 16]; the map is HWC.
        var (_, planar) = TinyStableDiffusion.Reference(variant).Arrays["features"];
        var expected = new float[planar.Length];
        for (var c = 0; c < 72; c++)
        {
            for (var p = 0; p < 256; p++)
            {
                expected[(p * 72) + c] = planar[(c * 256) + p];
            }
        }

        UNetAttentionSurgeryTests.AssertClose(expected, map.Data, variant == "fp16-io" ? 1e-2 : 1e-4, relative: true);

        // Deterministic: the VAE sample and the DDPM noise come from the seed.
        Assert.Equal(map.Data, extractor.Extract(Pattern(128, 128), TestContext.Current.CancellationToken).Data);
    }

    [Fact]
    public void JoinsTheEnsembleByName()
    {
        using var temp = new TempFolder();
        var store = new ModelStore(temp.Combine("models"));
        var folder = TinyStableDiffusion.CopyTo(temp, "opset17-split");
        Directory.CreateDirectory(store.Root);
        Directory.Move(folder, store.FolderOf(ModelManifest.Default["sd15"]));
        StableDiffusionFeatureExtractor.Register();
        Assert.Contains(DenseFeatureExtractors.StableDiffusionQueries, DenseFeatureExtractors.KnownNames);

        using var set = DenseFeatureExtractors.CreateSet([DenseFeatureExtractors.StableDiffusionQueries], store);
        var extractor = Assert.Single(set.Extractors);
        Assert.Equal("sd15-q", extractor.Name);

        // The reference's 512x512 input: a 64x64 grid whatever the image's size (this export takes any latent size).
        var map = extractor.Extract(Pattern(100, 70), TestContext.Current.CancellationToken);
        Assert.Equal((64, 64, 72), (map.Height, map.Width, map.Channels));
        Assert.All(map.Data, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void WithoutAFixedSizeEachSideIsRoundedToAMultipleOf64()
    {
        using var temp = new TempFolder();
        var folder = TinyStableDiffusion.CopyTo(temp, "opset17-split");
        using var extractor = new StableDiffusionFeatureExtractor(new StableDiffusionFeatureOptions { ModelFolder = folder, InputSize = null });
        Assert.Equal((448, 320), extractor.InputSizeFor(450, 300));
        Assert.Equal((64, 64), extractor.InputSizeFor(10, 20));
        var map = extractor.Extract(Pattern(200, 130), TestContext.Current.CancellationToken);
        Assert.Equal((16, 24), (map.Height, map.Width));
    }

    [Fact]
    public void AFolderWithoutTheVaeEncoderIsAClearError()
    {
        using var temp = new TempFolder();
        var folder = TinyStableDiffusion.CopyTo(temp, "opset14-folded");
        File.Delete(Path.Combine(folder, "vae_encoder", "model.onnx"));
        var error = Assert.Throws<ModelFileNotFoundException>(() => new StableDiffusionFeatureExtractor(new StableDiffusionFeatureOptions { ModelFolder = folder, InputSize = 128 }));
        Assert.Contains("vae_encoder/model.onnx", error.Message, StringComparison.Ordinal);
    }

    /// <summary>The image make_tiny_sd.py's feature_reference draws: (7x + 13y + 50c) mod 256.</summary>
    private static RgbImage Pattern(int width, int height)
    {
        var pixels = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                for (var c = 0; c < 3; c++)
                {
                    pixels[(((y * width) + x) * 3) + c] = (byte)(((x * 7) + (y * 13) + (c * 50)) % 256);
                }
            }
        }

        return new RgbImage(width, height, pixels);
    }
}
