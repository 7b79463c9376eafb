using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace OvDiff.ML;

/// <summary>
/// A fitted OvDiff segmenter as an ML.NET transformer: maps an image-path column to a label-map column (plus width and
/// height, and optionally scores). It owns ONNX Runtime sessions: dispose it when done (<c>using var model = est.Fit(data)</c>).
/// </summary>
/// <remarks>
/// ML.NET does not let other assemblies save their own transformer types, so this facade delegates saving to a chain of
/// built-in transformers (column copies, two CustomMappings and a ValueMapping that stores the model state in the zip).
/// <c>mlContext.Model.Load</c> therefore returns that chain (an <see cref="ITransformer"/> that behaves the same), not
/// this type; use <see cref="OvDiffModel.Load"/> to get the state and class names back.
/// </remarks>
public sealed class OvDiffSegmentTransformer : ITransformer, IDisposable
{
    private readonly byte[] _state;
    private bool _disposed;

    private OvDiffSegmentTransformer(ITransformer inner, OvDiffSegmentOptions options, OvDiffModelState state, byte[] stateBytes)
    {
        Inner = inner;
        Options = options;
        State = state;
        _state = stateBytes;
        SegmenterCache.Acquire(stateBytes);
    }

    /// <summary>The built-in transformer chain that does the work and is what gets saved.</summary>
    public ITransformer Inner { get; }

    /// <summary>The options used.</summary>
    public OvDiffSegmentOptions Options { get; }

    /// <summary>The fitted state: extractors, inference options and the prototype model.</summary>
    public OvDiffModelState State { get; }

    /// <summary>Label names: "background", then the classes.</summary>
    public IReadOnlyList<string> LabelNames => State.Model.LabelNames;

    /// <inheritdoc />
    public bool IsRowToRowMapper => Inner.IsRowToRowMapper;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        OvDiffSegmentEstimator.RequireText(inputSchema, Options.ImageColumnName, "image path");
        return Inner.GetOutputSchema(inputSchema);
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => Inner.GetRowToRowMapper(inputSchema);

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ObjectDisposedException.ThrowIf(_disposed, this);
        OvDiffSegmentEstimator.RequireText(input.Schema, Options.ImageColumnName, "image path");
        return Inner.Transform(input);
    }

    /// <inheritdoc />
    void ICanSaveModel.Save(ModelSaveContext ctx) => Inner.Save(ctx);

    /// <summary>Releases the ONNX Runtime sessions (shared with other transformers of the same model until the last one is disposed).</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            SegmenterCache.Release(_state);
        }
    }

    internal static OvDiffSegmentTransformer Create(TransformsCatalog catalog, OvDiffSegmentOptions options, OvDiffModelState state)
    {
        byte[] bytes = state.ToBytes();
        IEstimator<ITransformer> chain = CreateChain(catalog, options, bytes);
        var schema = new DataViewSchema.Builder();
        schema.AddColumn(options.ImageColumnName, TextDataViewType.Instance);
        return new OvDiffSegmentTransformer(chain.Fit(new EmptyDataView(schema.ToSchema())), options, state, bytes);
    }

    /// <summary>The chain of built-in estimators that carries the state and runs the segmentation.</summary>
    internal static IEstimator<ITransformer> CreateChain(TransformsCatalog t, OvDiffSegmentOptions options, byte[] state)
    {
        IEstimator<ITransformer> chain = t.CopyColumns(InternalColumns.ImagePath, options.ImageColumnName);
        chain = chain
            .Append(t.CustomMapping(new StateKeyMapping().GetMapping(), StateKeyMapping.ContractName))
            .Append(t.Conversion.MapValue(InternalColumns.State, new[] { new KeyValuePair<string, byte[]>(InternalColumns.StateKeyValue, state) }, InternalColumns.StateKey));
        chain = options.ScoresColumnName is null
            ? chain.Append(t.CustomMapping(new SegmentMapping().GetMapping(), SegmentMapping.ContractName))
            : chain.Append(t.CustomMapping(new SegmentWithScoresMapping().GetMapping(), SegmentWithScoresMapping.ContractName));
        chain = chain
            .Append(t.CopyColumns(options.OutputColumnName, InternalColumns.Labels))
            .Append(t.CopyColumns(options.WidthColumnName, InternalColumns.Width))
            .Append(t.CopyColumns(options.HeightColumnName, InternalColumns.Height));
        var drop = new List<string> { InternalColumns.ImagePath, InternalColumns.StateKey, InternalColumns.State, InternalColumns.Labels, InternalColumns.Width, InternalColumns.Height };
        if (options.ScoresColumnName is not null)
        {
            chain = chain.Append(t.CopyColumns(options.ScoresColumnName, InternalColumns.Scores));
            drop.Add(InternalColumns.Scores);
        }

        return chain.Append(t.DropColumns(drop.ToArray()));
    }
}
