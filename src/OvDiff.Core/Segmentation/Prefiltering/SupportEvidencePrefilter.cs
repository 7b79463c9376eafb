namespace OvDiff.Core.Segmentation;

/// <summary>
/// A class pre-filter that needs no text model: the segmenter first scores every class with the support prototypes on the
/// windows it has already extracted, and a class stays a candidate when it wins at least
/// <see cref="ClassPrefilterOptions.SupportMinimumArea"/> of the grid cells (the class winning most cells always stays).
/// The second pass then matches only the candidates, whose background prototypes alone form the background.
/// Costs one extra prototype matching per window, no extra feature pass.
/// </summary>
public sealed class SupportEvidencePrefilter : IClassPrefilter
{
    private readonly float _minimumArea;

    /// <summary>Creates the pre-filter with <paramref name="options"/>' area threshold.</summary>
    public SupportEvidencePrefilter(ClassPrefilterOptions? options = null)
    {
        options ??= new ClassPrefilterOptions();
        options.Validate();
        _minimumArea = options.SupportMinimumArea;
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

        int[] kept = Enumerable.Range(0, classes)
            .Where(c => !input.IsStuff[c] && (c == top || (evidence.Area[c] > 0 && evidence.Area[c] >= _minimumArea)))
            .ToArray();
        return new ClassPrefilterDecision(Name, kept, scores, 0);
    }
}
