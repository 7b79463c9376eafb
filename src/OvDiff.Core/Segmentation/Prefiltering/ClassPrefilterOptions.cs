using System.Text.Json.Serialization;

namespace OvDiff.Core.Segmentation;

/// <summary>Which class pre-filter a segmenter runs before matching.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ClassPrefilterKind>))]
public enum ClassPrefilterKind
{
    /// <summary>No pre-filter: every class is a candidate in every image (the reference's <c>--classmode all</c>).</summary>
    None = 0,

    /// <summary>The reference's CLIP classifier (ViT-B/16 image and text towers; <see cref="ClipClassSelection"/>).</summary>
    Clip = 1,

    /// <summary>From the support set alone: a first segmentation pass over every class decides (<see cref="SupportEvidencePrefilter"/>).</summary>
    Support = 2,
}

/// <summary>Options of the class pre-filter. Defaults: off; CLIP settings as the reference.</summary>
public sealed record ClassPrefilterOptions
{
    /// <summary>The pre-filter. Default <see cref="ClassPrefilterKind.None"/>.</summary>
    public ClassPrefilterKind Kind { get; init; }

    /// <summary>CLIP: the prompt of one class, "{class}" replaced by its name (reference <c>"a {c}"</c>). Default "a {class}".</summary>
    public string ClipPrompt { get; init; } = "a {class}";

    /// <summary>
    /// CLIP: the name a class goes by in prompts, where it differs from the class name (the reference writes "airplane",
    /// "table", "monitor" and "potted plant" for VOC's aeroplane, diningtable, tvmonitor and pottedplant). Default none.
    /// </summary>
    public IReadOnlyDictionary<string, string> ClipClassNames { get; init; } = new Dictionary<string, string>();

    /// <summary>CLIP: the name <paramref name="className"/> goes by in prompts (<see cref="ClipClassNames"/>, else itself).</summary>
    public string PromptName(string className) => ClipClassNames.TryGetValue(className, out string? name) ? name : className;

    /// <summary>CLIP: how class prompts are joined into one subset prompt (reference " and "). Default " and ".</summary>
    public string ClipConnector { get; init; } = " and ";

    /// <summary>CLIP: at most this many first-stage classes enter the subset search (reference topk 10: up to 1023 prompts). Default 10.</summary>
    public int ClipMaxClasses { get; init; } = ClipClassSelection.DefaultMaxClasses;

    /// <summary>Support: a class is kept when its first-pass area (share of grid cells it wins) is at least this. Default 0.15.</summary>
    public float SupportMinimumArea { get; init; } = 0.15f;

    /// <summary>
    /// Support: added to the background score of every cell in the first pass only (not in the final arg-max), so that
    /// classes that merely win background cells (chair, sofa, pottedplant beside a person) lose first-pass area. Default 0.
    /// In cross-validation on VOC dev, 0.05 together with stride 16 and flip gained +1.3 / +1.9 (docs/results.md). Left
    /// out of JSON when 0, so model files and run identities written before the option existed read the same.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public float SupportBackgroundBias { get; init; }

    /// <summary>
    /// Support: in the first pass only, the model's shared background parts (<see cref="PrototypeModel.SharedBackground"/>,
    /// fitted with <see cref="PrototypeFitOptions.SharedBackgroundParts"/>) score as background too, beside the classes'
    /// background prototypes, so that a class does not keep an image for winning its walls or floors. A model without
    /// them is unaffected. Default false (<c>ovdiff fit</c> stores true, chosen by cross-validation with ResNet18). Left
    /// out of JSON when false.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool SupportSharedBackground { get; init; }

    /// <summary>
    /// Support: how much the support set's tags move each class's area threshold. A class shown by a share s_c of the
    /// support images (<see cref="PrototypeModel.SupportImageShares"/>) needs <see cref="SupportMinimumArea"/> x
    /// (mean share / s_c)^prior of the cells: a class the support images often show beside others (person, chair) stays
    /// with less area, one seen only in its own images needs more. 0 = one threshold for every class; support images
    /// tagged with one class each give every class the same share, so the same thresholds. Default 0 (<c>ovdiff fit</c>
    /// stores 1, chosen by cross-validation with ResNet18, docs/results.md). Left out of JSON when 0.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public float SupportTagPrior { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Kind))
        {
            throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "Unknown pre-filter.");
        }

        if (ClipPrompt is null || !ClipPrompt.Contains("{class}", StringComparison.Ordinal))
        {
            throw new ArgumentOutOfRangeException(nameof(ClipPrompt), ClipPrompt, "The prompt must contain \"{class}\".");
        }

        ArgumentNullException.ThrowIfNull(ClipConnector, nameof(ClipConnector));
        ArgumentNullException.ThrowIfNull(ClipClassNames, nameof(ClipClassNames));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ClipMaxClasses, nameof(ClipMaxClasses));
        if (ClipMaxClasses > 16)
        {
            throw new ArgumentOutOfRangeException(nameof(ClipMaxClasses), ClipMaxClasses, "At most 16 (2^16 − 1 subset prompts per image).");
        }

        if (!float.IsFinite(SupportBackgroundBias) || SupportBackgroundBias is < -1 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(SupportBackgroundBias), SupportBackgroundBias, "Must be in [-1, 1].");
        }

        if (!float.IsFinite(SupportTagPrior) || SupportTagPrior is < 0 or > 4)
        {
            throw new ArgumentOutOfRangeException(nameof(SupportTagPrior), SupportTagPrior, "Must be in [0, 4].");
        }

        if (SupportMinimumArea is < 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(SupportMinimumArea), SupportMinimumArea, "Must be in [0, 1).");
        }
    }
}
