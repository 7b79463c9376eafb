using System.CommandLine;
using System.Globalization;
using System.Text;
using OvDiff.Cli.Infrastructure;
using OvDiff.Core.IO;
using OvDiff.Eval.Configuration;
using OvDiff.Eval.Datasets;
using OvDiff.Imaging;

namespace OvDiff.Cli.Commands;

/// <summary>
/// <c>ovdiff support from-labels</c>: builds a tagged-image support list from a labelled dataset using image-level tags
/// only (which classes occur in each image, never where), plus the split of the remaining ids for a held-out evaluation.
/// </summary>
internal static class SupportCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config", "-c") { Description = "An eval config whose dataset provides the images and tags.", Required = true };
        var set = new Option<string[]>("--set") { Description = "Override a config field: key=value (repeatable).", Arity = ArgumentArity.ZeroOrMore };
        var perClass = new Option<int>("--per-class") { Description = "Support images per class.", DefaultValueFactory = _ => 16 };
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Writes support.csv (image,classes) and holdout.txt (the other ids) here.", Required = true };
        var order = new Option<string>("--order") { Description = "Which images a class gets: alone-first (images showing the class alone first, then the others) or split (the first ones in the split file that show it).", DefaultValueFactory = _ => "alone-first" };
        order.AcceptOnlyFromAmong("alone-first", "split");
        var fromLabels = new Command("from-labels", "Pick support images per class from a labelled split, preferring images tagged with that class alone (or in split order); each is listed with every class it shows. The masks give tags only.")
        {
            config, set, perClass, output, order,
        };
        fromLabels.SetAction((parse, cancellationToken) =>
        {
            int n = CliParsing.RequirePositive(parse, perClass);
            EvalConfig loaded = ConfigLoader.Load(parse.GetRequiredValue(config).FullName, parse.GetValue(set) ?? []);
            IEvalDataset dataset = DatasetFactory.Open(loaded.Dataset);
            IGroundTruthReader reader = dataset.CreateGroundTruthReader();
            var tags = new Dictionary<string, SortedSet<int>>(StringComparer.Ordinal);
            byte[] labels = [];
            foreach (string id in dataset.Ids)
            {
                cancellationToken.ThrowIfCancellationRequested();
                LabelImageSize size = reader.Read(id, ref labels);
                var present = new SortedSet<int>();
                foreach (byte label in labels.AsSpan(0, size.PixelCount))
                {
                    if (label != 0 && label != dataset.IgnoreIndex && label < dataset.ClassNames.Count)
                    {
                        present.Add(label);
                    }
                }

                tags[id] = present;
            }

            var chosen = new Dictionary<string, SortedSet<int>>(StringComparer.Ordinal);
            for (int c = 1; c < dataset.ClassNames.Count; c++)
            {
                // Images showing this class alone first, then any image showing it; split-file order within each
                // (--order split: split-file order only, as a user taking the first images of each class would).
                IEnumerable<string> alone = dataset.Ids.Where(id => tags[id].Count == 1 && tags[id].Contains(c));
                IEnumerable<string> any = dataset.Ids.Where(id => tags[id].Count > 1 && tags[id].Contains(c));
                IEnumerable<string> candidates = parse.GetValue(order) == "split" ? dataset.Ids.Where(id => tags[id].Contains(c)) : alone.Concat(any);
                foreach (string id in candidates.Where(id => !chosen.TryGetValue(id, out var used) || !used.Contains(c)).Take(n))
                {
                    if (!chosen.TryGetValue(id, out SortedSet<int>? classes))
                    {
                        chosen[id] = classes = [];
                    }

                    classes.Add(c);
                }
            }

            string outDir = parse.GetRequiredValue(output).FullName;
            var csv = new StringBuilder("image,classes\n");
            foreach (string id in dataset.Ids.Where(chosen.ContainsKey))
            {
                // Every class the image shows, not only those it was picked for: the fitter keeps each out of the
                // others' backgrounds and shares the foreground out among them.
                string names = string.Join('|', tags[id].Select(c => dataset.ClassNames[c]));
                csv.Append(CultureInfo.InvariantCulture, $"{Quote(dataset.GetImagePath(id))},{Quote(names)}\n");
            }

            AtomicFile.WriteAllBytes(Path.Combine(outDir, "support.csv"), Encoding.UTF8.GetBytes(csv.ToString()));
            string[] holdout = dataset.Ids.Where(id => !chosen.ContainsKey(id)).ToArray();
            AtomicFile.WriteAllBytes(Path.Combine(outDir, "holdout.txt"), Encoding.UTF8.GetBytes(string.Join('\n', holdout) + "\n"));
            parse.InvocationConfiguration.Error.WriteLine($"{chosen.Count} support images ({n} per class at most) in {Path.Combine(outDir, "support.csv")}; {holdout.Length} held-out ids in {Path.Combine(outDir, "holdout.txt")}.");
            return Task.FromResult(0);
        });
        return new Command("support", "Build support sets.") { fromLabels };
    }

    private static string Quote(string field) =>
        field.Contains(',', StringComparison.Ordinal) || field.Contains('"', StringComparison.Ordinal) ? $"\"{field.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : field;
}
