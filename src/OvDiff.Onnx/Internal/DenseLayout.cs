using System.Numerics.Tensors;

namespace OvDiff.Onnx;

/// <summary>Layout helpers for dense maps: planar (CHW) crops into pixel-major (HWC), bilinear resizing, per-cell L2 normalisation.</summary>
internal static class DenseLayout
{
    /// <summary>
    /// Copies the top-left <paramref name="cropHeight"/> x <paramref name="cropWidth"/> cells of a planar
    /// [channels, height, width] tensor into <paramref name="destination"/> in HWC order with <paramref name="destinationChannels"/>
    /// values per cell, starting at channel <paramref name="channelOffset"/>.
    /// </summary>
    public static void CropPlanarToInterleaved(
        ReadOnlySpan<float> planar, int channels, int height, int width,
        int cropHeight, int cropWidth,
        Span<float> destination, int destinationChannels, int channelOffset)
    {
        for (var c = 0; c < channels; c++)
        {
            var plane = planar.Slice(c * height * width, height * width);
            for (var y = 0; y < cropHeight; y++)
            {
                var row = plane.Slice(y * width, cropWidth);
                var target = ((y * cropWidth) * destinationChannels) + channelOffset + c;
                for (var x = 0; x < cropWidth; x++)
                {
                    destination[target + (x * destinationChannels)] = row[x];
                }
            }
        }
    }

    /// <summary>
    /// Bilinear resize of a planar [channels, sourceHeight, sourceWidth] tensor, half-pixel centres
    /// (PyTorch <c>align_corners=False</c>, ONNX <c>half_pixel</c>), edges clamped.
    /// </summary>
    public static float[] ResizeBilinearPlanar(ReadOnlySpan<float> source, int channels, int sourceHeight, int sourceWidth, int height, int width)
    {
        var result = new float[channels * height * width];
        var (y0, y1, wy) = Taps(sourceHeight, height);
        var (x0, x1, wx) = Taps(sourceWidth, width);
        for (var c = 0; c < channels; c++)
        {
            var plane = source.Slice(c * sourceHeight * sourceWidth, sourceHeight * sourceWidth);
            var output = result.AsSpan(c * height * width, height * width);
            for (var y = 0; y < height; y++)
            {
                var top = plane.Slice(y0[y] * sourceWidth, sourceWidth);
                var bottom = plane.Slice(y1[y] * sourceWidth, sourceWidth);
                var fy = wy[y];
                for (var x = 0; x < width; x++)
                {
                    var fx = wx[x];
                    var upper = top[x0[x]] + ((top[x1[x]] - top[x0[x]]) * fx);
                    var lower = bottom[x0[x]] + ((bottom[x1[x]] - bottom[x0[x]]) * fx);
                    output[(y * width) + x] = upper + ((lower - upper) * fy);
                }
            }
        }

        return result;
    }

    private static (int[] Low, int[] High, float[] Weight) Taps(int sourceSize, int size)
    {
        var low = new int[size];
        var high = new int[size];
        var weight = new float[size];
        var scale = (double)sourceSize / size;
        for (var i = 0; i < size; i++)
        {
            var position = Math.Max(((i + 0.5) * scale) - 0.5, 0.0);
            var floor = Math.Min((int)position, sourceSize - 1);
            low[i] = floor;
            high[i] = Math.Min(floor + 1, sourceSize - 1);
            weight[i] = (float)(position - floor);
        }

        return (low, high, weight);
    }

    /// <summary>Scales channels [offset, offset+count) of every cell of an HWC buffer to unit L2 norm (cells with zero norm stay zero).</summary>
    public static void NormalizeCells(Span<float> interleaved, int channels, int offset, int count)
    {
        for (var start = 0; start < interleaved.Length; start += channels)
        {
            var cell = interleaved.Slice(start + offset, count);
            var norm = TensorPrimitives.Norm(cell);
            if (norm > 0f)
            {
                TensorPrimitives.Divide(cell, norm, cell);
            }
        }
    }
}
