using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using OvDiff.Core.Images;
using OvDiff.Core.IO;
using OvDiff.Core.Numerics;
using OvDiff.Core.Segmentation;

namespace OvDiff.Imaging.Support;

/// <summary>
/// Everything that decides the bytes of a sampled support set; a store refuses a run whose settings differ.
/// </summary>
/// <param name="ModelFingerprint">SHA-256 over the diffusion model's files (names, sizes, contents).</param>
/// <param name="Scheduler">Sampler name, e.g. "dpm++2m".</param>
/// <param name="Steps">Denoising steps.</param>
/// <param name="Guidance">Classifier-free guidance scale.</param>
/// <param name="Seed">Base seed; each image's seed is derived from (seed, class, index): <see cref="SupportImageRequest.DeriveSeed"/>.</param>
/// <param name="PromptTemplate">Prompt with <c>{class}</c>.</param>
/// <param name="NegativePrompt">Negative prompt ("" for none).</param>
/// <param name="Width">Image width in pixels.</param>
/// <param name="Height">Image height in pixels.</param>
/// <param name="BatchSize">Images generated together; items are batched in fixed groups so a resumed or sharded run batches alike.</param>
/// <param name="Attribution">Identifier of the attribution-map method and its version.</param>
public sealed record SupportSamplingSettings(
    string ModelFingerprint,
    string Scheduler,
    int Steps,
    float Guidance,
    long Seed,
    string PromptTemplate,
    string NegativePrompt,
    int Width,
    int Height,
    int BatchSize,
    string Attribution)
{
    /// <summary>The prompt for <paramref name="className"/>.</summary>
    public string PromptFor(string className) => PromptTemplate.Replace("{class}", className, StringComparison.Ordinal);

    /// <summary>"key: this vs that" for every setting that differs from <paramref name="other"/>.</summary>
    public IReadOnlyList<string> Differences(SupportSamplingSettings other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var differences = new List<string>();
        void Compare<T>(string key, T mine, T theirs)
        {
            if (!EqualityComparer<T>.Default.Equals(mine, theirs))
            {
                differences.Add(string.Create(CultureInfo.InvariantCulture, $"{key}: {Show(mine)} in the store, {Show(theirs)} now"));
            }
        }

        Compare("model (fingerprint)", ModelFingerprint, other.ModelFingerprint);
        Compare("scheduler", Scheduler, other.Scheduler);
        Compare("steps", Steps, other.Steps);
        Compare("guidance", Guidance, other.Guidance);
        Compare("seed", Seed, other.Seed);
        Compare("prompt", PromptTemplate, other.PromptTemplate);
        Compare("negative prompt", NegativePrompt, other.NegativePrompt);
        Compare("size", $"{Width}x{Height}", $"{other.Width}x{other.Height}");
        Compare("batch size", BatchSize, other.BatchSize);
        Compare("attribution", Attribution, other.Attribution);
        return differences;
    }

    private static string Show<T>(T value) => value is string s ? $"\"{s}\"" : string.Create(CultureInfo.InvariantCulture, $"{value}");
}

/// <summary>One class of a store: its name, its folder inside the store, its prompt and the token positions of its name in the prompt.</summary>
public sealed record SupportStoreClass(string Name, string Folder, string Prompt, IReadOnlyList<int> NameTokens);

/// <summary>The content of <c>STORE/manifest.json</c>.</summary>
/// <param name="Format">Format identifier, <see cref="SupportStore.FormatVersion"/>.</param>
/// <param name="Model">The model folder the store was started with (for people; the fingerprint is what is compared).</param>
/// <param name="Settings">The settings that decide the bytes.</param>
/// <param name="PerClass">Images per class.</param>
/// <param name="Classes">The classes, in order.</param>
public sealed record SupportStoreManifest(string Format, string Model, SupportSamplingSettings Settings, int PerClass, IReadOnlyList<SupportStoreClass> Classes);

/// <summary>A run asked a store for other settings than it was made with.</summary>
public sealed class SupportStoreMismatchException(string message) : IOException(message);

/// <summary>Where the files of one support item are.</summary>
public sealed record SupportItemPaths(string Image, string Attribution, string Mask);

