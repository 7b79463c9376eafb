if (args is ["cursors", .. var rest])
{
    OvDiff.Benchmarks.CursorThroughput.Run(rest);
    return 0;
}

if (args is ["speed", .. var options])
{
    return OvDiff.Benchmarks.Speed.SpeedBenchmark.Run(options);
}

BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;

internal sealed partial class Program { }
