using OvDiff.Core.Segmentation;

namespace OvDiff.Imaging.Support;

/// <summary>
/// Support images laid out as a folder per class: <c>&lt;root&gt;/&lt;class&gt;/*.jpg|jpeg|png|bmp|webp</c>. The class name is the
/// folder name; images are taken in ordinal file-name order, at most a given number per class.
/// </summary>
public sealed class FolderSupportSource : ISupportSource
{
    private static readonly string[] Extensions = [".jpg", ".jpeg", ".png", ".bmp", ".webp"];
    private readonly Dictionary<string, string[]> _images;

    /// <summary>Scans <paramref name="root"/>; a missing folder, or a class folder without images, is an error naming it.</summary>
    public FolderSupportSource(string root, int maxPerClass = int.MaxValue)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPerClass);
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"Support folder '{root}' does not exist. Expected one sub-folder per class holding its images.");
        }

        _images = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var classes = new ClassListBuilder();
        foreach (string folder in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
        {
            string[] files = Directory.GetFiles(folder)
                .Where(f => Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal)
                .Take(maxPerClass)
                .ToArray();
            if (files.Length == 0)
            {
                throw new InvalidDataException($"Support class folder '{folder}' holds no image ({string.Join(", ", Extensions)}).");
            }

            string name = classes.Add(Path.GetFileName(folder), $"folder '{folder}'");
            if (!_images.TryAdd(name, files))
            {
                throw new InvalidDataException($"Support folder '{root}': two sub-folders name class '{name}' (one is '{folder}'); merge them.");
            }
        }

        if (_images.Count == 0)
        {
            throw new InvalidDataException($"Support folder '{root}' has no class sub-folders.");
        }

        ClassNames = _images.Keys.ToArray();
    }

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; }

    /// <inheritdoc />
    public IEnumerable<SupportExample> Enumerate(CancellationToken cancellationToken = default)
    {
        foreach ((string cls, string[] files) in _images)
        {
            foreach (string file in files)
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return new SupportExample(cls, file, _ => ImageDecoder.Decode(file));
            }
        }
    }
}
