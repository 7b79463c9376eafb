using Microsoft.ML;
using Microsoft.ML.Data;
using OvDiff.Core.Segmentation;

namespace OvDiff.ML.Tests;

/// <summary>OvDiffSegment's Fit takes per-image attribution maps from the Attribution column and splits support images by them.</summary>
public sealed class SupportAttributionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static float[] HalfHot(bool left, int size = 8) =>
        Enumerable.Range(0, size * size).Select(i => (i % size < size / 2) == left ? 1f : 0f).ToArray();

    private static IDataView View(MLContext context, Func<int, float[]> map, int[]? dims = null)
    {
        var rows = VocFixture.Support.Select((s, i) => new MapRow { ImagePath = VocFixture.Image(s.Id), Label = s.Class, Attribution = map(i) }).ToArray();
        SchemaDefinition schema = SchemaDefinition.Create(typeof(MapRow));
        if (dims is not null)
        {
            schema[nameof(MapRow.Attribution)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dims);
        }

        return context.Data.LoadFromEnumerable(rows, schema);
    }

    /// <summary>Mean column (0..1 of the width) of the foreground cells of every support image.</summary>
    private static double[] ForegroundCentres(OvDiffSegmentTransformer model) =>
        model.State.Model.SupportImages.Select(s =>
        {
            var xs = Enumerable.Range(0, s.Foreground.Length).Where(c => s.Foreground[c]).Select(c => (c % s.MaskWidth) + 0.5).ToList();
            return xs.Count == 0 ? 0.5 : xs.Average() / s.MaskWidth;
        }).ToArray();

    [Fact]
    public void Fit_MapsPresent_TheForegroundFollowsThem_AndANullColumnNameIgnoresThem()
    {
        var context = new MLContext(seed: 0);
        using OvDiffSegmentTransformer left = context.Transforms.OvDiffSegment(VocFixture.QuickOptions).Fit(View(context, _ => HalfHot(left: true), [8, 8]), Ct);
        using OvDiffSegmentTransformer right = context.Transforms.OvDiffSegment(VocFixture.QuickOptions).Fit(View(context, _ => HalfHot(left: false)), Ct);   // variable size: square
        using OvDiffSegmentTransformer ignored = context.Transforms.OvDiffSegment(VocFixture.QuickOptions with { AttributionColumnName = null }).Fit(View(context, _ => HalfHot(left: true)), Ct);
        using OvDiffSegmentTransformer none = context.Transforms.OvDiffSegment(VocFixture.QuickOptions).Fit(VocFixture.SupportView(context), Ct);

        double[] l = ForegroundCentres(left), r = ForegroundCentres(right);
        Assert.True(l.Average() < 0.5 && r.Average() > 0.5, $"foreground centres with left-hot maps {string.Join(", ", l)}; right-hot {string.Join(", ", r)}");
        Assert.True(l.Zip(r).Count(p => p.First < p.Second) >= 3, $"left {string.Join(", ", l)} vs right {string.Join(", ", r)}");
        Assert.Equal(none.State.Model.SupportImages.Select(s => s.Foreground), ignored.State.Model.SupportImages.Select(s => s.Foreground));
        Assert.NotEqual(none.State.Model.SupportImages.Select(s => s.Foreground), left.State.Model.SupportImages.Select(s => s.Foreground));
    }

    [Fact]
    public void Fit_EmptyMapRows_AreImagesWithoutMaps()
    {
        var context = new MLContext(seed: 0);
        using OvDiffSegmentTransformer none = context.Transforms.OvDiffSegment(VocFixture.QuickOptions).Fit(VocFixture.SupportView(context), Ct);
        using OvDiffSegmentTransformer empty = context.Transforms.OvDiffSegment(VocFixture.QuickOptions).Fit(View(context, _ => []), Ct);

        Assert.Equal(none.State.Model.SupportImages.Select(s => s.Foreground), empty.State.Model.SupportImages.Select(s => s.Foreground));
    }

    [Fact]
    public void Fit_BadMapColumn_IsAnErrorNamingColumnAndRow()
    {
        var context = new MLContext(seed: 0);
        var notSquare = Assert.Throws<InvalidDataException>(() => context.Transforms.OvDiffSegment(VocFixture.QuickOptions).Fit(View(context, i => i == 2 ? new float[10] : HalfHot(true)), Ct));
        Assert.Contains("Support row 2, column 'Attribution': 10 values are not a square map", notSquare.Message, StringComparison.Ordinal);

        var nan = Assert.Throws<InvalidDataException>(() => context.Transforms.OvDiffSegment(VocFixture.QuickOptions).Fit(View(context, i => i == 1 ? [float.NaN, 0, 0, 0] : HalfHot(true)), Ct));
        Assert.Contains("Support row 1, column 'Attribution'", nan.Message, StringComparison.Ordinal);

        IDataView doubles = context.Data.LoadFromEnumerable(VocFixture.Support.Select(s => new DoubleMapRow { ImagePath = VocFixture.Image(s.Id), Label = s.Class, Attribution = [1, 0, 0, 1] }));
        var wrongType = Assert.Throws<ArgumentOutOfRangeException>(() => context.Transforms.OvDiffSegment(VocFixture.QuickOptions).Fit(doubles, Ct));
        Assert.Contains("Column 'Attribution' (attribution map): expected a vector of Single", wrongType.Message, StringComparison.Ordinal);
    }

    private sealed class MapRow
    {
        public string ImagePath { get; set; } = "";

        public string Label { get; set; } = "";

        [VectorType]
        public float[] Attribution { get; set; } = [];
    }

    private sealed class DoubleMapRow
    {
        public string ImagePath { get; set; } = "";

        public string Label { get; set; } = "";

        [VectorType]
        public double[] Attribution { get; set; } = [];
    }
}
