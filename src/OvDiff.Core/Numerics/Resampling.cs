using OvDiff.Core.Images;

namespace OvDiff.Core.Numerics;

/// <summary>The filter used to resample an RGB image.</summary>
public enum ImageFilter
{
    /// <summary>Bilinear with antialiasing when shrinking (PIL's BILINEAR).</summary>
    Bilinear,

    /// <summary>Lanczos-3 with antialiasing when shrinking (PIL's LANCZOS; the reference resizes test images with it).</summary>
    Lanczos3,
}

/// <summary>Resampling of planar score/feature maps, RGB images and label maps.</summary>
public static class Resampling
{
    /// <summary>
    /// Bilinear resize of <paramref name="planes"/> planar maps (each srcHeight x srcWidth) into dst (each dstHeight x dstWidth),
    /// with PyTorch's <c>F.interpolate(mode="bilinear", align_corners=False)</c> semantics (no antialiasing).
    /// </summary>
    public static void BilinearPlanar(ReadOnlySpan<float> src, int planes, int srcHeight, int srcWidth, Span<float> dst, int dstHeight, int dstWidth) => throw new NotImplementedException();

    /// <summary>Resizes an RGB image with PIL's separable, antialiased resampling for the given filter.</summary>
    public static RgbImage ResizeImage(RgbImage image, int width, int height, ImageFilter filter = ImageFilter.Lanczos3) => throw new NotImplementedException();

    /// <summary>Nearest-neighbour resize of a label map (PyTorch "nearest": src index = floor(dst index * src / dst)).</summary>
    public static LabelMap ResizeNearest(LabelMap labels, int width, int height) => throw new NotImplementedException();

    /// <summary>The size with the short side scaled to <paramref name="shortSide"/>, keeping the aspect ratio (rounded to nearest, as mmcv's rescale).</summary>
    public static (int Width, int Height) ShortSideSize(int width, int height, int shortSide) => throw new NotImplementedException();
}
