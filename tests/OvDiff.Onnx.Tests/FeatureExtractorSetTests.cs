using OvDiff.Core.Features;
using OvDiff.Core.Images;

namespace OvDiff.Onnx.Tests;

public sealed class FeatureExtractorSetTests
{
    private sealed class FakeExtractor(string name, int value) : IDenseFeatureExtractor
    {
        public int DisposeCount { get; private set; }

        public string Name => name;

        public int Stride => 1;

        public int Channels => 1;

        public FeatureMap Extract(RgbImage image, CancellationToken cancellationToken = default) =>
            new(image.Height, image.Width, 1, Enumerable.Repeat((float)value, image.Width * image.Height).ToArray());

        public void Dispose() => DisposeCount++;
    }

    [Fact]
    public void ExtractAll_ReturnsOneMapPerExtractorInOrder_AndDisposeDisposesEachOnce()
    {
        var first = new FakeExtractor("a", 1);
        var second = new FakeExtractor("b", 2);
        var set = new FeatureExtractorSet([first, second]);

        var maps = set.ExtractAll(new RgbImage(2, 3, new byte[18]), TestContext.Current.CancellationToken);
        set.Dispose();
        set.Dispose();

        Assert.Equal([1f, 2f], maps.Select(m => m.Data[0]));
        Assert.Equal((1, 1), (first.DisposeCount, second.DisposeCount));
        Assert.Throws<ObjectDisposedException>(() => set.ExtractAll(new RgbImage(1, 1, new byte[3]), TestContext.Current.CancellationToken));
    }

    [Fact]
    public void Constructor_DuplicateNamesOrEmpty_Throws()
    {
        Assert.Throws<ArgumentException>(() => new FeatureExtractorSet([]));
        var error = Assert.Throws<ArgumentException>(() => new FeatureExtractorSet([new FakeExtractor("x", 1), new FakeExtractor("x", 2)]));
        Assert.Contains("'x'", error.Message, StringComparison.Ordinal);
    }
}
