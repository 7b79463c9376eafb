using OvDiff.Core.Images;

namespace OvDiff.Core.Segmentation;

/// <summary>
/// The arg-max label map, with the classes that cover less than a fraction of the image dropped (their pixels go to
/// the next best label): the minimum-class-area rule.
/// </summary>
internal static class SmallClassDropping
{
    /// <summary>
    /// Arg-maxes <paramref name="scores"/> (<paramref name="planes"/> planes of <paramref name="height"/> x
    /// <paramref name="width"/>); when <paramref name="minimumArea"/> &gt; 0, classes under that fraction of the pixels are
    /// made inactive and the arg-max is taken again over the rest, until none is left under it. Plane p holds label <paramref name="labelOfPlane"/>[p]
    /// (ascending; null: label p); <paramref name="active"/> says per plane which labels stayed active.
    /// </summary>
    public static LabelMap Apply(float[] scores, int planes, int width, int height, float threshold, float minimumArea, byte[]? labelOfPlane, out bool[] active)
    {
        active = new bool[planes];
        Array.Fill(active, true);
        LabelMap result = LabelArgMax.Compute(scores, active, width, height, threshold);
        // Repeated until no class is left under the bound: the pixels of a dropped class go to their next best label,
        // which can bring a class that had none (or too few) in under the bound; it is dropped in turn.
        while (minimumArea > 0)
        {
            var area = new long[planes];
            foreach (byte label in result.Labels)
            {
                area[label]++;
            }

            bool dropped = false;
            for (int l = 1; l < planes; l++)
            {
                if (active[l] && area[l] > 0 && area[l] < minimumArea * result.PixelCount)
                {
                    active[l] = false;
                    dropped = true;
                }
            }

            if (!dropped)
            {
                break;
            }

            result = LabelArgMax.Compute(scores, active, width, height, threshold);
        }

        if (labelOfPlane is not null)
        {
            byte[] labels = result.Labels;
            for (int i = 0; i < labels.Length; i++)
            {
                labels[i] = labelOfPlane[labels[i]];
            }
        }

        return result;
    }
}
