using System.Text.Json;
using OvDiff.Cli.Commands;
using OvDiff.Core.Segmentation;
using OvDiff.Eval.Configuration;
using OvDiff.ML;
using OvDiff.Testing;

namespace OvDiff.Cli.Tests;

public sealed class ModelSegmenterFactoryTests
{
    [Theory]
    [InlineData("minimumClassArea", "1.5", "MinimumClassArea")]
    [InlineData("levels", "\"nope\"", "segmenter.options.levels")]
    [InlineData("levels", "\",\"", "segmenter.options.levels")]
    [InlineData("prefilter", "\"clap\"", "must be none, clip or support, got 'clap'")]
    [InlineData("prefilter", "\"1\"", "segmenter.options.prefilter")]
    [InlineData("prefilterPrompt", "\"a photo\"", "ClipPrompt")]
    [InlineData("prefilterMinimumArea", "-0.1", "SupportMinimumArea")]
    [InlineData("prefilterTagPrior", "-1", "SupportTagPrior")]
    [InlineData("prefilterTagPrior", "true", "segmenter.options.prefilterTagPrior")]
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
        Assert.Equal(0.05f, ModelSegmenterFactory.Apply(new SegmentationOptions(), WithOptions("prefilterBackgroundBias", "0.05")).Prefilter.SupportBackgroundBias);
        Assert.True(ModelSegmenterFactory.Apply(new SegmentationOptions(), WithOptions("prefilterSharedBackground", "true")).Prefilter.SupportSharedBackground);
    }

    [Fact]
    public void Apply_ProtocolFlip_TurnsFlipTestTimeOn_AndItsAbsenceLeavesTheOptionsOwn()
    {
        EvalConfig config = MiniConfig();
        Assert.Null(config.Protocol.Flip);
        Assert.False(ModelSegmenterFactory.Apply(new SegmentationOptions(), config).FlipTestTime);
        Assert.True(ModelSegmenterFactory.Apply(new SegmentationOptions { FlipTestTime = true }, config).FlipTestTime);
        Assert.True(ModelSegmenterFactory.Apply(new SegmentationOptions(), config with { Protocol = config.Protocol with { Flip = true } }).FlipTestTime);
        Assert.False(ModelSegmenterFactory.Apply(new SegmentationOptions { FlipTestTime = true }, config with { Protocol = config.Protocol with { Flip = false } }).FlipTestTime);
    }

    [Fact]
    public void Fit_StoresPamrTwoCleaningRoundsAnd32SharedBackgroundPartsByDefault_AndNoneWhenTurnedOff()
    {
        using var temp = new TempFolder();
        (string model, OvDiffModelState state) = FitTinyModel(temp);
        Assert.NotNull(state.Segmentation.Pamr);
        Assert.Equal(10, state.Segmentation.Pamr.Iterations);
        Assert.Equal([1, 2, 4, 8, 12, 24], state.Segmentation.Pamr.Dilations);
        Assert.Equal(2, state.Model.FitOptions.ForegroundCleaningRounds);
        Assert.Equal(0, new PrototypeFitOptions().ForegroundCleaningRounds);
        Assert.Equal(32, state.Model.FitOptions.SharedBackgroundParts);
        Assert.Equal(0, new PrototypeFitOptions().SharedBackgroundParts);
        Assert.NotNull(state.Model.SharedBackground);
        Assert.True(state.Segmentation.Prefilter.SupportSharedBackground);
        Assert.False(new ClassPrefilterOptions().SupportSharedBackground);
        Assert.Equal(1f, state.Segmentation.Prefilter.SupportTagPrior);
        Assert.Equal(0f, new ClassPrefilterOptions().SupportTagPrior);

        Cli.Run("fit", "--support", temp.Combine("support"), "--out", model, "--levels", "mean", "--pamr", "false", "--cleaning-rounds", "0", "--shared-background-parts", "0", "--prefilter-tag-prior", "0", "--set", "segmenter.options.prefilterSharedBackground=false");
        OvDiffModelState off = Load(model);
        Assert.Null(off.Segmentation.Pamr);
        Assert.Equal(0, off.Model.FitOptions.ForegroundCleaningRounds);
        Assert.Equal(0, off.Model.FitOptions.SharedBackgroundParts);
        Assert.Null(off.Model.SharedBackground);
        Assert.False(off.Segmentation.Prefilter.SupportSharedBackground);
        Assert.Equal(0f, off.Segmentation.Prefilter.SupportTagPrior);

        // A config's fit section sets them where no option does (the reference configs turn both off).
        File.WriteAllText(temp.Combine("fit.json"), """{ "fit": { "cleaningRounds": 1, "sharedBackgroundParts": 5 } }""");
        Cli.Run("fit", "--support", temp.Combine("support"), "--out", model, "--levels", "mean", "--config", temp.Combine("fit.json"));
        Assert.Equal(1, Load(model).Model.FitOptions.ForegroundCleaningRounds);
        Assert.Equal(5, Load(model).Model.FitOptions.SharedBackgroundParts);
        Assert.All(Directory.GetFiles(RepoPaths.Configs, "*-reference.json"), f => Assert.Equal(0, ConfigLoader.Load(f).Fit.CleaningRounds));
        Assert.All(Directory.GetFiles(RepoPaths.Configs, "*-reference.json"), f => Assert.Equal(0, ConfigLoader.Load(f).Fit.SharedBackgroundParts));
    }

    [Fact]
    public void Identity_FlipOff_HasNoFlipPart_SoRunsSavedBeforeTheOptionResume()
    {
        using var temp = new TempFolder();
        (string model, OvDiffModelState state) = FitTinyModel(temp);

        IReadOnlyDictionary<string, string> off = ModelSegmenterFactory.Identity(state, state.Segmentation);
        IReadOnlyDictionary<string, string> on = ModelSegmenterFactory.Identity(state, state.Segmentation with { FlipTestTime = true });
        IReadOnlyDictionary<string, string> biased = ModelSegmenterFactory.Identity(state, state.Segmentation with { Prefilter = state.Segmentation.Prefilter with { SupportBackgroundBias = 0.05f } });

        Assert.DoesNotContain(off.Keys, k => k.Contains("flip", StringComparison.OrdinalIgnoreCase) || k.Contains("backgroundBias", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("true", on["inference.flipTestTime"]);
        Assert.Equal(off.Count + 1, on.Count);
        Assert.Equal(off.Count + 1, biased.Count);
        Assert.Single(biased.Keys, k => k.Contains("backgroundBias", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Identity_RefitOfTheSameSupport_SameBytes_RefitWithAnotherImage_DiffersInTheModelStateOnly_OptionsNamed()
    {
        using var temp = new TempFolder();
        (string model, OvDiffModelState state) = FitTinyModel(temp);
        IReadOnlyDictionary<string, string> first = ModelSegmenterFactory.Identity(state, state.Segmentation);
        byte[] firstZip = File.ReadAllBytes(model);

        // The same support set fitted again, later than a zip time's 2 s resolution: the same bytes (fit fixes the entries'
        // times, which ML.NET sets to the time of saving), so the same identity.
        Thread.Sleep(2100);
        Cli.Run("fit", "--support", temp.Combine("support"), "--out", model, "--levels", "mean");
        Assert.Equal(firstZip, File.ReadAllBytes(model));
        Assert.Equal(first, ModelSegmenterFactory.Identity(Load(model), state.Segmentation));

        Cli.WriteImage(temp.Combine("support", "cat", "c.jpg"), 160, 120, seed: 7);
        Cli.Run("fit", "--support", temp.Combine("support"), "--out", model, "--levels", "mean");
        OvDiffModelState refittedState = Load(model);
        IReadOnlyDictionary<string, string> refitted = ModelSegmenterFactory.Identity(refittedState, state.Segmentation);
        IReadOnlyDictionary<string, string> otherArea = ModelSegmenterFactory.Identity(state, state.Segmentation with { MinimumClassArea = 0.25f });

        Assert.Equal(["model.state.sha256"], first.Keys.Where(k => first[k] != refitted[k]));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(refittedState.ToBytes())), refitted["model.state.sha256"]);
        Assert.Equal("0.25", otherArea["inference.minimumClassArea"]);
        Assert.Equal("resnet18-layer4", first["model.extractors"]);
        Assert.Equal("cat, dog", first["model.classes"]);
        Assert.Contains("inference.windows", first.Keys);
    }

    private static OvDiffModelState Load(string model)
    {
        using OvDiffModel loaded = OvDiffModel.Load(new Microsoft.ML.MLContext(seed: 0), model);
        return loaded.State;
    }

    [Fact]
    public void CoverageWarning_ModelWithFewOfTheDatasetsClasses_NamesTheMissingOnes()
    {
        string? warning = ModelSegmenterFactory.CoverageWarning(["background", "Cat", "dog"], ["background", "aeroplane", "cat", "dog", "horse"], "m.zip");

        Assert.Equal("warning: model 'm.zip' has 3 of the dataset's 5 labels; never predicted, these score 0 IoU: aeroplane, horse.", warning);
        Assert.Null(ModelSegmenterFactory.CoverageWarning(["background", "cat"], ["background", "CAT"], "m.zip"));
    }

    [Theory]
    [InlineData("prefilter", "\"CLIP\"")]
    [InlineData("prefilterPrompt", "\"a photo of a {class}\"")]
    [InlineData("prefilterMaxClasses", "4")]
    [InlineData("prefilterMinimumArea", "0.05")]
    [InlineData("prefilterTagPrior", "1.5")]
    public void Apply_PrefilterOptions_Applied(string key, string json)
    {
        ClassPrefilterOptions p = ModelSegmenterFactory.Apply(new SegmentationOptions(), WithOptions(key, json)).Prefilter;
        Assert.Equal(key == "prefilter" ? ClassPrefilterKind.Clip : ClassPrefilterKind.None, p.Kind);
        Assert.Equal(key == "prefilterPrompt" ? "a photo of a {class}" : "a {class}", p.ClipPrompt);
        Assert.Equal(key == "prefilterMaxClasses" ? 4 : 10, p.ClipMaxClasses);
        Assert.Equal(key == "prefilterMinimumArea" ? 0.05f : new ClassPrefilterOptions().SupportMinimumArea, p.SupportMinimumArea);
        Assert.Equal(key == "prefilterTagPrior" ? 1.5f : 0f, p.SupportTagPrior);
    }

    [Fact]
    public void DatasetStuffClasses_OverrideTheModels_AndMustBeDatasetClasses()
    {
        using var temp = new TempFolder();
        (_, OvDiffModelState state) = FitTinyModel(temp);
        EvalConfig config = MiniConfig();
        Assert.Equal([false, false], state.Model.IsStuff);
        Assert.Same(state, ModelSegmenterFactory.WithConfigStuff(state, config with { Dataset = config.Dataset with { StuffClasses = null } }));

        EvalConfig withDog = config with { Dataset = config.Dataset with { Classes = ["background", "cat", "dog"], StuffClasses = ["Dog"] } };
        Assert.Equal([false, true], ModelSegmenterFactory.WithConfigStuff(state, withDog).Model.IsStuff);

        var error = Assert.Throws<ConfigException>(() => ModelSegmenterFactory.WithConfigStuff(state, withDog with { Dataset = withDog.Dataset with { StuffClasses = ["sky"] } }));
        Assert.Contains("'dataset.stuffClasses' names 'sky'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ShippedConfigs_ListTheirStuffClasses_AndTheReferenceOnesLoad()
    {
        Assert.Empty(ConfigLoader.Load(Path.Combine(RepoPaths.Configs, "voc21.json")).Dataset.StuffClasses!);
        Assert.Empty(ConfigLoader.Load(Path.Combine(RepoPaths.Configs, "coco-object81.json")).Dataset.StuffClasses!);
        EvalConfig context = ConfigLoader.Load(Path.Combine(RepoPaths.Configs, "context60.json"));
        Assert.Contains("sky", context.Dataset.StuffClasses!);
        Assert.All(context.Dataset.StuffClasses!, s => Assert.Contains(s, context.Dataset.Classes!));
        foreach (string name in new[] { "voc21-reference.json", "context60-reference.json", "coco-object81-reference.json" })
        {
            EvalConfig reference = ConfigLoader.Load(Path.Combine(RepoPaths.Configs, name));
            Assert.Equal(["sd15-q", "dino-vitb8-keys", "clip-vitb16-keys"], reference.Fit.Extractors);
            SegmentationOptions options = ModelSegmenterFactory.Apply(new SegmentationOptions(), reference);
            Assert.Equal(ClassPrefilterKind.Clip, options.Prefilter.Kind);
            Assert.NotNull(options.Pamr);
            Assert.Equal(PrototypeLevels.All, options.Levels);
        }
    }

    /// <summary>A tiny model fitted by the CLI in <paramref name="temp"/>, and its loaded state.</summary>
    private static (string Model, OvDiffModelState State) FitTinyModel(TempFolder temp)
    {
        string model = Cli.FitTinyModel(temp.Path);
        return (model, Load(model));
    }

    private static EvalConfig MiniConfig() => ConfigLoader.Load(Path.Combine(RepoPaths.Configs, "voc21-mini.json"));

    private static EvalConfig WithOptions(string key, string json)
    {
        EvalConfig config = MiniConfig();
        using JsonDocument value = JsonDocument.Parse(json);
        return config with { Segmenter = config.Segmenter with { Options = new Dictionary<string, JsonElement> { [key] = value.RootElement.Clone() } } };
    }
}
