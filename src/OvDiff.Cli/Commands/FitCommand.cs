using System.CommandLine;
using Microsoft.ML;
using Microsoft.ML.Data;
using OvDiff.Cli.Infrastructure;
using OvDiff.Core.Images;
using OvDiff.Core.Numerics;
using OvDiff.Core.IO;
using OvDiff.Core.Segmentation;
using OvDiff.Eval.Configuration;
using OvDiff.Imaging;
using OvDiff.Imaging.Support;
using OvDiff.ML;

namespace OvDiff.Cli.Commands;

/// <summary><c>ovdiff fit</c>: support images (a folder per class, a tagged-image CSV, or a support store from <c>ovdiff sample</c>) to a model zip.</summary>
internal static class FitCommand
{
    public static Command Create()
    {
        var support = new Option<string>("--support") { Description = "A support store written by `ovdiff sample` (its attribution maps rank the fg/bg segments), a folder with one sub-folder of images per class, or a CSV with header 'image,classes' (classes separated by '|').", Required = true };
        var output = new Option<string>("--out") { Description = "The model zip to write (written atomically).", Required = true };
        var extractors = new Option<string[]>("--extractor") { Description = $"Feature extractor(s); their similarities are averaged. Known: {string.Join(", ", Onnx.DenseFeatureExtractors.KnownNames)}.", DefaultValueFactory = _ => [Onnx.DenseFeatureExtractors.Default] };
        var perClass = new Option<int>("--per-class") { Description = "At most this many support images per class.", DefaultValueFactory = _ => int.MaxValue };
        var split = new Option<ForegroundSplitMode>("--split") { Description = "Foreground/background split of support images.", DefaultValueFactory = _ => ForegroundSplitMode.NormalizedCut };
        var levels = new Option<string>("--levels") { Description = "Prototype levels to fit: all, or a comma list of mean,image,parts.", DefaultValueFactory = _ => "all" };
        var useLevels = new Option<string>("--use-levels") { Description = "Inference default stored in the model: the levels matched (must be fitted). Class means measured best with ResNet18 (docs/results.md); the reference uses all.", DefaultValueFactory = _ => "mean" };
        var parts = new Option<int>("--parts") { Description = "k-means part prototypes per class and role (K).", DefaultValueFactory = _ => 32 };
        var stuff = new Option<string[]>("--stuff") { Description = "Stuff classes (no background prototypes of their own)." };
        var minArea = new Option<float>("--min-class-area") { Description = "Inference default stored in the model: drop classes predicted on less than this fraction of an image (0 = off, the reference).", DefaultValueFactory = _ => 0.1f };
        var prefilter = new Option<string>("--prefilter") { Description = "Inference default stored in the model: the class pre-filter, none, support (from the support set alone; chosen by cross-validation, docs/results.md) or clip (CLIP ViT-B/16, needs its files; docs/models.md).", DefaultValueFactory = _ => "support" };
        var prefilterArea = new Option<float>("--prefilter-min-area") { Description = "Inference default stored in the model: the support pre-filter keeps classes winning at least this share of the first pass's cells (per class scaled by --prefilter-tag-prior).", DefaultValueFactory = _ => new ClassPrefilterOptions().SupportMinimumArea };
        var prefilterTagPrior = new Option<float>("--prefilter-tag-prior") { Description = "Inference default stored in the model: a class the support images show more often than the average class needs less first-pass area, (mean share / its share)^this times --prefilter-min-area (segmenter.options.prefilterTagPrior). 0 = one threshold. 1: chosen by cross-validation (docs/results.md).", DefaultValueFactory = _ => 1f };
        var selfPrototypes = new Option<float>("--self-prototypes") { Description = "Inference default stored in the model: weight of the image's own prototypes mixed into the scores (0 = off, the reference).", DefaultValueFactory = _ => 0.5f };
        var pamr = new Option<bool>("--pamr") { Description = "Inference default stored in the model: refine the scores with PAMR (10 iterations, dilations 1,2,4,8,12,24). On: chosen by cross-validation (docs/results.md); --pamr false turns it off (the reference's default).", DefaultValueFactory = _ => true };
        var multiTagRounds = new Option<int>("--multi-tag-rounds") { Description = "Support images with several tags: rounds of sharing their cells out among their classes (0 = fit each tag alone with the image's split).", DefaultValueFactory = _ => new PrototypeFitOptions().MultiTagIterations };
        var cleaningRounds = new Option<int>("--cleaning-rounds") { Description = "Support images with one tag: rounds of cleaning their foreground with their class's other images (cells closer to the class's background mean move to the background; 0 = off, the reference). 2: chosen by cross-validation (docs/results.md).", DefaultValueFactory = _ => 2 };
        var backgroundParts = new Option<int>("--shared-background-parts") { Description = "k-means parts of the single-tag support images' background, kept in the model as background of no class: support images with several tags are shared out against them, and the support pre-filter's first pass scores them as background (segmenter.options.prefilterSharedBackground, stored on). 0 = none (one background mean). 32: chosen by cross-validation (docs/results.md).", DefaultValueFactory = _ => 32 };
        var config = new Option<FileInfo?>("--config", "-c") { Description = "An eval config: its fit section (extractors, levels, parts, multiTagRounds, cleaningRounds, sharedBackgroundParts) and dataset.stuffClasses set the fit where no option is given; its protocol and segmenter.options become the model's inference defaults (as `ovdiff eval` would apply them)." };
        var set = new Option<string[]>("--set") { Description = "Override a field of that config (or of the defaults, without --config): key=value, repeatable, e.g. --set protocol.shortSide=320.", Arity = ArgumentArity.ZeroOrMore };
        var maxLongSide = new Option<int>("--max-long-side") { Description = "Refuse support images whose long side, once the short side is 448, exceeds this (extreme aspect ratios); also stored as the inference bound.", DefaultValueFactory = _ => new PrototypeFitOptions().MaxLongSide };
        var skipBad = new Option<bool>("--skip-bad") { Description = "Leave out support images that cannot be read or are too large (each named in a warning) instead of stopping." };
        var classes = new Option<string[]>("--class") { Description = "Fit only these classes (default: all classes of the support set), in this label order." };
        var command = new Command("fit", "Fit OVDiff prototypes from support images and save the model zip.")
        {
            support, output, extractors, perClass, split, levels, useLevels, parts, stuff, minArea, prefilter, prefilterArea, prefilterTagPrior, selfPrototypes, pamr, multiTagRounds, cleaningRounds, backgroundParts, config, set, classes, maxLongSide, skipBad,
        };
        command.SetAction((parse, commandToken) =>
        {
            using var interruption = new Interruption(commandToken);   // Ctrl-C: stop at the next check, write no model, exit 130
            CancellationToken cancellationToken = interruption.Token;
            string supportPath = parse.GetRequiredValue(support);
            int maxPerClass = CliParsing.RequirePositive(parse, perClass);
            int longSideBound = CliParsing.RequirePositive(parse, maxLongSide);
            CliParsing.RequireFraction(parse, minArea, closed: false);
            CliParsing.RequireFraction(parse, prefilterArea, closed: false);
            float tagPrior = parse.GetValue(prefilterTagPrior);
            if (!(tagPrior is >= 0 and <= 4))
            {
                throw new CommandLineException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{prefilterTagPrior.Name} must be in [0, 4], got {tagPrior}."));
            }

            CliParsing.RequireFraction(parse, selfPrototypes, closed: true);
            if (parse.GetResult(parts) is { Implicit: false })
            {
                CliParsing.RequirePositive(parse, parts);
            }

            CliParsing.RequireNonNegative(parse, multiTagRounds);
            CliParsing.RequireNonNegative(parse, cleaningRounds);
            CliParsing.RequireNonNegative(parse, backgroundParts);

            string outPath = parse.GetRequiredValue(output);
            CliParsing.RequireWritableFile(outPath, "--out");
            EvalConfig? benchmark = CliParsing.OptionalConfig(parse, config, set);
            FitConfig fromConfig = benchmark?.Fit ?? new FitConfig();
            TextWriter stderr = parse.InvocationConfiguration.Error;
            ISupportSource source = SupportStore.IsStore(supportPath) ? SupportStore.Open(supportPath).AsSupportSource(maxPerClass: maxPerClass)
                : Directory.Exists(supportPath) ? new FolderSupportSource(supportPath, maxPerClass)
                : new TaggedImageListSupportSource(supportPath, maxPerClass);
            string[] chosen = parse.GetValue(classes) is { Length: > 0 } c ? ChooseClasses(c, source, supportPath) : source.ClassNames.ToArray();

            // An option given on the command line wins over the config's fit section, which wins over the option's default.
            bool Given(Option option) => parse.GetResult(option) is { Implicit: false };
            PrototypeLevels fitLevels = CliParsing.ParseLevels((Given(levels) ? parse.GetValue(levels) : fromConfig.Levels ?? parse.GetValue(levels)) ?? "all");
            string[] stuffClasses = Given(stuff) ? parse.GetValue(stuff) ?? []
                : benchmark?.Dataset.StuffClasses?.Where(s => chosen.Contains(s, ClassNaming.Comparer)).ToArray() ?? [];
            var options = new OvDiffSegmentOptions
            {
                ClassNames = chosen,
                FeatureExtractors = (Given(extractors) ? parse.GetValue(extractors) : fromConfig.Extractors?.ToArray()) ?? [Onnx.DenseFeatureExtractors.Default],
                Segmentation = new SegmentationOptions
                {
                    Levels = UsableLevels(CliParsing.ParseLevels(parse.GetValue(useLevels) ?? "mean"), fitLevels),
                    MinimumClassArea = parse.GetValue(minArea),
                    SelfPrototypeWeight = parse.GetValue(selfPrototypes),
                    Prefilter = new ClassPrefilterOptions { Kind = ModelSegmenterFactory.ParsePrefilter("--prefilter", parse.GetValue(prefilter) ?? "support"), SupportMinimumArea = parse.GetValue(prefilterArea), SupportSharedBackground = true, SupportTagPrior = tagPrior },
                    Pamr = parse.GetValue(pamr) ? new PamrOptions() : null,
                    MaxLongSide = longSideBound,
                },
                Fit = new PrototypeFitOptions
                {
                    MultiTagIterations = Given(multiTagRounds) ? parse.GetValue(multiTagRounds) : fromConfig.MultiTagRounds ?? parse.GetValue(multiTagRounds),
                    ForegroundCleaningRounds = Given(cleaningRounds) ? parse.GetValue(cleaningRounds) : fromConfig.CleaningRounds ?? parse.GetValue(cleaningRounds),
                    SharedBackgroundParts = Given(backgroundParts) ? parse.GetValue(backgroundParts) : fromConfig.SharedBackgroundParts ?? parse.GetValue(backgroundParts),
                    Split = parse.GetValue(split),
                    Levels = fitLevels,
                    PartCount = Given(parts) ? parse.GetValue(parts) : fromConfig.Parts ?? parse.GetValue(parts),
                    StuffClasses = stuffClasses,
                    MaxLongSide = longSideBound,
                },
            };
            if (benchmark is not null)
            {
                options = options with { Segmentation = ModelSegmenterFactory.Apply(options.Segmentation, benchmark) };
            }

            if (parse.GetResult(maxLongSide) is { Implicit: false })
            {
                options = options with { Segmentation = options.Segmentation with { MaxLongSide = longSideBound } };
            }

            var wanted = chosen.ToHashSet(ClassNaming.Comparer);
            var examples = source.Enumerate(cancellationToken).Where(e => e.AlsoShows.Prepend(e.ClassName).Any(wanted.Contains)).ToList();
            HashSet<string> bad = CheckSupportImages(examples.Select(e => e.Source), options.Fit, parse.GetValue(skipBad), stderr, cancellationToken);
            examples = [.. examples.Where(e => !bad.Contains(e.Source))];

            // One row per (image, tag): the estimator takes the rows of one image together as one multi-tag support image.
            var rows = examples.SelectMany(e => e.AlsoShows.Prepend(e.ClassName).Where(wanted.Contains).Select(tag => new SupportRow { ImagePath = Path.GetFullPath(e.Source), Label = tag })).ToList();
            var context = new MLContext(seed: 0);
            IDataView data = examples.Any(e => e.Attribution is not null)
                ? SupportWithAttribution(context, examples)
                : context.Data.LoadFromEnumerable(rows);
            using var progress = new ConsoleProgress(stderr);
            OvDiffSegmentEstimator estimator = context.Transforms.OvDiffSegment(options).WithProgress(progress);
            using OvDiffSegmentTransformer model = estimator.Fit(data, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();   // Ctrl-C in the last step: no model, exit 130 (was: written, exit 0)
            AtomicFile.Write(outPath, stream => OvDiffModel.Save(context, model, data.Schema, stream));   // the same fit, the same bytes
            progress.Finish();
            int imageCount = model.State.Model.SupportImageCount;   // a multi-tag image once
            string pairs = imageCount == model.State.Model.SupportImages.Count ? "" : $" ({model.State.Model.SupportImages.Count} image-class pairs)";
            int classCount = model.State.Model.ClassNames.Count;
            stderr.WriteLine($"Wrote {outPath}: {classCount} {(classCount == 1 ? "class" : "classes")}, {imageCount} support image{(imageCount == 1 ? "" : "s")}{pairs}, "
                + $"{string.Join(", ", model.State.Model.Banks.Select(b => $"{b.ExtractorName}: {b.Count} prototypes x {b.Channels}"))}"
                + SharedBackgroundSummary(model.State.Model.SharedBackground, options.Fit.SharedBackgroundParts));
            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>
    /// The end of fit's summary line: the shared background's part count, and why it is smaller than the
    /// <paramref name="asked"/> count (fewer distinct background cells than parts) or absent (no background cell to take
    /// it from: every support image has several tags). Both were silent: 100000 parts of a tiny set gave 204 with no word why.
    /// </summary>
    private static string SharedBackgroundSummary(SharedBackground? shared, int asked) => shared switch
    {
        null when asked > 0 => $"; no shared background parts ({asked} asked): no single-tag support image has background cells to take them from.",
        null => ".",
        _ when shared.Count < asked => $", {shared.Count} shared background parts (of {asked} asked: the support images' backgrounds have only {shared.Count} distinct cells).",
        _ => $", {shared.Count} shared background parts.",
    };

    /// <summary>The support set's spelling of each class named by --class, in the order given; a class the support set lacks is an error.</summary>
    private static string[] ChooseClasses(string[] named, ISupportSource source, string supportPath) => named.Select(name =>
        source.ClassNames.FirstOrDefault(known => ClassNaming.AreSame(known, name))
        ?? throw new CommandLineException($"--class '{name}' is not a class of the support set {supportPath} (its classes: {string.Join(", ", source.ClassNames)}).")).ToArray();

    /// <summary>
    /// Reads the header of every support image before fitting starts, so that a missing, unreadable or too large one
    /// (over the pixel bound, or too elongated for <paramref name="fit"/>'s long-side bound) stops the run at once, named;
    /// with <paramref name="skipBad"/> such images are left out, each named in a warning, and each image is decoded whole,
    /// so that one whose data is corrupt past a sound header (a JPEG cut short) is left out too rather than stopping the fit
    /// halfway (a second decode of each image: the price of that promise). Returns those left out.
    /// </summary>
    private static HashSet<string> CheckSupportImages(IEnumerable<string> paths, PrototypeFitOptions fit, bool skipBad, TextWriter warnings, CancellationToken cancellationToken)
    {
        var bad = new HashSet<string>(StringComparer.Ordinal);
        foreach (string path in paths.Distinct(StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                (int width, int height) = skipBad ? Size(ImageDecoder.Decode(path)) : ImageDecoder.CheckDecodable(path);
                (int w, int h) = Resampling.ShortSideSize(width, height, fit.SupportShortSide);
                ImageTooLargeException.ThrowIfLongSideAbove(width, height, w, h, fit.SupportShortSide, fit.MaxLongSide, "--max-long-side");
            }
            catch (ImageTooLargeException e)
            {
                Reject(path, e.Message, skipBad, bad, warnings);
            }
            catch (ImageFormatException e)
            {
                Reject(path, e.Reason, skipBad, bad, warnings);
            }
        }

        return bad;

        static (int Width, int Height) Size(RgbImage image) => (image.Width, image.Height);

        static void Reject(string path, string reason, bool skipBad, HashSet<string> bad, TextWriter warnings)
        {
            string message = $"support image {path}: {reason}";
            if (!skipBad)
            {
                throw new CommandLineException(message + " (--skip-bad leaves such images out)");
            }

            warnings.WriteLine($"warning: skipped {message}");
            bad.Add(path);
        }
    }

    /// <summary>The inference levels asked for that were fitted; all fitted levels when none of them was.</summary>
    private static PrototypeLevels UsableLevels(PrototypeLevels wanted, PrototypeLevels fitted) =>
        (wanted & fitted) == PrototypeLevels.None ? fitted : wanted & fitted;

    /// <summary>
    /// The support rows with their attribution maps in the column OvDiffSegment's Fit reads
    /// (<see cref="OvDiffSegmentOptions.AttributionColumnName"/>), typed [H, W] when all maps share one shape.
    /// </summary>
    private static IDataView SupportWithAttribution(MLContext context, IReadOnlyList<SupportExample> examples)
    {
        var rows = examples.Select(e => new SupportRowWithAttribution { ImagePath = e.Source, Label = e.ClassName, Attribution = e.Attribution?.Values ?? [] }).ToList();
        SchemaDefinition schema = SchemaDefinition.Create(typeof(SupportRowWithAttribution));
        var shapes = examples.Select(e => e.Attribution is { } map ? (map.Height, map.Width) : (0, 0)).Distinct().ToList();
        if (shapes.Count == 1 && shapes[0].Item1 > 0)
        {
            schema[nameof(SupportRowWithAttribution.Attribution)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, shapes[0].Item1, shapes[0].Item2);
        }

        return context.Data.LoadFromEnumerable(rows, schema);
    }

    private sealed class SupportRowWithAttribution
    {
        public string ImagePath { get; set; } = "";

        public string Label { get; set; } = "";

        [VectorType]
        public float[] Attribution { get; set; } = [];
    }

    private sealed class SupportRow
    {
        public string ImagePath { get; set; } = "";

        public string Label { get; set; } = "";
    }
}
