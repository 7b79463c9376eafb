using System.CommandLine;
using OvDiff.Core.Segmentation;
using OvDiff.Eval.Configuration;

namespace OvDiff.Cli.Infrastructure;

/// <summary>Parsing of option values shared by several commands.</summary>
internal static class CliParsing
{
    /// <summary>
    /// The eval config that <paramref name="config"/> names with <paramref name="set"/>'s overrides applied, or the defaults
    /// with the overrides when only --set is given; null when neither is.
    /// </summary>
    public static EvalConfig? OptionalConfig(ParseResult parse, Option<FileInfo?> config, Option<string[]> set)
    {
        string[] overrides = parse.GetValue(set) ?? [];
        return parse.GetValue(config) is FileInfo configFile ? ConfigLoader.Load(configFile.FullName, overrides)
            : overrides.Length > 0 ? ConfigLoader.FromOverrides(overrides) : null;
    }

    /// <summary>"all", or a comma list of mean, image, parts (the reference's mean / ind / kmeans).</summary>
    public static PrototypeLevels ParseLevels(string text)
    {
        PrototypeLevels levels = PrototypeLevels.None;
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            levels |= part.ToLowerInvariant() switch
            {
                "all" => PrototypeLevels.All,
                "mean" or "class" => PrototypeLevels.ClassMean,
                "image" or "ind" => PrototypeLevels.PerImage,
                "parts" or "kmeans" => PrototypeLevels.Parts,
                _ => throw new ArgumentException($"Unknown prototype level '{part}' in '{text}': use all, or a comma list of mean, image, parts."),
            };
        }

        return levels == PrototypeLevels.None
            ? throw new ArgumentException($"No prototype level in '{text}': use all, or a comma list of mean, image, parts.")
            : levels;
    }

    /// <summary>The value of <paramref name="option"/>, which must be in [0, 1] (<paramref name="closed"/>) or [0, 1) (a <see cref="CommandLineException"/> naming it otherwise).</summary>
    public static float RequireFraction(ParseResult parse, Option<float> option, bool closed)
    {
        float value = parse.GetValue(option);
        return value >= 0 && (closed ? value <= 1 : value < 1)
            ? value
            : throw new CommandLineException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{option.Name} must be in [0, 1{(closed ? "]" : ")")}, got {value}."));
    }

    /// <summary>
    /// Checks, before a long run, that its result can be written to the file <paramref name="path"/> (named by
    /// <paramref name="option"/>): not a folder, its folder creatable and writable. Otherwise a <see cref="CommandLineException"/>
    /// now, instead of an error after the work is done and lost.
    /// </summary>
    public static void RequireWritableFile(string path, string option)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new CommandLineException($"{option} '{path}' is a folder; give the path of the file to write, e.g. {Path.Combine(path, "model.zip")}.");
        }

        string folder = Path.GetDirectoryName(full)!;
        string probe = Path.Combine(folder, $".{Path.GetFileName(full)}.{Environment.ProcessId}.probe");
        try
        {
            Directory.CreateDirectory(folder);
            using (File.Create(probe, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CommandLineException($"{option} '{path}': cannot write in '{folder}' ({e.Message}).");
        }
    }

    /// <summary>The value of <paramref name="option"/>, which must be at least 1 (a <see cref="CommandLineException"/> naming it otherwise).</summary>
    public static int RequirePositive(ParseResult parse, Option<int> option)
    {
        int value = parse.GetValue(option);
        return value >= 1 ? value : throw new CommandLineException($"{option.Name} must be at least 1, got {value}.");
    }

    /// <summary>The value of <paramref name="option"/>, which must be 0 or more (a <see cref="CommandLineException"/> naming it otherwise).</summary>
    public static int RequireNonNegative(ParseResult parse, Option<int> option)
    {
        int value = parse.GetValue(option);
        return value >= 0 ? value : throw new CommandLineException($"{option.Name} must be 0 or more, got {value}.");
    }
}
