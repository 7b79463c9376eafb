using Microsoft.ML;
using Microsoft.ML.Data;
using OvDiff.Core.Segmentation;
using OvDiff.Testing;

namespace OvDiff.ML.Tests;

/// <summary>Real VOC support and target images and the quick options the ML tests fit with.</summary>
internal static class VocFixture
{
    // Single-class VOC 2012 images (image-level tags only are used: the class name).
    public static readonly (string Id, string Class)[] Support =
        [("2007_000033", "aeroplane"), ("2007_001288", "aeroplane"), ("2007_001289", "bird"), ("2007_002094", "bird")];

    public static readonly string[] TargetIds = ["2007_001377", "2007_002400"];

    // A quick protocol so the tests stay fast: short side 224, whole image only.
    public static readonly SegmentationOptions QuickProtocol = new() { ShortSide = 224, Windows = [] };

    public static OvDiffSegmentOptions QuickOptions => new()
    {
        Fit = new PrototypeFitOptions { SupportShortSide = 224, PartCount = 4 },
        Segmentation = QuickProtocol,
    };

    public static string Voc => SharedData.RequireFolder("VOC2012");

    public static string Image(string id) => Path.Combine(Voc, "JPEGImages", id + ".jpg");

    public static string[] Targets => TargetIds.Select(Image).ToArray();

    public static IDataView SupportView(MLContext context) =>
        context.Data.LoadFromEnumerable(Support.Select(s => new SupportRow { ImagePath = Image(s.Id), Label = s.Class }).ToArray());

    public static IDataView PathView(MLContext context, IEnumerable<string> paths) =>
        context.Data.LoadFromEnumerable(paths.Select(p => new SupportRow { ImagePath = p, Label = "" }).ToArray());

    /// <summary>Reads the label maps (and the classes columns' key values) of a transformed view.</summary>
    public static List<(int Width, int Height, byte[] Labels)> LabelMaps(MLContext context, IDataView output) =>
        context.Data.CreateEnumerable<LabelRow>(output, reuseRowObject: false).Select(r => (r.SegmentationLabelsWidth, r.SegmentationLabelsHeight, r.SegmentationLabels)).ToList();

    public static string[] KeyNames(DataViewSchema.Column column)
    {
        VBuffer<ReadOnlyMemory<char>> names = default;
        column.GetKeyValues(ref names);
        return names.DenseValues().Select(n => n.ToString()).ToArray();
    }

    public sealed class SupportRow
    {
        public string ImagePath { get; set; } = "";

        public string Label { get; set; } = "";
    }

    public sealed class LabelRow
    {
        [VectorType]
        public byte[] SegmentationLabels { get; set; } = [];

        public int SegmentationLabelsWidth { get; set; }

        public int SegmentationLabelsHeight { get; set; }
    }
}
