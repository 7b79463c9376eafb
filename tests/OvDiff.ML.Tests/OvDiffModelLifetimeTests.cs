using System.Diagnostics;
using Microsoft.ML;
using OvDiff.Testing;

namespace OvDiff.ML.Tests;

/// <summary>Loaded models free what they hold; a disposed model refuses to segment instead of rebuilding sessions.</summary>
[Collection(nameof(SegmenterCacheCollection))]
public sealed class OvDiffModelLifetimeTests
{
    [Fact]
    public void DisposedTransformer_LazyViewEnumeratedAfterwards_ThrowsInsteadOfRebuildingSessions()
    {
        var context = new MLContext(seed: 0);
        using var temp = new TempFolder();
        OvDiffModelState state = OvDiffModel.Load(context, SaveDistinctModels(context, temp, 1)[0]).State;
        IDataView view;
        using (OvDiffSegmentTransformer model = OvDiffSegmentTransformer.Create(context.Transforms, ClassMeanOptions, state, ImageColumnKind.Path))
        {
            Assert.True(SegmenterCache.IsLive(state));
            view = model.Transform(VocFixture.PathView(context, VocFixture.Targets));
        }

        Assert.False(SegmenterCache.IsLive(state));
        Exception error = Assert.ThrowsAny<Exception>(() => VocFixture.LabelMaps(context, view));
        Assert.Contains("disposed", error.ToString(), StringComparison.Ordinal);
        Assert.False(SegmenterCache.IsLive(state));
    }

    /// <summary>
    /// Ten distinct models (same prototypes, different state bytes, so none shares the previous one's sessions) loaded,
    /// used and disposed in turn: the segmenters are released each time and the working set stays flat. Before, each
    /// loaded model kept its ONNX Runtime session until the process ended (+250 MiB each).
    /// </summary>
    [Fact]
    public void TenLoadUseDisposeCycles_SessionsReleased_WorkingSetFlat()
    {
        var context = new MLContext(seed: 0);
        using var temp = new TempFolder();
        string[] zips = SaveDistinctModels(context, temp, 10);
        var workingSets = new List<long>();
        foreach (string zip in zips)
        {
            OvDiffModelState state;
            using (OvDiffModel model = OvDiffModel.Load(context, zip))
            {
                state = model.State;
                Assert.All(VocFixture.LabelMaps(context, model.Transform(VocFixture.PathView(context, VocFixture.Targets))), m => Assert.NotEmpty(m.Labels));
                Assert.True(SegmenterCache.IsLive(state));
            }

            Assert.False(SegmenterCache.IsLive(state));
            workingSets.Add(SettledWorkingSet());
        }

        // The first cycles warm up ONNX Runtime, Skia and ML.NET; from the third on, growth would be a leak (a kept
        // segmenter is about 250 MiB; freed but untrimmed native memory was about +50 MiB per cycle).
        long growth = workingSets[^1] - workingSets[2];
        TestContext.Current.TestOutputHelper?.WriteLine($"working set per cycle (MiB): {string.Join(", ", workingSets.Select(w => w >> 20))}");
        Assert.True(growth < 100L << 20, $"Working set grew by {growth >> 20} MiB over cycles 3-10: {string.Join(", ", workingSets.Select(w => w >> 20))} MiB.");
    }

    /// <summary>A chain from plain <c>mlContext.Model.Load</c> has no Dispose that reaches OvDiff: once dropped and collected, the finaliser frees the segmenter.</summary>
    [Fact]
    public void PlainModelLoad_ChainDropped_FinalizerReleasesTheSegmenter()
    {
        var context = new MLContext(seed: 0);
        using var temp = new TempFolder();
        string zip = SaveDistinctModels(context, temp, 1)[0];
        OvDiffModelState state;
        using (OvDiffModel probe = OvDiffModel.Load(context, zip))
        {
            state = probe.State;
        }

        (WeakReference chain, WeakReference runner) = UseAndDrop(zip);
        Assert.True(SegmenterCache.IsLive(state));
        // ML.NET's cursor worker threads hold the mapping for a moment after the last row: collect until they let go.
        for (int i = 0; i < 50 && SegmenterCache.IsLive(state); i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Thread.Sleep(100);
        }

        Assert.False(chain.IsAlive, "the loaded chain is still reachable");
        Assert.False(runner.IsAlive, "the runner is still reachable");
        Assert.False(SegmenterCache.IsLive(state));
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static (WeakReference, WeakReference) UseAndDrop(string zip)
    {
        var context = new MLContext(seed: 0);
        ITransformer loaded;
        WeakReference runner;
        using (var scope = SegmentationRunner.LoadScope.Begin())
        {
            loaded = context.Model.Load(zip, out _);
            runner = new WeakReference(scope.Runners.Single());
        }

        Assert.Equal(2, VocFixture.LabelMaps(context, loaded.Transform(VocFixture.PathView(context, VocFixture.Targets))).Count);
        return (new WeakReference(loaded), runner);
    }

    private static OvDiffSegmentOptions ClassMeanOptions => VocFixture.QuickOptions with
    {
        Fit = VocFixture.QuickOptions.Fit with { Levels = Core.Segmentation.PrototypeLevels.ClassMean },
        Segmentation = VocFixture.QuickProtocol with { Levels = Core.Segmentation.PrototypeLevels.ClassMean },
    };

    /// <summary>Zips of models that share their prototypes but no segmenter with any other model of this process.</summary>
    private static string[] SaveDistinctModels(MLContext context, TempFolder temp, int count)
    {
        using OvDiffSegmentTransformer fitted = context.Transforms.OvDiffSegment(ClassMeanOptions).Fit(VocFixture.SupportView(context), TestContext.Current.CancellationToken);
        IDataView support = VocFixture.SupportView(context);
        var zips = new string[count];
        for (int i = 0; i < count; i++)
        {
            // A different score threshold makes different state bytes, hence a model that shares no sessions.
            OvDiffModelState state = fitted.State with { Segmentation = fitted.State.Segmentation with { ScoreThreshold = -1f - Random.Shared.Next(1_000_000) } };
            using OvDiffSegmentTransformer variant = OvDiffSegmentTransformer.Create(context.Transforms, ClassMeanOptions, state, ImageColumnKind.Path);
            zips[i] = temp.Combine($"model{i}.zip");
            context.Model.Save(variant, support.Schema, zips[i]);
        }

        return zips;
    }

    private static long SettledWorkingSet()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using Process self = Process.GetCurrentProcess();
        return self.WorkingSet64;
    }
}

/// <summary>Tests that count live segmenters run one at a time.</summary>
[CollectionDefinition(nameof(SegmenterCacheCollection), DisableParallelization = true)]
public sealed class SegmenterCacheCollection
{
}
