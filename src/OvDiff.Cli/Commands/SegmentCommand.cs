using System.CommandLine;
using Microsoft.ML;
using OvDiff.Cli.Infrastructure;
using OvDiff.Core.Images;
using OvDiff.Core.IO;
using OvDiff.Core.Segmentation;
using OvDiff.Imaging;
using OvDiff.ML;

namespace OvDiff.Cli.Commands;

/// <summary><c>ovdiff segment</c>: label PNGs, colour overlays with a legend, and optionally score maps.</summary>
internal static class SegmentCommand
{
    public static Command Create()
    {
        var images = new Argument<string[]>("images") { Description = "Images to segment.", Arity = ArgumentArity.OneOrMore };
        var model = new Option<string>("--model") { Description = "Model zip written by `ovdiff fit`.", Required = true };
        var output = new Option<string>("--out") { Description = "Output folder.", Required = true };
        var scores = new Option<bool>("--scores") { Description = "Also write <name>.scores.npy: float32 [labels, height, width] score maps." };
        var noOverlay = new Option<bool>("--no-overlay") { Description = "Do not write <name>.overlay.png." };
        var pamr = new Option<bool>("--pamr") { Description = "Refine scores with PAMR (10 iterations, dilations 1,2,4,8,12,24)." };
        var command = new Command("segment", "Segment images with a fitted model: writes <name>.png (palette label map), <name>.overlay.png and, with --scores, <name>.scores.npy.")
        {
            images, model, output, scores, noOverlay, pamr,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            OvDiffModel loaded = OvDiffModel.Load(new MLContext(seed: 0), parse.GetRequiredValue(model));
            SegmentationOptions options = loaded.State.Segmentation;
            if (parse.GetValue(pamr))
            {
                options = options with { Pamr = new Core.Numerics.PamrOptions() };
            }

            using OvDiffSegmenterSession session = OvDiffSegmenterSession.Create(loaded.State, options);
            string outDir = parse.GetRequiredValue(output);
            Directory.CreateDirectory(outDir);
            string[] paths = parse.GetRequiredValue(images);
            string? clash = paths.GroupBy(p => Path.GetFileNameWithoutExtension(p), StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1)?.Key;
            if (clash is not null)
            {
                throw new CommandLineException($"Two input images are named '{clash}' ({string.Join(", ", paths.Where(p => Path.GetFileNameWithoutExtension(p) == clash))}); their outputs would overwrite each other. Segment them into different --out folders.");
            }

            using var progress = new ConsoleProgress(parse.InvocationConfiguration.Error);
            var overlay = new OverlayRenderer();
            for (int i = 0; i < paths.Length; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                RgbImage image = ImageDecoder.Decode(paths[i]);
                SegmentationResult result = session.Segmenter.Segment(image, parse.GetValue(scores), cancellationToken);
                string stem = Path.Combine(outDir, Path.GetFileNameWithoutExtension(paths[i]));
                AtomicFile.Write(stem + ".png", s => LabelPngWriter.Write(s, result.Labels));
                if (!parse.GetValue(noOverlay))
                {
                    AtomicFile.Write(stem + ".overlay.png", s => overlay.Write(s, image, result.Labels, session.Segmenter.ClassNames));
                }

                if (result.Scores is not null)
                {
                    AtomicFile.Write(stem + ".scores.npy", s => NpyFile.WriteFloat32(s, result.Scores, [session.Segmenter.ClassNames.Count, image.Height, image.Width]));
                }

                progress.Report(new StepProgress("segment", i + 1, paths.Length, paths[i]));
            }

            return Task.FromResult(0);
        });
        return command;
    }
}
