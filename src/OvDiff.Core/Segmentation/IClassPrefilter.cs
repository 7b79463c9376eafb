using OvDiff.Core.Images;

namespace OvDiff.Core.Segmentation;

/// <summary>
/// Narrows the candidate classes of one image before matching (OVDiff uses a CLIP classifier). Classes left out score −1
/// and their background prototypes take no part in the background score. Stuff classes are always kept.
/// </summary>
public interface IClassPrefilter
{
    /// <summary>Returns the indices (into <paramref name="classNames"/>) of the classes that may appear in <paramref name="image"/>.</summary>
    IReadOnlyCollection<int> SelectClasses(RgbImage image, IReadOnlyList<string> classNames, CancellationToken cancellationToken = default);
}

/// <summary>A prefilter that keeps exactly the given class names for every image (e.g. known image-level tags, an upper bound).</summary>
public sealed class FixedClassPrefilter : IClassPrefilter
{
    private readonly HashSet<string> _keep;

    /// <summary>Keeps <paramref name="classNames"/>.</summary>
    public FixedClassPrefilter(IEnumerable<string> classNames) => _keep = new HashSet<string>(classNames, StringComparer.Ordinal);

    /// <inheritdoc />
    public IReadOnlyCollection<int> SelectClasses(RgbImage image, IReadOnlyList<string> classNames, CancellationToken cancellationToken = default)
        => Enumerable.Range(0, classNames.Count).Where(i => _keep.Contains(classNames[i])).ToArray();
}
