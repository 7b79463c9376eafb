namespace OvDiff.Cli.Tests;

public sealed class SmokeTests
{
    [Fact]
    public void Build_Compiles() => Assert.True(true);
}
