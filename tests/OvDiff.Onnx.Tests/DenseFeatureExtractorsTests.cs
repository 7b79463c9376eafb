using OvDiff.Testing;

namespace OvDiff.Onnx.Tests;

public sealed class DenseFeatureExtractorsTests
{
    [Theory]
    [InlineData("resnet18-layer4", 32, 512)]
    [InlineData("resnet18-layer4-dilated", 16, 512)]
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
        using var temporary = new TempFolder();

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

    [Fact]
    public void CreateSet_Names_ExtractorsInThatOrder()
    {
        using FeatureExtractorSet set = DenseFeatureExtractors.CreateSet(["resnet18-layer3", "resnet18-layer4"]);

        Assert.Equal(["resnet18-layer3", "resnet18-layer4"], set.Extractors.Select(e => e.Name));
    }

    [Fact]
    public void CreateSet_UnknownOrRepeatedName_ArgumentExceptionNamingIt()
    {
        var unknown = Assert.Throws<ArgumentException>(() => DenseFeatureExtractors.CreateSet(["resnet18-layer4", "resnet50"]));
        Assert.Contains("'resnet50'", unknown.Message, StringComparison.Ordinal);

        var repeated = Assert.Throws<ArgumentException>(() => DenseFeatureExtractors.CreateSet(["resnet18-layer4", "resnet18-layer4"]));
        Assert.Contains("'resnet18-layer4'", repeated.Message, StringComparison.Ordinal);
    }
}
