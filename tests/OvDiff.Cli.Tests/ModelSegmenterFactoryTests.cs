using System.Text.Json;
using OvDiff.Cli.Commands;
using OvDiff.Core.Segmentation;
using OvDiff.Eval.Configuration;
using OvDiff.Testing;

namespace OvDiff.Cli.Tests;

public sealed class ModelSegmenterFactoryTests
{
    [Theory]
    [InlineData("minimumClassArea", "1.5", "MinimumClassArea")]
    [InlineData("levels", "\"nope\"", "segmenter.options.levels")]
    [InlineData("levels", "\",\"", "segmenter.options.levels")]
    public void Apply_BadOptionValue_ConfigExceptionNamingIt(string key, string json, string expected)
    {
        EvalConfig config = WithOptions(key, json);
        var error = Assert.Throws<ConfigException>(() => ModelSegmenterFactory.Apply(new SegmentationOptions(), config));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_ValidOption_Applied()
    {
        SegmentationOptions options = ModelSegmenterFactory.Apply(new SegmentationOptions(), WithOptions("minimumClassArea", "0.25"));
        Assert.Equal(0.25f, options.MinimumClassArea);
    }

    private static EvalConfig WithOptions(string key, string json)
    {
        EvalConfig config = ConfigLoader.Load(Path.Combine(RepoPaths.Configs, "voc21-mini.json"));
        using JsonDocument value = JsonDocument.Parse(json);
        return config with { Segmenter = config.Segmenter with { Options = new Dictionary<string, JsonElement> { [key] = value.RootElement.Clone() } } };
    }
}
