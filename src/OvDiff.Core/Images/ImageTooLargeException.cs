using System.Globalization;

namespace OvDiff.Core.Images;

/// <summary>
/// An image that exceeds a size bound of the pipeline (the long side it would be processed at, or the score planes its
/// size needs). Bad input, not a bug: the message gives the image's size, the bound and the setting that changes it;
/// callers that know the file add its name. Thrown before the large allocation it prevents.
/// </summary>
public sealed class ImageTooLargeException : ArgumentException
{
    /// <summary>Creates the exception with its message.</summary>
    public ImageTooLargeException(string message)
        : base(message)
    {
    }

    /// <summary>
    /// Throws when an image of <paramref name="width"/> x <paramref name="height"/>, to be processed at
    /// <paramref name="scaledWidth"/> x <paramref name="scaledHeight"/> (after scaling its short side to
    /// <paramref name="shortSide"/>; 0 = as is), has a processed long side above <paramref name="maxLongSide"/>.
    /// <paramref name="setting"/> names the option that sets the bound.
    /// </summary>
    public static void ThrowIfLongSideAbove(int width, int height, int scaledWidth, int scaledHeight, int shortSide, int maxLongSide, string setting)
    {
        if (Math.Max(scaledWidth, scaledHeight) <= maxLongSide)
        {
            return;
        }

        string scaled = shortSide > 0
            ? string.Create(CultureInfo.InvariantCulture, $"at short side {shortSide} it would be {scaledWidth}x{scaledHeight}, whose long side")
            : "its long side";
        throw new ImageTooLargeException(string.Create(CultureInfo.InvariantCulture,
            $"the {width}x{height} image is too elongated or too large: {scaled} exceeds the bound of {maxLongSide} pixels ({setting}); crop or resize it, or raise the bound."));
    }
}
