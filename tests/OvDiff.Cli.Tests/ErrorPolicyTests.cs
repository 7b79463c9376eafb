using Microsoft.ML;
using OvDiff.Cli.Commands;
using OvDiff.Cli.Infrastructure;
using OvDiff.Testing;

namespace OvDiff.Cli.Tests;

/// <summary>A tiny fitted model shared by the error tests (fitting takes a few seconds).</summary>
public sealed class TinyModelFixture : IDisposable
{
    private readonly TempFolder _folder = new();

    public TinyModelFixture()
    {
        ModelPath = Cli.FitTinyModel(_folder.Path);
    }

    public string ModelPath { get; }

    public string Folder => _folder.Path;

    public void Dispose() => _folder.Dispose();
}

/// <summary>
/// Bad input to every command ends as the one error policy says: exit code 1 and one <c>error:</c> line naming the
/// file, row, key or value; no stack trace unless --verbose.
/// </summary>
public sealed class ErrorPolicyTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>
{
    [Fact]
    public void ZeroByteImage_SegmentAndExplain_NameTheFile()
    {
        using var temp = new TempFolder();
        string empty = temp.Combine("empty.jpg");
        File.WriteAllBytes(empty, []);

        Assert.Contains($"{empty}: empty file", Cli.Fails("segment", empty, "--model", tiny.ModelPath, "--out", temp.Combine("out")), StringComparison.Ordinal);
        Assert.Contains($"{empty}: empty file", Cli.Fails("explain", empty, "--model", tiny.ModelPath, "--x", "1", "--y", "1"), StringComparison.Ordinal);
    }

    [Fact]
    public void ZeroByteSupportImage_Fit_NamesItBeforeFitting()
    {
        using var temp = new TempFolder();
        Cli.WriteImage(temp.Combine("support", "cat", "a.jpg"), 64, 48);
        Directory.CreateDirectory(temp.Combine("support", "dog"));
        File.WriteAllBytes(temp.Combine("support", "dog", "b.jpg"), []);

        string error = Cli.Fails("fit", "--support", temp.Combine("support"), "--out", temp.Combine("m.zip"));
        Assert.Contains(temp.Combine("support", "dog", "b.jpg"), error, StringComparison.Ordinal);
        Assert.False(File.Exists(temp.Combine("m.zip")));
    }

    [Fact]
    public void MissingConfig_EveryCommandThatReadsOne_NamesIt()
    {
        using var temp = new TempFolder();
        string missing = temp.Combine("nope.json");
        Cli.WriteImage(temp.Combine("support", "cat", "a.jpg"), 64, 48);

        Assert.Contains(missing, Cli.Fails("eval", "-c", missing, "--model", tiny.ModelPath), StringComparison.Ordinal);
        Assert.Contains(missing, Cli.Fails("support", "from-labels", "-c", missing, "-o", temp.Combine("s")), StringComparison.Ordinal);
        Assert.Contains(missing, Cli.Fails("fit", "--support", temp.Combine("support"), "--out", temp.Combine("m.zip"), "--config", missing), StringComparison.Ordinal);
    }

    [Fact]
    public void MissingSupportImage_FitNamesTheListAndLine_BeforeFitting()
    {
        using var temp = new TempFolder();
        Cli.WriteImage(temp.Combine("a.jpg"), 64, 48);
        File.WriteAllLines(temp.Combine("support.csv"), ["image,classes", "a.jpg,cat", "gone.jpg,dog"]);

        string error = Cli.Fails("fit", "--support", temp.Combine("support.csv"), "--out", temp.Combine("m.zip"));
        Assert.Contains("line 3", error, StringComparison.Ordinal);
        Assert.Contains(temp.Combine("gone.jpg"), error, StringComparison.Ordinal);
    }

    [Fact]
    public void PerClassZero_FitAndSupport_AreErrorsNamingTheOption()
    {
        using var temp = new TempFolder();
        Cli.WriteImage(temp.Combine("support", "cat", "a.jpg"), 64, 48);
        Assert.Contains("--per-class must be at least 1, got 0", Cli.Fails("fit", "--support", temp.Combine("support"), "--out", temp.Combine("m.zip"), "--per-class", "0"), StringComparison.Ordinal);

        string config = temp.Combine("c.json");
        File.WriteAllText(config, """{ "dataset": { "root": "voc", "classes": ["background", "cat"] } }""");
        Assert.Contains("--per-class must be at least 1, got 0", Cli.Fails("support", "from-labels", "-c", config, "--per-class", "0", "-o", temp.Combine("s")), StringComparison.Ordinal);
        Assert.False(File.Exists(temp.Combine("s", "support.csv")));
    }

