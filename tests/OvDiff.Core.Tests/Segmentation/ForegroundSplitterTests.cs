using OvDiff.Core.Segmentation;

namespace OvDiff.Core.Tests.Segmentation;

public sealed class ForegroundSplitterTests
{
    private static int[] Cells(bool[] mask) => mask.Select((m, i) => (m, i)).Where(t => t.m).Select(t => t.i).ToArray();

    [Fact]
    public void RankSegments_TopSegmentIsForeground_LowestBelowThresholdErodedIsBackground()
    {
        // 6x6 grid. Mask A = column 0, mask B = columns 2..5, remainder (segment 0) = column 1.
        // Attribution: A 0.9, remainder 0.5, B 0.1 except (2,3) = 0.3.
        // Scores: A 0.9; remainder 0.5; B (23·0.1 + 0.3) / 24 ≈ 0.108 → top = A, bottom = B.
        const int h = 6, w = 6;
        var a = new bool[h * w];
        var b = new bool[h * w];
        var attribution = new float[h * w];
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < w; x++)
            {
                int i = (y * w) + x;
                a[i] = x == 0;
                b[i] = x >= 2;
                attribution[i] = x == 0 ? 0.9f : x == 1 ? 0.5f : 0.1f;
            }
        }

        attribution[(2 * w) + 3] = 0.3f;
        ForegroundSplit split = ForegroundSplitter.RankSegments([a, new bool[h * w], b], attribution, h, w, new PrototypeFitOptions());

        Assert.Equal([0, 6, 12, 18, 24, 30], Cells(split.Foreground));

        // Background before erosion: B minus (2,3) (attribution 0.3 ≥ 0.2). One cross erosion with zero border keeps a cell
        // only if its 4 neighbours are in the grid and background: column 2 touches the remainder, column 5 the border,
        // row 0/5 the border, and (1,3), (2,4), (3,3) touch the hole at (2,3). Left: (1,4), (3,4), (4,3), (4,4).
        Assert.Equal([10, 22, 27, 28], Cells(split.Background));
        Assert.Equal((h, w), (split.Height, split.Width));
    }

    [Fact]
    public void RankSegments_OverlappingCell_GoesToTheHigherScoringSegment()
    {
        // 1x4 grid, no erosion. A = {0, 1} (attr 0.9, 0.9 → 0.9), B = {1, 2} (0.9, 0.0 → 0.45), remainder = {3} (0.1).
        // Cell 1 is in A and B → A. Top = A {0, 1}; bottom = remainder {3} (0.1 < 0.2 → background); cell 2 is B's → neither.
        ForegroundSplit split = ForegroundSplitter.RankSegments(
            [[true, true, false, false], [false, true, true, false]],
            [0.9f, 0.9f, 0f, 0.1f],
            1,
            4,
            new PrototypeFitOptions { BackgroundErosion = 0 });
        Assert.Equal([true, true, false, false], split.Foreground);
        Assert.Equal([false, false, false, true], split.Background);
    }

    [Fact]
    public void RankSegments_NoMasks_FallsBackToAttributionThresholds()
    {
        // 5x5, attribution 0.1 everywhere except (0,0) = 0.5 and (2,2) = 0.9. FG = attr > 0.5 → only cell 12 (0.5 is not
        // above 0.5). BG = attr < 0.2 → all but cells 0 and 12, then eroded: of the interior 3x3 only the corners
        // (1,1), (1,3), (3,1), (3,3) keep all four neighbours (the others touch cell 12).
        var attribution = Enumerable.Repeat(0.1f, 25).ToArray();
        attribution[0] = 0.5f;
        attribution[12] = 0.9f;
        foreach (IReadOnlyList<bool[]> masks in new[] { Array.Empty<bool[]>(), [new bool[25]] })
        {
            ForegroundSplit split = ForegroundSplitter.RankSegments(masks, attribution, 5, 5, new PrototypeFitOptions());
            Assert.Equal([12], Cells(split.Foreground));
            Assert.Equal([6, 8, 16, 18], Cells(split.Background));
        }
    }

    [Fact]
    public void ResampleMask_BilinearThenAnyPositive()
    {
        bool[] same = [true, false, false, true];
        Assert.Same(same, ForegroundSplitter.ResampleMask(same, 2, 2, 2, 2));

        // 2x2 → 4x4, align_corners=False: source coordinate (o + 0.5) / 2 − 0.5 = −0.25→0, 0.25, 0.75, 1.25 (clamped to 1,
        // no weight on 0). Top-left cell's weight per axis: 1, 0.75, 0.25, 0 → positive on the 3x3 top-left block.
        bool[] up = ForegroundSplitter.ResampleMask([true, false, false, false], 2, 2, 4, 4);
        Assert.Equal(
            [true, true, true, false, true, true, true, false, true, true, true, false, false, false, false, false],
            up);

        // 4x4 → 2x2: source (o + 0.5) · 2 − 0.5 = 0.5, 2.5: output 0 blends cells 0 and 1 half-half → a set (0,0) gives
        // 0.25 > 0 at output (0,0) only.
        var single = new bool[16];
        single[0] = true;
        Assert.Equal([true, false, false, false], ForegroundSplitter.ResampleMask(single, 4, 4, 2, 2));

        // A set (3,3) reaches output (1,1) only (source 2.5 blends cells 2 and 3).
        var corner = new bool[16];
        corner[15] = true;
        Assert.Equal([false, false, false, true], ForegroundSplitter.ResampleMask(corner, 4, 4, 2, 2));
    }

    [Fact]
    public void SplitNone_AllForegroundNoBackground()
    {
        var features = new Features.FeatureMap(2, 3, 2, new float[12]);
        ForegroundSplit split = ForegroundSplitter.Split(features, null, new PrototypeFitOptions { Split = ForegroundSplitMode.None });
        Assert.All(split.Foreground, Assert.True);
        Assert.All(split.Background, Assert.False);
    }
}
