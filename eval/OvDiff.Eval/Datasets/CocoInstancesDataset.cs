using System.Text.Json;
using OvDiff.Eval.Configuration;
using OvDiff.Imaging;

namespace OvDiff.Eval.Datasets;

/// <summary>
/// COCO-Object from the original instances JSON: 81 classes (0 = background, the 80 thing categories as 1..80 in
/// category-id order), each image's instances rasterised in C#: RLE and compressed RLE decoded as pycocotools does, polygons filled as
/// Pillow's ImageDraw does (<see cref="PolygonFill"/>; it reproduces every pixel of the provided masks).
/// Overlaps follow the convention of ../shared/data/coco-object-mini: instances are painted largest area first, so a
/// smaller instance lying on a larger one keeps its pixels. Crowd regions are painted like instances. Unlabelled
/// pixels are background (no ignore pixels, as in the COCO-Object benchmark). Only the annotation index is held in
/// memory, never a mask.
/// </summary>
public sealed class CocoInstancesDataset : IEvalDataset
{
    private readonly DatasetLayout _layout;
    private readonly Dictionary<string, CocoImage> _images;
    private readonly PolygonRasteriser _polygons;

    /// <summary>Parses the instances JSON; the ids are the image file names without extension.</summary>
    public CocoInstancesDataset(DatasetLayout layout, IReadOnlyList<string>? classNames, int ignoreIndex, PolygonRasteriser polygons = PolygonRasteriser.Pillow)
    {
        _polygons = polygons;
        ArgumentNullException.ThrowIfNull(layout);
        _layout = layout;
        string annotations = layout.Annotations ?? throw new DatasetException("COCO instances dataset needs dataset.annotations.");
        (List<string> categories, _images) = Parse(annotations);
        ClassNames = classNames ?? ["background", .. categories];
        if (ClassNames.Count != categories.Count + 1)
        {
            throw new DatasetException($"'{annotations}' has {categories.Count} categories, so {categories.Count + 1} classes with background; the config lists {ClassNames.Count}.");
        }

        IgnoreIndex = ignoreIndex;
        Ids = layout.SplitFile is not null
            ? DatasetFactory.ReadSplit(layout.SplitFile)
            : [.. _images.Keys.Order(StringComparer.Ordinal)];
        if (Ids.Count == 0)
        {
            throw new DatasetException($"'{annotations}' lists no images (empty split).");
        }

        Description = $"coco-object ({Ids.Count} images, {ClassNames.Count} classes) from {annotations}";
        AnnotationsPath = annotations;
    }

    /// <summary>The instances JSON.</summary>
    public string AnnotationsPath { get; }

    /// <inheritdoc />
    public string Description { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; }

