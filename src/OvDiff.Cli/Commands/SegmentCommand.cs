using System.CommandLine;
using Microsoft.ML;
using OvDiff.Cli.Infrastructure;
using OvDiff.Core.Images;
using OvDiff.Core.IO;
using OvDiff.Core.Segmentation;
using OvDiff.Eval.Configuration;
using OvDiff.Imaging;
using OvDiff.ML;

namespace OvDiff.Cli.Commands;

/// <summary>
/// <c>ovdiff segment</c>: label PNGs (with <c>labels.csv</c>, the index -> class table, beside them), colour overlays
/// with a legend, and optionally score maps.
/// </summary>
internal static class SegmentCommand
{
    public static Command Create()
    {
        var images = new Argument<string[]>("images") { Description = "Images to segment.", Arity = ArgumentArity.OneOrMore };
        var model = new Option<string>("--model") { Description = "Model zip written by `ovdiff fit`.", Required = true };
        var output = new Option<string>("--out") { Description = "Output folder.", Required = true };
        var classesFrom = new Option<FileInfo?>("--classes-from") { Description = "An eval config whose dataset class list numbers the labels (as `ovdiff eval` scores them); default: the model's order. labels.csv says which is which either way." };
        var scores = new Option<bool>("--scores") { Description = "Also write <name>.scores.npy: float32 [labels, height, width] score maps (in the model's label order)." };
        var noOverlay = new Option<bool>("--no-overlay") { Description = "Do not write <name>.overlay.png." };
        var inference = new InferenceOverrides();
        var skipBad = new Option<bool>("--skip-bad") { Description = "Skip images that cannot be read or are too large (each named in a warning) instead of stopping." };
        var storedOrientation = new Option<bool>("--stored-orientation") { Description = "Keep each image's pixels as stored, ignoring its EXIF orientation (dataset masks annotate the stored pixels: use it for `eval --predictions`). Default: photos are turned upright as viewers show them, and so are their outputs." };
        var command = new Command("segment", "Segment images with a fitted model: writes <name>.png (palette label map), labels.csv (index,name), <name>.overlay.png and, with --scores, <name>.scores.npy.")
        {
            images, model, output, classesFrom, scores, noOverlay, skipBad, storedOrientation,
        };
        foreach (Option option in inference.Options)
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, cancellationToken) =>
        {
            TextWriter stderr = parse.InvocationConfiguration.Error;
            string modelPath = parse.GetRequiredValue(model);
            string[] paths = parse.GetRequiredValue(images);
            string? clash = paths.GroupBy(p => Path.GetFileNameWithoutExtension(p), StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1)?.Key;
            if (clash is not null)
            {
                throw new CommandLineException($"Two input images are named '{clash}' ({string.Join(", ", paths.Where(p => Path.GetFileNameWithoutExtension(p) == clash))}); their outputs would overwrite each other. Segment them into different --out folders.");
            }

            using OvDiffModel loaded = OvDiffModel.Load(new MLContext(seed: 0), modelPath);
            SegmentationOptions options = inference.Apply(parse, loaded, stderr);

            using OvDiffSegmenterSession session = OvDiffSegmenterSession.Create(loaded.State, options);
            IReadOnlyList<string> modelLabels = session.Segmenter.ClassNames;
            (IReadOnlyList<string> labelNames, byte[]? renumber) = parse.GetValue(classesFrom) is FileInfo classesConfig
                ? DatasetOrder(classesConfig.FullName, modelLabels, modelPath)
                : (modelLabels, null);

            string outDir = parse.GetRequiredValue(output);
            Directory.CreateDirectory(outDir);
            LabelTable.Write(outDir, labelNames);
            using var progress = new ConsoleProgress(stderr);
            var overlay = new OverlayRenderer();
            ExifOrientation orientation = parse.GetValue(storedOrientation) ? ExifOrientation.Ignore : ExifOrientation.Apply;
            int written = 0, skipped = 0, turned = 0;
            for (int i = 0; i < paths.Length; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                SegmentationResult result;
                RgbImage image;
                try
                {
                    image = ImageDecoder.Decode(paths[i], orientation);
                    turned += orientation == ExifOrientation.Apply && ImageDecoder.ReadExifOrientation(paths[i]) != 1 ? 1 : 0;
                    result = session.Segmenter.Segment(image, parse.GetValue(scores), cancellationToken);
                }
                catch (Exception e) when (e is ImageFormatException or ImageTooLargeException)
                {
                    string reason = e is ImageFormatException ? e.Message : $"{paths[i]}: {e.Message}";
                    if (!parse.GetValue(skipBad))
                    {
                        throw new CommandLineException(reason + " (--skip-bad skips such images)", e);
                    }

                    progress.Finish();
                    stderr.WriteLine($"warning: skipped {reason}");
                    skipped++;
                    continue;
                }

                LabelMap labels = result.Labels;
                if (renumber is not null)
                {
                    labels = new LabelMap(labels.Width, labels.Height, [.. labels.Labels.Select(l => renumber[l])]);
                }

                string stem = Path.Combine(outDir, Path.GetFileNameWithoutExtension(paths[i]));
                AtomicFile.Write(stem + ".png", s => LabelPngWriter.Write(s, labels));
                if (!parse.GetValue(noOverlay))
                {
                    AtomicFile.Write(stem + ".overlay.png", s => overlay.Write(s, image, labels, labelNames));
                }

                if (result.Scores is not null)
                {
                    AtomicFile.Write(stem + ".scores.npy", s => NpyFile.WriteFloat32(s, result.Scores, [modelLabels.Count, image.Height, image.Width]));
                }

                written++;
                progress.Report(new StepProgress("segment", i + 1, paths.Length, paths[i]));
            }

            progress.Finish();
            if (written == 0)
            {
                throw new CommandLineException($"No image could be segmented ({skipped} skipped); nothing was written to {outDir} but labels.csv.");
            }

            string order = renumber is null ? "the model's label order" : $"the label order of {parse.GetValue(classesFrom)!.FullName}";
            stderr.WriteLine($"Wrote {written} label map{(written == 1 ? "" : "s")} ({order}; {Path.Combine(outDir, LabelTable.FileName)} names them) to {outDir}{(skipped > 0 ? $"; skipped {skipped} bad image{(skipped == 1 ? "" : "s")}" : "")}.");
            if (turned > 0)
            {
                stderr.WriteLine($"{turned} image{(turned == 1 ? " was" : "s were")} turned upright by {(turned == 1 ? "its" : "their")} EXIF orientation, as viewers show {(turned == 1 ? "it" : "them")}; {(turned == 1 ? "its" : "their")} outputs are upright too (--stored-orientation keeps the stored pixels, as dataset masks annotate them).");
            }
            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>The label names and renumbering table that put the model's labels in the class order of <paramref name="configPath"/>'s dataset.</summary>
    private static (IReadOnlyList<string> Names, byte[] Renumber) DatasetOrder(string configPath, IReadOnlyList<string> modelLabels, string model)
    {
        IReadOnlyList<string> classes = ConfigLoader.Load(configPath).Dataset.Classes
            ?? throw new ConfigException($"{configPath}: --classes-from needs a config whose dataset lists its classes (dataset.classes).");
        return (classes, ModelSegmenterFactory.ToClassOrder(modelLabels, classes, model));
    }
}
