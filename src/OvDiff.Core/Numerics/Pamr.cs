namespace OvDiff.Core.Numerics;

/// <summary>Options of PAMR (pixel-adaptive mask refinement; Araslanov &amp; Roth 2020), as used by OVDiff and TCL.</summary>
public sealed record PamrOptions
{
    /// <summary>Refinement iterations. Default 10.</summary>
    public int Iterations { get; init; } = 10;

    /// <summary>Dilations of the 3x3 neighbourhood. Default 1, 2, 4, 8, 12, 24.</summary>
    public IReadOnlyList<int> Dilations { get; init; } = [1, 2, 4, 8, 12, 24];
}

/// <summary>
/// PAMR: repeatedly replaces each pixel's class scores by an affinity-weighted average of its dilated 8-neighbours' scores,
/// the affinity being a softmax over neighbours of −|I_i − I_j| / (0.1 · std of the neighbourhood), per image channel, averaged
/// over channels (the reference's LocalAffinityAbs / LocalStDev with replicate padding).
/// </summary>
public static class Pamr
{
    /// <summary>
    /// Refines <paramref name="scores"/> (planar: <paramref name="classes"/> planes of height x width) in place, guided by
    /// <paramref name="image"/> (planar float: <paramref name="imageChannels"/> planes of height x width, any consistent scale).
    /// </summary>
    public static void Refine(ReadOnlySpan<float> image, int imageChannels, Span<float> scores, int classes, int height, int width, PamrOptions? options = null) => throw new NotImplementedException();
}
