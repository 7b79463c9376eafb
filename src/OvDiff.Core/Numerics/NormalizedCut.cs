using OvDiff.Core.Features;

namespace OvDiff.Core.Numerics;

/// <summary>Options of the TokenCut / MaskCut normalised cut (defaults as in CutLER's MaskCut).</summary>
public sealed record NormalizedCutOptions
{
    /// <summary>Affinity threshold τ: W_ij = 1 where cos(f_i, f_j) &gt; τ, else <see cref="Epsilon"/>. Default 0.15 (MaskCut).</summary>
    public float Tau { get; init; } = 0.15f;

    /// <summary>Affinity given to pairs at or below τ. Default 1e-5.</summary>
    public float Epsilon { get; init; } = 1e-5f;

    /// <summary>Lanczos iterations for the eigenvector. Default 60.</summary>
    public int LanczosIterations { get; init; } = 60;

    /// <summary>Flip the partition when at least this many of the 4 grid corners fall in the foreground. Default 3 (MaskCut uses 2 of 4 corners for "reverse"; TokenCut none).</summary>
    public int CornerFlipThreshold { get; init; } = 3;

    /// <summary>Keep only the connected component of the foreground that contains the seed. Default true.</summary>
    public bool KeepSeedComponent { get; init; } = true;
}

/// <summary>One foreground/background bipartition of a feature grid.</summary>
/// <param name="Foreground">Per grid cell, true where foreground.</param>
/// <param name="Eigenvector">The second generalised eigenvector of (D − W, D), sign-aligned so the seed is positive.</param>
/// <param name="SeedIndex">The cell with the largest |eigenvector| value.</param>
public sealed record NormalizedCutResult(bool[] Foreground, float[] Eigenvector, int SeedIndex);

/// <summary>
/// Training-free foreground discovery by normalised cut on dense features (TokenCut; MaskCut repeats it).
/// Matrix-free: Lanczos on D^-1/2 W D^-1/2 with the known top eigenvector sqrt(d) deflated.
/// </summary>
public static class NormalizedCut
{
    /// <summary>
    /// Splits the grid at the mean of the second generalised eigenvector; the seed's side is foreground; the partition
    /// is flipped when it covers at least <see cref="NormalizedCutOptions.CornerFlipThreshold"/> corners; then only the
    /// seed's 4-connected component is kept. Cells where <paramref name="exclude"/> is true (if given) take no part
    /// (their affinities are zero and they are never foreground).
    /// </summary>
    public static NormalizedCutResult Bipartition(FeatureMap features, NormalizedCutOptions? options = null, ReadOnlySpan<bool> exclude = default) => throw new NotImplementedException();

    /// <summary>MaskCut: up to <paramref name="maxMasks"/> successive bipartitions, each excluding the cells of earlier masks.</summary>
    public static IReadOnlyList<NormalizedCutResult> MaskCut(FeatureMap features, int maxMasks = 3, NormalizedCutOptions? options = null) => throw new NotImplementedException();
}
