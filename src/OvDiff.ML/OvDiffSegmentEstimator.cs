using Microsoft.ML;
using Microsoft.ML.Data;
using OvDiff.Core.Features;
using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;
using OvDiff.Imaging;
using OvDiff.Onnx;

namespace OvDiff.ML;

/// <summary>
/// Fits OVDiff prototypes from support images and returns a transformer that segments images into those classes.
/// </summary>
/// <remarks>
/// | Estimator characteristics | |
/// | -- | -- |
/// | Does this estimator need to look at the data to train its parameters? | Yes: support images (image path + class label) |
/// | Input column data type | Text (image path) or variable-size vector of Byte (encoded image) |
/// | Output column data type | Variable-size vector of Byte (label map, row-major) plus Int32 width and height, and a vector of keys (classes present) whose KeyValues are the label names |
/// | Exportable to ONNX | No |
///
/// <c>Fit</c> reads every row of the support data: the image at <see cref="OvDiffSegmentOptions.ImageColumnName"/> shows
/// the class named in <see cref="OvDiffSegmentOptions.LabelColumnName"/> (image-level tags only; no masks).
/// The fitted transformer saves with <c>mlContext.Model.Save</c> to one zip (ML.NET's own transformers carry the state)
/// and loads with <c>mlContext.Model.Load</c> in any process that can load OvDiff.ML.
/// </remarks>
public sealed class OvDiffSegmentEstimator : IEstimator<OvDiffSegmentTransformer>
{
    private readonly TransformsCatalog _catalog;

    internal OvDiffSegmentEstimator(TransformsCatalog catalog, OvDiffSegmentOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        options.Fit.Validate();
        options.Segmentation.Validate();
        if (options.FeatureExtractors.Count == 0)
        {
            throw new ArgumentException("At least one feature extractor is needed.", nameof(options));
        }

        _catalog = catalog;
        Options = options;
    }

    /// <summary>The options.</summary>
    public OvDiffSegmentOptions Options { get; }

    /// <summary>Progress of fitting, if set.</summary>
    public IProgress<StepProgress>? Progress { get; init; }

    /// <summary>A copy of this estimator that reports fitting progress to <paramref name="progress"/>.</summary>
    public OvDiffSegmentEstimator WithProgress(IProgress<StepProgress>? progress) => new(_catalog, Options) { Progress = progress };

    /// <inheritdoc />
    public OvDiffSegmentTransformer Fit(IDataView input) => Fit(input, CancellationToken.None);

    /// <summary>Fits, observing <paramref name="cancellationToken"/> between support images.</summary>
    public OvDiffSegmentTransformer Fit(IDataView input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        ImageColumnKind imageKind = RequireImage(input.Schema, Options.ImageColumnName);
        (List<SupportExample> examples, long skipped) = ReadSupport(input, imageKind);
        IReadOnlyList<string> classes = Options.ClassNames ?? ClassListOf(examples);
        PrototypeModel model;
        using (FeatureExtractorSet extractors = DenseFeatureExtractors.CreateSet(Options.FeatureExtractors))
        {
            model = PrototypeFitter.Fit(examples, classes, extractors.Extractors, Options.Fit, Progress, cancellationToken);
        }

        var state = new OvDiffModelState(Options.FeatureExtractors, Options.Segmentation, model)
        {
            ImageFolder = Options.ImageFolder,
            ImageColumnName = Options.ImageColumnName,
            SkipBadImages = Options.SkipBadImages,
        };
        return OvDiffSegmentTransformer.Create(_catalog, Options, state, imageKind, skipped);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ImageColumnKind imageKind = RequireImage(inputSchema, Options.ImageColumnName);
        PrototypeModel placeholder = PlaceholderModel();
        (IEstimator<ITransformer> chain, SegmentationRunner runner) = OvDiffSegmentTransformer.CreateChain(
            _catalog, Options, new OvDiffModelState(Options.FeatureExtractors, Options.Segmentation, placeholder).ToBytes(), placeholder.LabelNames, imageKind);
        using (runner)
        {
            return chain.GetOutputSchema(inputSchema);
        }
    }

