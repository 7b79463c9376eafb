using OvDiff.Core.IO;
using OvDiff.Core.Segmentation;

namespace OvDiff.Imaging.Support;

/// <summary>
/// Support images laid out as a folder per class: <c>&lt;root&gt;/&lt;class&gt;/*.jpg|jpeg|jpe|jfif|png|bmp|webp|gif</c>. The class
/// name is the folder name; images are taken in ordinal file-name order, at most a given number per class. Photos in formats
/// OvDiff does not decode (<c>.heic</c>, <c>.heif</c>, <c>.avif</c>, <c>.tif</c>, <c>.tiff</c>, <c>.jxl</c>) are listed too, so
/// that reading them names the file and its format rather than leaving them out unsaid; other files are ignored. An image that shows several
/// classes goes in each of their folders (a copy or a link): files with the same bytes are one support image with all
/// those classes (<see cref="SupportExample.AlsoShows"/>), so that no class it shows lands in another's background.
/// </summary>
public sealed class FolderSupportSource : ISupportSource
{
    private static readonly string[] Extensions = [".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".webp", ".gif", ".heic", ".heif", ".avif", ".tif", ".tiff", ".jxl"];
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
    /// <remarks>
    /// One example per distinct image: a file whose bytes equal a file of an earlier class folder (or of the same folder) is
    /// not listed again; its class is among the first one's <see cref="SupportExample.AlsoShows"/>. Reads every file once to
    /// compare them (SHA-256 of the bytes, <see cref="FileHash"/>).
    /// </remarks>
    public IEnumerable<SupportExample> Enumerate(CancellationToken cancellationToken = default)
    {
        // The classes of each distinct content, in folder order: the first file shown stands for all of its copies.
        var classesOf = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var first = new List<(string Class, string File, string Key)>();
        foreach ((string cls, string[] files) in _images)
        {
            foreach (string file in files)
            {
                cancellationToken.ThrowIfCancellationRequested();
                string key = ContentKey(file, cancellationToken);
                if (!classesOf.TryGetValue(key, out List<string>? classes))
                {
                    classesOf[key] = classes = [];
                    first.Add((cls, file, key));
                }

                if (!classes.Contains(cls, StringComparer.Ordinal))
                {
                    classes.Add(cls);
                }
            }
        }

        foreach ((string cls, string file, string key) in first)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new SupportExample(cls, file, _ => ImageDecoder.Decode(file)) { AlsoShows = [.. classesOf[key].Skip(1)] };
        }
    }

    /// <summary>
    /// The file's content name (<see cref="FileHash.Sha256"/>). An empty or unreadable file is its own (two empty files are
    /// not one image); ImageDecoder names it when it is loaded.
    /// </summary>
    private static string ContentKey(string file, CancellationToken cancellationToken)
    {
        try
        {
            return new FileInfo(file).Length == 0 ? "empty:" + Path.GetFullPath(file) : FileHash.Sha256(file, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "unreadable:" + Path.GetFullPath(file);
        }
    }
}
