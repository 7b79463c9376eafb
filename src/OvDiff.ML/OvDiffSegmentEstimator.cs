using Microsoft.ML;
using Microsoft.ML.Data;
using OvDiff.Core.Features;
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
/// | Input column data type | Text (image path) |
/// | Output column data type | Variable-size vector of Byte (label map, row-major) plus Int32 width and height |
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
        var examples = ReadSupport(input);
        IReadOnlyList<string> classes = Options.ClassNames ?? examples.Select(e => e.ClassName).Distinct(StringComparer.Ordinal).ToArray();
        PrototypeModel model;
        using (FeatureExtractorSet extractors = DenseFeatureExtractors.CreateSet(Options.FeatureExtractors))
        {
            model = PrototypeFitter.Fit(examples, classes, extractors.Extractors, Options.Fit, Progress, cancellationToken);
        }

        return OvDiffSegmentTransformer.Create(_catalog, Options, new OvDiffModelState(Options.FeatureExtractors, Options.Segmentation, model) { ImageFolder = Options.ImageFolder });
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        RequireText(inputSchema, Options.ImageColumnName, "image path");
        IEstimator<ITransformer> chain = OvDiffSegmentTransformer.CreateChain(_catalog, Options, new OvDiffModelState(Options.FeatureExtractors, Options.Segmentation, PlaceholderModel()).ToBytes());
        return chain.GetOutputSchema(inputSchema);
    }

    internal static void RequireText(SchemaShape schema, string column, string role)
    {
        SchemaShape.Column col = schema.FirstOrDefault(c => c.Name == column);
        if (col.Name is null)
        {
            throw ColumnNotFound(column, role, schema.Select(c => c.Name));
        }

        if (col.Kind != SchemaShape.Column.VectorKind.Scalar || col.ItemType is not TextDataViewType)
        {
            throw ColumnNotText(column, role, $"{(col.Kind == SchemaShape.Column.VectorKind.Scalar ? "" : "vector of ")}{col.ItemType}");
        }
    }

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

    private static ArgumentOutOfRangeException ColumnNotFound(string column, string role, IEnumerable<string> columns) =>
        new("schema", $"Column '{column}' ({role}) was not found in the input schema (columns: {string.Join(", ", columns)}).");

    private static ArgumentOutOfRangeException ColumnNotText(string column, string role, string actualType) =>
        new("schema", $"Column '{column}' ({role}): expected String (Text), got {actualType}.");

    private List<SupportExample> ReadSupport(IDataView input)
    {
        RequireText(input.Schema, Options.ImageColumnName, "image path");
        RequireText(input.Schema, Options.LabelColumnName, "class label");
        DataViewSchema.Column imageColumn = input.Schema[Options.ImageColumnName];
        DataViewSchema.Column labelColumn = input.Schema[Options.LabelColumnName];
        var examples = new List<SupportExample>();
        using DataViewRowCursor cursor = input.GetRowCursor([imageColumn, labelColumn]);
        ValueGetter<ReadOnlyMemory<char>> getImage = cursor.GetGetter<ReadOnlyMemory<char>>(imageColumn);
        ValueGetter<ReadOnlyMemory<char>> getLabel = cursor.GetGetter<ReadOnlyMemory<char>>(labelColumn);
        ReadOnlyMemory<char> image = default, label = default;
        while (cursor.MoveNext())
        {
            getImage(ref image);
            getLabel(ref label);
            string path = ResolvePath(image.ToString(), Options.ImageFolder);
            string className = label.ToString().Trim();
            if (className.Length == 0)
            {
                throw new InvalidDataException($"Support row {cursor.Position}: column '{Options.LabelColumnName}' is empty for image '{path}'.");
            }

            examples.Add(new SupportExample(className, path, _ => ImageDecoder.Decode(path)));
        }

        if (examples.Count == 0)
        {
            throw new InvalidDataException("The support data has no rows: every class needs at least one support image.");
        }

        return examples;
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
