namespace OvDiff.Core.Segmentation;

/// <summary>
/// A fitted OVDiff model: the class list, the support images with their masks, and one <see cref="PrototypeBank"/> per
/// feature extractor. Immutable; saved and loaded with <see cref="PrototypeModelSerializer"/>.
/// Label 0 of a segmentation is "background"; class <c>i</c> of <see cref="ClassNaming"/> is label <c>i + 1</c>.
/// </summary>
public sealed class PrototypeModel
{
    /// <summary>Creates a model and checks that every index inside it is in range.</summary>
    /// <param name="classNames">The classes, in label order.</param>
    /// <param name="isStuff">Per class, whether it is a stuff class.</param>
    /// <param name="supportImages">The support images and masks.</param>
    /// <param name="banks">One bank per extractor.</param>
    /// <param name="fitOptions">The options of the fit.</param>
    /// <param name="sharedBackground">Background parts of no class (on one of the banks' extractors), or null.</param>
    public PrototypeModel(
        IReadOnlyList<string> classNames,
        IReadOnlyList<bool> isStuff,
        IReadOnlyList<SupportImageRecord> supportImages,
        IReadOnlyList<PrototypeBank> banks,
        PrototypeFitOptions fitOptions,
        SharedBackground? sharedBackground = null)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        ArgumentNullException.ThrowIfNull(isStuff);
        ArgumentNullException.ThrowIfNull(supportImages);
        ArgumentNullException.ThrowIfNull(banks);
        ArgumentNullException.ThrowIfNull(fitOptions);
        if (classNames.Count == 0)
        {
            throw new ArgumentException("A model needs at least one class.", nameof(classNames));
        }

        if (classNames.Count > 254)
        {
            throw new ArgumentException($"At most 254 classes fit a label map (255 is the ignore label); got {classNames.Count}.", nameof(classNames));
        }

        if (isStuff.Count != classNames.Count)
        {
            throw new ArgumentException($"isStuff has {isStuff.Count} entries for {classNames.Count} classes.", nameof(isStuff));
        }

        var seen = new HashSet<string>(ClassNaming.Comparer);
        foreach (string name in classNames)
        {
            if (string.IsNullOrWhiteSpace(name) || !seen.Add(ClassNaming.Normalize(name)))
            {
                throw new ArgumentException($"Class names must be non-empty and distinct (compared ignoring case and surrounding spaces); '{name}' is not.", nameof(classNames));
            }

            if (string.Equals(name, BackgroundName, StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"'{BackgroundName}' is implicit (label 0); do not list it as a class.", nameof(classNames));
            }
        }

        if (banks.Count == 0)
        {
            throw new ArgumentException("A model needs at least one prototype bank.", nameof(banks));
        }

        foreach (PrototypeBank bank in banks)
        {
            foreach (PrototypeOrigin origin in bank.Origins)
            {
                if ((uint)origin.ClassIndex >= (uint)classNames.Count || origin.SupportImage >= supportImages.Count)
                {
                    throw new ArgumentException($"Bank '{bank.ExtractorName}' has a prototype whose origin {origin} is out of range.", nameof(banks));
                }
            }
        }

        if (sharedBackground is not null && !banks.Any(b => b.ExtractorName == sharedBackground.ExtractorName && b.Channels == sharedBackground.Channels))
        {
            throw new ArgumentException($"The shared background is on '{sharedBackground.ExtractorName}' ({sharedBackground.Channels} channels), which no bank has.", nameof(sharedBackground));
        }

        ClassNames = classNames;
        IsStuff = isStuff;
        SharedBackground = sharedBackground;
        SupportImages = supportImages;
        Banks = banks;
        FitOptions = fitOptions;
    }

    /// <summary>The name of label 0.</summary>
    public const string BackgroundName = "background";

    /// <summary>The fitted classes, in label order (label = index + 1).</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Per class: a "stuff" class (sky, road, …) keeps no background prototypes and filters other classes' ones.</summary>
    public IReadOnlyList<bool> IsStuff { get; }

    /// <summary>The support images and masks behind the prototypes.</summary>
    public IReadOnlyList<SupportImageRecord> SupportImages { get; }

    /// <summary>One bank per feature extractor; the segmenter averages their cosine similarities.</summary>
    public IReadOnlyList<PrototypeBank> Banks { get; }

    /// <summary>The options the model was fitted with.</summary>
    public PrototypeFitOptions FitOptions { get; }

    /// <summary>Background parts of no class (<see cref="PrototypeFitOptions.SharedBackgroundParts"/>), or null.</summary>
    public SharedBackground? SharedBackground { get; }

    /// <summary>Label names: "background" followed by <see cref="ClassNaming"/>.</summary>
    public IReadOnlyList<string> LabelNames => [BackgroundName, .. ClassNames];

    /// <summary>
    /// The same model with <paramref name="stuffClasses"/> as its stuff classes (names not among <see cref="ClassNames"/>
    /// are ignored): at inference stuff classes skip the pre-filter and their background prototypes are not used.
    /// </summary>
    public PrototypeModel WithStuffClasses(IEnumerable<string> stuffClasses)
    {
        ArgumentNullException.ThrowIfNull(stuffClasses);
        var stuff = new HashSet<string>(stuffClasses, StringComparer.Ordinal);
        return new PrototypeModel(ClassNames, ClassNames.Select(stuff.Contains).ToArray(), SupportImages, Banks, FitOptions with { StuffClasses = [.. ClassNames.Where(stuff.Contains)] }, SharedBackground);
    }

    /// <summary>
    /// Per class: the share (0..1) of the support images that show it, an image counted once however many classes it is
    /// tagged with (images are told apart by <see cref="SupportImageRecord.Source"/>). A class seen beside others (a
    /// person beside a horse, a chair at a table) has a larger share than the images picked for it alone.
    /// </summary>
    public IReadOnlyList<double> SupportImageShares => _supportImageShares ??= ComputeSupportImageShares();

    /// <summary>
    /// How many distinct support images the model was fitted on: <see cref="SupportImages"/> holds one record per image and
    /// class, so an image tagged with several classes counts once here.
    /// </summary>
    public int SupportImageCount => _supportImageCount ??= SupportImages.Select(s => s.Source).Distinct(StringComparer.Ordinal).Count();

    private double[]? _supportImageShares;
    private int? _supportImageCount;

    private double[] ComputeSupportImageShares()
    {
        var sourcesOf = new HashSet<string>[ClassNames.Count];
        foreach (SupportImageRecord support in SupportImages)
        {
            (sourcesOf[support.ClassIndex] ??= new HashSet<string>(StringComparer.Ordinal)).Add(support.Source);
        }

        return sourcesOf.Select(s => SupportImageCount == 0 ? 0 : (double)(s?.Count ?? 0) / SupportImageCount).ToArray();
    }

    /// <summary>Approximate memory held by the prototype vectors and the shared background's parts, in bytes.</summary>
    public long PrototypeBytes => (Banks.Sum(b => b.Vectors.LongLength) + (SharedBackground?.Vectors.LongLength ?? 0)) * sizeof(float);
}
