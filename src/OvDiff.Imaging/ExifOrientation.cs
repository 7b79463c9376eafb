namespace OvDiff.Imaging;

/// <summary>
/// What <see cref="ImageDecoder"/> does with a photo's EXIF orientation tag (1-8: how a camera held sideways or upside
/// down stored the pixels).
/// </summary>
public enum ExifOrientation
{
    /// <summary>
    /// Rotate and mirror the pixels as the tag says, so the image is upright as every viewer shows it (what OpenCV's
    /// <c>imread</c> does by default). The default, for photos users bring: <c>ovdiff segment</c>, <c>explain</c>,
    /// <c>masks</c>, <c>fit</c>'s support images and the ML.NET transformers.
    /// </summary>
    Apply = 0,

    /// <summary>
    /// Keep the pixels as stored, ignoring the tag (what PIL's <c>Image.open</c> does): the orientation of dataset ground
    /// truth masks (VOC, Context, COCO annotate the stored pixels), used by the evaluator.
    /// </summary>
    Ignore = 1,
}