    [Fact]
    public void ClassNotInSupport_Fit_NamesItAndTheSupportClasses()
    {
        string error = Cli.Fails("fit", "--support", Path.Combine(tiny.Folder, "support"), "--out", Path.Combine(tiny.Folder, "never.zip"), "--class", "zebra");
        Assert.Contains("'zebra'", error, StringComparison.Ordinal);
        Assert.Contains("cat, dog", error, StringComparison.Ordinal);
    }

    [Fact]
    public void ForeignMlNetModel_SegmentAndEval_SayItIsNotAnOvDiffModel()
    {
        using var temp = new TempFolder();
        var ml = new MLContext(seed: 0);
        IDataView data = ml.Data.LoadFromEnumerable(new[] { new NumberRow { X = 1f }, new NumberRow { X = 3f } });
        ITransformer foreign = ml.Transforms.NormalizeMinMax("X").Fit(data);
        string zip = temp.Combine("foreign.zip");
        ml.Model.Save(foreign, data.Schema, zip);
        Cli.WriteImage(temp.Combine("a.jpg"), 64, 48);

        string error = Cli.Fails("segment", temp.Combine("a.jpg"), "--model", zip, "--out", temp.Combine("out"));
        Assert.Contains($"'{zip}' is an ML.NET model but not an OvDiff model", error, StringComparison.Ordinal);
    }

