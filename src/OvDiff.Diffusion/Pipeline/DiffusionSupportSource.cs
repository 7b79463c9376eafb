using System.Globalization;
using OvDiff.Core.Segmentation;

namespace OvDiff.Diffusion.Pipeline;

/// <summary>
/// Support images generated on the fly (no store): for each class, <paramref name="imagesPerClass"/> images of
/// <see cref="SupportPrompts"/>, image i seeded by (seed, class, i), each with its attribution map so that the
/// foreground/background split ranks segments by it (<see cref="ForegroundSplitter"/>). Classes are generated one batch
/// at a time as the fitter asks for them; nothing is written. Uses the pipeline, does not own it.
/// </summary>
public sealed class DiffusionSupportSource(
    StableDiffusionPipeline pipeline,
    IReadOnlyList<string> classNames,
    int imagesPerClass = 32,
    ulong seed = 42,
    SupportPrompts? prompts = null,
    IProgress<SamplingProgress>? progress = null) : ISupportSource
{
    private readonly StableDiffusionPipeline _pipeline = pipeline ?? throw new ArgumentNullException(nameof(pipeline));
    private readonly SupportPrompts _prompts = prompts ?? SupportPrompts.Reference;

    /// <inheritdoc/>
    public IReadOnlyList<string> ClassNames { get; } = classNames?.ToArray() ?? throw new ArgumentNullException(nameof(classNames));

    /// <inheritdoc/>
    public IEnumerable<SupportExample> Enumerate(CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(imagesPerClass);
        foreach (var className in ClassNames)
        {
            var requests = Enumerable.Range(0, imagesPerClass).Select(i => _prompts.Request(_pipeline.Tokenizer, className, i, seed)).ToList();
            for (var start = 0; start < requests.Count; start += _pipeline.Options.BatchSize)
            {
                var batch = requests.Skip(start).Take(_pipeline.Options.BatchSize).ToList();
                var generated = _pipeline.Generate(batch, progress, cancellationToken);
                for (var i = 0; i < generated.Count; i++)
                {
                    var image = generated[i].Image;
                    var source = string.Create(CultureInfo.InvariantCulture, $"sd:{className}#{start + i}");
                    yield return new SupportExample(className, source, _ => image, generated[i].Attribution);
                }
            }
        }
    }
}
