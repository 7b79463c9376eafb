namespace OvDiff.Core.Images;

/// <summary>
/// A per-pixel class-index map (row-major). Values are class indices; <see cref="IgnoreIndex"/> (255) marks pixels
/// that no metric counts (VOC's void border).
/// </summary>
public sealed class LabelMap
{
    /// <summary>The conventional ignore label (mmsegmentation's default).</summary>
    public const byte IgnoreIndex = 255;

    /// <summary>Creates a map over <paramref name="labels"/> (length width * height); the array is not copied.</summary>
    public LabelMap(int width, int height, byte[] labels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.LongLength != (long)width * height)
        {
            throw new ArgumentException($"Expected {(long)width * height} labels for a {width}x{height} map, got {labels.LongLength}.", nameof(labels));
        }

        Width = width;
        Height = height;
        Labels = labels;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Class index per pixel, row-major.</summary>
    public byte[] Labels { get; }

    /// <summary>Number of pixels.</summary>
    public long PixelCount => (long)Width * Height;
}
