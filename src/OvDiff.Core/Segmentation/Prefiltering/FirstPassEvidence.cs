namespace OvDiff.Core.Segmentation;

/// <summary>Builds <see cref="ClassEvidence"/> from first-pass grid scores (every class a candidate).</summary>
internal static class FirstPassEvidence
{
    /// <summary>
    /// Per grid cell of every window, the best label (scores at or below <paramref name="threshold"/> count as 0, ties to the
    /// lower label, as the final arg-max), the background's score raised by <paramref name="backgroundBias"/>; area =
    /// labelled cells / all cells; max score over all cells.
    /// </summary>
    public static ClassEvidence FromGrids(IEnumerable<(float[] Grid, int Cells)> grids, int labels, float threshold, float backgroundBias = 0f)
    {
        var area = new long[labels];
        var max = new float[labels];
        Array.Fill(max, -1f);
        long total = 0;
        foreach ((float[] grid, int cells) in grids)
        {
            total += cells;
            foreach (int label in SelfPrototypeRefinement.GridLabels(grid, cells, labels, threshold, backgroundBias))
            {
                area[label]++;
            }

            for (int l = 1; l < labels; l++)
            {
                max[l] = Math.Max(max[l], System.Numerics.Tensors.TensorPrimitives.Max(grid.AsSpan(l * cells, cells)));
            }
        }

        total = Math.Max(total, 1);
        return new ClassEvidence(
            Enumerable.Range(1, labels - 1).Select(l => (float)((double)area[l] / total)).ToArray(),
            max.Skip(1).ToArray(),
            (float)((double)area[0] / total));
    }
}
