using System.Security.Cryptography;
using OvDiff.Core.Images;
using OvDiff.Core.IO;
using OvDiff.Core.Segmentation;
using OvDiff.Core.Sharding;
using OvDiff.Imaging.Support;
using OvDiff.Testing;

namespace OvDiff.Imaging.Tests;

/// <summary>
/// The support store's own logic (layout, manifest, refusal of other settings, fixed batch groups, resume, shards, the
/// attribution-threshold mask), driven by <see cref="SeedPatternGenerator"/>: a deterministic function of each request,
/// so that every byte the store writes can be predicted. The real Stable Diffusion generator is tested end to end in
/// the CLI and ML tests.
/// </summary>
public sealed class SupportStoreTests : IDisposable
{
    private readonly TempFolder _temp = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _temp.Dispose();

    private static SupportSamplingSettings Settings(int steps = 30, float guidance = 8f, int batch = 4) =>
        new("sha256:model", "dpm++2m", steps, guidance, 42, SupportImageRequest.ReferencePromptTemplate, SupportImageRequest.ReferenceNegativePrompt, 16, 12, batch, "test/v1");

    private static (string, IReadOnlyList<int>)[] Classes(params string[] names) => names.Select(n => (n, (IReadOnlyList<int>)[5])).ToArray();

    private SupportStore Create(string folder, int perClass, SupportSamplingSettings? settings = null, params string[] classes) =>
        SupportStore.OpenOrCreate(_temp.Combine(folder), "models/sd15", settings ?? Settings(), perClass, Classes(classes.Length == 0 ? ["cat", "traffic cone"] : classes));

