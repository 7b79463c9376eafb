using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Microsoft.ML.Transforms.Text;

namespace OvDiff.ML;

/// <summary>
/// A fitted OvDiff segmenter as an ML.NET transformer: maps an image column (paths or encoded bytes) to a label-map column
/// plus width, height, the classes present (keys named by a <c>KeyValues</c> annotation) and optionally scores. It owns
/// ONNX Runtime sessions: dispose it when done (<c>using var model = est.Fit(data)</c>); a view enumerated after that throws.
/// </summary>
/// <remarks>
/// ML.NET does not let other assemblies save their own transformer types, so this facade delegates saving to a chain of
/// built-in transformers (a text normalisation or column copy, CustomMappings, and ValueMappings that store the model
/// state and the class names in the zip). <c>mlContext.Model.Load</c> therefore returns that chain (an
/// <see cref="ITransformer"/> that behaves the same), not this type; <see cref="OvDiffModel.Load(MLContext, string)"/> returns it together
/// with the state and class names, and disposing the <see cref="OvDiffModel"/> releases the sessions.
/// </remarks>
public sealed class OvDiffSegmentTransformer : ITransformer, IDisposable
{
    private readonly SegmentationRunner _runner;
    private readonly ImageColumnKind _imageKind;

    private OvDiffSegmentTransformer(ITransformer inner, OvDiffSegmentOptions options, OvDiffModelState state, SegmentationRunner runner, ImageColumnKind imageKind)
    {
        Inner = inner;
        Options = options;
        State = state;
        _runner = runner;
        _imageKind = imageKind;
    }

    /// <summary>The built-in transformer chain that does the work and is what gets saved.</summary>
    public ITransformer Inner { get; }

    /// <summary>The options used.</summary>
    public OvDiffSegmentOptions Options { get; }

    /// <summary>The fitted state: extractors, inference options and the prototype model.</summary>
    public OvDiffModelState State { get; }

    /// <summary>Label names: "background", then the classes (label <c>i</c> of the label map is <c>LabelNames[i]</c>).</summary>
    public IReadOnlyList<string> LabelNames => State.Model.LabelNames;

    /// <summary>Images given an empty label map because they could not be read (with <see cref="OvDiffSegmentOptions.SkipBadImages"/>).</summary>
    public long SkippedImages => _runner.SkippedImages;

    /// <summary>Support rows that Fit left out as unreadable (with <see cref="OvDiffSegmentOptions.SkipBadImages"/>).</summary>
    public long SkippedSupportImages { get; private init; }

