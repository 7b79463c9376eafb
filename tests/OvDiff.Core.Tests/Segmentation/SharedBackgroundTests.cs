using OvDiff.Core.Segmentation;

namespace OvDiff.Core.Tests.Segmentation;

public sealed class SharedBackgroundTests
{
    // The indoor wall of MultiTagAssignmentTests: (0.9, 0.43589, 0), unit length.
    private const float WallX = 0.9f, WallY = 0.43589f;

    [Fact]
    public void Fit_PartsAreUnitCentroidsOfTheUnitCells()
    {
        // 8 outdoor cells of length 2 and 2 walls of length 2, in two blocks (the second block's buffer is longer than its cells).
        (float[] Cells, int Count)[] blocks =
        [
            ([0, 2, 0, 0, 2, 0, 0, 2, 0, 0, 2, 0, 0, 2, 0, 0, 2, 0], 6),
            ([0, 2, 0, 0, 2, 0, 2 * WallX, 2 * WallY, 0, 2 * WallX, 2 * WallY, 0, 9, 9, 9], 4),
        ];

        // Two parts: the two directions, each unit length (in k-means' order).
        float[] two = SharedBackground.Fit("block", blocks, 3, 2, seed: 0, TestContext.Current.CancellationToken)!.Vectors;
        Assert.Equal(6, two.Length);
        float[][] rows = [.. new[] { two[..3], two[3..] }.OrderBy(r => r[0])];
        Assert.Equal([0f, 1f, 0f], rows[0]);
        Assert.Equal(WallX, rows[1][0], 5);
        Assert.Equal(WallY, rows[1][1], 5);

        // One part: the mean of the unit cells, (0.18, 0.887178, 0) / 0.905254 = (0.19884, 0.98003, 0); the raw mean would
        // be (0.36, 1.77436, 0), the same direction here, so also check a block of unequal lengths below.
        float[] one = SharedBackground.Fit("block", blocks, 3, 1, seed: 0, TestContext.Current.CancellationToken)!.Vectors;
        Assert.Equal(0.19884f, one[0], 5);
        Assert.Equal(0.98003f, one[1], 5);
        Assert.Equal(0f, one[2]);

        // (10, 0, 0) and (0, 1, 0): unit cells average to (0.5, 0.5) → (0.70711, 0.70711); the raw mean would point along x.
        float[] unequal = SharedBackground.Fit("block", [([10, 0, 0, 0, 1, 0], 2)], 3, 1, seed: 0, TestContext.Current.CancellationToken)!.Vectors;
        Assert.Equal(0.70711f, unequal[0], 5);
        Assert.Equal(0.70711f, unequal[1], 5);

        // No background cell: no parts (the assignment then uses the one mean).
        Assert.Null(SharedBackground.Fit("block", [([], 0)], 3, 4, seed: 0, TestContext.Current.CancellationToken));
        Assert.Throws<ArgumentOutOfRangeException>(() => SharedBackground.Fit("block", blocks, 3, 0, seed: 0, TestContext.Current.CancellationToken));

        // Ctrl-C reaches its k-means (was: not checked; tens of thousands of parts ran on for minutes).
        Assert.Throws<OperationCanceledException>(() => SharedBackground.Fit("block", blocks, 3, 2, seed: 0, new CancellationToken(canceled: true)));
    }
}
