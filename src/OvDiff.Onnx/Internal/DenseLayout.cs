using System.Numerics.Tensors;
using OvDiff.Core.Numerics;

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
    /// Bilinear resize of a planar [channels, sourceHeight, sourceWidth] tensor into a new array, half-pixel centres
    /// (PyTorch <c>align_corners=False</c>, ONNX <c>half_pixel</c>), edges clamped: <see cref="Resampling.BilinearPlanar"/>.
    /// </summary>
    public static float[] ResizeBilinearPlanar(ReadOnlySpan<float> source, int channels, int sourceHeight, int sourceWidth, int height, int width)
    {
        var result = new float[(long)channels * height * width];
        Resampling.BilinearPlanar(source, channels, sourceHeight, sourceWidth, result, height, width);
        return result;
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
