using OvDiff.Cli.Commands;

return await CommandLineApp.RunInterruptibleAsync(args);
