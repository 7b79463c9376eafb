using OvDiff.Core.Images;

namespace OvDiff.Core.Segmentation;

/// <summary>
/// Narrows the candidate classes of one image before matching (OVDiff uses a CLIP classifier). Classes left out score −1
/// and their background prototypes take no part in the background score. Stuff classes are always kept, whatever the
/// pre-filter says.
/// </summary>
public interface IClassPrefilter
{
    /// <summary>A short name shown with its decisions ("clip", "support", "fixed").</summary>
    string Name { get; }

    /// <summary>Decides which classes of <paramref name="input"/> may appear in its image.</summary>
    ClassPrefilterDecision Select(ClassPrefilterInput input, CancellationToken cancellationToken = default);
}

/// <summary>What a pre-filter decided for one image.</summary>
/// <param name="Method">The pre-filter's <see cref="IClassPrefilter.Name"/>.</param>
/// <param name="Kept">Indices (into the model's classes, ascending) of the classes kept as candidates; stuff classes are added by the segmenter.</param>
/// <param name="Scores">One score per class on the pre-filter's own scale (CLIP: first-stage probability; support: first-pass evidence); NaN where it did not score a class (stuff).</param>
/// <param name="Milliseconds">Wall time of the decision, including any first pass it needed.</param>
public sealed record ClassPrefilterDecision(string Method, IReadOnlyList<int> Kept, IReadOnlyList<float> Scores, double Milliseconds)
{
    /// <summary>"name (score)" of each kept class, separated by ", ".</summary>
    public string Describe(IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        return string.Join(", ", Kept.Select(c => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{classNames[c]} ({Scores[c]:0.###})")));
    }
}

/// <summary>
/// What a pre-filter may look at for one image: the image, the model's classes, which of them are stuff, and (computed
/// on first use, by the segmenter) the evidence of a first segmentation pass over every class.
/// </summary>
public sealed class ClassPrefilterInput
{
    private readonly Func<ClassEvidence>? _evidence;
    private ClassEvidence? _computed;

    /// <summary>
    /// Creates the input; <paramref name="evidence"/> computes the first-pass evidence when a pre-filter asks for it;
    /// <paramref name="supportImageShares"/> are the model's <see cref="PrototypeModel.SupportImageShares"/> (none: equal).
    /// </summary>
    public ClassPrefilterInput(RgbImage image, IReadOnlyList<string> classNames, IReadOnlyList<bool> isStuff, Func<ClassEvidence>? evidence = null, IReadOnlyList<double>? supportImageShares = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(classNames);
        ArgumentNullException.ThrowIfNull(isStuff);
        if (isStuff.Count != classNames.Count)
        {
            throw new ArgumentException($"isStuff has {isStuff.Count} entries for {classNames.Count} classes.", nameof(isStuff));
        }

        if (supportImageShares is not null && supportImageShares.Count != classNames.Count)
        {
            throw new ArgumentException($"supportImageShares has {supportImageShares.Count} entries for {classNames.Count} classes.", nameof(supportImageShares));
        }

        Image = image;
        ClassNames = classNames;
        IsStuff = isStuff;
        SupportImageShares = supportImageShares;
        _evidence = evidence;
    }

    /// <summary>Per class: the share of the support images that show it (<see cref="PrototypeModel.SupportImageShares"/>), or null.</summary>
    public IReadOnlyList<double>? SupportImageShares { get; }

    /// <summary>The image as given to the segmenter (original size).</summary>
    public RgbImage Image { get; }

    /// <summary>The model's classes (background excluded).</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Per class: a stuff class (always a candidate; pre-filters need not score it).</summary>
    public IReadOnlyList<bool> IsStuff { get; }

    /// <summary>Whether <see cref="Evidence"/> can be asked for.</summary>
    public bool HasEvidence => _evidence is not null;

    /// <summary>The first pass's per-class evidence (computed once, on first use).</summary>
    public ClassEvidence Evidence => _computed ??= (_evidence ?? throw new InvalidOperationException("This segmenter gives pre-filters no first-pass evidence."))();
}

/// <summary>
/// Per-class evidence of a first segmentation pass in which every class is a candidate, on the feature grid(s) of the
/// scored windows: the share of cells whose best label is the class, and the class's best score anywhere.
/// </summary>
/// <param name="Area">Per class: fraction (0..1) of the scored cells labelled with it.</param>
/// <param name="MaxScore">Per class: its largest score over the scored cells (−1 when it was not scored).</param>
/// <param name="BackgroundArea">Fraction of the scored cells labelled background.</param>
public sealed record ClassEvidence(IReadOnlyList<float> Area, IReadOnlyList<float> MaxScore, float BackgroundArea);

/// <summary>A pre-filter that keeps exactly the given class names for every image (e.g. known image-level tags, an upper bound).</summary>
public sealed class FixedClassPrefilter : IClassPrefilter
{
    private readonly HashSet<string> _keep;

    /// <summary>Keeps <paramref name="classNames"/>.</summary>
    public FixedClassPrefilter(IEnumerable<string> classNames) => _keep = new HashSet<string>(classNames, StringComparer.Ordinal);

    /// <inheritdoc />
    public string Name => "fixed";

    /// <inheritdoc />
    public ClassPrefilterDecision Select(ClassPrefilterInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        int[] kept = Enumerable.Range(0, input.ClassNames.Count).Where(i => _keep.Contains(input.ClassNames[i])).ToArray();
        return new ClassPrefilterDecision(Name, kept, input.ClassNames.Select(n => _keep.Contains(n) ? 1f : 0f).ToArray(), 0);
    }
}
