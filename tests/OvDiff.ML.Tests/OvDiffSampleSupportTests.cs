using Microsoft.ML;
using Microsoft.ML.Data;
using OvDiff.Core.Segmentation;
using OvDiff.Diffusion.Pipeline;
using OvDiff.Diffusion.Support;
using OvDiff.Diffusion.Tests;
using OvDiff.Imaging.Support;
using OvDiff.Testing;

namespace OvDiff.ML.Tests;

/// <summary>
/// From class names to a fitted segmenter in one ML.NET pipeline: <c>OvDiffSampleSupport</c> (the tiny Stable Diffusion
/// folder exported by PyTorch) then <c>OvDiffSegment</c>; Fit, Save, Load in a fresh process.
/// </summary>
public sealed class OvDiffSampleSupportTests : IDisposable
{
    private static readonly string[] Classes = ["cat", "traffic cone"];
    private readonly TempFolder _temp = new();
    private readonly string _model;

    public OvDiffSampleSupportTests()
    {
        _model = TinyStableDiffusion.CopyTo(_temp, "opset17-split");
    }

    public void Dispose() => _temp.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private OvDiffSampleSupportOptions Options(string store) => new()
    {
        ModelFolder = _model,
        StoreFolder = store,
        Sampling = new SupportSamplingOptions { Diffusion = new StableDiffusionOptions { Steps = 3, BatchSize = 2, Width = 128, Height = 128 } },
    };

    private static OvDiffSegmentOptions SegmentOptions => new()
    {
        Fit = new PrototypeFitOptions { SupportShortSide = 128, PartCount = 2 },
        Segmentation = new SegmentationOptions { ShortSide = 128, Windows = [] },
    };

    [Fact]
    public void Pipeline_ClassNamesToSegmenter_SaveLoadInFreshProcess_SameLabelMaps()
    {
        var ml = new MLContext(seed: 0);
        IDataView requests = ml.Data.LoadFromEnumerable(OvDiffSupportRequest.For(Classes, perClass: 3));
        string store = _temp.Combine("store");
        var pipeline = ml.Transforms.OvDiffSampleSupport(Options(store)).Append(ml.Transforms.OvDiffSegment(SegmentOptions));

        using TransformerChain<OvDiffSegmentTransformer> model = pipeline.Fit(requests);

        // The sampler filled the store and handed each row's image and map to the segmenter's Fit.
        SupportStore written = SupportStore.Open(store);
        Assert.Empty(written.Missing());
        PrototypeModel prototypes = model.LastTransformer.State.Model;
        Assert.Equal(Classes, prototypes.ClassNames);
        Assert.Equal(6, prototypes.SupportImages.Count);
        Assert.Equal(written.PathsOf(written.Class("traffic cone"), 2).Image, prototypes.SupportImages[5].Source);
        var sampler = (OvDiffSampleSupportTransformer)model.First();
        Assert.Equal((16, 16), (sampler.MapHeight, sampler.MapWidth));

        // Rows of (class, index) map to the store's files; rows of images pass through the sampler to the segmenter.
        IDataView sampled = sampler.Transform(requests);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 16, 16), sampled.Schema["Attribution"].Type);
        SampledRow first = ml.Data.CreateEnumerable<SampledRow>(sampled, reuseRowObject: false).First();
        Assert.Equal(written.PathsOf(written.Class("cat"), 0).Image, first.ImagePath);
        Assert.Equal(written.ReadAttribution(written.Class("cat"), 0).Values, first.Attribution);

        string[] targets = [written.PathsOf(written.Class("cat"), 1).Image, written.PathsOf(written.Class("traffic cone"), 0).Image];
        IDataView targetView = VocFixture.PathView(ml, targets);
        var inProcess = VocFixture.LabelMaps(ml, model.Transform(targetView));
        Assert.All(inProcess, m => Assert.Equal((128, 128), (m.Width, m.Height)));
        Assert.Equal(inProcess.Select(m => m.Labels), VocFixture.LabelMaps(ml, model.LastTransformer.Transform(targetView)).Select(m => m.Labels));

        // Saved with the schema it will score: it loads in a fresh process, without the diffusion model, same label maps.
        string zip = _temp.Combine("pets.zip");
        ml.Model.Save(model, targetView.Schema, zip);
        Directory.Delete(_model, recursive: true);
        LoadProbe.AssertSameLabelMaps(zip, _temp.Path, targets, "background|cat|traffic cone", inProcess);
        using OvDiffModel reopened = OvDiffModel.Load(ml, zip);
        Assert.Equal(Classes, reopened.State.Model.ClassNames);
    }

    [Fact]
    public void Fit_RefitOnTheSameStore_ReusesItAndGivesTheSameModel_OtherSettingsRefused()
    {
        var ml = new MLContext(seed: 0);
        IDataView requests = ml.Data.LoadFromEnumerable(OvDiffSupportRequest.For(Classes, perClass: 2));
        string store = _temp.Combine("store");
        using (OvDiffSampleSupportTransformer sampler = ml.Transforms.OvDiffSampleSupport(Options(store)).Fit(requests, Ct))
        {
            Assert.Empty(sampler.Store.Missing());
        }

        var stamps = Directory.GetFiles(store, "*.png", SearchOption.AllDirectories).ToDictionary(f => f, File.GetLastWriteTimeUtc);
        using (OvDiffSampleSupportTransformer again = ml.Transforms.OvDiffSampleSupport(Options(store)).Fit(requests, Ct))
        {
            Assert.All(stamps, s => Assert.Equal(s.Value, File.GetLastWriteTimeUtc(s.Key)));
        }

        OvDiffSampleSupportOptions other = Options(store) with { Sampling = Options(store).Sampling with { Seed = 7 } };
        var error = Assert.Throws<SupportStoreMismatchException>(() => ml.Transforms.OvDiffSampleSupport(other).Fit(requests, Ct));
        Assert.Contains("seed: 42 in the store, 7 now", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fit_BadRequests_ErrorsNameColumnAndRow()
    {
        var ml = new MLContext(seed: 0);
        OvDiffSampleSupportEstimator estimator = ml.Transforms.OvDiffSampleSupport(Options(_temp.Combine("store")));

        var noIndex = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(ml.Data.LoadFromEnumerable(new[] { new LabelOnlyRow { Label = "cat" } }), Ct));
        Assert.Contains("Column 'Index' (index) was not found", noIndex.Message, StringComparison.Ordinal);
        var negative = Assert.Throws<InvalidDataException>(() => estimator.Fit(ml.Data.LoadFromEnumerable(new[] { new FloatIndexRow { Label = "cat", Index = 0 }, new FloatIndexRow { Label = "cat", Index = 1.5f } }), Ct));
        Assert.Contains("Row 1: column 'Index' is 1.5", negative.Message, StringComparison.Ordinal);
        var empty = Assert.Throws<InvalidDataException>(() => estimator.Fit(ml.Data.LoadFromEnumerable(new[] { new FloatIndexRow { Label = " ", Index = 0 } }), Ct));
        Assert.Contains("Row 0: column 'Label' (class name) is empty", empty.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_temp.Combine("store")));
    }

    private sealed class SampledRow
    {
        public string ImagePath { get; set; } = "";

        [VectorType]
        public float[] Attribution { get; set; } = [];
    }

    private sealed class LabelOnlyRow
    {
        public string Label { get; set; } = "";
    }

    private sealed class FloatIndexRow
    {
        public string Label { get; set; } = "";

        public float Index { get; set; }
    }
}
