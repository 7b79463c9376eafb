using OvDiff.Core.Images;

namespace OvDiff.Core.Segmentation;

/// <summary>
/// The arg-max label map, with the classes that cover less than a fraction of the image dropped (their pixels go to
/// the next best label): the reference's minimum-class-area rule.
/// </summary>
internal static class SmallClassDropping
{
    /// <summary>
    /// Arg-maxes <paramref name="scores"/> (<paramref name="labels"/> planes of <paramref name="height"/> x
    /// <paramref name="width"/>); when <paramref name="minimumArea"/> &gt; 0, classes under that fraction of the pixels are
    /// made inactive and the arg-max is taken again over the rest.
    /// </summary>
    public static LabelMap Apply(float[] scores, int labels, int width, int height, float threshold, float minimumArea)
    {
        var active = new bool[labels];
        Array.Fill(active, true);
        LabelMap result = LabelArgMax.Compute(scores, active, width, height, threshold);
        if (minimumArea > 0)
        {
            var area = new long[labels];
            foreach (byte label in result.Labels)
            {
                area[label]++;
            }

            bool dropped = false;
            for (int l = 1; l < labels; l++)
            {
                if (area[l] > 0 && area[l] < minimumArea * result.PixelCount)
                {
                    active[l] = false;
                    dropped = true;
                }
            }

            if (dropped)
            {
                result = LabelArgMax.Compute(scores, active, width, height, threshold);
            }
        }

        return result;
    }
}
