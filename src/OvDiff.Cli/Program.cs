using OvDiff.Cli.Commands;

return await CommandLineApp.CreateRoot().Parse(args).InvokeAsync();
