using System.IO.Compression;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using OvDiff.Core.IO;

namespace OvDiff.ML;

/// <summary>
/// A saved model zip that holds an OvDiff segmentation (alone or anywhere inside a longer pipeline) opened again: the
/// ML.NET transformer (as <c>mlContext.Model.Load</c> returns it) plus the OvDiff state inside it (classes, prototypes,
/// options). It owns what the loaded chain holds (ONNX Runtime sessions): dispose it when done.
/// </summary>
public sealed class OvDiffModel : IDisposable
{
    private readonly IReadOnlyList<SegmentationRunner> _runners;

    private OvDiffModel(ITransformer transformer, DataViewSchema inputSchema, OvDiffModelState state, string path, IReadOnlyList<SegmentationRunner> runners)
    {
        Transformer = transformer;
        InputSchema = inputSchema;
        State = state;
        Path = path;
        _runners = runners;
    }

    /// <summary>The loaded ML.NET transformer.</summary>
    public ITransformer Transformer { get; }

    /// <summary>The input schema saved with the model.</summary>
    public DataViewSchema InputSchema { get; }

    /// <summary>The OvDiff state.</summary>
    public OvDiffModelState State { get; }

    /// <summary>The zip file (loaded from a stream: the name given for it).</summary>
    public string Path { get; }

    /// <summary>Label names: "background", then the classes (label <c>i</c> of the label map is <c>LabelNames[i]</c>).</summary>
    public IReadOnlyList<string> LabelNames => State.Model.LabelNames;

    /// <summary>Images given an empty label map because they could not be read (when the model skips bad images).</summary>
    public long SkippedImages => _runners.Sum(r => r.SkippedImages);

    /// <summary>
    /// Transforms <paramref name="input"/> with the loaded pipeline, first checking the OvDiff image column (named in the
    /// model) so that a missing or mistyped column is reported under its own name.
    /// </summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ObjectDisposedException.ThrowIf(_runners.Count > 0 && _runners.All(r => r.IsDisposed), this);
        if (State.ImageColumnName is { } column && InputSchema.GetColumnOrNull(column) is { } saved
            && input.Schema.GetColumnOrNull(column) is { } given && !given.Type.Equals(saved.Type))
        {
            throw new ArgumentOutOfRangeException(nameof(input), $"Column '{column}' (image): '{Path}' was fitted on {saved.Type}, got {given.Type}.");
        }

