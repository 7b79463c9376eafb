using System.Text.Json.Serialization;
using OvDiff.Core.Segmentation;

namespace OvDiff.Eval.Configuration;

/// <summary>
/// One evaluation run, as read from a JSON config (<see cref="ConfigLoader"/>): which dataset, which inference
/// protocol, which segmenter, where reports go. Every field has a documented default, so a config names only what it
/// changes; a config can name a <c>base</c> config (or several) that it overrides field by field.
/// </summary>
/// <example><code>
/// { "base": "voc21.json", "dataset": { "root": "../../shared/data/VOC2012", "split": "dev" } }
/// </code></example>
public sealed record EvalConfig
{
    /// <summary>Base config file(s), relative to this file's folder, applied first in order. Default: none.</summary>
    public IReadOnlyList<string>? Base { get; init; }

    /// <summary>A short name for the run, used in reports and the ledger. Default: the config file's name.</summary>
    public string? Name { get; init; }

    /// <summary>The dataset to score on.</summary>
    public DatasetConfig Dataset { get; init; } = new();

    /// <summary>How a segmenter is run on each image (short-side resize, sliding windows).</summary>
    public ProtocolConfig Protocol { get; init; } = new();

    /// <summary>The segmenter to evaluate when no prediction folder is given.</summary>
    public SegmenterConfig Segmenter { get; init; } = new();

    /// <summary>How <c>ovdiff fit --config</c> fits a model for this benchmark (extractors, prototype levels, ...).</summary>
    public FitConfig Fit { get; init; } = new();

    /// <summary>Where reports, counts and checkpoints are written.</summary>
    public OutputConfig Output { get; init; } = new();
}

/// <summary>Which on-disk layout a dataset has; it sets the default folders and suffixes (<see cref="Datasets.DatasetLayout"/>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DatasetKind>))]
public enum DatasetKind
{
    /// <summary>PASCAL VOC 2012: JPEGImages/, SegmentationClass/ palette PNGs, ImageSets/Segmentation/&lt;split&gt;.txt.</summary>
    [JsonStringEnumMemberName("voc")]
    Voc = 0,

    /// <summary>Pascal Context (standard conversion): VOC2010 JPEGImages/, SegmentationClassContext/, ImageSets/SegmentationContext/&lt;split&gt;.txt.</summary>
    [JsonStringEnumMemberName("context")]
    Context = 1,

    /// <summary>COCO-Object: val2017 images with either the instances JSON (rasterised here) or pre-converted label PNGs.</summary>
    [JsonStringEnumMemberName("coco-object")]
    CocoObject = 2,

    /// <summary>Any image folder plus label-PNG folder plus split file; set every folder explicitly.</summary>
    [JsonStringEnumMemberName("label-folder")]
    LabelFolder = 3,
}

/// <summary>
/// A dataset on disk. Null folders and suffixes take the <see cref="Kind"/>'s standard layout
/// (<see cref="Datasets.DatasetLayout.Resolve"/>). Paths written in a config file are relative to that file's folder; paths
/// given with <c>--set</c> are relative to the working directory.
/// </summary>
public sealed record DatasetConfig
{
    /// <summary>The layout. Default: <see cref="DatasetKind.Voc"/>.</summary>
    public DatasetKind Kind { get; init; } = DatasetKind.Voc;

    /// <summary>The dataset's root folder. Required.</summary>
    [ConfigPath]
    public string? Root { get; init; }

    /// <summary>The split name: the ids are read from the split file. Default: "val".</summary>
    public string Split { get; init; } = "val";

    /// <summary>The class names in label order (index 0 first). Required unless <see cref="ClassesFile"/> is set.</summary>
    public IReadOnlyList<string>? Classes { get; init; }

    /// <summary>
    /// The dataset's "stuff" classes (sky, wall, grass, ...: no language model is here to tell them from things, so each
    /// benchmark config lists them): they skip the class pre-filter (always candidates) and get no background prototypes
    /// of their own. Used by <c>ovdiff fit --config</c> and, when given, overrides a model's own list at evaluation.
    /// Default: null (the model's own).
    /// </summary>
    public IReadOnlyList<string>? StuffClasses { get; init; }

