namespace OvDiff.Core.Segmentation;

/// <summary>
/// Finds, before any upsampling, the labels that cannot win a pixel, so that averaging, PAMR, the final upsampling and
/// the arg-max run on the others only; the label map is the same bits as with every label.
/// <para>
/// Everything after the grid scores treats labels alike and is monotone per pixel: bilinear upsampling (the same
/// non-negative weights and float operations for every label), clamping, the sum over windows, the division by the
/// window count, PAMR (the same non-negative affinities for every label) and the threshold (a score at or below it
/// becomes 0). So a label whose grid scores are all at or below the threshold (non-candidate classes score −1) never
/// beats the background's 0, and a label whose grid scores are at most another label's everywhere, in every window,
/// stays at most that label's at every pixel and never wins while that label is active (when the dominating label comes
/// later in label order, its lead must be at least <see cref="Margin"/>, far above the float rounding of those steps, so
/// that a tie, which goes to the lower label, cannot occur). The area rule can make a dominating label inactive: the
/// caller checks <see cref="Pruned.IsSafeWith"/> and recomputes with every label in the rare case it is not.
/// </para>
/// </summary>
internal static class LabelPruning
{
    /// <summary>A dominating label that comes later in label order must lead by this much at every grid cell.</summary>
    public const float Margin = 1e-3f;

    /// <summary>The labels kept, ascending, and why each other label was left out.</summary>
    /// <param name="Kept">Labels that may win (background, label 0, always).</param>
    /// <param name="Dominators">Per pruned label, the kept labels that dominate it; empty when it never exceeds the threshold.</param>
    public sealed record Pruned(int[] Kept, IReadOnlyDictionary<int, int[]> Dominators)
    {
        /// <summary>Whether every pruned label still has an active dominator once <paramref name="inactive"/> labels are dropped.</summary>
        public bool IsSafeWith(Func<int, bool> inactive) => Dominators.Values.All(d => d.Length == 0 || d.Any(l => !inactive(l)));
    }

    /// <summary>
    /// Decides which of <paramref name="labels"/> labels to keep from the windows' grid scores; null when pruning
    /// cannot be proven safe for <paramref name="threshold"/> (a negative threshold is not monotone) or nothing is pruned.
    /// </summary>
    public static Pruned? Find(IReadOnlyList<WindowScores> windows, int labels, float threshold)
    {
        if (threshold < 0 || !(threshold < 1) || labels <= 2)
        {
            return null;
        }

        var maxima = new float[labels];
        Array.Fill(maxima, float.NegativeInfinity);
        foreach (WindowScores window in windows)
        {
            int plane = window.GridHeight * window.GridWidth;
            for (int l = 0; l < labels; l++)
            {
                maxima[l] = Math.Max(maxima[l], System.Numerics.Tensors.TensorPrimitives.Max(window.Grid.AsSpan(l * plane, plane)));
            }
        }

        // Strongest labels first, so that they are the ones kept; background is always kept.
        int[] order = [.. Enumerable.Range(1, labels - 1).OrderByDescending(l => maxima[l]).ThenBy(l => l)];
        var kept = new List<int> { 0 };
        var dominators = new Dictionary<int, int[]>();
        foreach (int label in order)
        {
            if (threshold == 0 ? maxima[label] <= 0 : maxima[label] <= threshold - Margin)
            {
                dominators[label] = [];
                continue;
            }

            int[] over = [.. kept.Where(d => Dominates(windows, d, label))];
            if (over.Length > 0)
            {
                dominators[label] = over;
            }
            else
            {
                kept.Add(label);
            }
        }

        return dominators.Count == 0 ? null : new Pruned([.. kept.Order()], dominators);
    }

    /// <summary>Whether label <paramref name="d"/>'s grid scores are at least <paramref name="a"/>'s everywhere (by <see cref="Margin"/> when d comes after a).</summary>
    private static bool Dominates(IReadOnlyList<WindowScores> windows, int d, int a)
    {
        float margin = d < a ? 0f : Margin;
        foreach (WindowScores window in windows)
        {
            int plane = window.GridHeight * window.GridWidth;
            ReadOnlySpan<float> dominating = window.Grid.AsSpan(d * plane, plane);
            ReadOnlySpan<float> dominated = window.Grid.AsSpan(a * plane, plane);
            for (int i = 0; i < plane; i++)
            {
                if (!(dominated[i] + margin <= dominating[i]))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>The windows with only the <paramref name="kept"/> labels' planes, in that order.</summary>
    public static List<WindowScores> Select(IReadOnlyList<WindowScores> windows, int[] kept) =>
        [.. windows.Select(window =>
        {
            int plane = window.GridHeight * window.GridWidth;
            var grid = new float[kept.Length * plane];
            for (int k = 0; k < kept.Length; k++)
            {
                window.Grid.AsSpan(kept[k] * plane, plane).CopyTo(grid.AsSpan(k * plane, plane));
            }

            return window with { Grid = grid };
        })];
}
