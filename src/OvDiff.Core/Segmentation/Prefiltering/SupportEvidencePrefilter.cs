namespace OvDiff.Core.Segmentation;

/// <summary>
/// A class pre-filter that needs no text model: the segmenter first scores every class with the support prototypes on the
/// windows it has already extracted, and a class stays a candidate when it wins at least
/// <see cref="ClassPrefilterOptions.SupportMinimumArea"/> of the grid cells (the class winning most cells always stays).
/// The second pass then matches only the candidates, whose background prototypes alone form the background.
/// With <see cref="ClassPrefilterOptions.SupportTagPrior"/> each class's threshold follows the share of the support
/// images that show it (<see cref="AreaThresholds"/>). Costs one extra prototype matching per window, no extra feature pass.
/// </summary>
public sealed class SupportEvidencePrefilter : IClassPrefilter
{
    private readonly float _minimumArea;
    private readonly float _tagPrior;

    /// <summary>Creates the pre-filter with <paramref name="options"/>' area threshold.</summary>
    public SupportEvidencePrefilter(ClassPrefilterOptions? options = null)
    {
        options ??= new ClassPrefilterOptions();
        options.Validate();
        _minimumArea = options.SupportMinimumArea;
        _tagPrior = options.SupportTagPrior;
    }

    /// <summary>
    /// Per class, the first-pass area it needs to stay a candidate: <paramref name="minimumArea"/> x (mean share /
    /// share)^<paramref name="tagPrior"/>, the shares being <paramref name="supportImageShares"/> and their mean taken over
    /// the classes that are not stuff. A share of 0 counts as the smallest positive share. Without shares, or with a
    /// prior of 0, every class needs <paramref name="minimumArea"/>.
    /// </summary>
    public static float[] AreaThresholds(float minimumArea, float tagPrior, IReadOnlyList<double>? supportImageShares, IReadOnlyList<bool> isStuff)
    {
        ArgumentNullException.ThrowIfNull(isStuff);
        var thresholds = new float[isStuff.Count];
        Array.Fill(thresholds, minimumArea);
        if (tagPrior == 0 || supportImageShares is null)
        {
            return thresholds;
        }

        if (supportImageShares.Count != isStuff.Count)
        {
            throw new ArgumentException($"supportImageShares has {supportImageShares.Count} entries for {isStuff.Count} classes.", nameof(supportImageShares));
        }

        double[] shares = Enumerable.Range(0, isStuff.Count).Where(c => !isStuff[c]).Select(c => supportImageShares[c]).ToArray();
        double smallest = shares.Where(s => s > 0).DefaultIfEmpty(0).Min();
        if (smallest <= 0)
        {
            return thresholds;
        }

        double mean = shares.Average(s => Math.Max(s, smallest));
        for (int c = 0; c < thresholds.Length; c++)
        {
            thresholds[c] = (float)(minimumArea * Math.Pow(mean / Math.Max(supportImageShares[c], smallest), tagPrior));
        }

        return thresholds;
    }

    /// <inheritdoc />
    public string Name => "support";

    /// <inheritdoc />
    public ClassPrefilterDecision Select(ClassPrefilterInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ClassEvidence evidence = input.Evidence;
        int classes = input.ClassNames.Count;
        var scores = new float[classes];
        int top = -1;
        for (int c = 0; c < classes; c++)
        {
            scores[c] = input.IsStuff[c] ? float.NaN : evidence.Area[c];
            if (!input.IsStuff[c] && (top < 0 || evidence.Area[c] > evidence.Area[top] || (evidence.Area[c] == evidence.Area[top] && evidence.MaxScore[c] > evidence.MaxScore[top])))
            {
                top = c;
            }
        }

        float[] thresholds = AreaThresholds(_minimumArea, _tagPrior, input.SupportImageShares, input.IsStuff);
        int[] kept = Enumerable.Range(0, classes)
            .Where(c => !input.IsStuff[c] && (c == top || (evidence.Area[c] > 0 && evidence.Area[c] >= thresholds[c])))
            .ToArray();
        return new ClassPrefilterDecision(Name, kept, scores, 0);
    }
}
