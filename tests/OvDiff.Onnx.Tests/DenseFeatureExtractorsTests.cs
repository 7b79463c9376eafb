namespace OvDiff.Onnx.Tests;

public sealed class DenseFeatureExtractorsTests
{
    [Theory]
    [InlineData("resnet18-layer4", 32, 512)]
    [InlineData("resnet18-layer3+4", 16, 768)]
    [InlineData("resnet18-layer3", 16, 256)]
    public void Create_ResNetName_GivesExtractorWithThatName(string name, int stride, int channels)
    {
        using var extractor = DenseFeatureExtractors.Create(name);

        Assert.Equal((name, stride, channels), (extractor.Name, extractor.Stride, extractor.Channels));
    }

    [Fact]
    public void Create_ViTNameWithEmptyStore_NamesTheMissingFile()
    {
        using var temporary = new TemporaryDirectory();

        var error = Assert.Throws<ModelFileNotFoundException>(() => DenseFeatureExtractors.Create("clip-vitb16-keys", new ModelStore(temporary.Path)));

        Assert.Contains(Path.Combine(temporary.Path, "clip-vit-b16", "onnx", "vision_model.onnx"), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_UnknownName_ListsKnownNames()
    {
        var error = Assert.Throws<ArgumentException>(() => DenseFeatureExtractors.Create("resnet50"));

        Assert.Contains("resnet18-layer4", error.Message, StringComparison.Ordinal);
        Assert.Contains("dino-vitb8-keys", error.Message, StringComparison.Ordinal);
    }
}
