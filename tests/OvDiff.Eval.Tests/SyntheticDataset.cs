using OvDiff.Core.Images;
using OvDiff.Eval.Configuration;
using OvDiff.Imaging;

using OvDiff.Testing;

namespace OvDiff.Eval.Tests;

/// <summary>
/// Writes a small dataset in a standard layout into a temp folder: grayscale PNG "images" (so a segmenter can decode
/// them), palette label PNGs and a split file; and writes prediction folders. Labels are given per id.
/// </summary>
internal sealed class SyntheticDataset : IDisposable
{
    private readonly TempFolder _folder = new();

    public SyntheticDataset(DatasetKind kind, IReadOnlyDictionary<string, LabelMap> labels, string split = "val", IReadOnlyList<string>? classes = null)
    {
        Kind = kind;
        Labels = labels;
        Classes = classes ?? ["background", "cat", "dog"];
        string labelDir = kind == DatasetKind.Context ? "SegmentationClassContext" : "SegmentationClass";
        string splitDir = kind == DatasetKind.Context ? "SegmentationContext" : "Segmentation";
        Directory.CreateDirectory(Path.Combine(Root, "ImageSets", splitDir));
        File.WriteAllLines(Path.Combine(Root, "ImageSets", splitDir, split + ".txt"), labels.Keys);
        foreach ((string id, LabelMap map) in labels)
        {
            LabelPngWriter.Write(Path.Combine(Root, labelDir, id + ".png"), map);
            var brightness = new LabelMap(map.Width, map.Height, [.. map.Labels.Select(v => (byte)(v == 255 ? 0 : v * 40))]);
            LabelPngWriter.Write(Path.Combine(Root, "JPEGImages", id + ".png"), brightness, LabelPngFormat.Grayscale);
        }

        Split = split;
    }

    public DatasetKind Kind { get; }

    public IReadOnlyDictionary<string, LabelMap> Labels { get; }

    public IReadOnlyList<string> Classes { get; }

    public string Split { get; }

    public string Root => _folder.Combine("dataset");

    public string Combine(params string[] parts) => _folder.Combine(parts);

    /// <summary>A config over this dataset (images are .png here).</summary>
    public EvalConfig Config(string outputName = "out") => new()
    {
        Name = "synthetic",
        Dataset = new DatasetConfig { Kind = Kind, Root = Root, Split = Split, Classes = Classes, ImageSuffix = ".png" },
        Output = new OutputConfig { Dir = _folder.Combine(outputName), Ledger = _folder.Combine("ledger.csv"), CheckpointEvery = 1 },
    };

    /// <summary>Writes predictions made by <paramref name="predict"/> from each ground truth into a new folder.</summary>
    public string WritePredictions(string name, Func<LabelMap, LabelMap> predict, LabelPngFormat format = LabelPngFormat.Grayscale)
    {
        string folder = _folder.Combine(name);
        foreach ((string id, LabelMap map) in Labels)
        {
            LabelPngWriter.Write(Path.Combine(folder, id + ".png"), predict(map), format);
        }

        return folder;
    }

    /// <summary>A width×height map from a function of (x, y).</summary>
    public static LabelMap Map(int width, int height, Func<int, int, byte> label)
    {
        var labels = new byte[width * height];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                labels[(y * width) + x] = label(x, y);
            }
        }

        return new LabelMap(width, height, labels);
    }

    public void Dispose() => _folder.Dispose();
}
