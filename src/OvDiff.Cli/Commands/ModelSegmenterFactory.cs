using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using OvDiff.Cli.Infrastructure;
using OvDiff.Core.Images;
using OvDiff.Core.Numerics;
using OvDiff.Core.Segmentation;
using OvDiff.Eval.Configuration;
using OvDiff.Eval.Running;
using OvDiff.ML;

namespace OvDiff.Cli.Commands;

/// <summary>
/// Builds the segmenter an eval config describes: the model zip in <c>segmenter.model</c>, run with the config's
/// protocol (short side, windows, full image) and <c>segmenter.options</c>, its labels mapped by class name onto the
/// dataset's class list.
/// </summary>
public static class ModelSegmenterFactory
{
    /// <summary>The keys <c>segmenter.options</c> accepts.</summary>
    public static readonly IReadOnlyList<string> OptionKeys =
        ["levels", "useBackgroundPrototypes", "minimumClassArea", "scoreThreshold", "stuffBackgroundFilterThreshold", "pamr", "prefilter", "prefilterPrompt", "prefilterClassNames", "prefilterMaxClasses", "prefilterMinimumArea", "prefilterBackgroundBias", "prefilterSharedBackground", "prefilterTagPrior", "selfPrototypes"];

    /// <summary>Creates the segmenter for <paramref name="config"/> (the caller disposes it).</summary>
    public static ISegmenter Create(EvalConfig config)
    {
        string model = config.Segmenter.Model
            ?? throw new ConfigException("No segmenter.model in the config: set it (e.g. --set segmenter.model=model.zip or --model), or pass --predictions DIR.");
        using OvDiffModel loaded = OvDiffModel.Load(new MLContext(seed: 0), model);
        SegmentationOptions options = Apply(loaded.State.Segmentation, config);
        if (SharedBackgroundWarning(config, loaded.State.Model, model) is string warning)
        {
            Console.Error.WriteLine(warning);
        }

        OvDiffModelState state = WithConfigStuff(loaded.State, config);
        OvDiffSegmenterSession session = OvDiffSegmenterSession.Create(state, options);
        try
        {
            return new DatasetLabelSegmenter(session, config.Dataset.Classes ?? throw new ConfigException("The dataset config lists no classes."), model, Identity(loaded.State, options));
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The model with the config's <c>dataset.stuffClasses</c> as its stuff classes, when the config lists them (each must
    /// be one of the dataset's classes); the model's own otherwise.
    /// </summary>
    internal static OvDiffModelState WithConfigStuff(OvDiffModelState state, EvalConfig config)
    {
        if (config.Dataset.StuffClasses is not { } stuff)
        {
            return state;
        }

        IReadOnlyList<string> classes = config.Dataset.Classes ?? [];
        string[] unknown = [.. stuff.Where(s => !classes.Contains(s, StringComparer.OrdinalIgnoreCase))];
        if (unknown.Length > 0)
        {
            throw new ConfigException($"'dataset.stuffClasses' names {string.Join(", ", unknown.Select(u => $"'{u}'"))}, not among the dataset's classes ({string.Join(", ", classes)}).");
        }

        var model = state.Model;
        string[] byModelName = [.. model.ClassNames.Where(name => stuff.Contains(name, StringComparer.OrdinalIgnoreCase))];
        return state with { Model = model.WithStuffClasses(byModelName) };
    }

    /// <summary>
    /// What decides this segmenter's predictions beyond the config: the model's OvDiff state (prototypes, fit and stored
    /// options; not the zip's bytes, which ML.NET writes differently on every save: entry times, and the order in which
    /// its binary saver's threads finish), its extractors and classes, and every segmentation option in force (the model's
    /// stored defaults with the config applied).
    /// </summary>
    internal static IReadOnlyDictionary<string, string> Identity(OvDiffModelState state, SegmentationOptions options)
    {
        var parts = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["model.state.sha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(state.ToBytes())),
            ["model.extractors"] = string.Join(", ", state.FeatureExtractors),
            ["model.classes"] = string.Join(", ", state.Model.ClassNames),
        };
        RunIdentity.Flatten(JsonSerializer.SerializeToNode(options, IdentityJson), "inference.", parts);
        return parts;
    }

    private static readonly JsonSerializerOptions IdentityJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    internal static SegmentationOptions Apply(SegmentationOptions options, EvalConfig config)
    {
        options = options with
        {
            ShortSide = config.Protocol.ShortSide,
            MaxLongSide = config.Protocol.MaxLongSide,
            Windows = config.Protocol.Windows.Select(w => new SlidingWindow(w.Crop, w.Stride)).ToArray(),
            IncludeFullImage = config.Protocol.IncludeFullImage,
            FlipTestTime = config.Protocol.Flip ?? options.FlipTestTime,
        };
        foreach ((string key, JsonElement value) in config.Segmenter.Options ?? new Dictionary<string, JsonElement>())
        {
            options = key switch
            {
                "levels" => options with { Levels = ParseLevels(key, Expect(key, value, JsonValueKind.String).GetString()!) },
                "useBackgroundPrototypes" => options with { UseBackgroundPrototypes = ExpectBool(key, value) },
                "minimumClassArea" => options with { MinimumClassArea = Expect(key, value, JsonValueKind.Number).GetSingle() },
                "scoreThreshold" => options with { ScoreThreshold = Expect(key, value, JsonValueKind.Number).GetSingle() },
                "stuffBackgroundFilterThreshold" => options with { StuffBackgroundFilterThreshold = Expect(key, value, JsonValueKind.Number).GetSingle() },
                "pamr" => options with { Pamr = ExpectBool(key, value) ? new PamrOptions() : null },
                "selfPrototypes" => options with { SelfPrototypeWeight = Expect(key, value, JsonValueKind.Number).GetSingle() },
                "prefilter" => options with { Prefilter = options.Prefilter with { Kind = ParsePrefilter($"segmenter.options.{key}", Expect(key, value, JsonValueKind.String).GetString()!) } },
                "prefilterPrompt" => options with { Prefilter = options.Prefilter with { ClipPrompt = Expect(key, value, JsonValueKind.String).GetString()! } },
                "prefilterClassNames" => options with { Prefilter = options.Prefilter with { ClipClassNames = Expect(key, value, JsonValueKind.Object).EnumerateObject().ToDictionary(p => p.Name, p => Expect($"{key}.{p.Name}", p.Value, JsonValueKind.String).GetString()!, StringComparer.Ordinal) } },
                "prefilterMaxClasses" => options with { Prefilter = options.Prefilter with { ClipMaxClasses = Expect(key, value, JsonValueKind.Number).GetInt32() } },
                "prefilterMinimumArea" => options with { Prefilter = options.Prefilter with { SupportMinimumArea = Expect(key, value, JsonValueKind.Number).GetSingle() } },
                "prefilterBackgroundBias" => options with { Prefilter = options.Prefilter with { SupportBackgroundBias = Expect(key, value, JsonValueKind.Number).GetSingle() } },
                "prefilterSharedBackground" => options with { Prefilter = options.Prefilter with { SupportSharedBackground = ExpectBool(key, value) } },
                "prefilterTagPrior" => options with { Prefilter = options.Prefilter with { SupportTagPrior = Expect(key, value, JsonValueKind.Number).GetSingle() } },
                _ => throw new ConfigException($"Unknown key 'segmenter.options.{key}'. Known: {string.Join(", ", OptionKeys)}."),
            };
        }

        try
        {
            options.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ConfigException($"The protocol or segmenter.options of the config give invalid segmentation options: {e.Message}", e);
        }

        return options;
    }

    /// <summary>"none", "clip" or "support" (any case) as a <see cref="ClassPrefilterKind"/>; anything else names the key and the choices.</summary>
    internal static ClassPrefilterKind ParsePrefilter(string name, string text) =>
        Enum.TryParse(text, ignoreCase: true, out ClassPrefilterKind kind) && Enum.IsDefined(kind) && !int.TryParse(text, out _)
            ? kind
            : throw new ConfigException($"'{name}' must be none, clip or support, got '{text}'.");

    private static PrototypeLevels ParseLevels(string key, string text)
    {
        try
        {
            return CliParsing.ParseLevels(text);
        }
        catch (ArgumentException e)
        {
            throw new ConfigException($"'segmenter.options.{key}': {e.Message}", e);
        }
    }

    private static JsonElement Expect(string key, JsonElement value, JsonValueKind kind) =>
        value.ValueKind == kind ? value : throw new ConfigException($"'segmenter.options.{key}' must be a {kind.ToString().ToLowerInvariant()}, got {value.ValueKind.ToString().ToLowerInvariant()} ({value.GetRawText()}).");

    private static bool ExpectBool(string key, JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new ConfigException($"'segmenter.options.{key}' must be true or false, got {value.GetRawText()}."),
    };

    /// <summary>
    /// The table renumbering the labels of a model (label i = <paramref name="modelLabels"/>[i], 0 = background) to
    /// <paramref name="classes"/> by name; a model class the list lacks is a <see cref="ConfigException"/> naming both.
    /// </summary>
    internal static byte[] ToClassOrder(IReadOnlyList<string> modelLabels, IReadOnlyList<string> classes, string model) =>
        ClassNaming.MapByName(modelLabels, classes, name => new ConfigException(
            $"Model '{model}' has class '{name}', which the dataset's class list does not have ({string.Join(", ", classes)})."));

    /// <summary>
    /// A warning when the model's labels cover only part of the dataset's (a model fitted on 2 of 20 classes evaluated on
    /// all 20): the others can never be predicted and score 0 IoU. Null when every dataset label is covered.
    /// </summary>
    internal static string? CoverageWarning(IReadOnlyList<string> modelLabels, IReadOnlyList<string> classes, string model)
    {
        byte[] map = ToClassOrder(modelLabels, classes, model);
        string[] uncovered = [.. classes.Where((_, i) => !map.AsSpan(0, modelLabels.Count).Contains((byte)i))];
        return uncovered.Length == 0 ? null : string.Create(CultureInfo.InvariantCulture,
            $"warning: model '{model}' has {classes.Count - uncovered.Length} of the dataset's {classes.Count} labels; never predicted, these score 0 IoU: {string.Join(", ", uncovered)}.");
    }

    /// <summary>
    /// A warning when the config sets <c>segmenter.options.prefilterSharedBackground</c> true for a model that has no shared
    /// background (fitted with <c>--shared-background-parts 0</c>, or with support images that all have several tags): the
    /// option then changes nothing, and a comparison of true and false measured nothing without a word. Null otherwise.
    /// </summary>
    internal static string? SharedBackgroundWarning(EvalConfig config, PrototypeModel model, string modelPath) =>
        model.SharedBackground is null && config.Segmenter.Options?.TryGetValue("prefilterSharedBackground", out JsonElement asked) == true && asked.ValueKind == JsonValueKind.True
            ? $"warning: segmenter.options.prefilterSharedBackground is true, but model '{modelPath}' has no shared background parts (fit it with --shared-background-parts N): the pre-filter runs as with false."
            : null;

    /// <summary>An OvDiff segmenter whose labels are renumbered to a dataset's class list by name.</summary>
    private sealed class DatasetLabelSegmenter : IIdentifiedSegmenter, IDisposable
    {
        private readonly OvDiffSegmenterSession _session;
        private readonly byte[] _toDataset;

        public DatasetLabelSegmenter(OvDiffSegmenterSession session, IReadOnlyList<string> datasetClasses, string model, IReadOnlyDictionary<string, string> identity)
        {
            _session = session;
            ClassNames = datasetClasses;
            IdentityParts = identity;
            _toDataset = ToClassOrder(session.Segmenter.ClassNames, datasetClasses, model);
            if (CoverageWarning(session.Segmenter.ClassNames, datasetClasses, model) is string warning)
            {
                Console.Error.WriteLine(warning);
            }
        }

        public IReadOnlyList<string> ClassNames { get; }

        public IReadOnlyDictionary<string, string> IdentityParts { get; }

        public LabelMap Segment(RgbImage image, CancellationToken cancellationToken = default) => SegmentWithPrefilter(image, cancellationToken).Labels;

        public SegmentationOutcome SegmentWithPrefilter(RgbImage image, CancellationToken cancellationToken = default)
        {
            SegmentationOutcome outcome = _session.Segmenter.SegmentWithPrefilter(image, cancellationToken);
            byte[] values = outcome.Labels.Labels;
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = _toDataset[values[i]];
            }

            return outcome with { Prefilter = outcome.Prefilter?.MapLabels(l => _toDataset[l], ClassNames.Count) };
        }

        public void Dispose()
        {
            SegmentationTimings t = _session.Segmenter.Timings;
            if (t.Images > 0)
            {
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Time per image over {t.Images} images: feature extraction {t.ExtractionMillisecondsPerImage:F0} ms, everything else {t.OtherMillisecondsPerImage:F0} ms (resize, matching, upsampling, argmax)."));
            }

            _session.Dispose();
        }
    }
}
