using OvDiff.Core.Segmentation;
using OvDiff.Core.Sharding;

namespace OvDiff.Imaging.Support;

/// <summary>What a sampling run did: items generated now, items found complete, and the items this shard covers.</summary>
public sealed record SupportSamplingResult(int Generated, int AlreadyComplete, int ShardItems);

/// <summary>
/// Fills a <see cref="SupportStore"/> with a generator: the items (class, index) are cut into fixed groups of the store's
/// batch size within each class (items 0-7, 8-15, ... for batch 8), so every run, resumed or sharded, generates an item
/// in the same batch and writes the same bytes. A shard i/n takes the groups at positions p with p mod n == i (classes in
/// store order, then groups). Groups whose items are all complete are skipped; the others are generated whole and their
/// items written (each file atomically), so a run killed at any point resumes where it stopped.
/// </summary>
public static class SupportSampling
{
    /// <summary>The groups of <paramref name="perClass"/> items of each class, in order.</summary>
    public static IReadOnlyList<(SupportStoreClass Class, int First, int Count)> Groups(IEnumerable<SupportStoreClass> classes, int perClass, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        return classes
            .SelectMany(c => Enumerable.Range(0, (perClass + batchSize - 1) / batchSize).Select(g => (c, g * batchSize, Math.Min(batchSize, perClass - (g * batchSize)))))
            .ToList();
    }

    /// <summary>
    /// Generates the missing items of <paramref name="classNames"/> (first <paramref name="perClass"/> of each) that fall in
    /// <paramref name="shard"/>. <paramref name="progress"/> counts the denoising steps of this run's work (step
    /// "sample (image-steps)": each image to generate is <c>Steps</c>, a batch of b at step k has done b * k), so rate
    /// and ETA hold across batches and resumed runs; its item says which images and step. Cancelling stops between (or
    /// inside) batches; what was written stays.
    /// </summary>
    public static SupportSamplingResult Run(
        SupportStore store,
        IReadOnlyList<string> classNames,
        int perClass,
        ShardSpec shard,
        ISupportImageGenerator generator,
        IProgress<StepProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(classNames);
        return Generate(store, shard.Select(Groups(classNames.Select(store.Class), perClass, store.Manifest.Settings.BatchSize)), generator, progress, cancellationToken);
    }

    /// <summary>
    /// Generates the missing items among <paramref name="items"/> (class name, index), each within its fixed group
    /// (indices cut by the batch size, up to the store's per-class count), as <see cref="Run"/> does, in store order.
    /// </summary>
    public static SupportSamplingResult RunItems(
        SupportStore store,
        IEnumerable<(string ClassName, int Index)> items,
        ISupportImageGenerator generator,
        IProgress<StepProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(items);
        int batch = store.Manifest.Settings.BatchSize, perClass = store.Manifest.PerClass;
        var groups = items
            .Select(item => (Class: store.Class(item.ClassName), Group: item.Index >= 0 && item.Index < perClass
                ? item.Index / batch
                : throw new ArgumentOutOfRangeException(nameof(items), $"Support image index {item.Index} of '{item.ClassName}' is outside 0..{perClass - 1} (the store's per-class count).")))
            .Distinct()
            .OrderBy(g => store.Manifest.Classes.ToList().IndexOf(g.Class))
            .ThenBy(g => g.Group)
            .Select(g => (g.Class, g.Group * batch, Math.Min(batch, perClass - (g.Group * batch))))
            .ToList();
        return Generate(store, groups, generator, progress, cancellationToken);
    }

    private static SupportSamplingResult Generate(
        SupportStore store,
        IReadOnlyList<(SupportStoreClass Class, int First, int Count)> groups,
        ISupportImageGenerator generator,
        IProgress<StepProgress>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(generator);
        SupportSamplingSettings settings = store.Manifest.Settings;
        int shardItems = groups.Sum(g => g.Count);
        var pending = groups.Where(g => Enumerable.Range(g.First, g.Count).Any(i => !store.IsComplete(g.Class, i))).ToList();
        int complete = shardItems - pending.Sum(g => g.Count), generated = 0;
        long steps = Math.Max(1, settings.Steps);
        const string Step = "sample (image-steps)";
        long total = pending.Sum(g => g.Count) * steps;
        progress?.Report(new StepProgress(Step, 0, total));
        foreach ((SupportStoreClass storeClass, int first, int count) in pending)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var requests = Enumerable.Range(first, count)
                .Select(i => new SupportImageRequest(storeClass.Prompt, settings.NegativePrompt, SupportImageRequest.DeriveSeed(unchecked((ulong)settings.Seed), storeClass.Name, i), storeClass.NameTokens))
                .ToList();
            long before = generated * steps;
            string what = $"{storeClass.Name} #{first}-{first + count - 1}";
            var batchProgress = progress is null ? null : new Relay(p => progress.Report(new StepProgress(
                Step, before + (count * Math.Min(p.Completed, steps)), total, $"{what} step {p.Completed}/{p.Total}")));
            IReadOnlyList<GeneratedSupportImage> images = generator.Generate(requests, batchProgress, cancellationToken);
            if (images.Count != requests.Count)
            {
                throw new InvalidOperationException($"{generator.Description} returned {images.Count} images for {requests.Count} requests.");
            }

            for (int k = 0; k < count; k++)
            {
                GeneratedSupportImage image = images[k];
                if (image.Image.Width != settings.Width || image.Image.Height != settings.Height)
                {
                    throw new InvalidOperationException($"{generator.Description} returned a {image.Image.Width}x{image.Image.Height} image; the store holds {settings.Width}x{settings.Height}.");
                }

                // Items already complete keep their bytes; the group was generated whole only so the others match a fresh run.
                if (!store.IsComplete(storeClass, first + k))
                {
                    store.WriteItem(storeClass, first + k, image.Image, image.Attribution);
                }

                generated++;
            }

            progress?.Report(new StepProgress(Step, generated * steps, total, $"{what} written"));
        }

        return new SupportSamplingResult(generated, complete, shardItems);
    }

    private sealed class Relay(Action<StepProgress> report) : IProgress<StepProgress>
    {
        public void Report(StepProgress value) => report(value);
    }
}