    /// <summary>A text file with one class name per line, used when <see cref="Classes"/> is not given.</summary>
    [ConfigPath]
    public string? ClassesFile { get; init; }

    /// <summary>The label that no metric counts. Default: 255.</summary>
    public int IgnoreIndex { get; init; } = 255;

    /// <summary>
    /// mmsegmentation's <c>reduce_zero_label</c>: label 0 becomes the ignore label and every other label drops by one
    /// (Pascal Context 59, VOC 20). Default: false.
    /// </summary>
    public bool ReduceZeroLabel { get; init; }

    /// <summary>Image folder, relative to <see cref="Root"/>. Default: by kind (JPEGImages, or val2017 for COCO).</summary>
    public string? ImageDir { get; init; }

    /// <summary>Label PNG folder, relative to <see cref="Root"/>. Default: by kind (SegmentationClass, SegmentationClassContext).</summary>
    public string? LabelDir { get; init; }

    /// <summary>Split file, relative to <see cref="Root"/>, with "{split}" replaced. Default: by kind.</summary>
    public string? SplitFile { get; init; }

    /// <summary>Image file suffix. Default: ".jpg".</summary>
    public string ImageSuffix { get; init; } = ".jpg";

    /// <summary>Label file suffix. Default: by kind (".png"; "_instanceTrainIds.png" for COCO-Object label PNGs).</summary>
    public string? LabelSuffix { get; init; }

    /// <summary>COCO only: the instances JSON, relative to <see cref="Root"/>; when set, labels are rasterised from it.</summary>
    public string? Annotations { get; init; }

    /// <summary>COCO only: how polygons are filled. Default: <see cref="PolygonRasteriser.Pillow"/>.</summary>
    public PolygonRasteriser PolygonRasteriser { get; init; } = PolygonRasteriser.Pillow;
}

/// <summary>How COCO polygons become pixels.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<PolygonRasteriser>))]
public enum PolygonRasteriser
{
    /// <summary>As Pillow's ImageDraw.polygon (how ../shared/data/coco-object-mini's masks were made: every pixel agrees).</summary>
    [JsonStringEnumMemberName("pillow")]
    Pillow = 0,

    /// <summary>As pycocotools' annToMask (how COCO-Stuff's pixel maps, and so GroupViT's COCO-Object, were made).</summary>
    [JsonStringEnumMemberName("pycocotools")]
    Pycocotools = 1,
}

/// <summary>One sliding-window scale: square crops of <see cref="Crop"/> pixels every <see cref="Stride"/> pixels.</summary>
public sealed record SlideWindow
{
    /// <summary>Crop side in pixels. Default: that of the first default window of <see cref="SegmentationOptions.Windows"/> (448).</summary>
    public int Crop { get; init; } = ProtocolConfig.SegmentationDefaults.Windows[0].Crop;

    /// <summary>Step between crops in pixels. Default: that of the first default window of <see cref="SegmentationOptions.Windows"/> (224).</summary>
    public int Stride { get; init; } = ProtocolConfig.SegmentationDefaults.Windows[0].Stride;
}

/// <summary>
/// OVDiff's inference protocol (reference.md 1.6): the image's short side is resized to <see cref="ShortSide"/>,
/// scores are averaged over sliding windows at each <see cref="Windows"/> scale and, if <see cref="IncludeFullImage"/>,
/// the whole image; predictions are scored at the ground truth's resolution. The segmenter applies it.
/// </summary>
public sealed record ProtocolConfig
{
    /// <summary>The segmenter's own defaults, which the protocol's defaults are (one place states them).</summary>
    internal static readonly SegmentationOptions SegmentationDefaults = new();

    /// <summary>Short side after resizing, in pixels. Default: <see cref="SegmentationOptions.ShortSide"/>'s (448).</summary>
    public int ShortSide { get; init; } = SegmentationDefaults.ShortSide;

