using OvDiff.Eval.Metrics;

namespace OvDiff.Eval.Tests.Metrics;

public sealed class ImageResultTests
{
    [Fact]
    public void FromCounts_HandWorkedImage_AveragesOverClassesInGroundTruthOrPrediction()
    {
        // gt\pred   0  1  2
        //   0       3  1  0
        //   1       2  4  0
        //   2       0  0  0   (dog in neither: not averaged)
        // IoU0 = 3 / (4 + 5 - 3) = 1/2, IoU1 = 4 / (6 + 5 - 4) = 4/7: mIoU = 15/28; pixel accuracy 7/10.
        ImageResult image = ImageResult.FromCounts("x", new ConfusionMatrix(3, [3, 1, 0, 2, 4, 0, 0, 0, 0]));

        Assert.Equal(15.0 / 28, image.MeanIoU, 12);
        Assert.Equal(0.7, image.PixelAccuracy, 12);
        Assert.Equal(10, image.ScoredPixels);
        Assert.Equal([0, 1], image.GroundTruthClasses);
        Assert.Equal([0, 1], image.PredictedClasses);
    }

    [Fact]
    public void FromCounts_ClassOnlyPredicted_CountsAsZero()
    {
        // Background (4 pixels) half predicted as dog, which is not in the ground truth: IoU0 = 2/4, IoU2 = 0/2 = 0.
        ImageResult image = ImageResult.FromCounts("y", new ConfusionMatrix(3, [2, 0, 2, 0, 0, 0, 0, 0, 0]));

        Assert.Equal(0.25, image.MeanIoU, 12);
        Assert.Equal(0.5, image.PixelAccuracy, 12);
        Assert.Equal([0], image.GroundTruthClasses);
        Assert.Equal([0, 2], image.PredictedClasses);
    }

    [Fact]
    public void FromCounts_NothingScored_IsNaN()
    {
        ImageResult image = ImageResult.FromCounts("z", new ConfusionMatrix(2));

        Assert.True(double.IsNaN(image.MeanIoU));
        Assert.True(double.IsNaN(image.PixelAccuracy));
        Assert.Empty(image.GroundTruthClasses);
    }
}
