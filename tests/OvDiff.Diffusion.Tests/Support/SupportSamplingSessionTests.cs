using OvDiff.Diffusion.Support;

namespace OvDiff.Diffusion.Tests.Support;

/// <summary>The class names `ovdiff sample` and OvDiffSampleSupport accept: the project's one class-name rule (ClassNaming).</summary>
public sealed class SupportSamplingSessionTests
{
    [Fact]
    public void CheckClassNames_TrimsAndKeepsOrder_RepeatsOnce()
    {
        Assert.Equal(["cat", "traffic cone", "dog"], SupportSamplingSession.CheckClassNames([" cat", "traffic cone ", "dog", "cat"]));
    }

    [Theory]
    [InlineData(new[] { "cat", "Cat" }, "class 'Cat' (class name 2) and class 'cat' (class name 1) differ only in case")]
    [InlineData(new[] { "cat", " " }, "class name 2: empty class name")]
    [InlineData(new string[0], "No class names were given")]
    public void CheckClassNames_BadLists_AreErrorsNamingTheName(string[] names, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => SupportSamplingSession.CheckClassNames(names));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