/// <summary>
/// A folder of sampled support images (OVDiff stage 1's output), written by <c>ovdiff sample</c> and read by
/// <c>ovdiff fit --support STORE</c>:
/// <code>
/// STORE/manifest.json                    model fingerprint, sampler, steps, guidance, seed, prompts, classes (SupportStoreManifest)
/// STORE/&lt;class folder&gt;/NNN.png              the image (RGB PNG, deterministic encoding)
/// STORE/&lt;class folder&gt;/NNN.attribution.npy  float32 [h, w]: the class name's cross-attention, min-max normalised to [0, 1]
/// STORE/&lt;class folder&gt;/NNN.mask.png         palette PNG at image size: 0 neither, 1 foreground, 2 background
/// </code>
/// Every file is written atomically; an item is complete when its three files exist (the image is written last). The
/// temporary files a killed run leaves are removed when their item is written again.
/// The mask is the reference's split without a segmenter (attribution &gt; 0.5 foreground, &lt; 0.2 background,
/// eroded); fitting refines it with the fit's own segments ranked by the attribution.
/// </summary>
public sealed class SupportStore
{
    /// <summary>The manifest's format identifier.</summary>
    public const string FormatVersion = "ovdiff-support/1";

    /// <summary>The manifest's file name.</summary>
    public const string ManifestFileName = "manifest.json";

