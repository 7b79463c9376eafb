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
    /// <c>masks</c>, <c>fit</c>'s support images and the ML.NET transformers. The tag is read from a JPEG's EXIF block
    /// (IFD0, wherever the block sits among the APP segments) and a WebP's EXIF chunk, as SkiaSharp 2.88 reads them: a
    /// value outside 1-8, a tag not of type SHORT, or a malformed block counts as 1; a PNG's <c>eXIf</c> chunk is not read.
    /// </summary>
    Apply = 0,

    /// <summary>
    /// Keep the pixels as stored, ignoring the tag (what PIL's <c>Image.open</c> does): the orientation of dataset ground
    /// truth masks (VOC, Context, COCO annotate the stored pixels), used by the evaluator.
    /// </summary>
    Ignore = 1,
}
