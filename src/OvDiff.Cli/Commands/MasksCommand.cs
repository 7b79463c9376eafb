using System.CommandLine;
using Microsoft.ML;
using OvDiff.Cli.Infrastructure;
using OvDiff.Core.Images;
using OvDiff.Core.IO;
using OvDiff.Core.Numerics;
using OvDiff.Core.Segmentation;
using OvDiff.Imaging;
using OvDiff.Imaging.Support;
using OvDiff.ML;

namespace OvDiff.Cli.Commands;

/// <summary><c>ovdiff masks</c>: draws the foreground/background split stored in a model over each support image.</summary>
internal static class MasksCommand
{
    private static readonly string[] LegendNames = ["neither", "foreground", "background"];

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Model zip written by `ovdiff fit`: the masks its prototypes were pooled from." };
        var store = new Option<string?>("--support") { Description = "A support store written by `ovdiff sample`: its attribution-threshold masks." };
        var output = new Option<string>("--out") { Description = "Output folder: <class>/<image>.masks.png per support image.", Required = true };
        var command = new Command("masks", "Inspect the foreground (red) and background (green) masks of a fitted model (--model) or of a support store (--support).")
        {
            model, store, output,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            string? storePath = parse.GetValue(store);
            if ((parse.GetValue(model) is null) == (storePath is null))
            {
                throw new CommandLineException("Give either --model MODEL.zip (the masks a fit used) or --support STORE (a store's masks).");
            }

            if (storePath is not null)
            {
                DrawStoreMasks(SupportStore.Open(storePath), parse.GetRequiredValue(output), parse.InvocationConfiguration.Error, cancellationToken);
                return Task.FromResult(0);
            }

            using OvDiffModel loaded = OvDiffModel.Load(new MLContext(seed: 0), parse.GetValue(model)!);
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

            progress.Finish();
            parse.InvocationConfiguration.Error.WriteLine($"Wrote {prototypes.SupportImages.Count} mask overlay{(prototypes.SupportImages.Count == 1 ? "" : "s")} (foreground red, background green) to {outDir}, one folder per class.");
            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>Every complete item of the store: its mask PNG (0 neither, 1 foreground, 2 background) over its image, as &lt;out&gt;/&lt;class folder&gt;/NNN.masks.png.</summary>
    private static void DrawStoreMasks(SupportStore store, string outDir, TextWriter error, CancellationToken cancellationToken)
    {
        var overlay = new OverlayRenderer(Opacity: 0.5f);
        var items = store.Manifest.Classes.SelectMany(c => Enumerable.Range(0, store.Manifest.PerClass).Where(i => store.IsComplete(c, i)).Select(i => (Class: c, Index: i))).ToList();
        using var progress = new ConsoleProgress(error);
        for (int k = 0; k < items.Count; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            SupportItemPaths paths = store.PathsOf(items[k].Class, items[k].Index);
            RgbImage image = ImageDecoder.Decode(paths.Image, ExifOrientation.Ignore);   // as the store's masks
            LabelMap masks = new LabelPngReader().Read(paths.Mask);
            string path = Path.Combine(outDir, items[k].Class.Folder, Path.GetFileNameWithoutExtension(paths.Image) + ".masks.png");
            AtomicFile.Write(path, s => overlay.Write(s, image, masks, LegendNames));
            progress.Report(new StepProgress("masks", k + 1, items.Count, paths.Image));
        }

        progress.Finish();
        int total = store.Manifest.Classes.Count * store.Manifest.PerClass, missing = total - items.Count;
        error.WriteLine($"Wrote {items.Count} mask overlays of {store.Root} to {outDir}." + (missing == 0 ? ""
            : $" {missing} of {total} items are not sampled yet: the same `ovdiff sample` command finishes the store."));
    }
}