    /// <summary>
    /// The longest side an image may have after that resize; a longer one (an extreme aspect ratio, a huge image) is bad
    /// input, skipped under --skip-bad. Default: <see cref="SegmentationOptions.MaxLongSide"/>'s (4096).
    /// </summary>
    public int MaxLongSide { get; init; } = SegmentationDefaults.MaxLongSide;

    /// <summary>Sliding-window scales. Default: <see cref="SegmentationOptions.Windows"/>' (crop 448 stride 224, and crop 336 stride 224).</summary>
    public IReadOnlyList<SlideWindow> Windows { get; init; } =
        SegmentationDefaults.Windows.Select(w => new SlideWindow { Crop = w.Crop, Stride = w.Stride }).ToArray();

    /// <summary>Whether the full (resized) image is scored as one more window. Default: <see cref="SegmentationOptions.IncludeFullImage"/>'s (true).</summary>
    public bool IncludeFullImage { get; init; } = SegmentationDefaults.IncludeFullImage;

    /// <summary>
    /// Flip test-time augmentation: each window is also scored mirrored left to right and the two averaged (twice the
    /// feature passes). Default: null, the segmenter's own (<see cref="SegmentationOptions.FlipTestTime"/>: false); null
    /// leaves the key out of a run's identity, so runs saved before the key existed still resume.
    /// </summary>
    public bool? Flip { get; init; }
}

/// <summary>The segmenter to evaluate; the CLI's segmenter factory maps these fields onto it.</summary>
public sealed record SegmenterConfig
{
    /// <summary>Path to a fitted model (zip). Default: none.</summary>
    [ConfigPath]
    public string? Model { get; init; }

    /// <summary>Free-form options for the segmenter (strings, numbers, booleans), passed through uninterpreted. Default: none.</summary>
    public IReadOnlyDictionary<string, System.Text.Json.JsonElement>? Options { get; init; }
}

/// <summary>
/// How <c>ovdiff fit --config</c> fits a model for a benchmark; every field is optional and a command-line option given
/// explicitly wins. The reference configuration (configs/*-reference.json) sets them all.
/// </summary>
public sealed record FitConfig
{
    /// <summary>Feature extractor names (their cosine similarities are averaged). Default: null (fit's default, ResNet18 layer 4).</summary>
    public IReadOnlyList<string>? Extractors { get; init; }

    /// <summary>Prototype levels to fit: "all", or a comma list of mean, image, parts. Default: null (fit's default).</summary>
    public string? Levels { get; init; }

    /// <summary>k-means part prototypes per class and role. Default: null (fit's default, 32).</summary>
    public int? Parts { get; init; }

    /// <summary>Rounds of sharing multi-tag support images out among their classes. Default: null (fit's default).</summary>
    public int? MultiTagRounds { get; init; }

    /// <summary>Rounds of cleaning single-tag support images' foregrounds with their class's other images. Default: null (fit's default, 2).</summary>
    public int? CleaningRounds { get; init; }

    /// <summary>k-means parts of the single-tag support images' background kept as the model's shared background (multi-tag images are shared out against them; the support pre-filter can use them); 0 = none. Default: null (fit's default, 32).</summary>
    public int? SharedBackgroundParts { get; init; }
}

/// <summary>Where results go.</summary>
public sealed record OutputConfig
{
    /// <summary>Report folder (per_class.csv, summary.csv, counts). Default: "runs/&lt;name&gt;" under the working directory.</summary>
    [ConfigPath]
    public string? Dir { get; init; }

    /// <summary>The results ledger CSV that every finished run appends a row to. Default: "runs/ledger.csv" under the working directory.</summary>
    [ConfigPath]
    public string? Ledger { get; init; }

    /// <summary>Whether a segmenter run also writes its predictions as label PNGs under &lt;dir&gt;/predictions. Default: false.</summary>
    public bool SavePredictions { get; init; }

    /// <summary>Checkpoint the counts after this many images (and at least every few seconds). Default: 50.</summary>
    public int CheckpointEvery { get; init; } = 50;
}

/// <summary>Marks a config string that is a file-system path: relative values resolve against the folder of the file that set them.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ConfigPathAttribute : Attribute
{
}
