using System.Numerics.Tensors;
using OvDiff.Core.Features;

namespace OvDiff.Core.Segmentation;

/// <summary>One support image that shows several of the fitted classes, as the fitter holds it before assignment.</summary>
/// <param name="Classes">Its tags (class indices, distinct).</param>
/// <param name="Split">Its class-agnostic foreground/background split on <paramref name="Features"/>' grid.</param>
/// <param name="Features">The first extractor's features (the split's grid).</param>
internal sealed record MultiTagImage(int[] Classes, ForegroundSplit Split, FeatureMap Features);

/// <summary>
/// Shares out the cells of support images that show several classes (all of an image's tags are used): class means start
/// from the single-tag images' foregrounds plus every multi-tag image's split foreground counted for each of its tags;
/// then, <see cref="PrototypeFitOptions.MultiTagIterations"/> times, each cell of a multi-tag image goes to whichever of
/// its tagged classes' means, or the background mean, is most similar (cosine), and the means are recomputed from the
/// assignments; a tagged class that wins no cell of an image takes the cells where it comes closest (a tag says the class
/// is there). So a person beside a horse is neither horse foreground nor horse background: it goes to person. With 0
/// iterations every tag takes the split's foreground and background (each tag fitted alone). With background parts
/// (<see cref="SharedBackground"/>) a cell is background when one of them beats its tagged classes' means.
/// </summary>
internal static class MultiTagAssignment
{
    /// <summary>Label of a cell in no mask (neither foreground nor background of the split).</summary>
    public const int Unused = -1;

    /// <summary>Label of a split-foreground cell not assigned yet (counts for every tag).</summary>
    private const int SharedForeground = -2;

    /// <summary>
    /// Per image, per cell: 0 background, c + 1 class c, <see cref="Unused"/>; and after 0 iterations
    /// <see cref="SharedForeground"/> is resolved by <see cref="ForegroundOf"/> to every tag.
    /// </summary>
    /// <param name="images">The multi-tag images.</param>
    /// <param name="classCount">Number of fitted classes.</param>
    /// <param name="singleForeground">Per class, the raw-feature sum and cell count of the single-tag images' foregrounds (first extractor).</param>
    /// <param name="singleBackground">The same over the single-tag images' backgrounds.</param>
    /// <param name="iterations">Reassignment rounds.</param>
    /// <param name="backgroundParts">
    /// Unit background vectors (rows of the first extractor's width, <see cref="SharedBackground.Vectors"/>) that a cell is
    /// compared with instead of the background mean; null = the mean of <paramref name="singleBackground"/> and the
    /// images' background cells, recomputed each round (not pooled when there are parts).
    /// </param>
    public static int[][] Assign(IReadOnlyList<MultiTagImage> images, int classCount, (double[] Sum, long Count)[] singleForeground, (double[] Sum, long Count) singleBackground, int iterations, float[]? backgroundParts = null)
    {
        int[][] labels = images.Select(image =>
        {
            var cells = new int[image.Split.Foreground.Length];
            for (int i = 0; i < cells.Length; i++)
            {
                cells[i] = image.Split.Foreground[i] ? SharedForeground : image.Split.Background[i] ? 0 : Unused;
            }

            return cells;
        }).ToArray();

        var means = new float[]?[classCount];
        for (int round = 0; round < iterations; round++)
        {
            // Means from the single-tag images plus the multi-tag images' current assignments.
            var foreground = singleForeground.Select(p => (Sum: (double[])p.Sum.Clone(), p.Count)).ToArray();
            var background = backgroundParts is null ? (Sum: (double[])singleBackground.Sum.Clone(), singleBackground.Count) : default;
            for (int m = 0; m < images.Count; m++)
            {
                FeatureMap map = images[m].Features;
                for (int cell = 0; cell < labels[m].Length; cell++)
                {
                    int label = labels[m][cell];
                    if (label == SharedForeground)
                    {
                        foreach (int c in images[m].Classes)
                        {
                            CellMeans.Add(ref foreground[c], map, cell);
                        }
                    }
                    else if (label > 0)
                    {
                        CellMeans.Add(ref foreground[label - 1], map, cell);
                    }
                    else if (label == 0 && backgroundParts is null)
                    {
                        CellMeans.Add(ref background, map, cell);
                    }
                }
            }

            // A class that lost every cell keeps its previous mean (its tags still say it is there).
            for (int c = 0; c < classCount; c++)
            {
                means[c] = foreground[c].Count == 0 ? means[c] : CellMeans.Unit(foreground[c].Sum, foreground[c].Count);
            }

            float[]? backgroundVectors = backgroundParts ?? (background.Count == 0 ? null : CellMeans.Unit(background.Sum, background.Count));
            for (int m = 0; m < images.Count; m++)
            {
                Reassign(images[m], labels[m], means, backgroundVectors);
            }
        }

        return labels;
    }

    /// <summary>
    /// Each cell to the most similar of the image's tagged classes' means or the background (the best of the background
    /// vectors: one mean, or parts). A tagged class that wins no cell (its tag says it is there) then takes the cells
    /// where it comes closest to the winner, as many as the split's foreground has per tag (at least one).
    /// </summary>
    private static void Reassign(MultiTagImage image, int[] labels, float[]?[] means, float[]? background)
    {
        FeatureMap map = image.Features;
        int cells = labels.Length;
        var similarity = new float[image.Classes.Length][];
        var best = new float[cells];
        var cell = new float[map.Channels];
        for (int t = 0; t < image.Classes.Length; t++)
        {
            similarity[t] = new float[cells];
        }

        for (int i = 0; i < cells; i++)
        {
            CellMeans.UnitCell(map, i, cell);
            best[i] = float.NegativeInfinity;
            for (int b = 0; background is not null && b < background.Length; b += map.Channels)
            {
                best[i] = MathF.Max(best[i], TensorPrimitives.Dot(cell, background.AsSpan(b, map.Channels)));
            }

            int label = background is null ? Unused : 0;
            for (int t = 0; t < image.Classes.Length; t++)
            {
                float s = means[image.Classes[t]] is { } mean ? TensorPrimitives.Dot(cell, mean) : float.NegativeInfinity;
                similarity[t][i] = s;
                if (s > best[i])
                {
                    best[i] = s;
                    label = image.Classes[t] + 1;
                }
            }

            labels[i] = label;
        }

        int share = Math.Max(1, image.Split.Foreground.Count(f => f) / image.Classes.Length);
        var given = new bool[cells];
        for (int t = 0; t < image.Classes.Length; t++)
        {
            int cls = image.Classes[t];
            if (means[cls] is null || labels.Contains(cls + 1))
            {
                continue;
            }

            float[] gap = similarity[t];
            foreach (int i in Enumerable.Range(0, cells).Where(i => !given[i]).OrderByDescending(i => gap[i] - best[i]).ThenBy(i => i).Take(share))
            {
                labels[i] = cls + 1;
                given[i] = true;
            }
        }
    }

    /// <summary>The cells of <paramref name="labels"/> that are foreground of class <paramref name="cls"/> (shared foreground counts for every tag).</summary>
    public static bool[] ForegroundOf(int[] labels, int cls) => labels.Select(l => l == cls + 1 || l == SharedForeground).ToArray();

    /// <summary>The background cells of <paramref name="labels"/>.</summary>
    public static bool[] BackgroundOf(int[] labels) => labels.Select(l => l == 0).ToArray();
}
