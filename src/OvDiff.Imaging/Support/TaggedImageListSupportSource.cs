using CsvHelper;
using OvDiff.Core.Segmentation;

namespace OvDiff.Imaging.Support;

/// <summary>
/// Support images from a tagged-image list: a CSV with header <c>image,classes</c>, where <c>image</c> is a path (absolute,
/// or relative to the CSV's folder) and <c>classes</c> the class names present, separated by <c>|</c>. An image with several
/// tags is one support image of all of them (<see cref="SupportExample.AlsoShows"/>): the fitter shares its foreground out
/// among them and keeps each out of the others' backgrounds, so list every class an image shows. Classes are listed in
/// order of first appearance and compared as <see cref="ClassNaming"/> says ("Cat" and "cat" on different lines are an
/// error naming both); an image listed twice is an error naming both lines.
/// </summary>
public sealed class TaggedImageListSupportSource : ISupportSource
{
    private readonly List<(string Path, string[] Classes)> _rows = [];

    /// <summary>
    /// Reads <paramref name="csvPath"/>; a missing file, header, field or image is an error naming the file and line. An image
    /// is used while one of its classes has fewer than <paramref name="maxPerClass"/> images (a class seen beside others may
    /// then exceed it).
    /// </summary>
    public TaggedImageListSupportSource(string csvPath, int maxPerClass = int.MaxValue)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(csvPath);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPerClass);
        if (!File.Exists(csvPath))
        {
            throw new FileNotFoundException($"Tagged-image list '{csvPath}' does not exist (expected a CSV with header 'image,classes').", csvPath);
        }

        string folder = Path.GetDirectoryName(Path.GetFullPath(csvPath))!;
        using CsvReader csv = StrictCsv.Open(csvPath);
        StrictCsv.ReadHeader(csv, csvPath);
        if (!csv.TryGetFieldIndex("image", out int imageField) || !csv.TryGetFieldIndex("classes", out int classesField))
        {
            throw new InvalidDataException($"'{csvPath}': the first line must be the header 'image,classes'.");
        }

        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var order = new ClassListBuilder();
        var imageLines = new Dictionary<string, long>(StringComparer.Ordinal);
        while (StrictCsv.Read(csv, csvPath, "image,classes", "separate an image's classes with '|', and quote a path or class name that holds a comma"))
        {
            long line = csv.LineNumber;
            string image = csv.GetString(imageField);
            string[] classes = csv.GetString(classesField).Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (image.Length == 0 || classes.Length == 0)
            {
                throw new InvalidDataException($"'{csvPath}' line {line}: both 'image' and 'classes' must be non-empty.");
            }

            // An image is used while one of its classes has fewer than maxPerClass images, with all its tags.
            string[] tags = classes.Select(c => order.Add(c, $"'{csvPath}' line {line}")).Distinct(StringComparer.Ordinal).ToArray();
            foreach (string cls in tags.Where(c => !counts.ContainsKey(c)))
            {
                counts[cls] = 0;
            }

            bool used = tags.Any(c => counts[c] < maxPerClass);
            if (used)
            {
                foreach (string cls in tags)
                {
                    counts[cls]++;
                }
            }

            string resolved = Path.GetFullPath(Path.IsPathRooted(image) ? image : Path.Combine(folder, image));
            if (!imageLines.TryAdd(resolved, line))
            {
                throw new InvalidDataException($"'{csvPath}' line {line}: image '{resolved}' is listed again (first on line {imageLines[resolved]}); list each image once, with all its classes separated by '|'.");
            }

            if (!File.Exists(resolved))
            {
                throw new FileNotFoundException($"'{csvPath}' line {line}: image '{resolved}' does not exist.", resolved);
            }

            if (used)
            {
                _rows.Add((resolved, tags));
            }
        }

        if (_rows.Count == 0)
        {
            throw new InvalidDataException($"'{csvPath}' lists no image.");
        }

        ClassNames = order.Names;
    }

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The images (resolved paths) and their tags.</summary>
    public IReadOnlyList<(string Path, string[] Classes)> Rows => _rows;

    /// <inheritdoc />
    public IEnumerable<SupportExample> Enumerate(CancellationToken cancellationToken = default)
    {
        foreach ((string path, string[] classes) in _rows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new SupportExample(classes[0], path, _ => ImageDecoder.Decode(path)) { AlsoShows = classes[1..] };
        }
    }
}