    private const string LockFileName = ".lock";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
    };

    private SupportStore(string root, SupportStoreManifest manifest)
    {
        Root = root;
        Manifest = manifest;
    }

    /// <summary>The store's folder (absolute).</summary>
    public string Root { get; }

    /// <summary>The manifest as read or written.</summary>
    public SupportStoreManifest Manifest { get; }

    /// <summary>True when <paramref name="folder"/> holds a store manifest.</summary>
    public static bool IsStore(string folder) => File.Exists(Path.Combine(folder, ManifestFileName));

    /// <summary>Opens an existing store; a missing or malformed manifest is an error naming the file.</summary>
    public static SupportStore Open(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        string root = Path.GetFullPath(folder);
        string path = Path.Combine(root, ManifestFileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"'{root}' is not a support store (no {ManifestFileName}); create one with `ovdiff sample --out {folder} ...`.", path);
        }

        return new SupportStore(root, ReadManifest(path));
    }

    /// <summary>
    /// Opens the store at <paramref name="folder"/> for a run with <paramref name="settings"/>, creating it if absent. If it
    /// exists, its settings must equal the wanted ones (else <see cref="SupportStoreMismatchException"/> naming every
    /// difference); classes not yet in it are added and a larger per-class count raises its count, so a store can grow
    /// without regenerating what it has. The manifest is updated under a lock file (concurrent shards on one file system).
    /// </summary>
    public static SupportStore OpenOrCreate(string folder, string model, SupportSamplingSettings settings, int perClass, IReadOnlyList<(string Name, IReadOnlyList<int> NameTokens)> classes)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perClass);
        string root = Path.GetFullPath(folder);
        Directory.CreateDirectory(root);
        string path = Path.Combine(root, ManifestFileName);
        using FileStream gate = TakeLock(root);
        SupportStoreManifest? existing = File.Exists(path) ? ReadManifest(path) : null;
        if (existing is not null)
        {
            IReadOnlyList<string> differences = existing.Settings.Differences(settings);
            if (differences.Count > 0)
            {
                throw new SupportStoreMismatchException(
                    $"The support store '{root}' was sampled with other settings ({string.Join("; ", differences)}). " +
                    "Use the store's settings to resume it or add classes, or choose another --out.");
            }
        }

        var all = new List<SupportStoreClass>(existing?.Classes ?? []);
        foreach ((string name, IReadOnlyList<int> tokens) in classes)
        {
            if (all.FirstOrDefault(c => ClassNaming.AreSame(c.Name, name)) is { } known)
            {
                if (!string.Equals(known.Name, ClassNaming.Normalize(name), StringComparison.Ordinal))
                {
                    throw new SupportStoreMismatchException(
                        $"The support store '{root}' has the class '{known.Name}'; '{name}' differs from it only in case (class names are compared ignoring case): spell it '{known.Name}'.");
                }

                continue;
            }

            all.Add(new SupportStoreClass(name, UniqueFolder(name, all.Select(c => c.Folder)), settings.PromptFor(name), tokens));
        }

        var manifest = new SupportStoreManifest(FormatVersion, existing?.Model ?? model, settings, Math.Max(perClass, existing?.PerClass ?? 0), all);
        if (existing is null || !manifest.Classes.SequenceEqual(existing.Classes) || manifest.PerClass != existing.PerClass || existing.Model != manifest.Model)
        {
            AtomicFile.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(manifest, Json));
        }

        return new SupportStore(root, manifest);
    }

    /// <summary>The class called <paramref name="name"/>; an unknown name is an error listing the store's classes.</summary>
    public SupportStoreClass Class(string name) =>
        Manifest.Classes.FirstOrDefault(c => ClassNaming.AreSame(c.Name, name))
        ?? throw new ArgumentException($"The support store '{Root}' has no class '{name}'; it has: {string.Join(", ", Manifest.Classes.Select(c => c.Name))}.", nameof(name));

    /// <summary>The files of item <paramref name="index"/> of <paramref name="storeClass"/>.</summary>
    public SupportItemPaths PathsOf(SupportStoreClass storeClass, int index)
    {
        ArgumentNullException.ThrowIfNull(storeClass);
        string stem = Path.Combine(Root, storeClass.Folder, index.ToString("D3", CultureInfo.InvariantCulture));
        return new SupportItemPaths(stem + ".png", stem + ".attribution.npy", stem + ".mask.png");
    }

    /// <summary>True when all three files of the item exist.</summary>
    public bool IsComplete(SupportStoreClass storeClass, int index)
    {
        SupportItemPaths paths = PathsOf(storeClass, index);
        return File.Exists(paths.Attribution) && File.Exists(paths.Mask) && File.Exists(paths.Image);
    }

    /// <summary>
    /// Writes item <paramref name="index"/> of <paramref name="storeClass"/>: the attribution (min-max normalised), the
    /// attribution-threshold mask at image size, then the image; each file atomically.
    /// </summary>
    public void WriteItem(SupportStoreClass storeClass, int index, RgbImage image, AttributionMap attribution)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(attribution);
        attribution.Validate($"{storeClass.Name} #{index}");
        SupportItemPaths paths = PathsOf(storeClass, index);
        RemoveUnfinishedWrites(paths);
        float[] normalized = MinMaxNormalize(attribution.Values);
        AtomicFile.Write(paths.Attribution, s => NpyFile.WriteFloat32(s, normalized, [attribution.Height, attribution.Width]));
        LabelPngWriter.Write(paths.Mask, ThresholdMask(new AttributionMap(attribution.Height, attribution.Width, normalized), image.Width, image.Height));
        RgbPngWriter.Write(paths.Image, image);
    }

    /// <summary>Reads the attribution map of an item; a bad file is an error naming it.</summary>
    public AttributionMap ReadAttribution(SupportStoreClass storeClass, int index)
    {
        string path = PathsOf(storeClass, index).Attribution;
        float[] values = NpyFile.ReadFloat32(File.ReadAllBytes(path), path, out int[] shape);
        return shape.Length == 2 ? new AttributionMap(shape[0], shape[1], values) : throw new InvalidDataException($"'{path}': expected a 2-D attribution map, got shape ({string.Join(", ", shape)}).");
    }

    /// <summary>The items (class, index) not yet complete, in class then index order.</summary>
    public IReadOnlyList<(SupportStoreClass Class, int Index)> Missing(IEnumerable<SupportStoreClass>? classes = null, int? perClass = null) =>
        (classes ?? Manifest.Classes)
            .SelectMany(c => Enumerable.Range(0, perClass ?? Manifest.PerClass).Select(i => (c, i)))
            .Where(item => !IsComplete(item.c, item.i))
            .ToList();

    /// <summary>
    /// The store as support images for fitting: every complete item of <paramref name="classNames"/> (default: all), at
    /// most <paramref name="maxPerClass"/> each, with its attribution map. Missing items are an error saying how many and
    /// how to complete the store.
    /// </summary>
    public ISupportSource AsSupportSource(IReadOnlyList<string>? classNames = null, int maxPerClass = int.MaxValue)
    {
        var chosen = (classNames ?? Manifest.Classes.Select(c => c.Name).ToList()).Select(Class).ToList();
        int count = Math.Min(maxPerClass, Manifest.PerClass);
        var missing = Missing(chosen, count);
        if (missing.Count > 0)
        {
            string perClassMissing = string.Join(", ", missing.GroupBy(m => m.Class.Name).Select(g => $"{g.Key}: {g.Count()}"));
            throw new InvalidDataException(
                $"The support store '{Root}' is incomplete: {missing.Count} of {chosen.Count * count} images are missing ({perClassMissing}). " +
                "Run the same `ovdiff sample` command again to finish it (it resumes), or fit fewer per class (--per-class).");
        }

        return new StoreSource(this, chosen, count);
    }

    /// <summary>The reference's split without segments: attribution (bilinear to image size, renormalised) &gt; 0.5 foreground, &lt; 0.2 background (eroded once).</summary>
    public static LabelMap ThresholdMask(AttributionMap attribution, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(attribution);
        var resized = new float[(long)width * height];
        Resampling.BilinearPlanar(attribution.Values, 1, attribution.Height, attribution.Width, resized, height, width);
        ForegroundSplit split = ForegroundSplitter.RankSegments([], MinMaxNormalize(resized), height, width, new PrototypeFitOptions());
        var labels = new byte[resized.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = split.Foreground[i] ? (byte)1 : split.Background[i] ? (byte)2 : (byte)0;
        }

        return new LabelMap(width, height, labels);
    }

    /// <summary>
    /// Deletes what a killed run left of this item: the temporary files of its atomic writes (<c>NAME.PID.GUID.tmp</c>).
    /// The item is about to be written again, and shards never share an item, so no live writer owns them.
    /// </summary>
    private static void RemoveUnfinishedWrites(SupportItemPaths paths)
    {
        foreach (string path in new[] { paths.Attribution, paths.Mask, paths.Image })
        {
            string? folder = Path.GetDirectoryName(path);
            if (folder is null || !Directory.Exists(folder))
            {
                continue;
            }

            foreach (string stale in Directory.EnumerateFiles(folder, Path.GetFileName(path) + ".*.tmp"))
            {
                File.Delete(stale);
            }
        }
    }

    private static float[] MinMaxNormalize(float[] values)
    {
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (float v in values)
        {
            if (!float.IsFinite(v))
            {
                throw new InvalidDataException("The attribution map holds a NaN or infinite value.");
            }

            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        float range = max - min;
        return values.Select(v => range > 0 ? (v - min) / range : 0f).ToArray();
    }

    private static SupportStoreManifest ReadManifest(string path)
    {
        try
        {
            byte[] bytes = File.ReadAllBytes(path);
            if (bytes.AsSpan().Trim(" \t\r\n"u8).IsEmpty)
            {
                throw new InvalidDataException($"'{path}' is empty ({bytes.Length} bytes); it was cut short or damaged: restore it, or sample into a new store.");
            }

            SupportStoreManifest manifest = JsonSerializer.Deserialize<SupportStoreManifest>(bytes, Json)
                ?? throw new InvalidDataException($"'{path}' is empty.");
            if (manifest.Format != FormatVersion)
            {
                throw new InvalidDataException($"'{path}': format '{manifest.Format}', expected '{FormatVersion}'.");
            }

            if (manifest.Settings is null || manifest.Classes is null || manifest.PerClass <= 0 || manifest.Classes.Any(c => c?.Name is null || c.Folder is null))
            {
                throw new InvalidDataException($"'{path}': settings, classes (each with name and folder) and a positive perClass are required.");
            }

            if (ManifestProblem(manifest) is { } problem)
            {
                throw new InvalidDataException($"'{path}': {problem}; it was edited or damaged (ovdiff sample writes a valid one).");
            }

            return manifest;
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"'{path}': {ex.Message}", ex);
        }
    }

    /// <summary>
    /// What is wrong with a manifest that parsed, or null: a setting missing or out of range, a class without name
    /// tokens, a class folder that is not one plain folder name inside the store (a "../x" would write outside it, ""
    /// into the store's root), two classes with one name or one folder (one class's images fitted as another's).
    /// </summary>
    private static string? ManifestProblem(SupportStoreManifest manifest)
    {
        SupportSamplingSettings s = manifest.Settings;
        if (s.ModelFingerprint is null || s.Scheduler is null || s.PromptTemplate is null || s.NegativePrompt is null || s.Attribution is null)
        {
            return "settings need modelFingerprint, scheduler, promptTemplate, negativePrompt and attribution";
        }

        if (s.Steps <= 0 || s.Width <= 0 || s.Height <= 0 || s.BatchSize <= 0 || !float.IsFinite(s.Guidance))
        {
            return string.Create(CultureInfo.InvariantCulture, $"settings steps {s.Steps}, width {s.Width}, height {s.Height}, batchSize {s.BatchSize} must be positive and guidance {s.Guidance} finite");
        }

        if (manifest.Classes.Count == 0)
        {
            return "it lists no class";
        }

        var names = new Dictionary<string, int>(ClassNaming.Comparer);
        var folders = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < manifest.Classes.Count; i++)
        {
            SupportStoreClass c = manifest.Classes[i];
            string folder = c.Folder;
            if (string.IsNullOrWhiteSpace(c.Name))
            {
                return $"classes[{i}] has an empty name";
            }

            if (folder.Length == 0 || folder is "." or ".." || folder.IndexOfAny(['/', '\\']) >= 0 || folder.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
            {
                return $"classes[{i}] ('{c.Name}') has folder '{folder}', which is not one folder name inside the store";
            }

            if (c.NameTokens is null || c.NameTokens.Count == 0)
            {
                return $"classes[{i}] ('{c.Name}') has no nameTokens";
            }

            if (!names.TryAdd(ClassNaming.Normalize(c.Name), i))
            {
                return $"classes[{i}] repeats the class '{c.Name}' of classes[{names[ClassNaming.Normalize(c.Name)]}]";
            }

            if (!folders.TryAdd(folder, i))
            {
                return $"classes[{i}] ('{c.Name}') and classes[{folders[folder]}] share the folder '{folder}'";
            }
        }

        return null;
    }

    /// <summary>A file-system-safe folder name for a class, distinct (ignoring case) from <paramref name="taken"/>.</summary>
    private static string UniqueFolder(string name, IEnumerable<string> taken)
    {
        var invalid = Path.GetInvalidFileNameChars().Concat([' ', '\\', '/', ':', '*', '?', '"', '<', '>', '|']).ToHashSet();
        string slug = new(name.Trim().Select(ch => invalid.Contains(ch) || char.IsControl(ch) ? '_' : ch).ToArray());
        if (slug.Length == 0 || slug.All(ch => ch == '.'))
        {
            slug = "class";
        }

        var used = taken.ToHashSet(StringComparer.OrdinalIgnoreCase);
        string folder = slug;
        for (int n = 2; used.Contains(folder); n++)
        {
            folder = string.Create(CultureInfo.InvariantCulture, $"{slug}-{n}");
        }

        return folder;
    }

    private static FileStream TakeLock(string root)
    {
        string path = Path.Combine(root, LockFileName);
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (attempt < 200)
            {
                Thread.Sleep(50);
            }
        }
    }

    private sealed class StoreSource(SupportStore store, IReadOnlyList<SupportStoreClass> classes, int perClass) : ISupportSource
    {
        public IReadOnlyList<string> ClassNames { get; } = classes.Select(c => c.Name).ToArray();

        public IEnumerable<SupportExample> Enumerate(CancellationToken cancellationToken = default)
        {
            foreach (SupportStoreClass storeClass in classes)
            {
                for (int i = 0; i < perClass; i++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    string image = store.PathsOf(storeClass, i).Image;
                    // The store's attribution maps and masks annotate its images' stored pixels.
                    yield return new SupportExample(storeClass.Name, image, _ => ImageDecoder.Decode(image, ExifOrientation.Ignore), store.ReadAttribution(storeClass, i));
                }
            }
        }
    }
}
