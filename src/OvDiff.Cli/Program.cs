using System.CommandLine;
using OvDiff.Cli.Commands;

// Composes the `ovdiff` subcommands; each lives in its own file under Commands/.
var root = new RootCommand("OvDiff: training-free open-vocabulary semantic segmentation (after OVDiff, ECCV 2024).")
{
    FitCommand.Create(),
    SegmentCommand.Create(),
    ExplainCommand.Create(),
    SupportCommand.Create(),
    EvalCommand.Create(ModelSegmenterFactory.Create),
};
return await root.Parse(args).InvokeAsync();
