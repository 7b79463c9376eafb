using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;
using OvDiff.Imaging;

namespace OvDiff.ML;

/// <summary>Names of the internal columns of the saved chain; fixed, because CustomMapping rebuilds its schema from attributes.</summary>
internal static class InternalColumns
{
    public const string ImagePath = "__OvDiffImagePath";
    public const string StateKey = "__OvDiffStateKey";
    public const string State = "__OvDiffState";
    public const string Labels = "__OvDiffLabels";
    public const string Width = "__OvDiffWidth";
    public const string Height = "__OvDiffHeight";
    public const string Scores = "__OvDiffScores";
    public const string StateKeyValue = "model";
}

/// <summary>Input of <see cref="StateKeyMapping"/>.</summary>
public sealed class ImagePathRow
{
    /// <summary>The image path.</summary>
    [ColumnName(InternalColumns.ImagePath)]
    public string ImagePath { get; set; } = "";
}

/// <summary>Output of <see cref="StateKeyMapping"/>: the constant key the state ValueMapping looks up.</summary>
public sealed class StateKeyRow
{
    /// <summary>Always "model".</summary>
    [ColumnName(InternalColumns.StateKey)]
    public string StateKey { get; set; } = "";
}

/// <summary>Input of the segmentation mappings: the image path and the model state bytes.</summary>
public sealed class SegmentationInputRow
{
    /// <summary>The image path (resolved).</summary>
    [ColumnName(InternalColumns.ImagePath)]
    public string ImagePath { get; set; } = "";

    /// <summary>The serialised <see cref="OvDiffModelState"/>.</summary>
    [ColumnName(InternalColumns.State)]
    [VectorType]
    public byte[] State { get; set; } = [];
}

/// <summary>Output of <see cref="SegmentMapping"/>.</summary>
public class SegmentationOutputRow
{
    /// <summary>Label per pixel, row-major.</summary>
    [ColumnName(InternalColumns.Labels)]
    [VectorType]
    public byte[] Labels { get; set; } = [];

    /// <summary>Label map width.</summary>
    [ColumnName(InternalColumns.Width)]
    public int Width { get; set; }

    /// <summary>Label map height.</summary>
    [ColumnName(InternalColumns.Height)]
    public int Height { get; set; }

    internal void Fill(SegmentationResult result)
    {
        Labels = result.Labels.Labels;
        Width = result.Labels.Width;
        Height = result.Labels.Height;
    }
}

/// <summary>Output of <see cref="SegmentWithScoresMapping"/>.</summary>
public sealed class SegmentationWithScoresOutputRow : SegmentationOutputRow
{
    /// <summary>(classes + 1) planes of Height x Width scores.</summary>
    [ColumnName(InternalColumns.Scores)]
    [VectorType]
    public float[] Scores { get; set; } = [];
}

/// <summary>Supplies the constant key under which the model state is stored (the ValueMapping's only entry).</summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class StateKeyMapping : CustomMappingFactory<ImagePathRow, StateKeyRow>
{
    /// <summary>Contract name stored in model zips.</summary>
    public const string ContractName = "OvDiff.StateKey.v1";

    /// <summary>The mapping.</summary>
    public static void Map(ImagePathRow input, StateKeyRow output) => output.StateKey = InternalColumns.StateKeyValue;

    /// <inheritdoc />
    public override Action<ImagePathRow, StateKeyRow> GetMapping() => Map;
}

/// <summary>Segments the image at the row's path with the row's model state.</summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class SegmentMapping : CustomMappingFactory<SegmentationInputRow, SegmentationOutputRow>
{
    /// <summary>Contract name stored in model zips.</summary>
    public const string ContractName = "OvDiff.Segment.v1";

    /// <summary>The mapping.</summary>
    public static void Map(SegmentationInputRow input, SegmentationOutputRow output)
    {
        output.Fill(SegmenterCache.Segment(input.State, input.ImagePath, includeScores: false));
    }

    /// <inheritdoc />
    public override Action<SegmentationInputRow, SegmentationOutputRow> GetMapping() => Map;
}

/// <summary>Like <see cref="SegmentMapping"/>, also returning the score planes.</summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class SegmentWithScoresMapping : CustomMappingFactory<SegmentationInputRow, SegmentationWithScoresOutputRow>
{
    /// <summary>Contract name stored in model zips.</summary>
    public const string ContractName = "OvDiff.SegmentWithScores.v1";

    /// <summary>The mapping.</summary>
    public static void Map(SegmentationInputRow input, SegmentationWithScoresOutputRow output)
    {
        SegmentationResult result = SegmenterCache.Segment(input.State, input.ImagePath, includeScores: true);
        output.Fill(result);
        output.Scores = result.Scores ?? [];
    }

    /// <inheritdoc />
    public override Action<SegmentationInputRow, SegmentationWithScoresOutputRow> GetMapping() => Map;
}