    /// <inheritdoc />
    public bool IsRowToRowMapper => Inner.IsRowToRowMapper;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        RequireImageKind(inputSchema);
        return Inner.GetOutputSchema(inputSchema);
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ObjectDisposedException.ThrowIf(_runner.IsDisposed, this);
        RequireImageKind(inputSchema);
        return Inner.GetRowToRowMapper(inputSchema);
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ObjectDisposedException.ThrowIf(_runner.IsDisposed, this);
        RequireImageKind(input.Schema);
        return Inner.Transform(input);
    }

    /// <inheritdoc />
    void ICanSaveModel.Save(ModelSaveContext ctx) => Inner.Save(ctx);

    /// <summary>Releases the ONNX Runtime sessions (shared with other transformers of the same model until the last one is disposed).</summary>
    public void Dispose() => _runner.Dispose();

    internal static OvDiffSegmentTransformer Create(TransformsCatalog catalog, OvDiffSegmentOptions options, OvDiffModelState state, ImageColumnKind imageKind, long skippedSupportImages = 0)
    {
        byte[] bytes = state.ToBytes();
        (IEstimator<ITransformer> chain, SegmentationRunner runner) = CreateChain(catalog, options, bytes, state.Model.LabelNames, imageKind);
        try
        {
            runner.Bind(bytes);
            var schema = new DataViewSchema.Builder();
            schema.AddColumn(options.ImageColumnName, imageKind == ImageColumnKind.Path ? TextDataViewType.Instance : new VectorDataViewType(NumberDataViewType.Byte));
            return new OvDiffSegmentTransformer(chain.Fit(new EmptyDataView(schema.ToSchema())), options, state, runner, imageKind) { SkippedSupportImages = skippedSupportImages };
        }
        catch
        {
            runner.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The chain of built-in estimators that carries the state and runs the segmentation, and the runner behind its
    /// segmentation mapping.
    /// </summary>
    internal static (IEstimator<ITransformer> Chain, SegmentationRunner Runner) CreateChain(
        TransformsCatalog t, OvDiffSegmentOptions options, byte[] state, IReadOnlyList<string> labelNames, ImageColumnKind imageKind)
    {
        // The first step reads the user's column, so a wrong type after Model.Load is reported under the user's column name:
        // NormalizeText with every option off is the identity on text and says "expected String" for anything else.
        IEstimator<ITransformer> chain = imageKind == ImageColumnKind.Path
            ? t.Text.NormalizeText(InternalColumns.ImagePath, options.ImageColumnName, TextNormalizingEstimator.CaseMode.None, keepDiacritics: true, keepPunctuations: true, keepNumbers: true)
            : t.CopyColumns(InternalColumns.ImageBytes, options.ImageColumnName);
        chain = chain
            .Append(t.CustomMapping(new StateKeyMapping().GetMapping(), StateKeyMapping.ContractName))
            .Append(t.Conversion.MapValue(InternalColumns.State, new[] { new KeyValuePair<string, byte[]>(InternalColumns.StateKeyValue, state) }, InternalColumns.StateKey));

        SegmentationRunner runner;
        (chain, runner) = (imageKind, options.ScoresColumnName is null) switch
        {
            (ImageColumnKind.Path, true) => AppendSegmentation(chain, t, new SegmentPathMapping(), SegmentPathMapping.ContractName),
            (ImageColumnKind.Path, false) => AppendSegmentation(chain, t, new SegmentPathWithScoresMapping(), SegmentPathWithScoresMapping.ContractName),
            (_, true) => AppendSegmentation(chain, t, new SegmentBytesMapping(), SegmentBytesMapping.ContractName),
            (_, false) => AppendSegmentation(chain, t, new SegmentBytesWithScoresMapping(), SegmentBytesWithScoresMapping.ContractName),
        };

        // The names travel as a ValueMapping whose values are treated as keys: ML.NET saves them with the map, so the
        // KeyValues annotation survives Model.Save/Load (annotations given to a CustomMapping's schema do not: #3988).
        KeyValuePair<byte, string>[] names = labelNames.Select((name, label) => new KeyValuePair<byte, string>((byte)label, name)).ToArray();
        chain = chain
            .Append(t.Conversion.MapValue(options.ClassesColumnName, names, InternalColumns.PresentLabels, treatValuesAsKeyType: true))
            .Append(t.CopyColumns(options.OutputColumnName, InternalColumns.Labels))
            .Append(t.CopyColumns(options.WidthColumnName, InternalColumns.Width))
            .Append(t.CopyColumns(options.HeightColumnName, InternalColumns.Height));
        var drop = new List<string>
        {
            imageKind == ImageColumnKind.Path ? InternalColumns.ImagePath : InternalColumns.ImageBytes,
            InternalColumns.StateKey, InternalColumns.State, InternalColumns.Labels, InternalColumns.Width, InternalColumns.Height, InternalColumns.PresentLabels,
        };
        if (options.ScoresColumnName is not null)
        {
            chain = chain.Append(t.CopyColumns(options.ScoresColumnName, InternalColumns.Scores));
            drop.Add(InternalColumns.Scores);
        }

        return (chain.Append(t.DropColumns(drop.ToArray())), runner);
    }

    private static (IEstimator<ITransformer>, SegmentationRunner) AppendSegmentation<TInput, TOutput>(
        IEstimator<ITransformer> chain, TransformsCatalog t, SegmentationMappingFactory<TInput, TOutput> factory, string contractName)
        where TInput : class, ISegmentationInput, new()
        where TOutput : class, ISegmentationOutput, new()
    {
        SegmentationMappingFactory<TInput, TOutput>.MappingRunner runner = factory.Create();
        return (chain.Append(t.CustomMapping<TInput, TOutput>(runner.Map, contractName)), runner);
    }

    private void RequireImageKind(DataViewSchema schema)
    {
        ImageColumnKind kind = OvDiffSegmentEstimator.RequireImage(schema, Options.ImageColumnName);
        if (kind != _imageKind)
        {
            throw new ArgumentOutOfRangeException(
                nameof(schema),
                $"Column '{Options.ImageColumnName}': this model was fitted on {Describe(_imageKind)} and segments those; got {Describe(kind)}.");
        }
    }

    internal static string Describe(ImageColumnKind kind) =>
        kind == ImageColumnKind.Path ? "image paths (String)" : "encoded image bytes (vector of Byte)";
}

/// <summary>What an image column holds.</summary>
internal enum ImageColumnKind
{
    /// <summary>Text: a path, resolved against the image folder.</summary>
    Path,

    /// <summary>A vector of bytes: an encoded image (JPEG, PNG, ...).</summary>
    EncodedBytes,
}
