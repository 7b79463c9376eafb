using System.Collections.Concurrent;
using OvDiff.Core.Features;
using OvDiff.Core.Numerics;

namespace OvDiff.Experiments;

/// <summary>Test-time augmentation on cached features: scores of the horizontally flipped image, mapped back and averaged.</summary>
internal static class Tta
{
    private static readonly ConcurrentDictionary<string, float[]> FlippedUnits = new();

    /// <summary>Scores at the base scale and (resampled to its grid) at <see cref="ImageRecord.OtherScale"/>, each optionally flip-averaged, averaged.</summary>
    public static GridScores MultiScale(ImageRecord image, Protos protos, float[] flat, bool[] candidates, bool flip, float otherWeight = 0.5f)
    {
        GridScores at(ImageRecord r) => flip ? FlipAveraged(r, protos, flat, candidates) : Engine.Score(r, protos, flat, candidates);
        GridScores base0 = at(image);
        if (image.OtherScale is null || otherWeight <= 0)
        {
            return base0;
        }

        GridScores other = at(image.OtherScale);
        int cells = base0.Height * base0.Width;
        var resampled = new float[Engine.Labels * cells];
        Resampling.BilinearPlanar(other.Planes, Engine.Labels, other.Height, other.Width, resampled, base0.Height, base0.Width);
        var planes = (float[])base0.Planes.Clone();
        for (int i = 0; i < planes.Length; i++)
        {
            if (planes[i] != -1f)
            {
                planes[i] = ((1 - otherWeight) * planes[i]) + (otherWeight * resampled[i]);
            }
        }

        return new GridScores(base0.Height, base0.Width, planes);
    }

    public static GridScores FlipAveraged(ImageRecord image, Protos protos, float[] flat, bool[] candidates)
        => FlipAveraged(image, protos, flat, candidates, 0.5f);

    /// <summary>The flipped image's scores mapped back onto the grid (weight 1 of the flipped view).</summary>
    public static GridScores FlippedView(ImageRecord image, Protos protos, float[] flat, bool[] candidates)
        => FlipAveraged(image, protos, flat, candidates, 1f);

    /// <summary>The other scale's scores resampled to the base grid.</summary>
    public static GridScores OtherScaleView(ImageRecord image, Protos protos, float[] flat, bool[] candidates)
        => MultiScale(image, protos, flat, candidates, false, 1f);

    private static GridScores FlipAveraged(ImageRecord image, Protos protos, float[] flat, bool[] candidates, float flippedWeight)
    {
        GridScores direct = Engine.Score(image, protos, flat, candidates);
        FeatureMap f = image.Flipped!;
        float[] unit = FlippedUnits.GetOrAdd($"{image.Id}/{f.Height}x{f.Width}", _ =>
        {
            float[] u = (float[])f.Data.Clone();
            Matrix.NormalizeRows(u, (int)f.CellCount, f.Channels, 1e-6f);
            return u;
        });
        var flippedRecord = new ImageRecord
        {
            Id = image.Id, Width = image.Width, Height = image.Height, ScaledWidth = image.ScaledWidth, ScaledHeight = image.ScaledHeight,
            Features = f, Unit = unit, Truth = image.Truth, Tags = image.Tags,
        };
        GridScores mirrored = Engine.Score(flippedRecord, protos, flat, candidates);
        // Flipped cell x has its centre at original grid coordinate W/s - 1 - x (s = stride): linear interpolation.
        int h = direct.Height, w = direct.Width, cells = h * w;
        double stride = (double)image.ScaledWidth / w;
        stride = Math.Pow(2, Math.Round(Math.Log2(stride)));
        double span = image.ScaledWidth / stride;
        var planes = (float[])direct.Planes.Clone();
        for (int l = 0; l < Engine.Labels; l++)
        {
            for (int y = 0; y < h; y++)
            {
                for (int u = 0; u < w; u++)
                {
                    double x = Math.Clamp(span - 1 - u, 0, w - 1);
                    int x0 = (int)Math.Floor(x), x1 = Math.Min(x0 + 1, w - 1);
                    double a = x - x0;
                    int o = (l * cells) + (y * w);
                    float d = direct.Planes[o + u];
                    if (d == -1f)
                    {
                        continue;
                    }

                    float m = (float)(((1 - a) * mirrored.Planes[o + x0]) + (a * mirrored.Planes[o + x1]));
                    planes[o + u] = ((1 - flippedWeight) * d) + (flippedWeight * m);
                }
            }
        }

        return new GridScores(h, w, planes);
    }
}
