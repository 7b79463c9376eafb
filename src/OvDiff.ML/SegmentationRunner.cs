using System.Collections.Concurrent;
using System.Security.Cryptography;
using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;
using OvDiff.Imaging;

namespace OvDiff.ML;

/// <summary>An image as a segmentation row gives it: a path (resolved against the model's image folder) or encoded bytes.</summary>
internal readonly record struct ImageInput(string? Path, byte[]? Bytes)
{
    public static ImageInput FromPath(string path) => new(path, null);

    public static ImageInput FromBytes(byte[] bytes) => new(null, bytes);
}

/// <summary>
/// The code behind one segmentation CustomMapping transformer (one per fitted or loaded model). On its first row it
/// takes a share of the segmenter for the row's model state (<see cref="SegmenterCache"/>), and keeps it until it is
/// disposed (by <see cref="OvDiffSegmentTransformer.Dispose"/> or <see cref="OvDiffModel.Dispose"/>) or finalised: a chain
/// loaded with plain <c>mlContext.Model.Load</c> has no Dispose that reaches this runner, so its share goes back only when
/// the garbage collector finds the dropped chain (ML.NET's cursor threads hold it a moment after the last row). Rows may arrive on several threads at once
/// (ML.NET's parallel cursors); they segment concurrently. After disposal every row throws.
/// </summary>
internal abstract class SegmentationRunner : IDisposable
{
    private readonly bool _includeScores;
    private readonly object _gate = new();
    private byte[]? _stateBytes;
    private string? _key;
    private OvDiffSegmenterSession? _session;
    private int _activeRows;
    private bool _disposed;
    private bool _released;
    private long _skippedImages;

    protected SegmentationRunner(bool includeScores)
    {
        _includeScores = includeScores;
    }

    ~SegmentationRunner()
    {
        // Unreachable, so no row is running: give the share back.
        ReleaseShare();
    }

    /// <summary>Images skipped as unreadable so far (only when the model's <c>SkipBadImages</c> is set).</summary>
    public long SkippedImages => Interlocked.Read(ref _skippedImages);

    /// <summary>Whether this runner has been disposed.</summary>
    public bool IsDisposed
    {
        get
        {
            lock (_gate)
            {
                return _disposed;
            }
        }
    }

    /// <summary>Takes the share now (a fitted transformer does, so that the sessions are ready and owned).</summary>
    public void Bind(byte[] state)
    {
        Enter(state);
        Exit();
    }

    /// <summary>Segments one row's image; null when the image is bad and the model skips bad images.</summary>
    protected SegmentationResult? Segment(byte[] state, ImageInput image)
    {
        OvDiffSegmenterSession session = Enter(state);
        try
        {
            RgbImage? decoded = Decode(session.State, image);
            return decoded is null ? null : session.Segment(decoded, _includeScores);
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Gives the share back once no row is running; later rows throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        bool release;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            release = _activeRows == 0;
        }

        if (release)
        {
            ReleaseShare();
        }

        GC.SuppressFinalize(this);
    }

