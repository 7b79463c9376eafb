using Microsoft.ML;
using Microsoft.ML.Data;
using OvDiff.Core.Segmentation;
using OvDiff.Diffusion.Support;

namespace OvDiff.ML;

/// <summary>
/// Samples support images for class names with Stable Diffusion (OVDiff stage 1) as the first stage of a pipeline that
/// ends in <c>OvDiffSegment</c>: each input row (class name, index) becomes a generated image (its path in a support
/// store) and its cross-attention attribution map, which <c>OvDiffSegment</c>'s Fit uses to split the image into
/// foreground and background.
/// </summary>
/// <remarks>
/// | Estimator characteristics | |
/// | -- | -- |
/// | Does this estimator need to look at the data to train its parameters? | Yes: it generates the requested images (or finds them in the store) |
/// | Input column data type | Text (class name) and a whole number (index within the class) |
/// | Output column data type | Text (image path) and a vector of Single with dimensions [H, W] (attribution map) |
/// | Exportable to ONNX | No |
///
/// <c>Fit</c> reads every (class, index) row, samples the images the store lacks (in fixed batches: see
/// <c>ovdiff sample</c>; a store reused with other settings is refused naming them) and returns a transformer that maps
/// those rows to the files. The sampler is a training-time stage: once the prototypes are fitted the images are no
/// longer needed, so the transformer passes rows without the class and index columns through unchanged (a fitted
/// <c>OvDiffSampleSupport → OvDiffSegment</c> chain segments image rows directly) and saves as an empty stage: a zip
/// saved with <c>mlContext.Model.Save</c> loads and segments without the Stable Diffusion model.
/// </remarks>
public sealed class OvDiffSampleSupportEstimator : IEstimator<OvDiffSampleSupportTransformer>
{
    private readonly TransformsCatalog _catalog;