    /// <summary>The kind of image column <paramref name="column"/> is: text (paths) or a vector of bytes (encoded images).</summary>
    internal static ImageColumnKind RequireImage(SchemaShape schema, string column)
    {
        SchemaShape.Column col = schema.FirstOrDefault(c => c.Name == column);
        if (col.Name is null)
        {
            throw ColumnNotFound(column, "image", schema.Select(c => c.Name));
        }

        if (col.Kind == SchemaShape.Column.VectorKind.Scalar && col.ItemType is TextDataViewType)
        {
            return ImageColumnKind.Path;
        }

        if (col.Kind != SchemaShape.Column.VectorKind.Scalar && col.ItemType == NumberDataViewType.Byte && !col.IsKey)
        {
            return ImageColumnKind.EncodedBytes;
        }

        throw NotAnImageColumn(column, $"{(col.Kind == SchemaShape.Column.VectorKind.Scalar ? "" : "vector of ")}{col.ItemType}");
    }

    /// <inheritdoc cref="RequireImage(SchemaShape, string)"/>
    internal static ImageColumnKind RequireImage(DataViewSchema schema, string column)
    {
        DataViewSchema.Column? col = schema.GetColumnOrNull(column);
        if (col is null)
        {
            throw ColumnNotFound(column, "image", schema.Select(c => c.Name));
        }

        return col.Value.Type switch
        {
            TextDataViewType => ImageColumnKind.Path,
            VectorDataViewType { ItemType: var item } when item == NumberDataViewType.Byte => ImageColumnKind.EncodedBytes,
            var other => throw NotAnImageColumn(column, $"{other}"),
        };
    }

    private static ArgumentOutOfRangeException NotAnImageColumn(string column, string actualType) =>
        new("schema", $"Column '{column}' (image): expected String (an image path) or a vector of Byte (an encoded image, as LoadRawImageBytes gives), got {actualType}.");

    internal static void RequireText(DataViewSchema schema, string column, string role)
    {
        DataViewSchema.Column? col = schema.GetColumnOrNull(column);
        if (col is null)
        {
            throw ColumnNotFound(column, role, schema.Select(c => c.Name));
        }

        if (col.Value.Type is not TextDataViewType)
        {
            throw ColumnNotText(column, role, $"{col.Value.Type}");
        }
    }

    internal static ArgumentOutOfRangeException ColumnNotFound(string column, string role, IEnumerable<string> columns) =>
        new("schema", $"Column '{column}' ({role}) was not found in the input schema (columns: {string.Join(", ", columns)}).");

    private static ArgumentOutOfRangeException ColumnNotText(string column, string role, string actualType) =>
        new("schema", $"Column '{column}' ({role}): expected String (Text), got {actualType}.");

    /// <summary>The support's classes in order of first appearance, compared as <see cref="ClassNaming"/> says ("Cat" beside "cat" is an error naming both images).</summary>
    private static IReadOnlyList<string> ClassListOf(IEnumerable<SupportExample> examples)
    {
        var classes = new ClassListBuilder();
        foreach (SupportExample example in examples)
        {
            foreach (string name in example.AlsoShows.Prepend(example.ClassName))
            {
                classes.Add(name, $"support image '{example.Source}'");
            }
        }

        return classes.Names;
    }

