using OvDiff.Core.Features;
using OvDiff.Core.Numerics;

namespace OvDiff.Core.Segmentation;

/// <summary>Float64 pools of feature-map cells and their unit means (the fitter's per-class statistics).</summary>
internal static class CellMeans
{
    /// <summary>Adds cell <paramref name="cell"/> of <paramref name="map"/> to <paramref name="pool"/>.</summary>
    public static void Add(ref (double[] Sum, long Count) pool, FeatureMap map, int cell)
    {
        ReadOnlySpan<float> values = map.Data.AsSpan(cell * map.Channels, map.Channels);
        for (int k = 0; k < values.Length; k++)
        {
            pool.Sum[k] += values[k];
        }

        pool.Count++;
    }

    /// <summary>The mean <paramref name="sum"/> / <paramref name="count"/>, scaled to unit length.</summary>
    public static float[] Unit(double[] sum, long count)
    {
        var mean = new float[sum.Length];
        for (int k = 0; k < sum.Length; k++)
        {
            mean[k] = (float)(sum[k] / count);
        }

        Matrix.NormalizeRows(mean, 1, mean.Length, 1e-6f);
        return mean;
    }

    /// <summary>Cell <paramref name="cell"/> of <paramref name="map"/> scaled to unit length, into <paramref name="destination"/>.</summary>
    public static void UnitCell(FeatureMap map, int cell, float[] destination)
    {
        map.Data.AsSpan(cell * map.Channels, map.Channels).CopyTo(destination);
        Matrix.NormalizeRows(destination, 1, destination.Length, 1e-6f);
    }
}
