using CsvHelper;

namespace OvDiff.Imaging;

/// <summary>
/// Reading the small CSV files a user writes or edits (support lists, label tables): every record must have the header's
/// field count and well-formed quotes; otherwise one <see cref="InvalidDataException"/> naming the file and line. A
/// lenient reader took "img.jpg,horse,person" as a horse image (the third field dropped) and let an unclosed quote
/// swallow the rest of the file.
/// </summary>
internal static class StrictCsv
{
    /// <summary>Opens <paramref name="path"/> (comma-separated, whitespace trimmed, line numbers tracked, quotes checked).</summary>
    public static CsvReader Open(string path) => CsvReader.FromFile(path, new CsvReaderOptions
    {
        Separator = ',',
        TrimWhitespace = true,
        TrackLineNumbers = true,
        MalformedData = CsvMalformedDataHandling.Throw,
        AllowLineBreaksInQuotes = false,
    });

    /// <summary>Reads the header; a malformed one is an error naming <paramref name="path"/>.</summary>
    public static void ReadHeader(CsvReader csv, string path)
    {
        try
        {
            csv.ReadHeader();
        }
        catch (CsvFormatException ex)
        {
            throw new InvalidDataException($"'{path}' line {Math.Max(ex.LineNumber, 1)}: malformed CSV ({ex.Message}).", ex);
        }
    }

    /// <summary>
    /// Advances to the next record (false at the end); a record whose field count differs from the header's (<paramref name="header"/>
    /// names the columns), or malformed quoting, is an error naming <paramref name="path"/> and the line.
    /// </summary>
    public static bool Read(CsvReader csv, string path, string header, string hint)
    {
        bool more;
        try
        {
            more = csv.Read();
        }
        catch (CsvFormatException ex)
        {
            throw new InvalidDataException($"'{path}' line {Math.Max(ex.LineNumber, 1)}: malformed CSV ({ex.Message}); {hint}.", ex);
        }

        int expected = csv.Headers.Count;
        if (more && csv.FieldCount != expected)
        {
            throw new InvalidDataException($"'{path}' line {csv.LineNumber}: {csv.FieldCount} fields where the header '{header}' has {expected}; {hint}.");
        }

        return more;
    }
}
