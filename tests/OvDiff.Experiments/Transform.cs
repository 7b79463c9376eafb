using OvDiff.Core.Features;
using OvDiff.Core.Numerics;

namespace OvDiff.Experiments;

/// <summary>Feature transforms before matching (centering by the support mean, power normalisation).</summary>
internal static class Transform
{
    /// <summary>Mean raw feature over every cell of the support images.</summary>
    public static float[] SupportMean(IEnumerable<ImageRecord> support, bool sqrt)
    {
        double[] sum = null!;
        long n = 0;
        foreach (ImageRecord r in support.Distinct())
        {
            int ch = r.Features.Channels;
            sum ??= new double[ch];
            for (int i = 0; i < r.Features.Data.Length; i++)
            {
                float v = r.Features.Data[i];
                sum[i % ch] += sqrt ? MathF.Sqrt(Math.Max(v, 0)) : v;
            }

            n += r.Features.CellCount;
        }

        return sum.Select(s => (float)(s / n)).ToArray();
    }

    /// <summary>A copy of the records with features x → f(x) − mean (f = sqrt or identity); the split stays computed on the original.</summary>
    public static List<ImageRecord> Apply(List<ImageRecord> all, float[] mean, bool sqrt) => Apply(all, mean, sqrt ? 0.5f : 1f);

    /// <summary>A copy of the records with features x → max(x, 0)^power − mean; the split stays computed on the original.</summary>
    public static List<ImageRecord> Apply(List<ImageRecord> all, float[] mean, float power)
    {
        return all.AsParallel().AsOrdered().Select(r =>
        {
            int ch = r.Features.Channels;
            var data = new float[r.Features.Data.Length];
            for (int i = 0; i < data.Length; i++)
            {
                float v = r.Features.Data[i];
                data[i] = (power == 1f ? v : MathF.Pow(Math.Max(v, 0), power)) - mean[i % ch];
            }

            var unit = (float[])data.Clone();
            Matrix.NormalizeRows(unit, (int)r.Features.CellCount, ch, 1e-6f);
            return new ImageRecord
            {
                Id = r.Id, Width = r.Width, Height = r.Height, ScaledWidth = r.ScaledWidth, ScaledHeight = r.ScaledHeight,
                Features = new FeatureMap(r.Features.Height, r.Features.Width, ch, data), Unit = unit, Truth = r.Truth, Tags = r.Tags,
                Original = r,
            };
        }).ToList();
    }
}
