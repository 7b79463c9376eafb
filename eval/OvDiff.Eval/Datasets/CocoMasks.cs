namespace OvDiff.Eval.Datasets;

/// <summary>
/// COCO's mask encodings, decoded exactly as pycocotools' <c>maskApi.c</c> does: run-length counts over the
/// column-major (Fortran-order) pixel sequence, starting with a run of zeros; compressed RLE strings (LEB128-like
/// 5-bit groups offset by 48, counts after the second stored as differences); and polygons rasterised by
/// <c>rleFrPoly</c> (boundary traced at 5× resolution, then filled between its y-crossings).
/// </summary>
public static class CocoMasks
{
    /// <summary>Decodes a compressed RLE string into run lengths.</summary>
    public static uint[] DecodeCompressedCounts(string encoded)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        var counts = new List<uint>(encoded.Length);
        int position = 0;
        while (position < encoded.Length)
        {
            long value = 0;
            int group = 0;
            bool more = true;
            while (more)
            {
                if (position >= encoded.Length)
                {
                    throw new FormatException("Compressed RLE string ends inside a count.");
                }

                int c = encoded[position] - 48;
                value |= (long)(c & 0x1f) << (5 * group);
                more = (c & 0x20) != 0;
                position++;
                group++;
                if (!more && (c & 0x10) != 0)
                {
                    value |= -1L << (5 * group);
                }
            }

            if (counts.Count > 2)
            {
                value += counts[^2];
            }

            counts.Add((uint)value);
        }

        return [.. counts];
    }

    /// <summary>pycocotools' <c>rleFrPoly</c>: the run lengths of polygon <paramref name="xy"/> (x0, y0, x1, y1, …) on an h×w grid.</summary>
    public static uint[] PolygonToCounts(ReadOnlySpan<double> xy, int height, int width)
    {
        int k = xy.Length / 2;
        if (k < 1)
        {
            return [(uint)(height * width)];
        }

        const double scale = 5;
        var x = new int[k + 1];
        var y = new int[k + 1];
        for (int j = 0; j < k; j++)
        {
            x[j] = (int)((scale * xy[j * 2]) + .5);
            y[j] = (int)((scale * xy[(j * 2) + 1]) + .5);
        }

        x[k] = x[0];
        y[k] = y[0];
        int m = 0;
        for (int j = 0; j < k; j++)
        {
            m += Math.Max(Math.Abs(x[j] - x[j + 1]), Math.Abs(y[j] - y[j + 1])) + 1;
        }

        var u = new int[m];
        var v = new int[m];
        m = 0;
        for (int j = 0; j < k; j++)
        {
            int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
            int dx = Math.Abs(xe - xs), dy = Math.Abs(ys - ye);
            bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
            if (flip)
            {
                (xs, xe) = (xe, xs);
                (ys, ye) = (ye, ys);
            }

            double s = dx >= dy ? (double)(ye - ys) / dx : (double)(xe - xs) / dy;
            if (dx >= dy)
            {
                for (int d = 0; d <= dx; d++)
                {
                    int t = flip ? dx - d : d;
                    u[m] = t + xs;
                    v[m] = (int)(ys + (s * t) + .5);
                    m++;
                }
            }
            else
            {
                for (int d = 0; d <= dy; d++)
                {
                    int t = flip ? dy - d : d;
                    v[m] = t + ys;
                    u[m] = (int)(xs + (s * t) + .5);
                    m++;
                }
            }
        }

        int total = m;
        var boundary = new List<uint>(total + 1);
        for (int j = 1; j < total; j++)
        {
            if (u[j] == u[j - 1])
            {
                continue;
            }

            double xd = u[j] < u[j - 1] ? u[j] : u[j] - 1;
            xd = ((xd + .5) / scale) - .5;
            if (Math.Floor(xd) != xd || xd < 0 || xd > width - 1)
            {
                continue;
            }

            double yd = v[j] < v[j - 1] ? v[j] : v[j - 1];
            yd = ((yd + .5) / scale) - .5;
            yd = yd < 0 ? 0 : yd > height ? height : yd;
            yd = Math.Ceiling(yd);
            boundary.Add((uint)(((int)xd * height) + (int)yd));
        }

        boundary.Add((uint)(height * width));
        boundary.Sort();
        var a = boundary.ToArray();
        uint previous = 0;
        for (int j = 0; j < a.Length; j++)
        {
            uint t = a[j];
            a[j] -= previous;
            previous = t;
        }

        var b = new List<uint>(a.Length) { a[0] };
        for (int j = 1; j < a.Length;)
        {
            if (a[j] > 0)
            {
                b.Add(a[j++]);
            }
            else
            {
                j++;
                if (j < a.Length)
                {
                    b[^1] += a[j++];
                }
            }
        }

        return [.. b];
    }

    /// <summary>Writes <paramref name="value"/> into every pixel that <paramref name="counts"/> marks, in a row-major w×h map.</summary>
    public static void Paint(ReadOnlySpan<uint> counts, Span<byte> labels, int height, int width, byte value)
    {
        long total = (long)height * width;
        long position = 0;
        for (int run = 0; run < counts.Length; run++)
        {
            long end = Math.Min(position + counts[run], total);
            if ((run & 1) == 1)
            {
                for (long p = position; p < end;)
                {
                    int column = (int)(p / height);
                    int row = (int)(p % height);
                    int stop = (int)Math.Min(end - p, height - row);
                    for (int r = 0; r < stop; r++)
                    {
                        labels[((row + r) * width) + column] = value;
                    }

                    p += stop;
                }
            }

            position = end;
        }
    }
}
