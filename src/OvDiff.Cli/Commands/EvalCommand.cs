using System.CommandLine;
using OvDiff.Eval.Configuration;
using OvDiff.Eval.Datasets;
using OvDiff.Cli.Infrastructure;
using OvDiff.Core.Sharding;
using OvDiff.Eval.Running;
using OvDiff.Imaging;

namespace OvDiff.Cli.Commands;

/// <summary>
/// <c>ovdiff eval</c>: scores a prediction folder or a segmenter on a benchmark split from a JSON config, writes the
/// CSV reports and ledger row, and prints the table; <c>ovdiff eval merge</c> (<see cref="EvalMergeCommand"/>) sums
/// shard counts. Exit codes: 0 done, 1 bad config or input (<see cref="ErrorPolicy"/>), 130 interrupted (counts saved; rerun with --resume).
/// </summary>
public static class EvalCommand
{
    /// <summary>Exit code of a run stopped by Ctrl-C or SIGTERM after saving its counts.</summary>
    public const int InterruptedExitCode = ErrorPolicy.InterruptedExitCode;

    /// <summary>
    /// Builds the command. <paramref name="segmenterFactory"/> builds the segmenter a config describes when no
    /// --predictions folder is given; null makes --predictions mandatory.
    /// </summary>
    public static Command Create(SegmenterFactory? segmenterFactory)
    {
        var config = new Option<FileInfo>("--config", "-c") { Description = "The JSON config (see configs/).", Required = true };
        var set = new Option<string[]>("--set") { Description = "Override a config field: key=value (repeatable), e.g. --set dataset.split=val.", Arity = ArgumentArity.ZeroOrMore };
        var model = new Option<FileInfo?>("--model", "-m") { Description = "Run this fitted model zip (shorthand for --set segmenter.model=FILE)." };
        var predictions = new Option<DirectoryInfo?>("--predictions", "-p") { Description = "Score this folder of <id>.png label maps (palette or grayscale) instead of running the segmenter." };
        var output = new Option<DirectoryInfo?>("--out", "-o") { Description = "Report folder (default: the config's output.dir, else runs/<name>)." };
        var shard = new Option<string?>("--shard") { Description = "Evaluate only shard i of n (0-based, e.g. 0/4) and save its counts; combine with 'ovdiff eval merge'." };
        var resume = new Option<bool>("--resume") { Description = "Continue from the saved counts of an interrupted run." };
        var skipBad = new Option<bool>("--skip-bad") { Description = "Skip images with bad input (counted and listed in skipped.csv) instead of stopping." };

        var command = new Command("eval", "Evaluate predictions or a segmenter on a benchmark (mIoU, mAcc, aAcc, fwIoU).")
        {
            config, set, model, predictions, output, shard, resume, skipBad,
        };
        command.Subcommands.Add(EvalMergeCommand.Create());
        command.Subcommands.Add(EvalReportCommand.Create());
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            TextWriter stdout = parseResult.InvocationConfiguration.Output;
            TextWriter stderr = parseResult.InvocationConfiguration.Error;
            try
            {
                string[] overrides = parseResult.GetValue(set) ?? [];
                if (parseResult.GetValue(model) is FileInfo modelFile)
                {
                    overrides = [.. overrides, $"segmenter.model={modelFile.FullName}"];
                }

                EvalConfig loaded = ConfigLoader.Load(parseResult.GetValue(config)!.FullName, overrides);
                string? shardText = parseResult.GetValue(shard);
                var options = new EvalRunOptions
                {
                    PredictionsDir = parseResult.GetValue(predictions)?.FullName,
                    OutputDir = parseResult.GetValue(output)?.FullName,
                    Shard = shardText is null ? ShardSpec.Whole : ShardSpec.Parse(shardText),
                    Resume = parseResult.GetValue(resume),
                    SkipBad = parseResult.GetValue(skipBad),
                    SegmenterFactory = segmenterFactory,
                };
                using var progress = new ConsoleProgress(stderr);
                using var interruption = new Interruption(cancellationToken);   // Ctrl-C: finish the image in flight, save the counts, exit 130
                EvalOutcome outcome = await Task.Run(() => EvalRunner.Run(loaded, options, progress, interruption.Token), CancellationToken.None).ConfigureAwait(false);
                progress.Finish();
                EvalReportPrinter.Print(stdout, outcome.Counts, outcome.Metrics, outcome.OutputDir, outcome.CountsPath);
                return 0;
            }
            catch (OperationCanceledException)
            {
                stderr.WriteLine("Interrupted: the counts of every finished image are saved; rerun with --resume to continue.");
                return InterruptedExitCode;
            }
        });
        return command;
    }
}