    private (List<SupportExample> Examples, long Skipped) ReadSupport(IDataView input, ImageColumnKind imageKind)
    {
        RequireText(input.Schema, Options.LabelColumnName, "class label");
        DataViewSchema.Column imageColumn = input.Schema[Options.ImageColumnName];
        DataViewSchema.Column labelColumn = input.Schema[Options.LabelColumnName];
        var examples = new List<SupportExample>();
        SupportAttributionColumn? attribution = SupportAttributionColumn.Find(input.Schema, Options.AttributionColumnName);
        using DataViewRowCursor cursor = input.GetRowCursor(attribution is null ? [imageColumn, labelColumn] : [imageColumn, labelColumn, attribution.Column]);
        Func<long, AttributionMap?>? readAttribution = attribution?.CreateReader(cursor);
        ValueGetter<ReadOnlyMemory<char>> getPath = imageKind == ImageColumnKind.Path ? cursor.GetGetter<ReadOnlyMemory<char>>(imageColumn) : null!;
        ValueGetter<VBuffer<byte>> getBytes = imageKind == ImageColumnKind.EncodedBytes ? cursor.GetGetter<VBuffer<byte>>(imageColumn) : null!;
        ValueGetter<ReadOnlyMemory<char>> getLabel = cursor.GetGetter<ReadOnlyMemory<char>>(labelColumn);
        ReadOnlyMemory<char> path = default, label = default;
        VBuffer<byte> bytes = default;
        long skipped = 0;
        while (cursor.MoveNext())
        {
            long row = cursor.Position;
            getLabel(ref label);
            string where = $"Support row {row}, column '{Options.ImageColumnName}'";
            string? problem = null;
            SupportExample? example = null;
            string className = label.ToString().Trim();
            if (imageKind == ImageColumnKind.Path)
            {
                getPath(ref path);
                string given = path.ToString();
                string resolved = string.IsNullOrWhiteSpace(given) ? "" : ResolvePath(given, Options.ImageFolder);
                problem = given.Trim().Length == 0 ? "the image path is empty"
                    : !File.Exists(resolved) ? $"image file '{resolved}' does not exist"
                    : null;
                example = new SupportExample(className, resolved, _ => Decode(() => ImageDecoder.Decode(resolved), where));
            }
            else
            {
                getBytes(ref bytes);
                byte[] encoded = bytes.DenseValues().ToArray();
                string source = $"support row {row} (encoded image)";
                problem = encoded.Length == 0 ? "the encoded image is empty" : null;
                example = new SupportExample(className, source, _ => Decode(() => ImageDecoder.Decode(encoded, source), where));
            }

            example = example with { Attribution = readAttribution?.Invoke(row) };
            if (problem is not null)
            {
                if (Options.SkipBadImages)
                {
                    skipped++;
                    continue;
                }

                throw new InvalidDataException($"{where}: {problem} (set OvDiffSegmentOptions.SkipBadImages to leave such rows out).");
            }

            if (className.Length == 0)
            {
                throw new InvalidDataException($"Support row {row}: column '{Options.LabelColumnName}' is empty for image '{example.Source}'.");
            }

            examples.Add(example);
        }

        examples = MergeTags(examples, sameFileSameImage: imageKind == ImageColumnKind.Path);
        if (examples.Count == 0)
        {
            throw new InvalidDataException(skipped == 0
                ? "The support data has no rows: every class needs at least one support image."
                : $"Every one of the {skipped} support rows was skipped as unreadable: every class needs at least one support image.");
        }

        return (examples, skipped);
    }

    /// <summary>
    /// One support example per image with all its tags: a label may list several classes separated by '|', and rows that
    /// name the same image file (<paramref name="sameFileSameImage"/>) are one image, in the first row's place; encoded-bytes
    /// rows stay one image each.
    /// </summary>
    internal static List<SupportExample> MergeTags(IEnumerable<SupportExample> rows, bool sameFileSameImage)
    {
        var merged = new List<(SupportExample First, List<string> Tags)>();
        var byPath = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (SupportExample row in rows)
        {
            string[] tags = row.ClassName.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (sameFileSameImage && byPath.TryGetValue(row.Source, out int index))
            {
                merged[index].Tags.AddRange(tags.Where(t => !merged[index].Tags.Contains(t, StringComparer.Ordinal)));
                continue;
            }

            if (sameFileSameImage)
            {
                byPath[row.Source] = merged.Count;
            }

            merged.Add((row, [.. tags.Distinct(StringComparer.Ordinal)]));
        }

        return merged.Where(m => m.Tags.Count > 0).Select(m => m.First with { ClassName = m.Tags[0], AlsoShows = m.Tags[1..] }).ToList();
    }

    private static RgbImage Decode(Func<RgbImage> decode, string where)
    {
        try
        {
            return decode();
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or OverflowException)
        {
            throw new InvalidDataException($"{where}: {ex.Message}", ex);
        }
    }

    internal static string ResolvePath(string path, string? folder) =>
        folder is null || Path.IsPathRooted(path) ? path : Path.Combine(folder, path);

    private PrototypeModel PlaceholderModel()
    {
        IReadOnlyList<string> classes = Options.ClassNames is { Count: > 0 } names ? names : ["object"];
        var origins = classes.Select((_, i) => new PrototypeOrigin(i, PrototypeRole.Foreground, PrototypeLevels.ClassMean, -1, -1, 1)).ToArray();
        var banks = Options.FeatureExtractors.Select(n => new PrototypeBank(n, 1, new float[origins.Length], origins)).ToArray();
        return new PrototypeModel(classes, classes.Select(_ => false).ToArray(), [], banks, Options.Fit);
    }
}
