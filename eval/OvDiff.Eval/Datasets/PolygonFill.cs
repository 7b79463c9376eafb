namespace OvDiff.Eval.Datasets;

/// <summary>
/// Fills a polygon into a label map exactly as Pillow's <c>ImageDraw.polygon(xy, fill=v)</c> does on an 8-bit image
/// (Pillow 9.4 Draw.c <c>polygon_generic</c>: vertices truncated to int, consecutive horizontal edges merged,
/// single-precision scan-line crossings, spans from round-up of the left crossing to round-down of the right,
/// horizontal edges drawn as spans, discontiguous corners connected). It reproduces every pixel of the masks of
/// ../shared/data/coco-object-mini, which were made with Pillow; pycocotools' <see cref="CocoMasks.PolygonToCounts"/>
/// agrees with them on 99.63% of pixels.
/// </summary>
public static class PolygonFill
{
    private readonly record struct Edge(int XMin, int XMax, int YMin, int YMax, int X0, int Y0, float Dx);

    /// <summary>Fills polygon <paramref name="xy"/> (x0, y0, x1, y1, …) with <paramref name="value"/> in a row-major width×height map.</summary>
    public static void Fill(ReadOnlySpan<double> xy, Span<byte> labels, int width, int height, byte value)
    {
        int count = xy.Length / 2;
        if (count <= 0)
        {
            return;
        }

        // Pillow's _imaging.c truncates the vertices to int.
        var points = new int[count * 2];
        for (int i = 0; i < points.Length; i++)
        {
            points[i] = (int)xy[i];
        }

        var edges = new List<Edge>(count);
        int last = 0;
        for (; last < count - 1; last++)
        {
            int x0 = points[last * 2], y0 = points[(last * 2) + 1], x1 = points[(last * 2) + 2], y1 = points[(last * 2) + 3];
            if (y0 == y1 && last != 0 && y0 == points[(last * 2) - 1])
            {
                // A horizontal edge right after another one in the same direction extends it.
                int previousX = points[(last * 2) - 2];
                if (x1 > x0 && x0 > previousX)
                {
                    edges[^1] = edges[^1] with { XMax = x1 };
                    continue;
                }

                if (x1 < x0 && x0 < previousX)
                {
                    edges[^1] = edges[^1] with { XMin = x1 };
                    continue;
                }
            }

            edges.Add(MakeEdge(x0, y0, x1, y1));
        }

        if (points[last * 2] != points[0] || points[(last * 2) + 1] != points[1])
        {
            edges.Add(MakeEdge(points[last * 2], points[(last * 2) + 1], points[0], points[1]));
        }

        FillEdges(edges, labels, width, height, value);
    }

    private static Edge MakeEdge(int x0, int y0, int x1, int y1) =>
        new(Math.Min(x0, x1), Math.Max(x0, x1), Math.Min(y0, y1), Math.Max(y0, y1), x0, y0, y0 == y1 ? 0f : (float)(x1 - x0) / (y1 - y0));

    private static float CrossingAt(in Edge edge, int y) => ((y - edge.Y0) * edge.Dx) + edge.X0;

    private static void FillEdges(List<Edge> edges, Span<byte> labels, int width, int height, byte value)
    {
        int yMin = height - 1, yMax = 0;
        var sloped = new List<Edge>(edges.Count);
        foreach (Edge edge in edges)
        {
            yMin = Math.Min(yMin, edge.YMin);
            yMax = Math.Max(yMax, edge.YMax);
            if (edge.YMin == edge.YMax)
            {
                HorizontalLine(labels, width, height, edge.XMin, edge.YMin, edge.XMax, value);
                continue;
            }

            sloped.Add(edge);
        }

        yMin = Math.Max(yMin, 0);
        yMax = Math.Min(yMax, height);
        var crossings = new float[sloped.Count * 2];
        for (int y = yMin; y <= yMax; y++)
        {
            int j = 0;
            for (int i = 0; i < sloped.Count; i++)
            {
                Edge current = sloped[i];
                if (y < current.YMin || y > current.YMax)
                {
                    continue;
                }

                crossings[j++] = CrossingAt(current, y);
                if (y == current.YMax && y < yMax)
                {
                    crossings[j] = crossings[j - 1];
                    j++;
                }
                else if (current.Dx != 0 && MathF.Round(crossings[j - 1], MidpointRounding.AwayFromZero) == crossings[j - 1])
                {
                    ConnectCorner(sloped, i, y, yMax, crossings, j);
                }
            }

            Array.Sort(crossings, 0, j);
            for (int i = 1; i < j; i += 2)
            {
                HorizontalLine(labels, width, height, RoundUp(crossings[i - 1]), y, RoundDown(crossings[i]), value);
            }
        }
    }

    /// <summary>
    /// Pillow 9's "connect discontiguous corners": where two edges sloping the same way meet at an integer crossing,
    /// a crossing is moved next to the adjacent row's. Pillow writes it at the other edge's index in the crossing list
    /// (not at that edge's crossing); this reproduces that exactly, as Pillow-made masks depend on it.
    /// </summary>
    private static void ConnectCorner(List<Edge> sloped, int currentIndex, int y, int yMax, float[] crossings, int count)
    {
        Edge current = sloped[currentIndex];
        float crossing = crossings[count - 1];
        for (int k = 0; k < currentIndex; k++)
        {
            Edge other = sloped[k];
            if ((current.Dx > 0 && other.Dx <= 0) || (current.Dx < 0 && other.Dx >= 0))
            {
                continue;
            }

            bool sharedEnd = (y == current.YMin && y == other.YMin) || (y == current.YMax && y == other.YMax);
            if (!sharedEnd || crossing != CrossingAt(other, y))
            {
                continue;
            }

            int offset = y == yMax ? -1 : 1;
            float adjacent = CrossingAt(current, y + offset);
            float adjacentOther = CrossingAt(other, y + offset);
            crossings[k] = y == current.YMax
                ? (current.Dx > 0 ? MathF.Max(adjacent, adjacentOther) + 1 : MathF.Min(adjacent, adjacentOther) - 1)
                : (current.Dx > 0 ? MathF.Min(adjacent, adjacentOther) : MathF.Max(adjacent, adjacentOther) + 1);
            break;
        }
    }

    private static void HorizontalLine(Span<byte> labels, int width, int height, int x0, int y, int x1, byte value)
    {
        if (y < 0 || y >= height)
        {
            return;
        }

        if (x0 > x1)
        {
            (x0, x1) = (x1, x0);
        }

        if (x0 >= width || x1 < 0)
        {
            return;
        }

        x0 = Math.Max(x0, 0);
        x1 = Math.Min(x1, width - 1);
        labels.Slice((y * width) + x0, x1 - x0 + 1).Fill(value);
    }

    private static int RoundUp(float f) => (int)(f >= 0 ? MathF.Floor(f + 0.5f) : -MathF.Floor(MathF.Abs(f) + 0.5f));

    private static int RoundDown(float f) => (int)(f >= 0 ? MathF.Ceiling(f - 0.5f) : -MathF.Ceiling(MathF.Abs(f) - 0.5f));
}
