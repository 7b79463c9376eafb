namespace OvDiff.Core.Segmentation;

/// <summary>The three prototype levels of OVDiff (reference <c>--feat_mode</c>).</summary>
[Flags]
public enum PrototypeLevels
{
    /// <summary>No prototypes.</summary>
    None = 0,

    /// <summary>One mean over every masked cell of every support image of the class (reference "mean").</summary>
    ClassMean = 1,

    /// <summary>One mean per support image (reference "ind").</summary>
    PerImage = 2,

    /// <summary>k-means centroids over all masked cells: part-level prototypes (reference "kmeans").</summary>
    Parts = 4,

    /// <summary>All three levels (reference default <c>--feat_mode all</c>).</summary>
    All = ClassMean | PerImage | Parts,
}

/// <summary>Whether a prototype describes a class's object or its surroundings.</summary>
public enum PrototypeRole
{
    /// <summary>Pooled inside the foreground mask: scores its own class.</summary>
    Foreground = 0,

    /// <summary>Pooled inside the background mask: scores the shared "background" class.</summary>
    Background = 1,
}

/// <summary>
/// Where one prototype came from, so that a prediction can be explained.
/// </summary>
/// <param name="ClassIndex">Index into <see cref="PrototypeModel.ClassNames"/> of the class whose support images produced it.</param>
/// <param name="Role">Foreground or background.</param>
/// <param name="Level">Exactly one level flag.</param>
/// <param name="SupportImage">Index into <see cref="PrototypeModel.SupportImages"/> for a per-image prototype; -1 otherwise.</param>
/// <param name="Cluster">k-means cluster index for a part prototype; -1 otherwise.</param>
/// <param name="CellCount">Number of feature cells pooled into it.</param>
public sealed record PrototypeOrigin(int ClassIndex, PrototypeRole Role, PrototypeLevels Level, int SupportImage, int Cluster, long CellCount);
