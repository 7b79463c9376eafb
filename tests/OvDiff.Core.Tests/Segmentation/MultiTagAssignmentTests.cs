using OvDiff.Core.Features;
using OvDiff.Core.Segmentation;

namespace OvDiff.Core.Tests.Segmentation;

public sealed class MultiTagAssignmentTests
{
    // Three feature directions: chair (1,0,0), outdoor background (0,1,0), person (0,0,1); and an indoor wall
    // w = (0.9, 0.43589, 0) (unit), nearer the chair than the outdoor background.
    private const float WallX = 0.9f, WallY = 0.43589f;

    // Single-tag pools (raw sums): chair 4 x (1,0,0); person 4 x (0,0,1); background 8 outdoor cells and 2 walls.
    private static readonly (double[] Sum, long Count)[] SingleForeground = [([4, 0, 0], 4), ([0, 0, 4], 4)];
    private static readonly (double[] Sum, long Count) SingleBackground = ([2 * WallX, 8 + (2 * WallY), 0], 10);

    // A 1x4 support image tagged chair and person: a chair cell and a person cell (its split's foreground), two wall cells
    // (its split's background).
    private static readonly MultiTagImage ChairAndPerson = new(
        [0, 1],
        new ForegroundSplit(1, 4, [true, true, false, false], [false, false, true, true]),
        new FeatureMap(1, 4, 3, [1, 0, 0, 0, 0, 1, WallX, WallY, 0, WallX, WallY, 0]));

    [Fact]
    public void Assign_OneBackgroundMean_GivesTheWallToTheChair()
    {
        // Round 1: chair mean (4,0,0) + the shared foreground (1,0,1) → unit (0.98058, 0, 0.19612); person (1,0,5) → unit
        // (0.19612, 0, 0.98058); background (1.8, 8.87178, 0) + the image's walls (1.8, 0.87178, 0) → unit (0.34658, 0.93802, 0).
        // A wall has cosines 0.88252 (chair), 0.17651 (person), 0.72080 (background): chair. Round 2: chair (6.8, 0.87178, 0)
        // → unit (0.99188, 0.12716, 0), background (1.8, 8.87178, 0) → unit (0.19884, 0.98003, 0): 0.94812 against 0.60614.
        int[][] labels = MultiTagAssignment.Assign([ChairAndPerson], 2, SingleForeground, SingleBackground, iterations: 2);

        Assert.Equal([1, 2, 1, 1], labels[0]);
        Assert.Equal([true, false, true, true], MultiTagAssignment.ForegroundOf(labels[0], 0));
        Assert.Equal([false, false, false, false], MultiTagAssignment.BackgroundOf(labels[0]));
    }

    [Fact]
    public void Assign_BackgroundParts_GiveTheWallToTheBackground()
    {
        // Parts: the outdoor background and the wall. A wall has cosine 1 with its part against 0.88252 (round 1) and 0.9
        // (round 2, chair mean (1,0,0)); the chair cell has 0.98058, then 1, against the wall part's 0.9: it stays chair.
        float[] parts = [0, 1, 0, WallX, WallY, 0];
        int[][] labels = MultiTagAssignment.Assign([ChairAndPerson], 2, SingleForeground, SingleBackground, iterations: 2, parts);

        Assert.Equal([1, 2, 0, 0], labels[0]);
        Assert.Equal([true, false, false, false], MultiTagAssignment.ForegroundOf(labels[0], 0));
        Assert.Equal([false, true, false, false], MultiTagAssignment.ForegroundOf(labels[0], 1));
        Assert.Equal([false, false, true, true], MultiTagAssignment.BackgroundOf(labels[0]));
    }
}
