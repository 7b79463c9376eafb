using System.CommandLine;
using Microsoft.ML;
using OvDiff.Cli.Infrastructure;
using OvDiff.Core.Images;
using OvDiff.Core.IO;
using OvDiff.Core.Numerics;
using OvDiff.Core.Segmentation;
using OvDiff.Imaging;
using OvDiff.ML;

namespace OvDiff.Cli.Commands;

/// <summary><c>ovdiff masks</c>: draws the foreground/background split stored in a model over each support image.</summary>
internal static class MasksCommand
{
    private static readonly string[] LegendNames = ["neither", "foreground", "background"];

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model zip written by `ovdiff fit`.", Required = true };
        var output = new Option<string>("--out") { Description = "Output folder: <class>/<image>.masks.png per support image.", Required = true };
        var command = new Command("masks", "Inspect the foreground (red) and background (green) masks that the prototypes were pooled from.")
        {
            model, output,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            OvDiffModel loaded = OvDiffModel.Load(new MLContext(seed: 0), parse.GetRequiredValue(model));
            PrototypeModel prototypes = loaded.State.Model;
            string outDir = parse.GetRequiredValue(output);
            var overlay = new OverlayRenderer(Opacity: 0.5f);
            using var progress = new ConsoleProgress(parse.InvocationConfiguration.Error);
            for (int i = 0; i < prototypes.SupportImages.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                SupportImageRecord support = prototypes.SupportImages[i];
                RgbImage image = ImageDecoder.Decode(support.Source);
                var grid = new byte[support.Foreground.Length];
                for (int c = 0; c < grid.Length; c++)
                {
                    grid[c] = support.Foreground[c] ? (byte)1 : support.Background[c] ? (byte)2 : (byte)0;
                }

                LabelMap masks = Resampling.ResizeNearest(new LabelMap(support.MaskWidth, support.MaskHeight, grid), image.Width, image.Height);
                string folder = Path.Combine(outDir, prototypes.ClassNames[support.ClassIndex]);
                Directory.CreateDirectory(folder);
                string path = Path.Combine(folder, Path.GetFileNameWithoutExtension(support.Source) + ".masks.png");
                AtomicFile.Write(path, s => overlay.Write(s, image, masks, LegendNames));
                progress.Report(new StepProgress("masks", i + 1, prototypes.SupportImages.Count, support.Source));
            }

            return Task.FromResult(0);
        });
        return command;
    }
}
