namespace OvDiff.Core.Segmentation;

/// <summary>
/// How OvDiff compares class names, everywhere (support lists and folders, ML.NET label columns, --class, dataset
/// class lists, label tables): trimmed, then compared ignoring case (ordinal). "cat", "Cat " and "CAT" are one class.
/// Within one class list two spellings that differ only in case are an error naming both and where each came from
/// (<see cref="ClassListBuilder"/>): they are almost always a typo, and silently merging or splitting them would both
/// surprise someone.
/// </summary>
public static class ClassNaming
{
    /// <summary>The comparer for (trimmed) class names.</summary>
    public static StringComparer Comparer => StringComparer.OrdinalIgnoreCase;

    /// <summary>The name as compared and stored: trimmed.</summary>
    public static string Normalize(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Trim();
    }

    /// <summary>Whether <paramref name="a"/> and <paramref name="b"/> name the same class.</summary>
    public static bool AreSame(string a, string b) => Comparer.Equals(Normalize(a), Normalize(b));

    /// <summary>The index of <paramref name="name"/> in <paramref name="names"/> under this comparison, or -1.</summary>
    public static int IndexOf(IReadOnlyList<string> names, string name)
    {
        ArgumentNullException.ThrowIfNull(names);
        for (int i = 0; i < names.Count; i++)
        {
            if (AreSame(names[i], name))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// A 256-entry table taking each label of <paramref name="from"/> (label i = from[i]) to the label of the same name
    /// in <paramref name="to"/>; labels past <paramref name="from"/>'s end map to themselves (255, the ignore label, stays
    /// 255). A name <paramref name="to"/> lacks is <paramref name="missing"/>'s exception.
    /// </summary>
    public static byte[] MapByName(IReadOnlyList<string> from, IReadOnlyList<string> to, Func<string, Exception> missing)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        ArgumentNullException.ThrowIfNull(missing);
        var map = new byte[256];
        for (int label = 0; label < map.Length; label++)
        {
            map[label] = (byte)label;
        }

        for (int label = 0; label < from.Count; label++)
        {
            int index = IndexOf(to, from[label]);
            map[label] = index is >= 0 and < 256 ? (byte)index : throw missing(from[label]);
        }

        return map;
    }
}

/// <summary>
/// Forms a class list in order of first appearance, remembering where each name was first seen, so that a spelling
/// that differs from an earlier one only in case is an <see cref="InvalidDataException"/> naming both places.
/// </summary>
public sealed class ClassListBuilder
{
    private readonly Dictionary<string, (string Spelling, string Where)> _seen = new(ClassNaming.Comparer);
    private readonly List<string> _names = [];

    /// <summary>The classes so far, as first spelled (trimmed), in order of first appearance.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>
    /// Adds <paramref name="name"/>, found at <paramref name="where"/> (e.g. "support.csv line 5"); returns the class's
    /// name as first spelled. An empty name is an error; the same name again is not.
    /// </summary>
    public string Add(string name, string where)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(where);
        string trimmed = ClassNaming.Normalize(name);
        if (trimmed.Length == 0)
        {
            throw new InvalidDataException($"{where}: empty class name.");
        }

        if (_seen.TryGetValue(trimmed, out (string Spelling, string Where) first))
        {
            if (!string.Equals(first.Spelling, trimmed, StringComparison.Ordinal))
            {
                throw new InvalidDataException(
                    $"class '{trimmed}' ({where}) and class '{first.Spelling}' ({first.Where}) differ only in case; class names are compared ignoring case, so spell them the same way.");
            }

            return first.Spelling;
        }

        _seen[trimmed] = (trimmed, where);
        _names.Add(trimmed);
        return trimmed;
    }
}
