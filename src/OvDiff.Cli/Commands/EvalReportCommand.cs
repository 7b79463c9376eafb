using System.CommandLine;
using System.Text.Json;
using OvDiff.Eval.Reports;
using OvDiff.Eval.Running;

namespace OvDiff.Cli.Commands;

/// <summary><c>ovdiff eval report RUN_DIR</c>: rebuilds report.html from a finished, merged or complete sharded run's folder.</summary>
public static class EvalReportCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var runDir = new Argument<DirectoryInfo>("run") { Description = "The run's output folder (counts-*-of-*.json, config.json, thumbnails/)." };
        var ledger = new Option<FileInfo?>("--ledger") { Description = "Results ledger for the trend of earlier runs (default: the run's output.ledger, else runs/ledger.csv)." };
        var command = new Command("report", "Rebuild report.html of a finished (or merged, or sharded) evaluation run.") { runDir, ledger };
        command.SetAction(parseResult =>
        {
            try
            {
                string folder = parseResult.GetValue(runDir)!.FullName;
                string ledgerPath = parseResult.GetValue(ledger)?.FullName ?? ConfiguredLedger(folder) ?? EvalRunner.DefaultLedger();
                string path = HtmlReport.Write(folder, ledgerPath);
                parseResult.InvocationConfiguration.Output.WriteLine($"Report written to {path}");
                return 0;
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                parseResult.InvocationConfiguration.Error.WriteLine($"error: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    /// <summary>The run's config.json output.ledger, when it names one.</summary>
    private static string? ConfiguredLedger(string runDir)
    {
        string config = Path.Combine(runDir, "config.json");
        if (!File.Exists(config))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(config));
            return document.RootElement.TryGetProperty("output", out JsonElement output)
                && output.TryGetProperty("ledger", out JsonElement ledger)
                && ledger.ValueKind == JsonValueKind.String ? Path.GetFullPath(ledger.GetString()!) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
