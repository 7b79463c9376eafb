using OvDiff.Cli.Commands;

return await CommandLineApp.RunAsync(args);
