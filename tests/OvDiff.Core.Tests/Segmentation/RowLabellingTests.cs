using OvDiff.Core.Images;
using OvDiff.Core.Numerics;
using OvDiff.Core.Segmentation;

namespace OvDiff.Core.Tests.Segmentation;

/// <summary>
/// RowLabelling (resample, arg-max and the area rule, row by row) against the plain route: BilinearPlanar to the image's
/// size, then a per-pixel arg-max over the active planes, recomputed over every pixel after each drop.
/// </summary>
public sealed class RowLabellingTests
{
    [Theory]
    [InlineData(1, 6, 5, 150, 120, 6, 0f, 0f)]        // upsampled, parallel chunks, no area rule
    [InlineData(2, 6, 5, 150, 120, 6, 0f, 0.08f)]     // regions: a few dropped, their rows labelled again
    [InlineData(3, 40, 33, 29, 11, 5, -0.2f, 0.1f)]   // downsampled, negative threshold
    [InlineData(4, 9, 7, 9, 7, 4, 0.3f, 0.2f)]        // same size: rows read as they are
    [InlineData(5, 23, 31, 301, 203, 9, 0.05f, 0.03f)] // cascades over many rows
    public void Label_EqualsResizeThenPlainArgMaxWithAreaRule(int seed, int sourceWidth, int sourceHeight, int width, int height, int planes, float threshold, float minimumArea)
    {
        var random = new Random(seed);
        var source = new float[planes * sourceWidth * sourceHeight];
        int sourcePlane = sourceWidth * sourceHeight;
        for (int i = 0; i < source.Length; i++)
        {
            source[i] = (float)((random.NextDouble() * 2) - 1 - (0.12 * (i / sourcePlane))); // later planes win less: some fall under the bound
        }

        source[random.Next(source.Length)] = float.NaN;
        byte[] labelOfPlane = [.. Enumerable.Range(0, planes).Select(p => (byte)(p * 3))];

        LabelMap actual = RowLabelling.Label(new PlanarScoreRows(source, sourceHeight, sourceWidth), planes, width, height, threshold, minimumArea, labelOfPlane, out bool[] active);

        var resized = new float[planes * width * height];
        Resampling.BilinearPlanar(source, planes, sourceHeight, sourceWidth, resized, height, width);
        (byte[] expected, bool[] expectedActive) = PlainLabels(resized, planes, width, height, threshold, minimumArea);
        Assert.Equal(expected.Select(p => labelOfPlane[p]), actual.Labels);
        Assert.Equal(expectedActive, active);
        if (minimumArea > 0 && seed != 4)
        {
            Assert.Contains(false, active); // the area rule ran
        }
    }

    [Fact]
    public void Label_DroppingAClass_RelabelsOnlyItsPixels_AndKeepsTheRest()
    {
        // 20 x 10, three labels; class 1 wins a 2 x 2 patch (2 %), class 2 everything but the patch and row 9 where
        // the background wins. With a 5 % bound class 1 goes: its patch falls to whichever of background and 2 is next.
        const int width = 20, height = 10, plane = width * height;
        var scores = new float[3 * plane];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int i = (y * width) + x;
                bool patch = y is 4 or 5 && x is 7 or 8;
                scores[i] = y == 9 ? 0.9f : (patch && x == 7 ? 0.6f : 0.2f);
                scores[plane + i] = patch ? 0.8f : 0.1f;
                scores[(2 * plane) + i] = 0.5f;
            }
        }

        LabelMap labels = RowLabelling.Label(new PlanarScoreRows(scores, height, width), 3, width, height, 0f, 0.05f, null, out bool[] active);

        Assert.Equal([true, false, true], active);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int expected = y == 9 || (y is 4 or 5 && x == 7) ? 0 : 2;
                Assert.Equal(expected, labels.Labels[(y * width) + x]);
            }
        }
    }

    /// <summary>The plain route: per pixel the best thresholded score over active planes (background when none is above), every pixel again after each drop.</summary>
    private static (byte[] Labels, bool[] Active) PlainLabels(float[] scores, int planes, int width, int height, float threshold, float minimumArea)
    {
        int plane = width * height;
        var active = Enumerable.Repeat(true, planes).ToArray();
        var labels = new byte[plane];
        while (true)
        {
            for (int i = 0; i < plane; i++)
            {
                float best = scores[i] > threshold ? scores[i] : 0f;
                int winner = 0;
                for (int p = 1; p < planes; p++)
                {
                    float s = scores[(p * plane) + i];
                    s = s > threshold ? s : 0f;
                    if (active[p] && s > best)
                    {
                        (best, winner) = (s, p);
                    }
                }

                labels[i] = (byte)winner;
            }

            if (minimumArea <= 0)
            {
                return (labels, active);
            }

            var area = new long[planes];
            foreach (byte label in labels)
            {
                area[label]++;
            }

            bool dropped = false;
            for (int p = 1; p < planes; p++)
            {
                if (active[p] && area[p] > 0 && area[p] < minimumArea * (long)plane)
                {
                    active[p] = false;
                    dropped = true;
                }
            }

            if (!dropped)
            {
                return (labels, active);
            }
        }
    }
}