/// <summary>
/// One segmenter (with its ONNX sessions) per distinct model state in this process, built on first use. The mapping
/// delegates run on ML.NET's parallel cursors, so each segmenter is used under a lock. Entries are released by
/// <see cref="Release"/> (the OvDiff transformer's Dispose) or at process exit.
/// </summary>
internal static class SegmenterCache
{
    private static readonly SharedDisposables<OvDiffSegmenterSession> Sessions = new();

    public static SegmentationResult Segment(byte[] state, string imagePath, bool includeScores)
    {
        string key = Key(state);
        // Decoded outside the segmenter's lock, so other rows' images decode while one row segments.
        string? imageFolder = Sessions.Peek(key, () => Create(state)).State.ImageFolder;
        RgbImage image = ImageDecoder.Decode(OvDiffSegmentEstimator.ResolvePath(imagePath, imageFolder));
        return Sessions.Use(key, () => Create(state), session => session.Segmenter.Segment(image, includeScores));
    }

    /// <summary>Counts an owner (an OvDiff transformer) of the state's segmenter.</summary>
    public static void Acquire(byte[] state) => Sessions.Acquire(Key(state), () => Create(state));

    /// <summary>Drops an owner; the last owner disposes the segmenter's sessions.</summary>
    public static void Release(byte[] state) => Sessions.Release(Key(state));

    private static string Key(byte[] state) => Convert.ToHexString(SHA256.HashData(state));

    private static OvDiffSegmenterSession Create(byte[] state) =>
        OvDiffSegmenterSession.Create(OvDiffModelState.FromBytes(state, "OvDiff model state"));
}

/// <summary>
/// Disposable values shared by key: each is created on first use, used under its own lock, counted by its owners, and
/// disposed (and forgotten) when the last owner releases it. A use that races with that disposal gets a fresh value,
/// never a disposed one; a failed creation is not remembered, so the next use tries again.
/// </summary>
/// <typeparam name="T">The shared value.</typeparam>
internal sealed class SharedDisposables<T>
    where T : class, IDisposable
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Runs <paramref name="use"/> on the value of <paramref name="key"/> under its lock, creating the value if needed.</summary>
    public TResult Use<TResult>(string key, Func<T> create, Func<T, TResult> use)
    {
        while (true)
        {
            (Entry entry, T value) = GetOrCreate(key, create);
            lock (entry)
            {
                if (!entry.Disposed)
                {
                    return use(value);
                }
            }
        }
    }

    /// <summary>
    /// The value of <paramref name="key"/>, created if needed, without taking its lock: only for reading what neither use
    /// nor disposal changes.
    /// </summary>
    public T Peek(string key, Func<T> create) => GetOrCreate(key, create).Value;

    /// <summary>Counts an owner of the value of <paramref name="key"/>, creating the value if needed.</summary>
    public void Acquire(string key, Func<T> create)
    {
        while (true)
        {
            (Entry entry, _) = GetOrCreate(key, create);
            lock (entry)
            {
                if (!entry.Disposed)
                {
                    entry.Owners++;
                    return;
                }
            }
        }
    }

    /// <summary>Drops an owner of the value of <paramref name="key"/>; the last one disposes it.</summary>
    public void Release(string key)
    {
        if (!_entries.TryGetValue(key, out Entry? entry) || !entry.Value.IsValueCreated)
        {
            return;
        }

        lock (entry)
        {
            if (entry.Disposed || --entry.Owners > 0)
            {
                return;
            }

            entry.Disposed = true;
            _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
            entry.Value.Value.Dispose();
        }
    }

    private (Entry Entry, T Value) GetOrCreate(string key, Func<T> create)
    {
        Entry entry = _entries.GetOrAdd(key, _ => new Entry(new Lazy<T>(create, LazyThreadSafetyMode.ExecutionAndPublication)));
        try
        {
            return (entry, entry.Value.Value);
        }
        catch
        {
            _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
            throw;
        }
    }

    private sealed class Entry(Lazy<T> value)
    {
        public Lazy<T> Value { get; } = value;

        public int Owners { get; set; }

        public bool Disposed { get; set; }
    }
}