    [Fact]
    public void RepeatedJsonKey_IsAnErrorNamingKeyAndLines()
    {
        using var temp = new TempFolder();
        string config = temp.Combine("c.json");
        File.WriteAllText(config, "{\n  \"name\": \"a\",\n  \"protocol\": {\n    \"shortSide\": 320,\n    \"shortSide\": 448\n  }\n}\n");

        string error = Cli.Fails("eval", "-c", config, "--model", tiny.ModelPath);
        Assert.Contains(config, error, StringComparison.Ordinal);
        Assert.Contains("'protocol.shortSide' is given twice (lines 4 and 5)", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Verbose_AddsTheStackTrace()
    {
        using var temp = new TempFolder();
        string empty = temp.Combine("empty.jpg");
        File.WriteAllBytes(empty, []);

        (int exit, _, string stderr) = Cli.Invoke("segment", empty, "--model", tiny.ModelPath, "--out", temp.Combine("out"), "--verbose");
        Assert.Equal(1, exit);
        Assert.StartsWith("error: ", stderr, StringComparison.Ordinal);
        Assert.Contains("ImageFormatException", stderr, StringComparison.Ordinal);
        Assert.Contains("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_Bug_OneLineSayingSoAndExit70_TraceOnlyWhenVerbose()
    {
        using var quiet = new StringWriter();
        Assert.Equal(ErrorPolicy.BugExitCode, ErrorPolicy.Report(new NullReferenceException("oops"), quiet, verbose: false));
        Assert.StartsWith("error: unexpected NullReferenceException: oops", quiet.ToString(), StringComparison.Ordinal);
        Assert.Single(quiet.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));

        // Bad input wrapped by a library (as ML.NET's cursors wrap a worker's exception) is still reported as such.
        using var wrapped = new StringWriter();
        var inner = new InvalidDataException("x.jpg: truncated");
        Assert.Equal(ErrorPolicy.BadInputExitCode, ErrorPolicy.Report(new InvalidOperationException("worker failed", inner), wrapped, verbose: false));
        Assert.Equal("error: x.jpg: truncated", wrapped.ToString().Trim());
    }

    [Fact]
    public void UnparsableCommandLine_IsOneErrorLineNamingEveryProblem_NotTheHelpPage()
    {
        Assert.Equal("error: Option '--support' is required; Option '--out' is required ('ovdiff fit --help' lists the options).", Cli.Fails("fit"));
        Assert.Equal("error: Cannot parse argument 'abc' for option '--parts' as expected type 'integer' ('ovdiff fit --help' lists the options).",
            Cli.Fails("fit", "--support", "s.csv", "--out", "m.zip", "--parts", "abc"));
        Assert.Contains("Unrecognized command or argument '--bogus' ('ovdiff eval report --help'", Cli.Fails("eval", "report", "run", "--bogus"), StringComparison.Ordinal);
        Assert.Contains("Description:", Cli.Run("fit", "--help"), StringComparison.Ordinal);
    }

    [Fact]
    public void FitOptionsOutOfRange_AndAnUnwritableOut_AreNamedBeforeTheSupportIsRead()
    {
        using var temp = new TempFolder();
        string[] Fit(params string[] extra) => ["fit", "--support", temp.Combine("absent.csv"), "--out", temp.Combine("m.zip"), .. extra];
        Assert.Equal("error: --parts must be at least 1, got 0.", Cli.Fails(Fit("--parts", "0")));
        Assert.Equal("error: --min-class-area must be in [0, 1), got 7.", Cli.Fails(Fit("--min-class-area", "7")));
        Assert.Equal("error: --self-prototypes must be in [0, 1], got NaN.", Cli.Fails(Fit("--self-prototypes", "NaN")));
        Assert.Equal("error: --prefilter-min-area must be in [0, 1), got -1.", Cli.Fails(Fit("--prefilter-min-area", "-1")));
        Assert.Equal("error: --prefilter-tag-prior must be in [0, 4], got NaN.", Cli.Fails(Fit("--prefilter-tag-prior", "NaN")));
        Assert.Equal("error: --multi-tag-rounds must be 0 or more, got -1.", Cli.Fails(Fit("--multi-tag-rounds", "-1")));
        Assert.Equal("error: --cleaning-rounds must be 0 or more, got -2.", Cli.Fails(Fit("--cleaning-rounds", "-2")));
        Assert.Equal("error: --shared-background-parts must be 0 or more, got -1.", Cli.Fails(Fit("--shared-background-parts", "-1")));

        // The same counts from a config's fit section: named by key and file before the support set is read (was: the
        // support set's error here, and with a support set "SharedBackgroundParts ('-1') must be a non-negative value").
        string config = temp.Combine("c.json");
        File.WriteAllText(config, """{ "fit": { "sharedBackgroundParts": -1 } }""");
        Assert.Equal($"error: {config}: key 'fit.sharedBackgroundParts' must be 0 or more, got -1.", Cli.Fails(Fit("--config", config)));
        Assert.Equal("error: --set fit.multiTagRounds: key 'fit.multiTagRounds' must be 0 or more, got -3.", Cli.Fails(Fit("--set", "fit.multiTagRounds=-3")));
        Assert.Contains($"--out '{temp.Path}' is a folder", Cli.Fails("fit", "--support", temp.Combine("absent.csv"), "--out", temp.Path), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fit_Interrupted_SaysSoExits130AndWritesNoModel()
    {
        // What Ctrl-C does (CommandLineApp.RunInterruptibleAsync cancels the command's token): 24 support images take
        // seconds to fit; the token is cancelled after 1 s. (Ctrl-C once killed fit outright, with no message; in its last
        // step it was not seen at all: the model was written, exit 0.)
        using var temp = new TempFolder();
        for (int i = 0; i < 24; i++)
        {
            Cli.WriteImage(temp.Combine("support", i % 2 == 0 ? "cat" : "dog", $"{i}.jpg"), 480, 360, seed: i);
        }

        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        using var interruption = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        int exit = await CommandLineApp.RunAsync(["fit", "--support", temp.Combine("support"), "--out", temp.Combine("m.zip")], stdout, stderr, interruption.Token);

        Assert.True(exit == ErrorPolicy.InterruptedExitCode, $"exit {exit}: {stderr}");
        Assert.Equal("Interrupted.", stderr.ToString().Trim());
        Assert.False(File.Exists(temp.Combine("m.zip")));
        Assert.Empty(Directory.GetFiles(temp.Path, "*.tmp"));
    }

    [Fact]
    public void ArgumentOutOfRange_WithoutItsNameInTheMessage_KeepsTheName_OtherArgumentErrorsDoNot()
    {
        using var error = new StringWriter();
        ErrorPolicy.Report(new ArgumentOutOfRangeException("MinimumClassArea", 7f, "Must be in [0, 1)."), error, verbose: false);
        Assert.Equal("error: MinimumClassArea: Must be in [0, 1). Actual value was 7.", error.ToString().Trim());

        using var other = new StringWriter();
        ErrorPolicy.Report(new ArgumentException("Unknown model role 'x'.", "name"), other, verbose: false);
        Assert.Equal("error: Unknown model role 'x'.", other.ToString().Trim());
    }

    [Fact]
    public void SampleSettingsOutOfRange_NameTheOption()
    {
        string[] Sample(params string[] extra) => ["sample", "--model", "absent-sd", "--classes", "cat", "--out", "store", .. extra];
        Assert.Equal("error: --batch must be at least 1, got 0.", Cli.Fails(Sample("--batch", "0")));
        Assert.Equal("error: --n must be at least 1, got 0.", Cli.Fails(Sample("--n", "0")));
        Assert.Equal("error: --size must be a positive multiple of 8, got 100.", Cli.Fails(Sample("--size", "100")));
        Assert.Equal("error: --steps must be between 1 and 1000, got 0.", Cli.Fails(Sample("--steps", "0")));
        Assert.Equal("error: --guidance must be a finite number >= 0, got -5.", Cli.Fails(Sample("--guidance", "-5")));
        Assert.False(Directory.Exists("store"));
    }

    [Fact]
    public void UnknownPrefilter_NamesTheOption()
    {
        // Were "'segmenter.options.--prefilter' must be ..." (fit) and "'segmenter.options.prefilter' ..." (explain).
        Assert.Equal("error: '--prefilter' must be none, clip or support, got 'bogus'.", Cli.Fails("fit", "--support", Path.Combine(tiny.Folder, "support"), "--out", Path.Combine(tiny.Folder, "never.zip"), "--prefilter", "bogus"));
        Assert.Equal("error: '--prefilter' must be none, clip or support, got 'bogus'.", Cli.Fails("explain", "x.jpg", "--model", tiny.ModelPath, "--x", "1", "--y", "1", "--prefilter", "bogus"));
    }

    [Fact]
    public void Fit_CountsAMultiTagImageOnce()
    {
        using var temp = new TempFolder();
        string stderr = FitTwoImages(temp, "a.jpg,cat|dog\nb.jpg,dog\n");
        Assert.Contains("2 classes, 2 support images (3 image-class pairs)", stderr, StringComparison.Ordinal);   // was: "3 support images"
    }

    [Fact]
    public void Fit_AFolderLayoutImageInTwoClassFolders_IsOneImageWithBothClasses()
    {
        // A folder per class: the same photo copied into cat/ and dog/ is one support image tagged with both (was: fitted
        // once per folder, each time with the other class in its background).
        using var temp = new TempFolder();
        Directory.CreateDirectory(temp.Combine("support", "cat"));
        Directory.CreateDirectory(temp.Combine("support", "dog"));
        Cli.WriteImage(temp.Combine("support", "cat", "both.jpg"), 160, 120, seed: 1);
        File.Copy(temp.Combine("support", "cat", "both.jpg"), temp.Combine("support", "dog", "same-photo.jpg"));
        Cli.WriteImage(temp.Combine("support", "dog", "d.jpg"), 160, 120, seed: 2);
        (int exit, _, string stderr) = Cli.Invoke("fit", "--support", temp.Combine("support"), "--out", temp.Combine("m.zip"), "--levels", "mean");
        Assert.True(exit == 0, stderr);
        Assert.Contains("2 classes, 2 support images (3 image-class pairs)", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Fit_SaysWhyTheSharedBackgroundHasFewerPartsThanAskedOrNone()
    {
        // Two small images have far fewer background cells than 100000: fewer parts, and the line says why (was: silent).
        using var temp = new TempFolder();
        Assert.Matches(@"2 classes, 2 support images, .*, (\d+) shared background parts \(of 100000 asked: the support images' backgrounds have only \1 distinct cells\)\.",
            FitTwoImages(temp, "a.jpg,cat\nb.jpg,dog\n", "--shared-background-parts", "100000"));

        // Every image has two tags: no background cell to take the parts from (was: no word, the default 32 silently none).
        Assert.Contains("; no shared background parts (32 asked): no single-tag support image has background cells to take them from.",
            FitTwoImages(temp, "a.jpg,cat|dog\nb.jpg,dog|cat\n"), StringComparison.Ordinal);

        // One class: its background alone gives the parts (was: "1 classes").
        Assert.Matches(@"m\.zip: 1 class, 2 support images, .*, 32 shared background parts\.", FitTwoImages(temp, "a.jpg,cat\nb.jpg,cat\n"));
    }

    [Fact]
    public void Segment_PrefilterSharedBackgroundTrueOnAModelWithoutParts_Warns()
    {
        // The option changes nothing on such a model; true and false gave the same maps without a word.
        using var temp = new TempFolder();
        FitTwoImages(temp, "a.jpg,cat\nb.jpg,dog\n", "--shared-background-parts", "0");
        string[] Segment(string model, string value) => ["segment", temp.Combine("a.jpg"), "--model", model, "--out", temp.Combine("out"), "--set", $"segmenter.options.prefilterSharedBackground={value}"];
        (int exit, _, string stderr) = Cli.Invoke(Segment(temp.Combine("m.zip"), "true"));
        Assert.True(exit == 0, stderr);
        Assert.Contains($"warning: segmenter.options.prefilterSharedBackground is true, but model '{temp.Combine("m.zip")}' has no shared background parts (fit it with --shared-background-parts N)", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("warning", Cli.Invoke(Segment(temp.Combine("m.zip"), "false")).Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("warning", Cli.Invoke(Segment(tiny.ModelPath, "true")).Stderr, StringComparison.Ordinal);   // the tiny model has parts
    }

    [Fact]
    public void Explain_NamesTheSharedBackgroundOfTheSupportPrefiltersFirstPass()
    {
        string image = Path.Combine(tiny.Folder, "support", "cat", "c.jpg");
        (int exit, string stdout, string stderr) = Cli.Invoke("explain", image, "--model", tiny.ModelPath, "--x", "5", "--y", "5");
        Assert.True(exit == 0, stderr);
        Assert.Contains("Pre-filter support", stdout, StringComparison.Ordinal);
        Assert.Matches(@"\n  first pass: the model's \d+ shared background parts also score as background \(segmenter\.options\.prefilterSharedBackground\)\r?\n", stdout);
        Assert.DoesNotContain("shared background", Cli.Invoke("explain", image, "--model", tiny.ModelPath, "--x", "5", "--y", "5", "--prefilter", "none").Stdout, StringComparison.Ordinal);

        // explain takes segment's --set/--config/--levels/--pamr, so it shows what segment does with the same flags (it had
        // none: 'Unrecognized command or argument').
        (exit, stdout, stderr) = Cli.Invoke("explain", image, "--model", tiny.ModelPath, "--x", "5", "--y", "5", "--set", "segmenter.options.prefilterSharedBackground=false");
        Assert.True(exit == 0, stderr);
        Assert.Contains("Pre-filter support", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("shared background", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Pre-filter", Cli.Invoke("explain", image, "--model", tiny.ModelPath, "--x", "5", "--y", "5", "--set", "segmenter.options.prefilter=none").Stdout, StringComparison.Ordinal);
    }

    /// <summary>Fits two small generated images, a.jpg and b.jpg, tagged by <paramref name="rows"/> (the support CSV after its header), with class means only; fit's stderr.</summary>
    [Fact]
    public void Explain_TagPrior_ShowsTheAreaEachClassNeeds()
    {
        // cat in 1 of the 2 support images, dog in both: mean share 0.75, so cat needs 0.15 x 0.75 / 0.5 and dog 0.15 x 0.75.
        using var temp = new TempFolder();
        FitTwoImages(temp, "a.jpg,cat|dog\nb.jpg,dog\n");
        string[] Explain(params string[] extra) => ["explain", temp.Combine("a.jpg"), "--model", temp.Combine("m.zip"), "--x", "5", "--y", "5", .. extra];
        (int exit, string stdout, string stderr) = Cli.Invoke(Explain());
        Assert.True(exit == 0, stderr);
        Assert.Matches(@"\n  area each class needs \(the share of support images showing it, segmenter\.options\.prefilterTagPrior 1\): cat 0\.225, dog 0\.11\d\r?\n", stdout);
        Assert.DoesNotContain("area each class needs", Cli.Invoke(Explain("--set", "segmenter.options.prefilterTagPrior=0")).Stdout, StringComparison.Ordinal);
    }

    private static string FitTwoImages(TempFolder temp, string rows, params string[] extra)
    {
        Cli.WriteImage(temp.Combine("a.jpg"), 160, 120, seed: 1);
        Cli.WriteImage(temp.Combine("b.jpg"), 160, 120, seed: 2);
        File.WriteAllText(temp.Combine("support.csv"), "image,classes\n" + rows);
        (int exit, _, string stderr) = Cli.Invoke(["fit", "--support", temp.Combine("support.csv"), "--out", temp.Combine("m.zip"), "--levels", "mean", .. extra]);
        Assert.True(exit == 0, stderr);
        return stderr;
    }

    [Fact]
    public void ParseErrorsOfSeveralLines_AndExplainTopZero_AreOneLine()
    {
        Assert.Equal("error: Argument 'bogus' not recognized. Must be one of: 'alone-first' 'split' ('ovdiff support from-labels --help' lists the options).",
            Cli.Fails("support", "from-labels", "--config", "c.json", "--per-class", "2", "--out", "o", "--order", "bogus"));
        Assert.Equal("error: --top must be at least 1, got 0.", Cli.Fails("explain", "x.jpg", "--model", tiny.ModelPath, "--x", "1", "--y", "1", "--top", "0"));
    }

    private sealed class NumberRow
    {
        public float X { get; set; }
    }
}
