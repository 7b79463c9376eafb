using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace OvDiff.ML;

/// <summary>
/// A saved OvDiff model zip opened again: the ML.NET transformer (as <c>mlContext.Model.Load</c> returns it) plus the
/// OvDiff state inside it (classes, prototypes, options), for tools that need more than the label column.
/// </summary>
public sealed class OvDiffModel
{
    private OvDiffModel(ITransformer transformer, DataViewSchema inputSchema, OvDiffModelState state, string path)
    {
        Transformer = transformer;
        InputSchema = inputSchema;
        State = state;
        Path = path;
    }

    /// <summary>The loaded ML.NET transformer.</summary>
    public ITransformer Transformer { get; }

    /// <summary>The input schema saved with the model (its first text column is the image-path column).</summary>
    public DataViewSchema InputSchema { get; }

    /// <summary>The OvDiff state.</summary>
    public OvDiffModelState State { get; }

    /// <summary>The zip file.</summary>
    public string Path { get; }

    /// <summary>
    /// Loads <paramref name="path"/>. A missing file, a truncated or corrupt zip, or an ML.NET model that holds no OvDiff
    /// state is an <see cref="InvalidDataException"/> (or <see cref="FileNotFoundException"/>) naming the file.
    /// </summary>
    public static OvDiffModel Load(MLContext context, string path)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Model file '{path}' does not exist. Create one with `ovdiff fit ... --out {path}`.", path);
        }

        ITransformer transformer;
        DataViewSchema inputSchema;
        try
        {
            using (ZipArchive zip = ZipFile.OpenRead(path))
            {
                // Reading every entry through checks the archive's structure and CRCs before ML.NET sees it.
                foreach (ZipArchiveEntry entry in zip.Entries)
                {
                    using Stream stream = entry.Open();
                    stream.CopyTo(Stream.Null);
                }
            }

            transformer = context.Model.Load(path, out inputSchema);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or FormatException or InvalidOperationException or ArgumentException)
        {
            throw new InvalidDataException($"'{path}' is not a readable ML.NET model zip (truncated or corrupt?): {ex.Message}", ex);
        }

        OvDiffModelState state;
        try
        {
            state = ReadState(context, transformer, inputSchema, path);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            // Another ML.NET model: its first step rejects the probe row ("Schema mismatch for input column ...").
            throw new InvalidDataException($"'{path}' is an ML.NET model but not an OvDiff model ({ex.Message})", ex);
        }

        return new OvDiffModel(transformer, inputSchema, state, path);
    }

    private static OvDiffModelState ReadState(MLContext context, ITransformer transformer, DataViewSchema inputSchema, string path)
    {
        if (transformer is not IEnumerable<ITransformer> chain || inputSchema.Count == 0)
        {
            throw new InvalidDataException($"'{path}' is an ML.NET model but not an OvDiff model (no OvDiff transformer chain inside).");
        }

        DataViewSchema.Column imageColumn = inputSchema[0];
        IDataView view = context.Data.LoadFromEnumerable(new[] { new PathRow() }, SchemaFor(imageColumn.Name));
        foreach (ITransformer step in chain)
        {
            view = step.Transform(view);
            DataViewSchema.Column? stateColumn = view.Schema.GetColumnOrNull(InternalColumns.State);
            if (stateColumn is not null)
            {
                using DataViewRowCursor cursor = view.GetRowCursor([stateColumn.Value]);
                ValueGetter<VBuffer<byte>> getter = cursor.GetGetter<VBuffer<byte>>(stateColumn.Value);
                VBuffer<byte> bytes = default;
                cursor.MoveNext();
                getter(ref bytes);
                return OvDiffModelState.FromBytes(bytes.DenseValues().ToArray(), path);
            }

            if (step is ValueMappingTransformer)
            {
                break;
            }
        }

        throw new InvalidDataException($"'{path}' is an ML.NET model but not an OvDiff model (no '{InternalColumns.State}' column).");
    }

    private static SchemaDefinition SchemaFor(string imageColumn)
    {
        SchemaDefinition definition = SchemaDefinition.Create(typeof(PathRow));
        definition[0].ColumnName = imageColumn;
        return definition;
    }

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }
}