    private static Dictionary<string, byte[]> Snapshot(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) != ".lock")
            .ToDictionary(f => Path.GetRelativePath(folder, f), File.ReadAllBytes);

    [Fact]
    public void DeriveSeed_IsTheDocumentedHash()
    {
        // python3: struct.unpack('<Q', hashlib.sha256(b'ovdiff-support/1|42|cat|0').digest()[:8])[0]
        Assert.Equal(8352766655309203627UL, SupportImageRequest.DeriveSeed(42, "cat", 0));
        Assert.Equal(9767193761096094988UL, SupportImageRequest.DeriveSeed(42, "traffic cone", 31));
    }

    [Fact]
    public void OpenOrCreate_OtherSettings_RefusedNamingEveryDifference_ClassesAndCountMayGrow()
    {
        SupportStore first = Create("s", 8);
        Assert.Equal(["cat", "traffic_cone"], first.Manifest.Classes.Select(c => c.Folder));
        Assert.Equal("A good picture of a traffic cone", first.Class("traffic cone").Prompt);

        var error = Assert.Throws<SupportStoreMismatchException>(() => Create("s", 8, Settings(steps: 20, guidance: 7.5f)));
        Assert.Contains("steps: 30 in the store, 20 now", error.Message, StringComparison.Ordinal);
        Assert.Contains("guidance: 8 in the store, 7.5 now", error.Message, StringComparison.Ordinal);
        Assert.Contains(first.Root, error.Message, StringComparison.Ordinal);

        // Class names are compared ignoring case (ClassNaming): "Cat" is the store's "cat" misspelt, not a new class.
        var caseError = Assert.Throws<SupportStoreMismatchException>(() => Create("s", 12, null, "Cat"));
        Assert.Contains("has the class 'cat'; 'Cat' differs from it only in case", caseError.Message, StringComparison.Ordinal);
        Assert.Equal(8, SupportStore.Open(_temp.Combine("s")).Manifest.PerClass);   // the refused call changed nothing

        SupportStore grown = Create("s", 12, null, "cat", "traffic_cone");
        Assert.Equal(["cat", "traffic cone", "traffic_cone"], grown.Manifest.Classes.Select(c => c.Name));
        Assert.Equal(["cat", "traffic_cone", "traffic_cone-2"], grown.Manifest.Classes.Select(c => c.Folder));
        Assert.Equal(12, grown.Manifest.PerClass);
        Assert.Equal(12, SupportStore.Open(_temp.Combine("s")).Manifest.PerClass);
        Assert.Equal(12, Create("s", 4).Manifest.PerClass);   // a smaller count never shrinks the store
    }

    [Fact]
    public void Run_WritesEveryItem_ThenResumesOnlyIncompleteGroups_ByteIdentical()
    {
        SupportStore store = Create("s", 10);
        using var generator = new SeedPatternGenerator();
        SupportSamplingResult result = SupportSampling.Run(store, ["cat", "traffic cone"], 10, ShardSpec.Whole, generator, cancellationToken: Ct);

        Assert.Equal(new SupportSamplingResult(20, 0, 20), result);
        Assert.Equal([4, 4, 2, 4, 4, 2], generator.Batches.Select(b => b.Count));   // fixed groups 0-3, 4-7, 8-9 per class
        SupportItemPaths item = store.PathsOf(store.Class("cat"), 5);
        RgbImage decoded = ImageDecoder.Decode(item.Image);
        Assert.Equal(SeedPatternGenerator.ImageFor(SupportImageRequest.DeriveSeed(42, "cat", 5)).Pixels, decoded.Pixels);
        Assert.Equal("A good picture of a cat", generator.Batches[1][1].Prompt);
        Assert.Equal(SupportImageRequest.ReferenceNegativePrompt, generator.Batches[1][1].NegativePrompt);
        Dictionary<string, byte[]> before = Snapshot(store.Root);
        Assert.Equal(61, before.Count);   // manifest + 20 x 3

        Assert.Equal(new SupportSamplingResult(0, 20, 20), SupportSampling.Run(store, ["cat", "traffic cone"], 10, ShardSpec.Whole, generator, cancellationToken: Ct));
        File.Delete(item.Mask);
        File.Delete(store.PathsOf(store.Class("traffic cone"), 9).Image);
        generator.Batches.Clear();
        Assert.Equal(new SupportSamplingResult(6, 14, 20), SupportSampling.Run(store, ["cat", "traffic cone"], 10, ShardSpec.Whole, generator, cancellationToken: Ct));
        Assert.Equal([4, 2], generator.Batches.Select(b => b.Count));
        Assert.Equal(before, Snapshot(store.Root));
    }

    [Fact]
    public void RunItems_GeneratesTheFixedGroupsOfTheRequestedItems_AndRefusesIndicesOutsideTheStore()
    {
        SupportStore reference = Create("ref", 10);
        using var generator = new SeedPatternGenerator();
        SupportSampling.Run(reference, ["cat", "traffic cone"], 10, ShardSpec.Whole, generator, cancellationToken: Ct);

        SupportStore store = Create("s", 10);
        generator.Batches.Clear();
        SupportSamplingResult result = SupportSampling.RunItems(store, [("cat", 9), ("cat", 1), ("traffic cone", 2), ("cat", 3)], generator, cancellationToken: Ct);

        Assert.Equal(new SupportSamplingResult(10, 0, 10), result);   // cat 0-3 and 8-9, cone 0-3
        Assert.Equal([4, 2, 4], generator.Batches.Select(b => b.Count));
        var expected = Snapshot(reference.Root).Where(f => f.Key.StartsWith("cat", StringComparison.Ordinal) && !f.Key.Contains("/004", StringComparison.Ordinal) && !f.Key.Contains("/005", StringComparison.Ordinal)
            && !f.Key.Contains("/006", StringComparison.Ordinal) && !f.Key.Contains("/007", StringComparison.Ordinal));
        Dictionary<string, byte[]> written = Snapshot(store.Root);
        Assert.All(expected, f => Assert.Equal(f.Value, written[f.Key]));
        Assert.False(store.IsComplete(store.Class("cat"), 4));
        var outside = Assert.Throws<ArgumentOutOfRangeException>(() => SupportSampling.RunItems(store, [("cat", 10)], generator, cancellationToken: Ct));
        Assert.Contains("index 10 of 'cat' is outside 0..9", outside.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Shards_OfOneStore_GiveTheSameFilesAsOneRun()
    {
        SupportStore whole = Create("whole", 9);
        using var generator = new SeedPatternGenerator();
        SupportSampling.Run(whole, ["cat", "traffic cone"], 9, ShardSpec.Whole, generator, cancellationToken: Ct);

        var covered = new List<int>();
        for (int i = 0; i < 4; i++)
        {
            SupportStore shard = Create("sharded", 9);   // each shard opens the store itself, as separate processes do
            SupportSamplingResult result = SupportSampling.Run(shard, ["cat", "traffic cone"], 9, new ShardSpec(i, 4), generator, cancellationToken: Ct);
            covered.Add(result.ShardItems);
        }

        Assert.Equal([8, 5, 1, 4], covered);   // groups cat 0-3, 4-7, 8, cone 0-3, 4-7, 8 dealt to 4 shards in turn
        Assert.Equal(Snapshot(whole.Root), Snapshot(_temp.Combine("sharded")));
    }

    [Fact]
    public void Run_Cancelled_KeepsCompleteItems_AndTheRerunFinishesIdentically()
    {
        SupportStore reference = Create("ref", 8);
        using var generator = new SeedPatternGenerator();
        SupportSampling.Run(reference, ["cat", "traffic cone"], 8, ShardSpec.Whole, generator, cancellationToken: Ct);

        SupportStore store = Create("s", 8);
        using var cancel = new CancellationTokenSource();
        using var cancelling = new SeedPatternGenerator { AfterBatch = n => { if (n == 2) { cancel.Cancel(); } } };
        Assert.Throws<OperationCanceledException>(() => SupportSampling.Run(store, ["cat", "traffic cone"], 8, ShardSpec.Whole, cancelling, cancellationToken: cancel.Token));
        Assert.Equal(8, store.Missing().Count);
        Assert.Empty(Directory.GetFiles(store.Root, "*.tmp", SearchOption.AllDirectories));

        Assert.Equal(new SupportSamplingResult(8, 8, 16), SupportSampling.Run(store, ["cat", "traffic cone"], 8, ShardSpec.Whole, generator, cancellationToken: Ct));
        Assert.Equal(Snapshot(reference.Root), Snapshot(store.Root));
    }

    [Fact]
    public void AsSupportSource_IncompleteIsAnError_CompleteGivesImagesWithNormalisedMaps()
    {
        SupportStore store = Create("s", 4);
        var incomplete = Assert.Throws<InvalidDataException>(() => store.AsSupportSource());
        Assert.Contains("8 of 8 images are missing (cat: 4, traffic cone: 4)", incomplete.Message, StringComparison.Ordinal);

        using var generator = new SeedPatternGenerator();
        SupportSampling.Run(store, ["cat", "traffic cone"], 4, ShardSpec.Whole, generator, cancellationToken: Ct);
        List<SupportExample> examples = store.AsSupportSource(["traffic cone"], maxPerClass: 3).Enumerate(Ct).ToList();

        Assert.Equal(3, examples.Count);
        Assert.All(examples, e => Assert.Equal("traffic cone", e.ClassName));
        AttributionMap raw = SeedPatternGenerator.AttributionFor(SupportImageRequest.DeriveSeed(42, "traffic cone", 2));
        float min = raw.Values.Min(), max = raw.Values.Max();
        Assert.Equal(raw.Values.Select(v => (v - min) / (max - min)), examples[2].Attribution!.Values);
        Assert.Equal((raw.Height, raw.Width), (examples[2].Attribution!.Height, examples[2].Attribution!.Width));
        Assert.Equal(store.PathsOf(store.Class("traffic cone"), 2).Image, examples[2].Source);
        Assert.Equal(SeedPatternGenerator.ImageFor(SupportImageRequest.DeriveSeed(42, "traffic cone", 2)).Pixels, examples[2].Load(CancellationToken.None).Pixels);
    }

    [Theory]
    [InlineData("\"folder\": \"cat\"", "\"folder\": \"../escape\"", "classes[0] ('cat') has folder '../escape', which is not one folder name inside the store")]
    [InlineData("\"folder\": \"cat\"", "\"folder\": \"\"", "classes[0] ('cat') has folder '', which is not one folder name")]
    [InlineData("\"folder\": \"traffic_cone\"", "\"folder\": \"CAT\"", "classes[1] ('traffic cone') and classes[0] share the folder 'CAT'")]
    [InlineData("\"name\": \"traffic cone\"", "\"name\": \"Cat \"", "classes[1] repeats the class 'Cat ' of classes[0]")]
    [InlineData("\"width\": 16", "\"width\": 0", "settings steps 30, width 0, height 12")]
    [InlineData("\"promptTemplate\": \"A good picture of a {class}\",", "", "settings need modelFingerprint")]
    public void Open_EditedManifest_IsOneErrorNamingTheFileAndTheEntry_AndNothingIsWrittenOutsideTheStore(string find, string replace, string expected)
    {
        SupportStore store = Create("s", 2);
        string manifest = Path.Combine(store.Root, SupportStore.ManifestFileName);
        string text = File.ReadAllText(manifest);
        Assert.Contains(find, text, StringComparison.Ordinal);
        File.WriteAllText(manifest, text.Replace(find, replace, StringComparison.Ordinal));

        var open = Assert.Throws<InvalidDataException>(() => SupportStore.Open(store.Root));
        Assert.Contains($"'{manifest}': {expected}", open.Message, StringComparison.Ordinal);
        var resume = Assert.Throws<InvalidDataException>(() => Create("s", 2));
        Assert.Equal(open.Message, resume.Message);
        Assert.False(Directory.Exists(_temp.Combine("escape")));
    }

    [Fact]
    public void Open_EmptyManifest_SaysItIsEmpty()
    {
        SupportStore store = Create("s", 2);
        File.WriteAllText(Path.Combine(store.Root, SupportStore.ManifestFileName), "\n");
        var open = Assert.Throws<InvalidDataException>(() => SupportStore.Open(store.Root));
        Assert.Contains("manifest.json' is empty (1 bytes)", open.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ThresholdMask_HandWorkedExample()
    {
        // 4x4 map, columns 0 0 1 1 -> 8x8 bilinear (half-pixel centres): each row 0 0 0 .25 .75 1 1 1.
        // Foreground > 0.5: columns 4-7. Background < 0.2: columns 0-2, eroded once with the border as 0: column 1, rows 1-6.
        float[] values = Enumerable.Range(0, 16).Select(i => i % 4 >= 2 ? 1f : 0f).ToArray();
        LabelMap mask = SupportStore.ThresholdMask(new AttributionMap(4, 4, values), 8, 8);

        for (int y = 0; y < 8; y++)
        {
            byte[] expected = [0, (byte)(y is >= 1 and <= 6 ? 2 : 0), 0, 0, 1, 1, 1, 1];
            Assert.Equal(expected, mask.Labels.AsSpan(y * 8, 8).ToArray());
        }
    }

    [Fact]
    public void RgbPng_RoundTripsExactly_AndIsDeterministic()
    {
        RgbImage image = SeedPatternGenerator.ImageFor(7);
        string a = _temp.Combine("a.png"), b = _temp.Combine("b.png");
        RgbPngWriter.Write(a, image);
        RgbPngWriter.Write(b, image);

        Assert.Equal(image.Pixels, ImageDecoder.Decode(a).Pixels);
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }

    [Fact]
    public void Npy_RoundTripsAndRejectsTruncation()
    {
        float[] values = [0f, 0.5f, 1f, -2.25f, float.Epsilon, 3e7f];
        using var stream = new MemoryStream();
        NpyFile.WriteFloat32(stream, values, [2, 3]);
        byte[] bytes = stream.ToArray();

        Assert.Equal(values, NpyFile.ReadFloat32(bytes, "x.npy", out int[] shape));
        Assert.Equal([2, 3], shape);
        Assert.Equal(0, (bytes.Length - (values.Length * 4)) % 64);   // header padded to 64 bytes, as NumPy writes it
        var error = Assert.Throws<InvalidDataException>(() => NpyFile.ReadFloat32(bytes[..^4], "x.npy", out _));
        Assert.Contains("'x.npy'", error.Message, StringComparison.Ordinal);
    }
}

/// <summary>
/// A test generator whose output is a pure function of each request's seed (SHA-256 stream): 16x12 images, 6x8
/// attribution maps. Records the batches it was asked for.
/// </summary>
internal sealed class SeedPatternGenerator : ISupportImageGenerator
{
    public List<IReadOnlyList<SupportImageRequest>> Batches { get; } = [];

    public Action<int>? AfterBatch { get; init; }

    public string Description => "seed-pattern test generator";

    public static RgbImage ImageFor(ulong seed) => new(16, 12, Stream(seed, "image", 16 * 12 * 3));

    public static AttributionMap AttributionFor(ulong seed) =>
        new(6, 8, Stream(seed, "attribution", 48).Select(b => b / 64f).ToArray());

    public IReadOnlyList<GeneratedSupportImage> Generate(IReadOnlyList<SupportImageRequest> batch, IProgress<StepProgress>? progress, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Batches.Add(batch);
        var result = batch.Select(r => new GeneratedSupportImage(ImageFor(r.Seed), AttributionFor(r.Seed))).ToList();
        AfterBatch?.Invoke(Batches.Count);
        return result;
    }

    public void Dispose()
    {
    }

    private static byte[] Stream(ulong seed, string purpose, int length)
    {
        var bytes = new byte[length];
        for (int block = 0; block * 32 < length; block++)
        {
            byte[] hash = SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{purpose}|{seed}|{block}"));
            Array.Copy(hash, 0, bytes, block * 32, Math.Min(32, length - (block * 32)));
        }

        return bytes;
    }
}