    internal OvDiffSampleSupportEstimator(TransformsCatalog catalog, OvDiffSampleSupportOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.ModelFolder, nameof(options.ModelFolder));
        ArgumentException.ThrowIfNullOrWhiteSpace(options.StoreFolder, nameof(options.StoreFolder));
        ArgumentNullException.ThrowIfNull(options.Sampling, nameof(options.Sampling));
        options.Sampling.Diffusion.Validate();
        _catalog = catalog;
        Options = options;
    }

    /// <summary>The options.</summary>
    public OvDiffSampleSupportOptions Options { get; }

    /// <summary>Progress of sampling (denoising steps of the images to generate), if set.</summary>
    public IProgress<StepProgress>? Progress { get; init; }

    /// <summary>A copy of this estimator that reports sampling progress to <paramref name="progress"/>.</summary>
    public OvDiffSampleSupportEstimator WithProgress(IProgress<StepProgress>? progress) => new(_catalog, Options) { Progress = progress };

    /// <inheritdoc />
    public OvDiffSampleSupportTransformer Fit(IDataView input) => Fit(input, CancellationToken.None);

    /// <summary>Fits (samples what the store lacks), observing <paramref name="cancellationToken"/> between model calls; images written stay.</summary>
    public OvDiffSampleSupportTransformer Fit(IDataView input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        List<(string ClassName, int Index)> items = ReadRequests(input, Options, cancellationToken);
        var classes = items.Select(i => i.ClassName).Distinct(StringComparer.Ordinal).ToList();
        int perClass = items.Max(i => i.Index) + 1;
        SupportSamplingSession session = SupportSamplingSession.Open(Options.ModelFolder, Options.StoreFolder, classes, perClass, Options.Sampling, cancellationToken: cancellationToken);
        try
        {
            session.RunItems(items, Progress, cancellationToken);
            return OvDiffSampleSupportTransformer.Create(_catalog, Options, session, input.Schema);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var columns = inputSchema.ToDictionary(c => c.Name);
        if (!columns.TryGetValue(Options.ClassColumnName, out SchemaShape.Column classColumn))
        {
            throw OvDiffSegmentEstimator.ColumnNotFound(Options.ClassColumnName, "class name", inputSchema.Select(c => c.Name));
        }

        if (classColumn.Kind != SchemaShape.Column.VectorKind.Scalar || classColumn.ItemType is not TextDataViewType)
        {
            throw WrongType(Options.ClassColumnName, "class name", "String (Text)", $"{classColumn.ItemType}");
        }

        if (!columns.TryGetValue(Options.IndexColumnName, out SchemaShape.Column indexColumn))
        {
            throw OvDiffSegmentEstimator.ColumnNotFound(Options.IndexColumnName, "index", inputSchema.Select(c => c.Name));
        }

        if (indexColumn.Kind != SchemaShape.Column.VectorKind.Scalar || indexColumn.ItemType is not NumberDataViewType || indexColumn.IsKey)
        {
            throw WrongType(Options.IndexColumnName, "index", "a number", $"{indexColumn.ItemType}");
        }

        // The fitted stage's chain with a placeholder map size (a schema shape records "fixed-size vector", not the size).
        return OvDiffSampleSupportTransformer.CreateChain(_catalog, Options, 1, 1, static (_, _) => { }).GetOutputSchema(inputSchema);
    }

    /// <summary>The (class, index) rows; an empty class, a negative or fractional index is an error naming the row.</summary>
    private static List<(string ClassName, int Index)> ReadRequests(IDataView input, OvDiffSampleSupportOptions options, CancellationToken cancellationToken)
    {
        DataViewSchema.Column classColumn = input.Schema.GetColumnOrNull(options.ClassColumnName)
            ?? throw OvDiffSegmentEstimator.ColumnNotFound(options.ClassColumnName, "class name", input.Schema.Select(c => c.Name));
        DataViewSchema.Column indexColumn = input.Schema.GetColumnOrNull(options.IndexColumnName)
            ?? throw OvDiffSegmentEstimator.ColumnNotFound(options.IndexColumnName, "index", input.Schema.Select(c => c.Name));
        if (classColumn.Type is not TextDataViewType)
        {
            throw WrongType(options.ClassColumnName, "class name", "String (Text)", $"{classColumn.Type}");
        }

        using DataViewRowCursor cursor = input.GetRowCursor([classColumn, indexColumn]);
        ValueGetter<ReadOnlyMemory<char>> getClass = cursor.GetGetter<ReadOnlyMemory<char>>(classColumn);
        Func<double> getIndex = SupportRequestIndex.CreateReader(cursor, indexColumn, options.IndexColumnName);
        var items = new List<(string, int)>();
        ReadOnlyMemory<char> text = default;
        while (cursor.MoveNext())
        {
            cancellationToken.ThrowIfCancellationRequested();
            getClass(ref text);
            string className = text.ToString().Trim();
            double index = getIndex();
            if (className.Length == 0)
            {
                throw new InvalidDataException($"Row {cursor.Position}: column '{options.ClassColumnName}' (class name) is empty.");
            }

            if (!(index >= 0 && index == Math.Floor(index) && index < 100_000))
            {
                throw new InvalidDataException($"Row {cursor.Position}: column '{options.IndexColumnName}' is {index}; the index of an image within its class is a whole number from 0.");
            }

            items.Add((className, (int)index));
        }

        return items.Count > 0 ? items : throw new InvalidDataException("The data has no rows: give one (class, index) row per support image to sample.");
    }

    private static ArgumentOutOfRangeException WrongType(string column, string role, string expected, string actual) =>
        new("schema", $"Column '{column}' ({role}): expected {expected}, got {actual}.");
}

/// <summary>Reads an index column of any numeric type as a double (checked by the caller for being whole and non-negative).</summary>
internal static class SupportRequestIndex
{
    public static Func<double> CreateReader(DataViewRow row, DataViewSchema.Column column, string name)
    {
        DataViewType type = column.Type;
        return type switch
        {
            _ when type == NumberDataViewType.Int32 => Read<int>(row, column, v => v),
            _ when type == NumberDataViewType.Int64 => Read<long>(row, column, v => v),
            _ when type == NumberDataViewType.UInt32 => Read<uint>(row, column, v => v),
            _ when type == NumberDataViewType.UInt64 => Read<ulong>(row, column, v => v),
            _ when type == NumberDataViewType.Int16 => Read<short>(row, column, v => v),
            _ when type == NumberDataViewType.UInt16 => Read<ushort>(row, column, v => v),
            _ when type == NumberDataViewType.Byte => Read<byte>(row, column, v => v),
            _ when type == NumberDataViewType.Single => Read<float>(row, column, v => v),
            _ when type == NumberDataViewType.Double => Read<double>(row, column, v => v),
            _ => throw new ArgumentOutOfRangeException(nameof(column), $"Column '{name}' (index): expected a number, got {type}."),
        };
    }

    private static Func<double> Read<T>(DataViewRow row, DataViewSchema.Column column, Func<T, double> convert)
    {
        ValueGetter<T> getter = row.GetGetter<T>(column);
        T value = default!;
        return () =>
        {
            getter(ref value);
            return convert(value);
        };
    }
}
