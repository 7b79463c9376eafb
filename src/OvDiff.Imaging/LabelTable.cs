using System.Globalization;
using System.Text;
using OvDiff.Core.IO;

namespace OvDiff.Imaging;

/// <summary>
/// The index -> class name table written beside a folder of label PNGs (<c>labels.csv</c>: header <c>index,name</c>,
/// one row per label from 0), so that the numbers in the PNGs say which class they are. <c>ovdiff segment</c> writes
/// it; <c>ovdiff eval --predictions</c> reads it to match the labels to the dataset's classes by name.
/// </summary>
public static class LabelTable
{
    /// <summary>The file name inside the label folder.</summary>
    public const string FileName = "labels.csv";

    /// <summary>Writes <paramref name="names"/> (label i = names[i]) as <paramref name="folder"/>/labels.csv, atomically.</summary>
    public static void Write(string folder, IReadOnlyList<string> names)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(names);
        var csv = new StringBuilder("index,name\n");
        for (int i = 0; i < names.Count; i++)
        {
            string name = names[i].Contains(',', StringComparison.Ordinal) || names[i].Contains('"', StringComparison.Ordinal)
                ? $"\"{names[i].Replace("\"", "\"\"", StringComparison.Ordinal)}\""
                : names[i];
            csv.Append(CultureInfo.InvariantCulture, $"{i},{name}\n");
        }

        AtomicFile.WriteAllBytes(Path.Combine(folder, FileName), Encoding.UTF8.GetBytes(csv.ToString()));
    }

    /// <summary>
    /// Reads <paramref name="folder"/>/labels.csv: the names by label, or null when the folder has none. Rows out of
    /// order, a gap, a repeated index or an empty name is an <see cref="InvalidDataException"/> naming the file and line.
    /// </summary>
    public static IReadOnlyList<string>? Read(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        using CsvHelper.CsvReader csv = StrictCsv.Open(path);
        StrictCsv.ReadHeader(csv, path);
        if (!csv.TryGetFieldIndex("index", out int indexField) || !csv.TryGetFieldIndex("name", out int nameField))
        {
            throw new InvalidDataException($"{path}: the first line must be the header 'index,name'.");
        }

        var names = new List<string>();
        while (StrictCsv.Read(csv, path, "index,name", "quote a class name that holds a comma"))
        {
            string index = csv.GetString(indexField), name = csv.GetString(nameField);
            if (!int.TryParse(index, NumberStyles.None, CultureInfo.InvariantCulture, out int label) || label != names.Count || name.Length == 0)
            {
                throw new InvalidDataException($"{path} line {csv.LineNumber}: expected label {names.Count} with a name, got '{index},{name}'.");
            }

            names.Add(name);
        }

        return names.Count == 0 ? throw new InvalidDataException($"{path}: no labels listed.") : names;
    }
}
