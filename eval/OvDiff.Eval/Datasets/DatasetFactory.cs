using OvDiff.Core.Segmentation;
using OvDiff.Eval.Configuration;

namespace OvDiff.Eval.Datasets;

/// <summary>
/// The standard folder layout of each <see cref="DatasetKind"/>, with the config's explicit values taking precedence.
/// <list type="table">
/// <item><term>voc</term><description>JPEGImages/&lt;id&gt;.jpg, SegmentationClass/&lt;id&gt;.png, ImageSets/Segmentation/&lt;split&gt;.txt</description></item>
/// <item><term>context</term><description>JPEGImages/&lt;id&gt;.jpg, SegmentationClassContext/&lt;id&gt;.png, ImageSets/SegmentationContext/&lt;split&gt;.txt</description></item>
/// <item><term>coco-object</term><description>val2017/&lt;id&gt;.jpg with annotations (instances JSON, all its images unless a split file is set), or labels in annotations/&lt;id&gt;_instanceTrainIds.png (GroupViT's conversion) and a split file</description></item>
/// <item><term>label-folder</term><description>every folder set explicitly</description></item>
/// </list>
/// </summary>
public sealed record DatasetLayout(string Root, string ImageDir, string? LabelDir, string? SplitFile, string ImageSuffix, string LabelSuffix, string? Annotations)
{
    /// <summary>Resolves the absolute folders of <paramref name="config"/>.</summary>
    public static DatasetLayout Resolve(DatasetConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        string root = string.IsNullOrEmpty(config.Root) ? throw new ConfigException("dataset.root is not set (give it in the config or with --set dataset.root=DIR).") : config.Root;
        (string images, string? labels, string? split, string labelSuffix) = config.Kind switch
        {
            DatasetKind.Voc => ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation/{split}.txt", ".png"),
            DatasetKind.Context => ("JPEGImages", "SegmentationClassContext", "ImageSets/SegmentationContext/{split}.txt", ".png"),
            DatasetKind.CocoObject => ("val2017", config.Annotations is null ? "annotations" : null, null, config.Annotations is null ? "_instanceTrainIds.png" : ".png"),
            _ => ("images", "labels", "{split}.txt", ".png"),
        };
        string? Under(string? relative) => relative is null ? null : Path.GetFullPath(Path.Combine(root, relative.Replace("{split}", config.Split, StringComparison.Ordinal)));
        return new DatasetLayout(
            Path.GetFullPath(root),
            Under(config.ImageDir ?? images)!,
            Under(config.LabelDir ?? labels),
            Under(config.SplitFile ?? split),
            config.ImageSuffix,
            config.LabelSuffix ?? labelSuffix,
            Under(config.Annotations));
    }
}

/// <summary>Builds the <see cref="IEvalDataset"/> a <see cref="DatasetConfig"/> describes.</summary>
public static class DatasetFactory
{
    /// <summary>Opens the dataset (reads its split and class list; no images).</summary>
    public static IEvalDataset Open(DatasetConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        DatasetLayout layout = DatasetLayout.Resolve(config);
        if (!Directory.Exists(layout.Root))
        {
            throw new DatasetException($"Dataset root '{layout.Root}' does not exist.");
        }

        IReadOnlyList<string>? classes = ReadClasses(config);
        if (config.IgnoreIndex is < 0 or > 255)
        {
            throw new ConfigException($"dataset.ignoreIndex must be 0..255, got {config.IgnoreIndex}.");
        }

        if (config.Kind == DatasetKind.CocoObject && layout.Annotations is not null)
        {
            return new CocoInstancesDataset(layout, classes, config.IgnoreIndex, config.PolygonRasteriser);
        }

        if (classes is null)
        {
            throw new ConfigException("dataset.classes (or dataset.classesFile) is not set.");
        }

        return new LabelFolderDataset(layout, config.Kind.ToString(), config.Split, classes, config.IgnoreIndex, config.ReduceZeroLabel);
    }

    /// <summary>
    /// Reads a split file: one id per line, blank lines skipped; an empty or missing split, or an id listed twice (it
    /// would be counted twice), is an error naming the file and lines.
    /// </summary>
    public static IReadOnlyList<string> ReadSplit(string splitFile)
    {
        var lines = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach ((int line, string id) in ReadLines(splitFile, "Split file", "no ids (empty split)"))
        {
            if (!lines.TryAdd(id, line))
            {
                throw new DatasetException($"Split file '{splitFile}' lists id '{id}' twice (lines {lines[id]} and {line}); each image must be listed once.");
            }
        }

        return [.. lines.Keys];
    }

    private static IReadOnlyList<string>? ReadClasses(DatasetConfig config)
    {
        if (config.Classes is { Count: > 0 } classes)
        {
            return CheckClassList(classes.Select((name, i) => ($"dataset.classes[{i}]", name)));
        }

        return config.ClassesFile is null ? null
            : CheckClassList(ReadLines(config.ClassesFile, "Classes file", "no class names").Select(l => ($"classes file '{config.ClassesFile}' line {l.Line}", l.Text)));
    }

    /// <summary>The class list, each name once (compared as <see cref="ClassNaming"/> says); a repeated name or two spellings differing only in case is an error naming where.</summary>
    private static string[] CheckClassList(IEnumerable<(string Where, string Name)> entries)
    {
        var builder = new ClassListBuilder();
        var where = new Dictionary<string, string>(ClassNaming.Comparer);
        foreach ((string place, string name) in entries)
        {
            int before = builder.Names.Count;
            string spelling = builder.Add(name, place);
            if (builder.Names.Count == before)
            {
                throw new DatasetException($"Class '{spelling}' is listed twice ({where[spelling]} and {place}); each label needs its own name.");
            }

            where[spelling] = place;
        }

        return [.. builder.Names];
    }

    /// <summary>The trimmed, non-blank lines of <paramref name="path"/> with their 1-based numbers; a missing file or one with no such line is an error naming it.</summary>
    private static List<(int Line, string Text)> ReadLines(string path, string what, string emptyMeaning)
    {
        if (!File.Exists(path))
        {
            throw new DatasetException($"{what} '{path}' does not exist.");
        }

        List<(int Line, string Text)> lines = [.. File.ReadLines(path).Select((text, i) => (Line: i + 1, Text: text.Trim())).Where(l => l.Text.Length > 0)];
        return lines.Count == 0 ? throw new DatasetException($"{what} '{path}' lists {emptyMeaning}.") : lines;
    }
}
