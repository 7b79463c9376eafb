using System.CommandLine;
using System.Globalization;
using Microsoft.ML;
using OvDiff.Cli.Infrastructure;
using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;
using OvDiff.Imaging;
using OvDiff.ML;

namespace OvDiff.Cli.Commands;

/// <summary><c>ovdiff explain</c>: which prototypes (and so which support images and regions) a pixel's label rests on.</summary>
internal static class ExplainCommand
{
    public static Command Create()
    {
        var image = new Argument<string>("image") { Description = "The image." };
        var model = new Option<string>("--model") { Description = "Model zip written by `ovdiff fit`.", Required = true };
        var x = new Option<int>("--x") { Description = "Pixel column.", Required = true };
        var y = new Option<int>("--y") { Description = "Pixel row.", Required = true };
        var top = new Option<int>("--top") { Description = "How many prototypes to list.", DefaultValueFactory = _ => 5 };
        var prefilter = new Option<string?>("--prefilter") { Description = "Class pre-filter: none, clip or support (default: the model's, or the config's)." };
        var inference = new InferenceOverrides();
        var command = new Command("explain", "Show the label at a pixel and the most similar prototypes with the support images and regions they came from.")
        {
            image, model, x, y, top, prefilter,
        };
        foreach (Option option in inference.Options)
        {
            command.Options.Add(option);   // the same as segment's: explain shows what segment does with the same flags
        }

        command.SetAction((parse, cancellationToken) =>
        {
            TextWriter stdout = parse.InvocationConfiguration.Output;
            int topCount = CliParsing.RequirePositive(parse, top);
            using OvDiffModel loaded = OvDiffModel.Load(new MLContext(seed: 0), parse.GetRequiredValue(model));
            SegmentationOptions options = inference.Apply(parse, loaded, parse.InvocationConfiguration.Error);
            if (parse.GetValue(prefilter) is { } kind)
            {
                options = options with { Prefilter = options.Prefilter with { Kind = ModelSegmenterFactory.ParsePrefilter("--prefilter", kind) } };
            }

            using OvDiffSegmenterSession session = OvDiffSegmenterSession.Create(loaded.State, options);
            string imagePath = parse.GetRequiredValue(image);
            RgbImage picture = ImageDecoder.Decode(imagePath);
            int px = parse.GetValue(x), py = parse.GetValue(y);
            if ((uint)px >= (uint)picture.Width || (uint)py >= (uint)picture.Height)
            {
                throw new CommandLineException($"--x/--y: pixel ({px}, {py}) is outside {imagePath}, which is {picture.Width}x{picture.Height}.");
            }

            SegmentationResult result = session.Segmenter.Segment(picture, includeScores: false, cancellationToken);
            LabelMap labels = result.Labels;
            IReadOnlyList<string> names = session.Segmenter.ClassNames;
            byte label = labels.Labels[((long)py * labels.Width) + px];
            stdout.WriteLine($"Pixel ({px}, {py}) of {imagePath}: label {label} '{names[label]}'.");
            PrototypeModel fitted = loaded.State.Model;
            if (result.Prefilter is { } decision)
            {
                string[] dropped = Enumerable.Range(0, fitted.ClassNames.Count).Where(c => !fitted.IsStuff[c] && !decision.Kept.Contains(c))
                    .Select(c => string.Create(CultureInfo.InvariantCulture, $"{fitted.ClassNames[c]} ({decision.Scores[c]:0.###})")).ToArray();
                string[] stuff = Enumerable.Range(0, fitted.ClassNames.Count).Where(c => fitted.IsStuff[c]).Select(c => fitted.ClassNames[c]).ToArray();
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Pre-filter {decision.Method} ({decision.Milliseconds:F0} ms): kept {(decision.Kept.Count == 0 ? "nothing" : decision.Describe(fitted.ClassNames))}"));
                stdout.WriteLine($"  left out: {(dropped.Length == 0 ? "nothing" : string.Join(", ", dropped))}");
                if (options.Prefilter.Kind == ClassPrefilterKind.Support && options.Prefilter.SupportSharedBackground && options.UseBackgroundPrototypes && fitted.SharedBackground is { } shared)
                {
                    // They decide what the first pass calls background, so they decide the scores above (was: not named).
                    stdout.WriteLine($"  first pass: the model's {shared.Count} shared background parts also score as background (segmenter.options.prefilterSharedBackground)");
                }

                if (options.Prefilter.Kind == ClassPrefilterKind.Support && options.Prefilter.SupportTagPrior != 0)
                {
                    float[] needed = SupportEvidencePrefilter.AreaThresholds(options.Prefilter.SupportMinimumArea, options.Prefilter.SupportTagPrior, fitted.SupportImageShares, fitted.IsStuff);
                    string perClass = string.Join(", ", Enumerable.Range(0, fitted.ClassNames.Count).Where(c => !fitted.IsStuff[c])
                        .Select(c => string.Create(CultureInfo.InvariantCulture, $"{fitted.ClassNames[c]} {needed[c]:0.###}")));
                    stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  area each class needs (the share of support images showing it, segmenter.options.prefilterTagPrior {options.Prefilter.SupportTagPrior:0.##}): {perClass}"));
                }

                if (stuff.Length > 0)
                {
                    stdout.WriteLine($"  stuff (always candidates): {string.Join(", ", stuff)}");
                }
            }
            stdout.WriteLine("Most similar prototypes among those the segmenter matches (whole image, resized):");
            PrototypeModel m = loaded.State.Model;
            foreach (PrototypeMatch match in session.Segmenter.Explain(picture, px, py, topCount, cancellationToken))
            {
                PrototypeOrigin o = match.Origin;
                string source = o.Level switch
                {
                    PrototypeLevels.PerImage => $"support image {m.SupportImages[o.SupportImage].Source} ({Region(m.SupportImages[o.SupportImage], o.Role)})",
                    PrototypeLevels.Parts => $"k-means part #{o.Cluster}, a centroid of {o.CellCount} cells from the '{m.ClassNames[o.ClassIndex]}' support images",
                    _ => $"mean of {o.CellCount} cells over all '{m.ClassNames[o.ClassIndex]}' support images",
                };
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {match.Similarity:F3}  {m.ClassNames[o.ClassIndex]} {o.Role.ToString().ToLowerInvariant()} [{match.ExtractorName} #{match.PrototypeIndex}]: {source}"));
            }

            return Task.FromResult(0);
        });
        return command;
    }

    private static string Region(SupportImageRecord support, PrototypeRole role)
    {
        bool[] mask = role == PrototypeRole.Foreground ? support.Foreground : support.Background;
        int cells = mask.Count(v => v);
        return string.Create(CultureInfo.InvariantCulture, $"{role.ToString().ToLowerInvariant()} mask: {cells} of {mask.Length} cells on a {support.MaskWidth}x{support.MaskHeight} grid");
    }
}
