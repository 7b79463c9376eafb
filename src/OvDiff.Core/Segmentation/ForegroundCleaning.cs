using System.Numerics.Tensors;
using OvDiff.Core.Features;

namespace OvDiff.Core.Segmentation;

/// <summary>One support image fitted with a single class, as the fitter holds it before cleaning.</summary>
/// <param name="Class">Its class index.</param>
/// <param name="Split">Its class-agnostic foreground/background split on <paramref name="Features"/>' grid.</param>
/// <param name="Features">The first extractor's features (the split's grid).</param>
internal sealed record SingleTagImage(int Class, ForegroundSplit Split, FeatureMap Features);

/// <summary>
/// Co-segmentation of a class's support images (not in the reference): the class-agnostic split of one image cannot know
/// what the class looks like, but the class's other support images can. Each round, every class's foreground and
/// background means are taken over all its single-tag images (unit length, first extractor), and a foreground cell whose
/// cosine to the foreground mean does not exceed its cosine to the background mean by <c>margin</c> moves to the
/// background; an image whose foreground would empty keeps the foreground it had. Chosen by cross-validation with ResNet18
/// (docs/results.md): 2 rounds, margin 0.02.
/// </summary>
internal static class ForegroundCleaning
{
    /// <summary>
    /// The cleaned (foreground, background) masks of <paramref name="images"/>, in order; the splits are not changed. A
    /// round that moves no cell ends the cleaning (the next would compute the same means), so large round counts cost no
    /// more than the rounds that change something.
    /// </summary>
    public static (bool[] Foreground, bool[] Background)[] Clean(IReadOnlyList<SingleTagImage> images, int classCount, int rounds, float margin, CancellationToken cancellationToken = default)
    {
        var masks = images.Select(i => ((bool[])i.Split.Foreground.Clone(), (bool[])i.Split.Background.Clone())).ToArray();
        for (int round = 0; round < rounds; round++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var foreground = new (double[] Sum, long Count)[classCount];
            var background = new (double[] Sum, long Count)[classCount];
            for (int m = 0; m < images.Count; m++)
            {
                FeatureMap map = images[m].Features;
                int c = images[m].Class;
                foreground[c].Sum ??= new double[map.Channels];
                background[c].Sum ??= new double[map.Channels];
                for (int cell = 0; cell < masks[m].Item1.Length; cell++)
                {
                    if (masks[m].Item1[cell])
                    {
                        CellMeans.Add(ref foreground[c], map, cell);
                    }
                    else if (masks[m].Item2[cell])
                    {
                        CellMeans.Add(ref background[c], map, cell);
                    }
                }
            }

            var foregroundMean = new float[]?[classCount];
            var backgroundMean = new float[]?[classCount];
            for (int c = 0; c < classCount; c++)
            {
                if (foreground[c].Count > 0 && background[c].Count > 0)
                {
                    foregroundMean[c] = CellMeans.Unit(foreground[c].Sum, foreground[c].Count);
                    backgroundMean[c] = CellMeans.Unit(background[c].Sum, background[c].Count);
                }
            }

            bool moved = false;
            for (int m = 0; m < images.Count; m++)
            {
                if (foregroundMean[images[m].Class] is { } f && backgroundMean[images[m].Class] is { } b)
                {
                    (bool[] Foreground, bool[] Background) cleaned = Clean(images[m].Features, masks[m].Item1, masks[m].Item2, f, b, margin);
                    moved |= !cleaned.Foreground.AsSpan().SequenceEqual(masks[m].Item1);
                    masks[m] = cleaned;
                }
            }

            if (!moved)
            {
                break;
            }
        }

        return masks;
    }

    private static (bool[] Foreground, bool[] Background) Clean(FeatureMap map, bool[] foreground, bool[] background, float[] foregroundMean, float[] backgroundMean, float margin)
    {
        var cleanForeground = (bool[])foreground.Clone();
        var cleanBackground = (bool[])background.Clone();
        var cell = new float[map.Channels];
        bool any = false;
        for (int i = 0; i < foreground.Length; i++)
        {
            if (!foreground[i])
            {
                continue;
            }

            CellMeans.UnitCell(map, i, cell);
            if (TensorPrimitives.Dot(cell, foregroundMean) < TensorPrimitives.Dot(cell, backgroundMean) + margin)
            {
                cleanForeground[i] = false;
                cleanBackground[i] = true;
            }
            else
            {
                any = true;
            }
        }

        return any ? (cleanForeground, cleanBackground) : (foreground, background);
    }
}
