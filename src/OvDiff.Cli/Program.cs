using System.CommandLine;
using OvDiff.Cli.Commands;

var root = new RootCommand("OvDiff: training-free open-vocabulary semantic segmentation.")
{
    FitCommand.Create(),
    SegmentCommand.Create(),
    ExplainCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
