namespace OvDiff.Core.Features;

/// <summary>
/// A dense feature map in pixel-major (HWC) layout: the <see cref="Channels"/> values of one grid cell are contiguous,
/// so matching against prototypes is one (cells x channels) by (channels x prototypes) matrix product.
/// </summary>
public sealed class FeatureMap
{
    /// <summary>Creates a map over <paramref name="data"/> (length height * width * channels); the array is not copied.</summary>
    public FeatureMap(int height, int width, int channels, float[] data)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentNullException.ThrowIfNull(data);
        if (data.LongLength != (long)height * width * channels)
        {
            throw new ArgumentException($"Expected {(long)height * width * channels} values for a {height}x{width}x{channels} map, got {data.LongLength}.", nameof(data));
        }

        Height = height;
        Width = width;
        Channels = channels;
        Data = data;
    }

    /// <summary>Grid height (rows).</summary>
    public int Height { get; }

    /// <summary>Grid width (columns).</summary>
    public int Width { get; }

    /// <summary>Feature dimension per cell.</summary>
    public int Channels { get; }

    /// <summary>Values, index ((y * Width) + x) * Channels + c.</summary>
    public float[] Data { get; }

    /// <summary>Number of grid cells.</summary>
    public long CellCount => (long)Height * Width;

    /// <summary>The feature vector of cell (y, x).</summary>
    public Span<float> Cell(int y, int x) => Data.AsSpan((int)(((long)y * Width + x) * Channels), Channels);
}
