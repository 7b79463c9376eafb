using System.CommandLine;
using OvDiff.Core.Segmentation;

namespace OvDiff.Cli.Infrastructure;

/// <summary>Parsing of option values shared by several commands.</summary>
internal static class CliParsing
{
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

    /// <summary>The value of <paramref name="option"/>, which must be at least 1 (a <see cref="CommandLineException"/> naming it otherwise).</summary>
    public static int RequirePositive(ParseResult parse, Option<int> option)
    {
        int value = parse.GetValue(option);
        return value >= 1 ? value : throw new CommandLineException($"{option.Name} must be at least 1, got {value}.");
    }
}
