using System.CommandLine;

namespace OvDiff.Cli.Commands;

/// <summary>The <c>ovdiff</c> command tree: each subcommand lives in its own file.</summary>
public static class CommandLineApp
{
    /// <summary>Builds the root command with every subcommand (eval runs fitted models through <see cref="ModelSegmenterFactory"/>).</summary>
    public static RootCommand CreateRoot() => new("OvDiff: training-free open-vocabulary semantic segmentation (after OVDiff, ECCV 2024).")
    {
        FitCommand.Create(),
        SegmentCommand.Create(),
        ExplainCommand.Create(),
        EvalCommand.Create(ModelSegmenterFactory.Create),
        SupportCommand.Create(),
        MasksCommand.Create(),
        ModelsCommand.Create(),
    };
}