    private OvDiffSegmenterSession Enter(byte[] state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_gate)
        {
            if (_disposed)
            {
                throw new ObjectDisposedException(
                    "OvDiff model",
                    "This OvDiff model was disposed: its ONNX Runtime sessions are released. Transform with a model that is still open " +
                    "(a data view is lazy: enumerate it before disposing the model), or load the model again.");
            }

            if (_session is null)
            {
                string key = SegmenterCache.Key(state);
                _session = SegmenterCache.Acquire(key, state);
                _key = key;
                _stateBytes = state;
            }
            else if (!ReferenceEquals(state, _stateBytes) && !state.AsSpan().SequenceEqual(_stateBytes))
            {
                throw new InvalidOperationException("An OvDiff segmentation mapping was given two different model states; each saved chain carries one.");
            }

            _activeRows++;
            return _session;
        }
    }

    private void Exit()
    {
        bool release;
        lock (_gate)
        {
            _activeRows--;
            release = _disposed && _activeRows == 0;
        }

        if (release)
        {
            ReleaseShare();
        }
    }

    private void ReleaseShare()
    {
        string? key;
        lock (_gate)
        {
            if (_released || _key is null)
            {
                _released = true;
                return;
            }

            _released = true;
            key = _key;
            _session = null;
        }

        SegmenterCache.Release(key);
    }

    private RgbImage? Decode(OvDiffModelState state, ImageInput image)
    {
        string column = state.ImageColumnName ?? "image";
        string source = image.Path is null ? $"the encoded image in column '{column}'" : $"'{image.Path}' (column '{column}')";
        try
        {
            if (image.Path is not null)
            {
                if (string.IsNullOrWhiteSpace(image.Path))
                {
                    throw new InvalidDataException($"Column '{column}' holds an empty image path.");
                }

                return ImageDecoder.Decode(OvDiffSegmentEstimator.ResolvePath(image.Path, state.ImageFolder));
            }

            return ImageDecoder.Decode(image.Bytes ?? [], $"encoded image (column '{column}')");
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException or OverflowException)
        {
            if (state.SkipBadImages)
            {
                Interlocked.Increment(ref _skippedImages);
                return null;
            }

            throw new InvalidDataException($"OvDiff cannot segment {source}: {ex.Message} (set OvDiffSegmentOptions.SkipBadImages to give such rows an empty label map instead).", ex);
        }
    }

    /// <summary>
    /// Collects the runners that <c>mlContext.Model.Load</c> creates on this thread while a scope is open, so that
    /// <see cref="OvDiffModel"/> can own (and dispose) what it loaded.
    /// </summary>
    internal sealed class LoadScope : IDisposable
    {
        [ThreadStatic]
        private static LoadScope? _current;

        private readonly LoadScope? _outer;

        private LoadScope()
        {
            _outer = _current;
            _current = this;
        }

        public List<SegmentationRunner> Runners { get; } = [];

        public static LoadScope Begin() => new();

        public static void Register(SegmentationRunner runner) => _current?.Runners.Add(runner);

        public void Dispose() => _current = _outer;
    }
}

/// <summary>
/// One segmenter (with its ONNX Runtime sessions) per distinct model state in this process, shared by the runners that
/// hold a share of it and disposed when the last share is given back.
/// </summary>
internal static class SegmenterCache
{
    // A released segmenter's native memory goes back to the OS, so that loading and disposing models keeps the working set flat.
    private static readonly SharedDisposables<OvDiffSegmenterSession> Sessions = new() { Disposed = NativeHeap.Trim };

    /// <summary>The number of segmenters alive now (for tests and diagnostics).</summary>
    public static int LiveCount => Sessions.Count;

    /// <summary>Whether the segmenter of <paramref name="state"/> is alive (for tests and diagnostics).</summary>
    public static bool IsLive(OvDiffModelState state) => Sessions.Contains(Key(state.ToBytes()));

    public static string Key(byte[] state) => Convert.ToHexString(SHA256.HashData(state));

    public static OvDiffSegmenterSession Acquire(string key, byte[] state) =>
        Sessions.Acquire(key, () => OvDiffSegmenterSession.Create(OvDiffModelState.FromBytes(state, "OvDiff model state")));

    public static void Release(string key) => Sessions.Release(key);
}

/// <summary>
/// Disposable values shared by key: created by the first <see cref="Acquire"/>, counted by their owners, and disposed
/// (and forgotten) when the last owner releases. A failed creation is not remembered, so the next acquire tries again;
/// an acquire that races with the last release gets a fresh value, never a disposed one.
/// </summary>
/// <typeparam name="T">The shared value.</typeparam>
internal sealed class SharedDisposables<T>
    where T : class, IDisposable
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Values alive now.</summary>
    public int Count => _entries.Count;

    /// <summary>Whether the value of <paramref name="key"/> is alive.</summary>
    public bool Contains(string key) => _entries.ContainsKey(key);

    /// <summary>Counts an owner of the value of <paramref name="key"/>, creating the value if needed, and returns it.</summary>
    public T Acquire(string key, Func<T> create)
    {
        while (true)
        {
            Entry entry = _entries.GetOrAdd(key, _ => new Entry(new Lazy<T>(create, LazyThreadSafetyMode.ExecutionAndPublication)));
            T value;
            try
            {
                value = entry.Value.Value;
            }
            catch
            {
                _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
                throw;
            }

            lock (entry)
            {
                if (!entry.Disposed)
                {
                    entry.Owners++;
                    return value;
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
        }

        entry.Value.Value.Dispose();
        Disposed?.Invoke();
    }

    /// <summary>Runs after a value was disposed (outside any lock).</summary>
    public Action? Disposed { get; init; }

    private sealed class Entry(Lazy<T> value)
    {
        public Lazy<T> Value { get; } = value;

        public int Owners { get; set; }

        public bool Disposed { get; set; }
    }
}
