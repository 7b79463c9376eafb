using OvDiff.Eval.Metrics;

namespace OvDiff.Eval.Tests.Metrics;

public sealed class SegmentationMetricsTests
{
    private static readonly string[] Names = ["background", "cat", "dog"];

    [Fact]
    public void Compute_HandWorkedMatrixWithAbsentClass_GivesMmsegValues()
    {
        // gt\pred   0  1  2   | gt total
        //   0       3  1  0   | 4
        //   1       2  4  0   | 6
        //   2       0  0  0   | 0   (dog in neither ground truth nor prediction)
        // pred      5  5  0
        // IoU0 = 3 / (4 + 5 - 3) = 3/6 = 0.5;  IoU1 = 4 / (6 + 5 - 4) = 4/7;  IoU2 = 0/0 = NaN (excluded)
        // mIoU = (1/2 + 4/7) / 2 = 15/28.  Acc0 = 3/4, Acc1 = 4/6, mAcc = (3/4 + 2/3) / 2 = 17/24.
        // aAcc = (3 + 4) / 10 = 0.7.  fwIoU = (4 * 1/2 + 6 * 4/7) / 10 = 19/35.
        var matrix = new ConfusionMatrix(3, [3, 1, 0, 2, 4, 0, 0, 0, 0]);

        SegmentationMetrics metrics = SegmentationMetrics.Compute(matrix, Names);

        Assert.Equal(0.5, metrics.Classes[0].IoU, 12);
        Assert.Equal(4.0 / 7, metrics.Classes[1].IoU, 12);
        Assert.True(double.IsNaN(metrics.Classes[2].IoU));
        Assert.True(double.IsNaN(metrics.Classes[2].Accuracy));
        Assert.Equal(15.0 / 28, metrics.MeanIoU, 12);
        Assert.Equal(17.0 / 24, metrics.MeanAccuracy, 12);
        Assert.Equal(0.7, metrics.PixelAccuracy, 12);
        Assert.Equal(19.0 / 35, metrics.FrequencyWeightedIoU, 12);
        Assert.Equal((6L, 5L, 5L), (metrics.Classes[0].Union, metrics.Classes[0].PredictedPixels, metrics.Classes[1].PredictedPixels));
    }

    [Fact]
    public void Compute_ClassOnlyPredicted_HasZeroIoUCountedInMean()
    {
        // gt\pred   0  1  2
        //   0       2  0  2   (two background pixels predicted as dog, which never occurs in the ground truth)
        //   1       0  4  0
        //   2       0  0  0
        // IoU0 = 2 / (4 + 2 - 2) = 1/2; IoU1 = 4/4 = 1; IoU2 = 0 / (0 + 2 - 0) = 0, counted (mmseg: union > 0).
        // mIoU = (1/2 + 1 + 0) / 3 = 1/2.  Acc2 = 0/0 = NaN, so mAcc = (2/4 + 4/4) / 2 = 3/4.  aAcc = 6/8.
        var matrix = new ConfusionMatrix(3, [2, 0, 2, 0, 4, 0, 0, 0, 0]);

        SegmentationMetrics metrics = SegmentationMetrics.Compute(matrix, Names);

        Assert.Equal(0.0, metrics.Classes[2].IoU);
        Assert.Equal(0.5, metrics.MeanIoU, 12);
        Assert.Equal(0.75, metrics.MeanAccuracy, 12);
        Assert.Equal(0.75, metrics.PixelAccuracy, 12);
    }

    [Fact]
    public void PixelPairCounter_IgnoresVoidPixelsAndCountsPairs()
    {
        // gt   = 0 0 1 1 255 2      pred = 0 1 1 1 7 2   (pred 7 under a void pixel is not scored)
        // pairs: (0,0) (0,1) (1,1) (1,1) (2,2) -> matrix rows: [1 1 0], [0 2 0], [0 0 1]
        byte[] gt = [0, 0, 1, 1, 255, 2];
        byte[] pred = [0, 1, 1, 1, 7, 2];
        var matrix = new ConfusionMatrix(3);

        LabelRangeError? error = new PixelPairCounter().Accumulate(gt, pred, matrix, 255);

        Assert.Null(error);
        Assert.Equal(new long[] { 1, 1, 0, 0, 2, 0, 0, 0, 1 }, matrix.Counts);
    }

    [Fact]
    public void PixelPairCounter_GroundTruthOutOfRange_ReportsValueAndLeavesMatrixUntouched()
    {
        byte[] gt = [0, 21, 21, 1];
        byte[] pred = [0, 0, 0, 1];
        var matrix = new ConfusionMatrix(21);

        LabelRangeError? error = new PixelPairCounter().Accumulate(gt, pred, matrix, 255);

        Assert.Equal(new LabelRangeError(LabelSource.GroundTruth, 21, 2), error);
        Assert.Equal(0, matrix.Total);
    }

    [Fact]
    public void PixelPairCounter_PredictionOutOfRangeAtScoredPixel_ReportsValue()
    {
        byte[] gt = [0, 1, 1];
        byte[] pred = [0, 255, 30];
        var matrix = new ConfusionMatrix(3);

        LabelRangeError? error = new PixelPairCounter().Accumulate(gt, pred, matrix, 255);

        Assert.Equal(new LabelRangeError(LabelSource.Prediction, 30, 1), error);
        Assert.Equal(0, matrix.Total);
    }

    [Fact]
    public void ConfusionMatrix_SumOfParts_EqualsWhole()
    {
        var a = new ConfusionMatrix(2, [1, 2, 3, 4]);
        a.Add(new ConfusionMatrix(2, [10, 20, 30, long.MaxValue / 2]));
        Assert.Equal(new long[] { 11, 22, 33, 4 + (long.MaxValue / 2) }, a.Counts);
    }
}