    /// <inheritdoc />
    public int IgnoreIndex { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> Ids { get; }

    /// <inheritdoc />
    public string GetImagePath(string id) =>
        Path.Combine(_layout.ImageDir, _images.TryGetValue(id, out CocoImage? image) ? image.FileName : id + _layout.ImageSuffix);

    /// <inheritdoc />
    public IGroundTruthReader CreateGroundTruthReader() => new Reader(this);

    private static (List<string> Categories, Dictionary<string, CocoImage> Images) Parse(string path)
    {
        if (!File.Exists(path))
        {
            throw new DatasetException($"COCO annotations '{path}' do not exist.");
        }

        try
        {
            using FileStream stream = File.OpenRead(path);
            using JsonDocument document = JsonDocument.Parse(stream);
            JsonElement root = document.RootElement;
            var categoryIds = root.GetProperty("categories").EnumerateArray()
                .Select(c => (Id: c.GetProperty("id").GetInt32(), Name: c.GetProperty("name").GetString() ?? ""))
                .OrderBy(c => c.Id).ToList();
            var labelOfCategory = categoryIds.Select((c, i) => (c.Id, Label: i + 1)).ToDictionary(p => p.Id, p => (byte)p.Label);
            var byImageId = new Dictionary<long, CocoImage>();
            foreach (JsonElement image in root.GetProperty("images").EnumerateArray())
            {
                string fileName = image.GetProperty("file_name").GetString() ?? throw new DatasetException($"{path}: image without file_name.");
                byImageId[image.GetProperty("id").GetInt64()] = new CocoImage(fileName, image.GetProperty("width").GetInt32(), image.GetProperty("height").GetInt32());
            }

            foreach (JsonElement annotation in root.GetProperty("annotations").EnumerateArray())
            {
                if (!byImageId.TryGetValue(annotation.GetProperty("image_id").GetInt64(), out CocoImage? image))
                {
                    continue;
                }

                int categoryId = annotation.GetProperty("category_id").GetInt32();
                if (!labelOfCategory.TryGetValue(categoryId, out byte label))
                {
                    throw new DatasetException($"{path}: annotation {annotation.GetProperty("id")} has unknown category {categoryId}.");
                }

                image.Instances.Add(ParseInstance(label, annotation.GetProperty("area").GetDouble(), annotation.GetProperty("segmentation")));
            }

            var images = new Dictionary<string, CocoImage>(StringComparer.Ordinal);
            foreach (CocoImage image in byImageId.Values)
            {
                // Largest first; a stable sort keeps the file's order among equal areas.
                CocoInstance[] ordered = [.. image.Instances.OrderByDescending(i => i.Area)];
                image.Instances.Clear();
                image.Instances.AddRange(ordered);
                images[Path.GetFileNameWithoutExtension(image.FileName)] = image;
            }

            return ([.. categoryIds.Select(c => c.Name)], images);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new DatasetException($"'{path}' is not a valid COCO instances file ({e.Message}).", e);
        }
    }

    private static CocoInstance ParseInstance(byte label, double area, JsonElement segmentation)
    {
        if (segmentation.ValueKind == JsonValueKind.Array)
        {
            return new CocoInstance(label, area, [.. segmentation.EnumerateArray().Select(polygon => polygon.EnumerateArray().Select(v => v.GetDouble()).ToArray())], null);
        }

        JsonElement counts = segmentation.GetProperty("counts");
        uint[] runs = counts.ValueKind == JsonValueKind.String
            ? CocoMasks.DecodeCompressedCounts(counts.GetString()!)
            : [.. counts.EnumerateArray().Select(c => c.GetUInt32())];
        return new CocoInstance(label, area, [], runs);
    }

    private sealed record CocoImage(string FileName, int Width, int Height)
    {
        public List<CocoInstance> Instances { get; } = [];
    }

    /// <summary>One instance: polygons (filled as Pillow does) or run-length counts (column-major, as pycocotools).</summary>
    private sealed record CocoInstance(byte Label, double Area, double[][] Polygons, uint[]? Runs);

    private sealed class Reader(CocoInstancesDataset dataset) : IGroundTruthReader
    {
        public string DescribeSource(string id) => $"{dataset.AnnotationsPath} (image '{id}')";

        public LabelImageSize Read(string id, ref byte[] labels)
        {
            if (!dataset._images.TryGetValue(id, out CocoImage? image))
            {
                throw new DatasetException($"{dataset.AnnotationsPath}: no image with id '{id}'.");
            }

            int pixels = image.Width * image.Height;
            if (labels.Length < pixels)
            {
                labels = new byte[pixels];
            }

            Span<byte> map = labels.AsSpan(0, pixels);
            map.Clear();
            foreach (CocoInstance instance in image.Instances)
            {
                foreach (double[] polygon in instance.Polygons)
                {
                    if (dataset._polygons == PolygonRasteriser.Pycocotools)
                    {
                        CocoMasks.Paint(CocoMasks.PolygonToCounts(polygon, image.Height, image.Width), map, image.Height, image.Width, instance.Label);
                    }
                    else
                    {
                        PolygonFill.Fill(polygon, map, image.Width, image.Height, instance.Label);
                    }
                }

                if (instance.Runs is not null)
                {
                    CocoMasks.Paint(instance.Runs, map, image.Height, image.Width, instance.Label);
                }
            }

            return new LabelImageSize(image.Width, image.Height);
        }
    }
}
