namespace OvDiff.Core.Numerics;

/// <summary>Binary-mask morphology on row-major grids.</summary>
public static class Morphology
{
    /// <summary>
    /// scipy.ndimage.binary_erosion with the default cross (4-connected) structuring element, border value 0,
    /// repeated <paramref name="iterations"/> times. As in scipy, <paramref name="iterations"/> below 1 repeats until
    /// the mask no longer changes.
    /// </summary>
    public static bool[] Erode(ReadOnlySpan<bool> mask, int height, int width, int iterations = 1)
    {
        int n = CheckGrid(mask.Length, height, width);
        bool[] current = mask[..n].ToArray();
        bool[] next = new bool[n];
        for (int it = 0; iterations < 1 || it < iterations; it++)
        {
            bool changed = false;
            for (int y = 0; y < height; y++)
            {
                int row = y * width;
                for (int x = 0; x < width; x++)
                {
                    int i = row + x;
                    // Outside the grid counts as 0 (border_value=0), so border cells erode whenever they are set.
                    bool keep = current[i]
                        && y > 0 && current[i - width]
                        && y < height - 1 && current[i + width]
                        && x > 0 && current[i - 1]
                        && x < width - 1 && current[i + 1];
                    next[i] = keep;
                    changed |= keep != current[i];
                }
            }

            (current, next) = (next, current);
            if (!changed)
            {
                break;
            }
        }

        return current;
    }

    /// <summary>4-connected component labels: 0 for background, 1..count for components in raster order of first pixel.</summary>
    public static int[] LabelComponents(ReadOnlySpan<bool> mask, int height, int width, out int count)
    {
        int n = CheckGrid(mask.Length, height, width);
        int[] labels = new int[n];
        int[] stack = new int[n];
        count = 0;
        for (int start = 0; start < n; start++)
        {
            if (!mask[start] || labels[start] != 0)
            {
                continue;
            }

            count++;
            Flood(mask, height, width, start, labels, count, stack);
        }

        return labels;
    }

    /// <summary>The 4-connected component of <paramref name="mask"/> containing cell <paramref name="index"/> (empty if that cell is off).</summary>
    public static bool[] ComponentContaining(ReadOnlySpan<bool> mask, int height, int width, int index)
    {
        int n = CheckGrid(mask.Length, height, width);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, n);
        bool[] result = new bool[n];
        if (!mask[index])
        {
            return result;
        }

        int[] labels = new int[n];
        Flood(mask, height, width, index, labels, 1, new int[n]);
        for (int i = 0; i < n; i++)
        {
            result[i] = labels[i] == 1;
        }

        return result;
    }

    // Depth-first fill of the 4-connected component of start with label (stack holds at most n cells).
    private static void Flood(ReadOnlySpan<bool> mask, int height, int width, int start, int[] labels, int label, int[] stack)
    {
        int top = 0;
        stack[top++] = start;
        labels[start] = label;
        while (top > 0)
        {
            int i = stack[--top];
            int y = i / width, x = i - (y * width);
            if (x > 0 && mask[i - 1] && labels[i - 1] == 0)
            {
                labels[i - 1] = label;
                stack[top++] = i - 1;
            }

            if (x < width - 1 && mask[i + 1] && labels[i + 1] == 0)
            {
                labels[i + 1] = label;
                stack[top++] = i + 1;
            }

            if (y > 0 && mask[i - width] && labels[i - width] == 0)
            {
                labels[i - width] = label;
                stack[top++] = i - width;
            }

            if (y < height - 1 && mask[i + width] && labels[i + width] == 0)
            {
                labels[i + width] = label;
                stack[top++] = i + width;
            }
        }
    }

    private static int CheckGrid(int length, int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        long n = (long)height * width;
        if (n > length)
        {
            throw new ArgumentException($"Mask needs {n} cells for {height}x{width}, has {length}.");
        }

        return (int)n;
    }
}
