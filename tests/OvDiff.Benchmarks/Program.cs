if (args is ["cursors", .. var rest])
{
    OvDiff.Benchmarks.CursorThroughput.Run(rest);
    return;
}

BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
internal sealed partial class Program { }
