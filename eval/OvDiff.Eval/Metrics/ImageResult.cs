namespace OvDiff.Eval.Metrics;

/// <summary>
/// One scored image's own result: what per_image.csv lists and what the HTML report ranks images by. Kept in the
/// counts file (<see cref="Running.CountsFile.Images"/>), so it survives <c>--resume</c> and merges with the shards.
/// To report more per image (e.g. a pre-filter's decisions), add a property here, fill it where the image is scored
/// (<see cref="Running.EvalRunner"/>) and add its column to <see cref="Reports.PerImageColumns"/>.
/// </summary>
/// <param name="Id">The image id.</param>
/// <param name="MeanIoU">Mean IoU over the classes present in the ground truth or the prediction (at scored pixels), 0..1; NaN when nothing was scored.</param>
/// <param name="PixelAccuracy">Correct scored pixels / scored pixels, 0..1; NaN when nothing was scored.</param>
/// <param name="ScoredPixels">Pixels whose ground truth is not the ignore label.</param>
/// <param name="GroundTruthClasses">Classes present in the ground truth, ascending.</param>
/// <param name="PredictedClasses">Classes predicted at scored pixels, ascending.</param>
public sealed record ImageResult(string Id, double MeanIoU, double PixelAccuracy, long ScoredPixels, IReadOnlyList<int> GroundTruthClasses, IReadOnlyList<int> PredictedClasses)
{
    /// <summary>
    /// What the segmenter's class pre-filter decided for this image (dataset labels); null when none ran. The reports
    /// compare its kept classes with <see cref="GroundTruthClasses"/> (pre-filter precision and recall).
    /// </summary>
    public ImagePrefilter? Prefilter { get; init; }

    /// <summary>The result of one image from its own confusion counts (row = ground truth), the same formulas as the dataset's metrics.</summary>
    public static ImageResult FromCounts(string id, ConfusionMatrix image)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(image);
        int k = image.ClassCount;
        var groundTruth = new long[k];
        var predicted = new long[k];
        long correct = 0, scored = 0;
        for (int gt = 0; gt < k; gt++)
        {
            for (int pred = 0; pred < k; pred++)
            {
                long count = image[gt, pred];
                groundTruth[gt] += count;
                predicted[pred] += count;
            }

            correct += image[gt, gt];
            scored += groundTruth[gt];
        }

        double iouSum = 0;
        int present = 0;
        for (int c = 0; c < k; c++)
        {
            long union = groundTruth[c] + predicted[c] - image[c, c];
            if (union > 0)
            {
                iouSum += (double)image[c, c] / union;
                present++;
            }
        }

        return new ImageResult(
            id,
            present == 0 ? double.NaN : iouSum / present,
            scored == 0 ? double.NaN : (double)correct / scored,
            scored,
            [.. Enumerable.Range(0, k).Where(c => groundTruth[c] > 0)],
            [.. Enumerable.Range(0, k).Where(c => predicted[c] > 0)]);
    }
}
