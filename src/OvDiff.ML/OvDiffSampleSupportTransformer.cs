using Microsoft.ML;
using Microsoft.ML.Data;
using OvDiff.Core.Segmentation;
using OvDiff.Diffusion.Support;
using OvDiff.Imaging.Support;

namespace OvDiff.ML;

/// <summary>
/// A fitted <see cref="OvDiffSampleSupportEstimator"/>: maps (class, index) rows to the image path and attribution map of
/// that support image in the store (sampling it first if the store lacks it), and passes rows without those columns
/// through unchanged. Saves as an empty stage (see the estimator's remarks). Owns the Stable Diffusion sessions, opened
/// only if an image has to be generated: dispose it when done.
/// </summary>
public sealed class OvDiffSampleSupportTransformer : ITransformer, IDisposable
{
    private const string IndexColumn = "__OvDiffSupportIndex";
    private static readonly ITransformer Identity = new TransformerChain<ITransformer>();
    private readonly SupportSamplingSession _session;
    private readonly object _gate = new();
    private ITransformer _inner = Identity;
    private bool _disposed;

    private OvDiffSampleSupportTransformer(OvDiffSampleSupportOptions options, SupportSamplingSession session, int mapHeight, int mapWidth)
    {
        Options = options;
        _session = session;
        MapHeight = mapHeight;
        MapWidth = mapWidth;
    }

    /// <summary>The options.</summary>
    public OvDiffSampleSupportOptions Options { get; }

    /// <summary>The support store the images are in.</summary>
    public SupportStore Store => _session.Store;

    /// <summary>Rows of the attribution maps.</summary>
    public int MapHeight { get; }

    /// <summary>Columns of the attribution maps.</summary>
    public int MapWidth { get; }

    /// <inheritdoc />
    public bool IsRowToRowMapper => true;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return Applies(inputSchema) ? _inner.GetOutputSchema(inputSchema) : inputSchema;
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return (Applies(inputSchema) ? _inner : Identity).GetRowToRowMapper(inputSchema);
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Applies(input.Schema) ? _inner.Transform(input) : input;
    }

    /// <summary>Saves as an empty transformer chain: the support set lives on in the prototypes fitted after this stage.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => Identity.Save(ctx);

    /// <summary>Releases the Stable Diffusion sessions (if any were opened).</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _session.Dispose();
        }
    }

    internal static OvDiffSampleSupportTransformer Create(TransformsCatalog catalog, OvDiffSampleSupportOptions options, SupportSamplingSession session, DataViewSchema inputSchema)
    {
        SupportStore store = session.Store;
        (SupportStoreClass first, int firstIndex) = store.Manifest.Classes
            .SelectMany(c => Enumerable.Range(0, store.Manifest.PerClass).Select(i => (c, i)))
            .First(item => store.IsComplete(item.c, item.i));
        AttributionMap sample = store.ReadAttribution(first, firstIndex);
        var transformer = new OvDiffSampleSupportTransformer(options, session, sample.Height, sample.Width);
        transformer._inner = transformer.CreateInner(catalog, inputSchema);
        return transformer;
    }

    private bool Applies(DataViewSchema schema) =>
        schema.GetColumnOrNull(Options.ClassColumnName) is not null && schema.GetColumnOrNull(Options.IndexColumnName) is not null;

    private ITransformer CreateInner(TransformsCatalog t, DataViewSchema inputSchema) =>
        CreateChain(t, Options, MapHeight, MapWidth, Map).Fit(new EmptyDataView(inputSchema));

    /// <summary>ConvertType(index to Double), then a CustomMapping (not saved) to the store's files, then the temporary column dropped.</summary>
    internal static IEstimator<ITransformer> CreateChain(TransformsCatalog t, OvDiffSampleSupportOptions options, int mapHeight, int mapWidth, Action<RequestRow, SampleRow> map)
    {
        SchemaDefinition input = SchemaDefinition.Create(typeof(RequestRow));
        input[nameof(RequestRow.ClassName)].ColumnName = options.ClassColumnName;
        input[nameof(RequestRow.Index)].ColumnName = IndexColumn;
        SchemaDefinition output = SchemaDefinition.Create(typeof(SampleRow));
        output[nameof(SampleRow.ImagePath)].ColumnName = options.ImageColumnName;
        output[nameof(SampleRow.Attribution)].ColumnName = options.AttributionColumnName;
        output[nameof(SampleRow.Attribution)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, mapHeight, mapWidth);
        return t.Conversion.ConvertType(IndexColumn, options.IndexColumnName, DataKind.Double)
            .Append(t.CustomMapping(map, contractName: null, input, output))
            .Append(t.DropColumns(IndexColumn));
    }

    private void Map(RequestRow request, SampleRow sample)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        string className = request.ClassName.Trim();
        SupportStoreClass storeClass = Store.Manifest.Classes.FirstOrDefault(c => c.Name == className)
            ?? throw new InvalidDataException($"Column '{Options.ClassColumnName}': class '{className}' is not one the sampler was fitted on ({string.Join(", ", Store.Manifest.Classes.Select(c => c.Name))}).");
        double index = request.Index;
        if (!(index >= 0 && index == Math.Floor(index) && index < Store.Manifest.PerClass))
        {
            throw new InvalidDataException($"Column '{Options.IndexColumnName}': index {index} of class '{className}' is outside 0..{Store.Manifest.PerClass - 1}, the images the sampler was fitted on.");
        }

        if (!Store.IsComplete(storeClass, (int)index))
        {
            // Deleted since Fit: sampled again, the same bytes (the store's groups and seeds).
            lock (_gate)
            {
                _session.RunItems([(className, (int)index)]);
            }
        }

        AttributionMap map = Store.ReadAttribution(storeClass, (int)index);
        if (map.Height != MapHeight || map.Width != MapWidth)
        {
            throw new InvalidDataException($"'{Store.PathsOf(storeClass, (int)index).Attribution}' holds a {map.Height}x{map.Width} map; this store's maps are {MapHeight}x{MapWidth}.");
        }

        sample.ImagePath = Store.PathsOf(storeClass, (int)index).Image;
        sample.Attribution = map.Values;
    }

    /// <summary>Input of the mapping (columns renamed by schema definitions).</summary>
    internal sealed class RequestRow
    {
        public string ClassName { get; set; } = "";

        public double Index { get; set; }
    }

    /// <summary>Output of the mapping.</summary>
    internal sealed class SampleRow
    {
        public string ImagePath { get; set; } = "";

        [VectorType]
        public float[] Attribution { get; set; } = [];
    }
}
