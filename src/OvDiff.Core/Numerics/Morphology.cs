namespace OvDiff.Core.Numerics;

/// <summary>Binary-mask morphology on row-major grids.</summary>
public static class Morphology
{
    /// <summary>
    /// scipy.ndimage.binary_erosion with the default cross (4-connected) structuring element, border value 0,
    /// repeated <paramref name="iterations"/> times.
    /// </summary>
    public static bool[] Erode(ReadOnlySpan<bool> mask, int height, int width, int iterations = 1) => throw new NotImplementedException();

    /// <summary>4-connected component labels: 0 for background, 1..count for components in raster order of first pixel.</summary>
    public static int[] LabelComponents(ReadOnlySpan<bool> mask, int height, int width, out int count) => throw new NotImplementedException();

    /// <summary>The 4-connected component of <paramref name="mask"/> containing cell <paramref name="index"/> (empty if that cell is off).</summary>
    public static bool[] ComponentContaining(ReadOnlySpan<bool> mask, int height, int width, int index) => throw new NotImplementedException();
}
