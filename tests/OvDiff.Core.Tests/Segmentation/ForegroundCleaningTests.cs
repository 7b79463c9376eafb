using OvDiff.Core.Features;
using OvDiff.Core.Segmentation;

namespace OvDiff.Core.Tests.Segmentation;

public sealed class ForegroundCleaningTests
{
    // One class, two 1x4 images with 2-D features. A: (1,0) (1,0) | (0,1) (0,1). B: (1,0) (0.2,1) | (0,1) (0,1), where
    // B's split wrongly put the background-like (0.2,1) into the foreground. "|" separates foreground from background.
    private static readonly SingleTagImage A = Image(0, [1, 0, 1, 0, 0, 1, 0, 1], [true, true, false, false]);
    private static readonly SingleTagImage B = Image(0, [1, 0, 0.2f, 1, 0, 1, 0, 1], [true, true, false, false]);

    [Fact]
    public void Clean_ForegroundCellCloserToTheClassBackground_MovesToTheBackground()
    {
        // Round 1: foreground mean (3.2, 1) / 4 → unit (0.95448, 0.29828); background mean unit (0, 1). B's second cell,
        // unit (0.19612, 0.98058), has cosines 0.47968 and 0.98058: it moves. Every (1,0) cell has 0.95448 against 0: stays.
        // Round 2: foreground (1, 0), background (0.2, 5) → nothing else moves.
        (bool[] Foreground, bool[] Background)[] masks = ForegroundCleaning.Clean([A, B], 1, rounds: 2, margin: 0.02f, TestContext.Current.CancellationToken);

        Assert.Equal([true, true, false, false], masks[0].Foreground);
        Assert.Equal([false, false, true, true], masks[0].Background);
        Assert.Equal([true, false, false, false], masks[1].Foreground);
        Assert.Equal([false, true, true, true], masks[1].Background);

        // Round 2 moved nothing, so a million rounds end there too, with the same masks.
        (bool[] Foreground, bool[] Background)[] many = ForegroundCleaning.Clean([A, B], 1, rounds: 1_000_000, margin: 0.02f, TestContext.Current.CancellationToken);
        Assert.Equal(masks.Select(m => m.Foreground), many.Select(m => m.Foreground));
        Assert.Equal(masks.Select(m => m.Background), many.Select(m => m.Background));

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => ForegroundCleaning.Clean([A, B], 1, rounds: 2, margin: 0.02f, cancelled.Token));
    }

    [Fact]
    public void Clean_NoRounds_OrAnImageThatWouldLoseItsWholeForeground_KeepsTheSplit()
    {
        (bool[] Foreground, bool[] Background)[] none = ForegroundCleaning.Clean([A, B], 1, rounds: 0, margin: 0.02f, TestContext.Current.CancellationToken);
        Assert.Equal([A.Split.Foreground, B.Split.Foreground], none.Select(m => m.Foreground));

        // Margin 0.98: every (1,0) cell (0.95448 against 0 + 0.98) would move too, so both images keep their foreground.
        (bool[] Foreground, bool[] Background)[] strict = ForegroundCleaning.Clean([A, B], 1, rounds: 1, margin: 0.98f, TestContext.Current.CancellationToken);
        Assert.Equal([A.Split.Foreground, B.Split.Foreground], strict.Select(m => m.Foreground));
        Assert.Equal([A.Split.Background, B.Split.Background], strict.Select(m => m.Background));
    }

    [Fact]
    public void Clean_ClassesAreCleanedWithTheirOwnMeans()
    {
        // B alone in class 1: its own foreground mean (1.2, 1) → unit (0.76822, 0.64018) and background (0, 1). Its second
        // cell has cosines 0.77842 against 0.98058 and moves; its first cell 0.76822 against 0 stays. A (class 0) is clean.
        // With B in class 0 beside A the same cell moved for another reason (the first test); here class 0's means would
        // not move it: A's foreground is pure (1, 0).
        (bool[] Foreground, bool[] Background)[] masks = ForegroundCleaning.Clean([A, B with { Class = 1 }], 2, rounds: 1, margin: 0.02f, TestContext.Current.CancellationToken);
        Assert.Equal([true, true, false, false], masks[0].Foreground);
        Assert.Equal([true, false, false, false], masks[1].Foreground);

        // A class without background cells (a split with no background) is left as it is.
        SingleTagImage noBackground = Image(1, [1, 0, 0.2f, 1], [true, true]);
        Assert.Equal([true, true], ForegroundCleaning.Clean([noBackground], 2, rounds: 2, margin: 0.02f, TestContext.Current.CancellationToken)[0].Foreground);
    }

    private static SingleTagImage Image(int cls, float[] features, bool[] foreground) =>
        new(cls, new ForegroundSplit(1, foreground.Length, foreground, [.. foreground.Select(f => !f)]), new FeatureMap(1, foreground.Length, 2, features));
}
