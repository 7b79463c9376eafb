namespace OvDiff.Eval.Metrics;

/// <summary>One class's scores and counts. IoU and accuracy are fractions (0..1), NaN where undefined.</summary>
/// <param name="Name">Class name.</param>
/// <param name="IoU">Intersection / union; NaN when the class is in neither ground truth nor prediction.</param>
/// <param name="Accuracy">Intersection / ground-truth pixels; NaN when the class is absent from the ground truth.</param>
/// <param name="Intersection">Pixels of this class predicted as this class.</param>
/// <param name="Union">Ground-truth pixels + predicted pixels − intersection.</param>
/// <param name="GroundTruthPixels">Ground-truth pixels of this class (row sum).</param>
/// <param name="PredictedPixels">Scored pixels predicted as this class (column sum).</param>
public sealed record ClassScore(string Name, double IoU, double Accuracy, long Intersection, long Union, long GroundTruthPixels, long PredictedPixels);

/// <summary>
/// mmsegmentation's metrics (<c>IoUMetric</c>) from a <see cref="ConfusionMatrix"/>: per-class IoU = I/U and
/// Acc = I/GT, NaN where the denominator is zero; mIoU and mAcc are the means over the non-NaN classes; aAcc = ΣI/ΣGT;
/// fwIoU = Σ(GT_c · IoU_c)/ΣGT over the classes with a defined IoU. All fractions in 0..1 (reports multiply by 100).
/// </summary>
public sealed record SegmentationMetrics(IReadOnlyList<ClassScore> Classes, double MeanIoU, double MeanAccuracy, double PixelAccuracy, double FrequencyWeightedIoU, long ScoredPixels)
{
    /// <summary>Computes the metrics of <paramref name="matrix"/> for the named classes.</summary>
    public static SegmentationMetrics Compute(ConfusionMatrix matrix, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        ArgumentNullException.ThrowIfNull(classNames);
        int k = matrix.ClassCount;
        if (classNames.Count != k)
        {
            throw new ArgumentException($"{classNames.Count} class names for a {k}-class matrix.", nameof(classNames));
        }

        var predicted = new long[k];
        var groundTruth = new long[k];
        for (int gt = 0; gt < k; gt++)
        {
            for (int pred = 0; pred < k; pred++)
            {
                long count = matrix[gt, pred];
                groundTruth[gt] += count;
                predicted[pred] += count;
            }
        }

        var classes = new ClassScore[k];
        long totalIntersection = 0, totalGroundTruth = 0;
        double weightedIoU = 0;
        long weightedPixels = 0;
        for (int c = 0; c < k; c++)
        {
            long intersection = matrix[c, c];
            long union = groundTruth[c] + predicted[c] - intersection;
            double iou = union == 0 ? double.NaN : (double)intersection / union;
            double accuracy = groundTruth[c] == 0 ? double.NaN : (double)intersection / groundTruth[c];
            classes[c] = new ClassScore(classNames[c], iou, accuracy, intersection, union, groundTruth[c], predicted[c]);
            totalIntersection += intersection;
            totalGroundTruth += groundTruth[c];
            if (!double.IsNaN(iou))
            {
                weightedIoU += groundTruth[c] * iou;
                weightedPixels += groundTruth[c];
            }
        }

        return new SegmentationMetrics(
            classes,
            NanMean(classes.Select(c => c.IoU)),
            NanMean(classes.Select(c => c.Accuracy)),
            totalGroundTruth == 0 ? double.NaN : (double)totalIntersection / totalGroundTruth,
            weightedPixels == 0 ? double.NaN : weightedIoU / weightedPixels,
            totalGroundTruth);
    }

    private static double NanMean(IEnumerable<double> values)
    {
        double sum = 0;
        int count = 0;
        foreach (double value in values)
        {
            if (!double.IsNaN(value))
            {
                sum += value;
                count++;
            }
        }

        return count == 0 ? double.NaN : sum / count;
    }
}
