using System.CommandLine;
using OvDiff.Eval.Running;

namespace OvDiff.Cli.Commands;

/// <summary><c>ovdiff eval merge</c>: sums the counts files of a sharded run into the reports a single run writes.</summary>
public static class EvalMergeCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var inputs = new Argument<string[]>("counts") { Description = "Counts files (counts-<i>-of-<n>.json) or folders holding them.", Arity = ArgumentArity.OneOrMore };
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Report folder for the merged run.", Required = true };
        var ledger = new Option<FileInfo?>("--ledger") { Description = "Results ledger to append to (default: runs/ledger.csv)." };
        var command = new Command("merge", "Merge the counts of all shards of a run and write its reports.") { inputs, output, ledger };
        command.SetAction(parseResult =>
        {
            IReadOnlyList<string> files = ShardMerger.FindCountsFiles(parseResult.GetValue(inputs)!);
            string outputDir = parseResult.GetValue(output)!.FullName;
            var (counts, metrics) = ShardMerger.MergeAndReport(files, outputDir, parseResult.GetValue(ledger)?.FullName ?? EvalRunner.DefaultLedger());
            EvalReportPrinter.Print(parseResult.InvocationConfiguration.Output, counts, metrics, outputDir, null);
            return 0;
        });
        return command;
    }
}
