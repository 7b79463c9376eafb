using OvDiff.Imaging;

namespace OvDiff.Eval.Datasets;

/// <summary>
/// A dataset stored as images plus one label PNG per id (VOC, Pascal Context's standard conversion, pre-converted
/// COCO-Object, any folder pair). Labels are read exactly with <see cref="LabelPngReader"/>; with
/// <c>reduceZeroLabel</c> (Context 59) label 0 becomes the ignore label and the others drop by one.
/// </summary>
public sealed class LabelFolderDataset : IEvalDataset
{
    private readonly DatasetLayout _layout;
    private readonly bool _reduceZeroLabel;

    /// <summary>Opens the dataset; reads the split file (an empty one is an error).</summary>
    public LabelFolderDataset(DatasetLayout layout, string kind, string split, IReadOnlyList<string> classNames, int ignoreIndex, bool reduceZeroLabel)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(classNames);
        if (layout.LabelDir is null || layout.SplitFile is null)
        {
            throw new DatasetException($"Dataset at '{layout.Root}' needs a label folder and a split file.");
        }

        if (!Directory.Exists(layout.LabelDir))
        {
            throw new DatasetException($"Label folder '{layout.LabelDir}' does not exist.");
        }

        _layout = layout;
        _reduceZeroLabel = reduceZeroLabel;
        ClassNames = classNames;
        IgnoreIndex = ignoreIndex;
        Ids = DatasetFactory.ReadSplit(layout.SplitFile);
        Description = $"{kind.ToLowerInvariant()} {split} ({Ids.Count} images, {classNames.Count} classes) at {layout.Root}";
    }

    /// <inheritdoc />
    public string Description { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; }

    /// <inheritdoc />
    public int IgnoreIndex { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> Ids { get; }

    /// <inheritdoc />
    public string GetImagePath(string id) => Path.Combine(_layout.ImageDir, id + _layout.ImageSuffix);

    /// <inheritdoc />
    public IGroundTruthReader CreateGroundTruthReader() => new Reader(this);

    private sealed class Reader(LabelFolderDataset dataset) : IGroundTruthReader
    {
        private readonly LabelPngReader _png = new();
        private readonly byte[] _reduce = BuildReduceTable((byte)dataset.IgnoreIndex);

        public string DescribeSource(string id) => Path.Combine(dataset._layout.LabelDir!, id + dataset._layout.LabelSuffix);

        public LabelImageSize Read(string id, ref byte[] labels)
        {
            LabelImageSize size = _png.ReadInto(DescribeSource(id), ref labels);
            if (dataset._reduceZeroLabel)
            {
                Span<byte> pixels = labels.AsSpan(0, size.PixelCount);
                for (int i = 0; i < pixels.Length; i++)
                {
                    pixels[i] = _reduce[pixels[i]];
                }
            }

            return size;
        }

        private static byte[] BuildReduceTable(byte ignore)
        {
            var table = new byte[256];
            for (int value = 0; value < 256; value++)
            {
                table[value] = value == 0 || value == ignore ? ignore : (byte)(value - 1);
            }

            return table;
        }
    }
}
