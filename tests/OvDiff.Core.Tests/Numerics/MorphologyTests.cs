using OvDiff.Core.Numerics;

namespace OvDiff.Core.Tests.Numerics;

public sealed class MorphologyTests
{
    private static bool[] Parse(params string[] rows) => string.Concat(rows).Select(c => c == '#').ToArray();

    [Fact]
    public void Erode_MatchesScipyCrossWithZeroBorder()
    {
        // scipy.ndimage.binary_erosion(np.ones((4,5))) keeps only cells whose 4 neighbours are all inside and set:
        // the interior 2x3 block.
        bool[] mask = Parse("#####", "#####", "#####", "#####");
        bool[] eroded = Morphology.Erode(mask, 4, 5);
        Assert.Equal(Parse(".....", ".###.", ".###.", "....."), eroded);
    }

    [Fact]
    public void Erode_CrossNotSquare_DiagonalHoleDoesNotErode()
    {
        // Hole at (1,1): its 4-neighbours (1,2) and (2,1) erode; (1,3), (2,2) and (3,1) only have it diagonally and
        // (cross structure) stay; the outer ring erodes against the zero border.
        bool[] mask = Parse(
            "#####",
            "#.###",
            "#####",
            "#####",
            "#####");
        bool[] eroded = Morphology.Erode(mask, 5, 5);
        Assert.Equal(Parse(".....", "...#.", "..##.", ".###.", "....."), eroded);
    }

    [Fact]
    public void Erode_Iterations_RepeatAndZeroMeansUntilStable()
    {
        bool[] mask = Parse("#####", "#####", "#####", "#####", "#####");
        // 5x5 full: one pass -> 3x3 interior; two passes -> the centre; three -> empty.
        Assert.Equal(Parse(".....", ".....", "..#..", ".....", "....."), Morphology.Erode(mask, 5, 5, 2));
        Assert.All(Morphology.Erode(mask, 5, 5, 0), Assert.False);
    }

    [Fact]
    public void LabelComponents_FourConnectivity_RasterOrder()
    {
        bool[] mask = Parse(
            "..#.#",
            "##..#",
            "#.#..",
            "...##");
        int[] labels = Morphology.LabelComponents(mask, 4, 5, out int count);
        // First pixels in raster order: (0,2)->1, (0,4)->2, (1,0)->3, (2,2)->4 (diagonal to nothing), (3,3)->5.
        Assert.Equal(5, count);
        Assert.Equal(
            [0, 0, 1, 0, 2,
             3, 3, 0, 0, 2,
             3, 0, 4, 0, 0,
             0, 0, 0, 5, 5], labels);
    }

    [Fact]
    public void ComponentContaining_ReturnsOnlyThatComponent_OrEmpty()
    {
        bool[] mask = Parse("##.#", "#..#", "..##");
        Assert.Equal(Parse("##..", "#...", "...."), Morphology.ComponentContaining(mask, 3, 4, 4));
        Assert.Equal(Parse("...#", "...#", "..##"), Morphology.ComponentContaining(mask, 3, 4, 3));
        Assert.All(Morphology.ComponentContaining(mask, 3, 4, 2), Assert.False);
    }
}
