namespace OvDiff.Eval.Metrics;

/// <summary>
/// What a segmenter's class pre-filter decided for one image, in the dataset's labels: the classes it kept and the ones it
/// left out (stuff classes, which it does not decide, in neither), and how long it took.
/// </summary>
/// <param name="Method">The pre-filter ("clip", "support").</param>
/// <param name="Kept">Labels kept, ascending.</param>
/// <param name="Dropped">Labels left out, ascending.</param>
/// <param name="Milliseconds">Wall time of the decision.</param>
public sealed record ImagePrefilter(string Method, IReadOnlyList<int> Kept, IReadOnlyList<int> Dropped, double Milliseconds);

/// <summary>
/// A pre-filter's precision and recall over a run, against the classes present in each image's ground truth (among
/// those it decided on: background and stuff excluded): precision = kept and present / kept, recall = kept and
/// present / present; with the mean number of kept classes and the mean time per image.
/// </summary>
public sealed record PrefilterStats(string Method, int Images, double Precision, double Recall, double KeptPerImage, double MillisecondsPerImage)
{
    /// <summary>The statistics of every image with a pre-filter decision; null when none had one.</summary>
    public static PrefilterStats? Compute(IEnumerable<ImageResult> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        long keptPresent = 0, kept = 0, present = 0;
        int count = 0;
        double milliseconds = 0;
        string? method = null;
        foreach (ImageResult image in images)
        {
            if (image.Prefilter is not { } decision)
            {
                continue;
            }

            method ??= decision.Method;
            count++;
            milliseconds += decision.Milliseconds;
            var truth = image.GroundTruthClasses.ToHashSet();
            kept += decision.Kept.Count;
            keptPresent += decision.Kept.Count(truth.Contains);
            present += decision.Kept.Concat(decision.Dropped).Count(truth.Contains);
        }

        return count == 0
            ? null
            : new PrefilterStats(method!, count, kept == 0 ? double.NaN : (double)keptPresent / kept, present == 0 ? double.NaN : (double)keptPresent / present, (double)kept / count, milliseconds / count);
    }
}
