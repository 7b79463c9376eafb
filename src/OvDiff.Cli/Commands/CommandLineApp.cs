using System.CommandLine;
using System.CommandLine.Parsing;
using OvDiff.Cli.Infrastructure;
using OvDiff.Imaging;

namespace OvDiff.Cli.Commands;

/// <summary>The <c>ovdiff</c> command tree (each subcommand lives in its own file) and the one way it is run.</summary>
public static class CommandLineApp
{
    private const string VerboseName = "--verbose";

    /// <summary>Builds the root command with every subcommand (eval runs fitted models through <see cref="ModelSegmenterFactory"/>).</summary>
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("OvDiff: training-free open-vocabulary semantic segmentation (after OVDiff, ECCV 2024).")
        {
            FitCommand.Create(),
            SegmentCommand.Create(),
            ExplainCommand.Create(),
            EvalCommand.Create(ModelSegmenterFactory.Create),
            SupportCommand.Create(),
            MasksCommand.Create(),
            ModelsCommand.Create(),
            SampleCommand.Create(),
        };
        root.Options.Add(new Option<bool>(VerboseName) { Description = "On an error, also print the exception with its stack trace.", Recursive = true });
        return root;
    }

    /// <summary>The image-size bound from OVDIFF_MAX_PIXELS (pixels, e.g. 200000000), when set.</summary>
    private static void ApplyEnvironment()
    {
        string? maxPixels = Environment.GetEnvironmentVariable("OVDIFF_MAX_PIXELS");
        if (!string.IsNullOrWhiteSpace(maxPixels))
        {
            ImageLimits.MaxPixels = long.TryParse(maxPixels, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value) && value > 0 && value <= Array.MaxLength / 4
                ? value
                : throw new CommandLineException($"OVDIFF_MAX_PIXELS='{maxPixels}' is not a pixel count between 1 and {Array.MaxLength / 4}.");
        }
    }

    /// <summary>
    /// A command line that does not parse (unknown command or option, missing required option, a value of the wrong
    /// type): one <c>error:</c> line naming every problem and where the usage is, exit code 1, as for any other bad input
    /// (System.CommandLine's default printed the whole help page after an unprefixed line naming .NET types).
    /// </summary>
    private static int ReportParseErrors(ParseResult parse, TextWriter error)
    {
        var names = new List<string>();
        for (SymbolResult? result = parse.CommandResult; result is CommandResult { Command: not RootCommand } command; result = command.Parent)
        {
            names.Insert(0, command.Command.Name);
        }

        IEnumerable<string> problems = parse.Errors.Select(e => string.Join(' ', e.Message.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).TrimEnd('.')
            .Replace("'System.Int32'", "'integer'", StringComparison.Ordinal).Replace("'System.Int64'", "'integer'", StringComparison.Ordinal)
            .Replace("'System.Single'", "'number'", StringComparison.Ordinal).Replace("'System.Double'", "'number'", StringComparison.Ordinal));
        error.WriteLine($"error: {string.Join("; ", problems)} ('{string.Join(' ', names.Prepend("ovdiff"))} --help' lists the options).");
        return ErrorPolicy.BadInputExitCode;
    }

    /// <summary>
    /// Parses and runs <paramref name="args"/>; an exception that escapes a command goes through <see cref="ErrorPolicy"/>
    /// (one <c>error:</c> line, exit code 1 for bad input; the stack trace only with --verbose). Returns the exit code.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, TextWriter? output = null, TextWriter? error = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);

        // Models and configs may name Stable Diffusion's features ("sd15-q"), which live in OvDiff.Diffusion.
        Diffusion.Features.StableDiffusionFeatureExtractor.Register();
        ParseResult parse = CreateRoot().Parse(args);
        var configuration = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        if (output is not null)
        {
            configuration.Output = output;
        }

        if (error is not null)
        {
            configuration.Error = error;
        }

        if (parse.Errors.Count > 0 && args.Length > 0 && !args.Any(a => a is "-h" or "--help" or "-?"))
        {
            return ReportParseErrors(parse, configuration.Error);
        }

        try
        {
            ApplyEnvironment();
            return await parse.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            return ErrorPolicy.Report(e, configuration.Error, parse.Errors.Count == 0 && parse.GetValue<bool>(VerboseName));
        }
    }
}