        return Transformer.Transform(input);
    }

    /// <summary>Releases the ONNX Runtime sessions the loaded chain holds (shared with other open models of the same state).</summary>
    public void Dispose()
    {
        foreach (SegmentationRunner runner in _runners)
        {
            runner.Dispose();
        }

        (Transformer as IDisposable)?.Dispose();
    }

    /// <summary>The time every entry of a zip written by <see cref="Save"/> carries: 1980-01-02 00:00, local (the zip format's first year).</summary>
    public static readonly DateTimeOffset EntryTime = new(new DateTime(1980, 1, 2, 0, 0, 0, DateTimeKind.Unspecified));

    /// <summary>
    /// Writes <paramref name="model"/> to <paramref name="stream"/> as <c>context.Model.Save</c> does, with every zip entry's
    /// time set to <see cref="EntryTime"/> and the blocks of its binary data views (<c>.idv</c> entries) in column order,
    /// so that the same fit gives the same bytes (ML.NET stamps each entry with the time of saving, and writes a data view's
    /// blocks in the order its compression threads finish them). The zip loads with <c>mlContext.Model.Load</c> and
    /// <see cref="Load(MLContext, string)"/> as any other.
    /// </summary>
    public static void Save(MLContext context, ITransformer model, DataViewSchema inputSchema, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        context.Model.Save(model, inputSchema, buffer);
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Update, leaveOpen: true))
        {
            foreach (ZipArchiveEntry entry in zip.Entries)
            {
                if (entry.FullName.EndsWith(".idv", StringComparison.OrdinalIgnoreCase))
                {
                    using Stream content = entry.Open();
                    using var idv = new MemoryStream();
                    content.CopyTo(idv);
                    ReadOnlySpan<byte> written = idv.GetBuffer().AsSpan(0, (int)idv.Length);
                    if (IdvBlockOrder.Canonical(written) is byte[] canonical && !written.SequenceEqual(canonical))
                    {
                        content.Position = 0;
                        content.Write(canonical);
                    }
                }

                entry.LastWriteTime = EntryTime;   // other entries' compressed bytes are kept as written
            }
        }

        buffer.Position = 0;
        buffer.CopyTo(stream);
    }

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

        using FileStream stream = File.OpenRead(path);
        return Load(context, stream, path);
    }

    /// <summary>
    /// Loads a model zip from <paramref name="stream"/> (read from its current position to its end, which need not be
    /// seekable: a blob, an upload, an embedded resource; it is not disposed), as <c>mlContext.Model.Load(stream, out schema)</c>
    /// does, with the checks of <see cref="Load(MLContext, string)"/>. <paramref name="name"/> names the model in errors and
    /// becomes <see cref="Path"/> (default: the file of a <see cref="FileStream"/>, else "model stream").
    /// </summary>
    public static OvDiffModel Load(MLContext context, Stream stream, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(stream);
        string path = name ?? (stream as FileStream)?.Name ?? "model stream";
        ITransformer transformer;
        DataViewSchema inputSchema;
        List<SegmentationRunner> runners;
        try
        {
            // One copy in memory (a model zip is kilobytes to a few megabytes): the CRC-32 pass and ML.NET each read it whole.
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            buffer.Position = 0;
            using (var zip = new ZipArchive(buffer, ZipArchiveMode.Read, leaveOpen: true))
            {
                // Reading every entry through checks the archive's structure, and comparing each entry's CRC-32 (which
                // ZipArchive does not check) finds flipped bits before ML.NET sees them: a flip in the prototypes'
                // compressed data was loaded and segmented with.
                foreach (ZipArchiveEntry entry in zip.Entries)
                {
                    using Stream entryStream = entry.Open();
                    uint crc = Crc32.Compute(entryStream);
                    if (crc != entry.Crc32)
                    {
                        throw new InvalidDataException($"its entry '{entry.FullName}' fails its CRC-32 check (0x{crc:x8}, expected 0x{entry.Crc32:x8})");
                    }
                }
            }

            buffer.Position = 0;
            using SegmentationRunner.LoadScope scope = SegmentationRunner.LoadScope.Begin();
            transformer = context.Model.Load(buffer, out inputSchema);
            runners = scope.Runners;
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or FormatException or InvalidOperationException or ArgumentException or TargetInvocationException)
        {
            // ML.NET creates each step by reflection: a step whose bytes end early (an entry cut short, its CRC-32 made
            // to match) fails inside TargetInvocationExceptions, which reached the user as "Unable to read beyond the
            // end of the stream." with no file named.
            Exception cause = ex is TargetInvocationException ? ex.GetBaseException() : ex;
            throw new InvalidDataException($"'{path}' is not a readable ML.NET model zip (truncated or corrupt?): {cause.Message}", ex);
        }

        try
        {
            OvDiffModelState state = ReadState(context, transformer, path);
            return new OvDiffModel(transformer, inputSchema, state, path, runners);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            runners.ForEach(r => r.Dispose());
            throw new InvalidDataException($"'{path}' is an ML.NET model but not an OvDiff model ({ex.Message})", ex);
        }
        catch
        {
            runners.ForEach(r => r.Dispose());
            throw;
        }
    }

    /// <summary>
    /// Finds the ValueMapping that holds the OvDiff state anywhere in the (possibly nested) chain and reads the state
    /// through it alone, so the model's other steps and its input schema do not matter.
    /// </summary>
    private static OvDiffModelState ReadState(MLContext context, ITransformer transformer, string path)
    {
        var keySchema = new DataViewSchema.Builder();
        keySchema.AddColumn(InternalColumns.StateKey, TextDataViewType.Instance);
        DataViewSchema stateKeySchema = keySchema.ToSchema();
        foreach (ValueMappingTransformer mapping in Leaves(transformer).OfType<ValueMappingTransformer>())
        {
            DataViewSchema output;
            try
            {
                output = mapping.GetOutputSchema(stateKeySchema);
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
                continue; // another ValueMapping, keyed by another column
            }

            if (output.GetColumnOrNull(InternalColumns.State) is not { } stateColumn)
            {
                continue;
            }

            IDataView view = mapping.Transform(context.Data.LoadFromEnumerable(new[] { new StateKeyRow { StateKey = InternalColumns.StateKeyValue } }));
            using DataViewRowCursor cursor = view.GetRowCursor([view.Schema[stateColumn.Name]]);
            ValueGetter<VBuffer<byte>> getter = cursor.GetGetter<VBuffer<byte>>(view.Schema[stateColumn.Name]);
            VBuffer<byte> bytes = default;
            cursor.MoveNext();
            getter(ref bytes);
            return OvDiffModelState.FromBytes(bytes.DenseValues().ToArray(), path);
        }

        throw new InvalidDataException($"'{path}' is an ML.NET model but not an OvDiff model (no OvDiff segmentation inside).");
    }

    private static IEnumerable<ITransformer> Leaves(ITransformer transformer)
    {
        if (transformer is IEnumerable<ITransformer> chain)
        {
            foreach (ITransformer step in chain)
            {
                foreach (ITransformer leaf in Leaves(step))
                {
                    yield return leaf;
                }
            }
        }
        else
        {
            yield return transformer;
        }
    }
}
