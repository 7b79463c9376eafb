using OvDiff.Eval.Configuration;

using OvDiff.Testing;

namespace OvDiff.Eval.Tests.Configuration;

public sealed class ConfigLoaderTests
{
    [Fact]
    public void Load_BaseThenFileThenOverrides_MergesFieldByField()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.Combine("base.json"), """{ "dataset": { "kind": "voc", "root": "data", "split": "val", "classes": ["a", "b"] }, "protocol": { "shortSide": 448 } }""");
        File.WriteAllText(folder.Combine("run.json"), """{ "base": "base.json", "dataset": { "split": "dev" } }""");

        EvalConfig config = ConfigLoader.Load(folder.Combine("run.json"), ["protocol.shortSide=336", "dataset.ignoreIndex=0", "protocol.windows=[{\"crop\":224,\"stride\":112}]"]);

        Assert.Equal("run", config.Name);
        Assert.Equal("dev", config.Dataset.Split);
        Assert.Equal(["a", "b"], config.Dataset.Classes);
        Assert.Equal(Path.Combine(folder.Path, "data"), config.Dataset.Root);
        Assert.Equal(336, config.Protocol.ShortSide);
        Assert.Equal(0, config.Dataset.IgnoreIndex);
        Assert.Equal(new SlideWindow { Crop = 224, Stride = 112 }, Assert.Single(config.Protocol.Windows));
        Assert.True(config.Protocol.IncludeFullImage);
    }

    [Fact]
    public void Load_Defaults_MatchOvDiffProtocol()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.Combine("empty.json"), "{}");

        EvalConfig config = ConfigLoader.Load(folder.Combine("empty.json"));

        Assert.Equal(448, config.Protocol.ShortSide);
        Assert.Equal([new SlideWindow { Crop = 448, Stride = 224 }, new SlideWindow { Crop = 336, Stride = 224 }], config.Protocol.Windows);
        Assert.Null(config.Segmenter.Model);
        Assert.Equal(255, config.Dataset.IgnoreIndex);
    }

    [Fact]
    public void Load_SetStringFieldThatLooksNumeric_StaysString()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.Combine("c.json"), "{}");
        EvalConfig config = ConfigLoader.Load(folder.Combine("c.json"), ["dataset.split=2012", "dataset.root=/data/VOC2012", "dataset.kind=context", "dataset.annotations=x.json", "dataset.annotations=null"]);
        Assert.Equal("2012", config.Dataset.Split);
        Assert.Null(config.Dataset.Annotations);
        Assert.Equal("/data/VOC2012", config.Dataset.Root);
        Assert.Equal(DatasetKind.Context, config.Dataset.Kind);
    }

    [Fact]
    public void Load_UnknownKeyInBase_NamesKeyAndFile()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.Combine("base.json"), """{ "dataset": { "rooot": "x" } }""");
        File.WriteAllText(folder.Combine("run.json"), """{ "base": "base.json" }""");

        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Load(folder.Combine("run.json")));

        Assert.Contains("dataset.rooot", error.Message, StringComparison.Ordinal);
        Assert.Contains(folder.Combine("base.json"), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_WrongType_NamesKeyAndFile()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.Combine("bad.json"), """{ "protocol": { "shortSide": "big" } }""");

        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Load(folder.Combine("bad.json")));

        Assert.Contains("protocol.shortSide", error.Message, StringComparison.Ordinal);
        Assert.Contains("bad.json", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "fit": { "sharedBackgroundParts": "abc" } }""", "fit.sharedBackgroundParts", "a whole number from -2147483648 to 2147483647")]
    [InlineData("""{ "fit": { "sharedBackgroundParts": 2.5 } }""", "fit.sharedBackgroundParts", "a whole number from -2147483648 to 2147483647")]
    [InlineData("""{ "fit": { "parts": 3000000000 } }""", "fit.parts", "a whole number from -2147483648 to 2147483647")]
    [InlineData("""{ "protocol": { "windows": [{ "crop": "big", "stride": 224 }] } }""", "protocol.windows[0].crop", "a whole number from -2147483648 to 2147483647")]
    [InlineData("""{ "output": { "savePredictions": "yes" } }""", "output.savePredictions", "true or false")]
    [InlineData("""{ "name": 5 }""", "name", "a string")]
    public void Load_WrongType_SaysWhatTheKeyTakes_NotADotNetTypeName(string json, string key, string expected)
    {
        // Was: "(The JSON value could not be converted to System.Nullable`1[System.Int32])".
        using var folder = new TempFolder();
        File.WriteAllText(folder.Combine("bad.json"), json);

        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Load(folder.Combine("bad.json")));

        Assert.Equal($"{folder.Combine("bad.json")}: key '{key}' has a value of the wrong type (expected {expected}).", error.Message);
    }

    [Fact]
    public void Load_FitCountOutOfRange_NamesKeyAndLayer()
    {
        // The config is shared by fit and eval: both refuse it (was: eval said nothing, fit named the property, late).
        using var folder = new TempFolder();
        File.WriteAllText(folder.Combine("base.json"), """{ "fit": { "sharedBackgroundParts": -1 } }""");
        File.WriteAllText(folder.Combine("run.json"), """{ "base": "base.json", "fit": { "parts": 8 } }""");

        Assert.Equal($"{folder.Combine("base.json")}: key 'fit.sharedBackgroundParts' must be 0 or more, got -1.",
            Assert.Throws<ConfigException>(() => ConfigLoader.Load(folder.Combine("run.json"))).Message);
        Assert.Equal("--set fit.parts: key 'fit.parts' must be at least 1, got 0.", Assert.Throws<ConfigException>(() => ConfigLoader.FromOverrides(["fit.parts=0"])).Message);
        Assert.Equal("--set fit.cleaningRounds: key 'fit.cleaningRounds' must be 0 or more, got -2.", Assert.Throws<ConfigException>(() => ConfigLoader.FromOverrides(["fit.cleaningRounds=-2"])).Message);
        Assert.Equal(0, ConfigLoader.FromOverrides(["fit.sharedBackgroundParts=0", "fit.multiTagRounds=0"]).Fit.SharedBackgroundParts);
    }

    [Fact]
    public void Override_NotANumber_SaysWhatTheKeyTakes()
    {
        // Was: "'abc' is not a valid Int32 value.", and a fraction reached the serializer's "System.Nullable`1[System.Int32]".
        Assert.Equal("--set: key 'fit.sharedBackgroundParts': 'abc' is not a whole number from -2147483648 to 2147483647.",
            Assert.Throws<ConfigException>(() => ConfigLoader.FromOverrides(["fit.sharedBackgroundParts=abc"])).Message);
        Assert.Equal("--set fit.sharedBackgroundParts: key 'fit.sharedBackgroundParts' has a value of the wrong type (expected a whole number from -2147483648 to 2147483647).",
            Assert.Throws<ConfigException>(() => ConfigLoader.FromOverrides(["fit.sharedBackgroundParts=2.5"])).Message);
    }

    [Fact]
    public void Load_SetOneSegmenterOption_KeepsTheFilesOtherOptions_NonJsonIsAString()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.Combine("c.json"), """{ "segmenter": { "options": { "pamr": true, "minimumClassArea": 0.1 } } }""");

        EvalConfig config = ConfigLoader.Load(folder.Combine("c.json"), ["segmenter.options.pamr=false", "segmenter.options.prefilter=none", "segmenter.options.selfPrototypes=0.25"]);

        IReadOnlyDictionary<string, System.Text.Json.JsonElement> options = config.Segmenter.Options!;
        Assert.Equal(["minimumClassArea", "pamr", "prefilter", "selfPrototypes"], options.Keys.Order(StringComparer.Ordinal));
        Assert.False(options["pamr"].GetBoolean());
        Assert.Equal(0.1, options["minimumClassArea"].GetDouble());
        Assert.Equal("none", options["prefilter"].GetString());
        Assert.Equal(0.25, options["selfPrototypes"].GetDouble());
    }

    [Theory]
    [InlineData("segmenter.options.pamr.deeper=1", "'options' takes one sub-key (segmenter.options.NAME=value)")]
    [InlineData("dataset.nope=1", "dataset.nope")]
    [InlineData("protocol.shortSide=abc", "protocol.shortSide")]
    [InlineData("protocol.windows=7", "protocol.windows")]
    [InlineData("noequals", "key=value")]
    public void Load_BadOverride_NamesKeyAndSet(string assignment, string expected)
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.Combine("c.json"), "{}");

        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Load(folder.Combine("c.json"), [assignment]));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("--set", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_RelativePathInSet_ResolvesAgainstWorkingDirectory()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.Combine("c.json"), """{ "dataset": { "root": "in-config" } }""");
        EvalConfig config = ConfigLoader.Load(folder.Combine("c.json"), ["dataset.root=relative/voc"]);
        Assert.Equal(Path.GetFullPath("relative/voc"), config.Dataset.Root);
    }

    [Fact]
    public void Load_BaseCycle_IsAnError()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.Combine("a.json"), """{ "base": "b.json" }""");
        File.WriteAllText(folder.Combine("b.json"), """{ "base": "a.json" }""");
        Assert.Contains("cycle", Assert.Throws<ConfigException>(() => ConfigLoader.Load(folder.Combine("a.json"))).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("voc21.json", 21, false)]
    [InlineData("context60.json", 60, false)]
    [InlineData("context59.json", 59, true)]
    [InlineData("coco-object81.json", 81, false)]
    [InlineData("voc21-dev.json", 21, false)]
    [InlineData("voc21-mini.json", 21, false)]
    [InlineData("coco-object-mini.json", 81, false)]
    [InlineData("coco-object-mini-png.json", 81, false)]
    public void ShippedConfigs_LoadWithTheirClassCounts(string file, int classes, bool reduceZeroLabel)
    {
        EvalConfig config = ConfigLoader.Load(Path.Combine(RepoPaths.Configs, file));
        Assert.Equal(classes, config.Dataset.Classes!.Count);
        Assert.Equal(reduceZeroLabel, config.Dataset.ReduceZeroLabel);
        Assert.Equal(!reduceZeroLabel, config.Dataset.Classes[0] == "background");
        Assert.True(Path.IsPathRooted(config.Dataset.Root));
    }

    [Fact]
    public void ProtocolDefaults_AreTheSegmentersDefaults()
    {
        var protocol = new ProtocolConfig();
        var segmentation = new OvDiff.Core.Segmentation.SegmentationOptions();
        Assert.Equal(segmentation.ShortSide, protocol.ShortSide);
        Assert.Equal(segmentation.IncludeFullImage, protocol.IncludeFullImage);
        Assert.Equal(segmentation.Windows.Select(w => (w.Crop, w.Stride)), protocol.Windows.Select(w => (w.Crop, w.Stride)));
        Assert.Equal((segmentation.Windows[0].Crop, segmentation.Windows[0].Stride), (new SlideWindow().Crop, new SlideWindow().Stride));
    }
}
