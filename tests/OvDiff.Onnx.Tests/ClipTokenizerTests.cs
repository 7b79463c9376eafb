using System.Text.Json;
using OvDiff.Onnx.Text;
using OvDiff.Testing;

namespace OvDiff.Onnx.Tests;

/// <summary>
/// Known answers for the CLIP tokenizer: the shared ASCII fixtures, and cases whose ids come from a port of OpenAI's
/// SimpleTokenizer run on the original BPE file (Fixtures/clip_reference_ids.py prints them).
/// </summary>
public sealed class ClipTokenizerTests
{
    private static readonly Lazy<ClipTokenizer> Shared = new(() => ClipTokenizer.FromFolder(SharedData.RequireFolder("clip-tokenizer")));

    private static ClipTokenizer Tokenizer
    {
        get
        {
            SharedData.RequireFolder("clip-tokenizer");
            return Shared.Value;
        }
    }

    [Fact]
    public void MatchesTheSharedAsciiFixtures()
    {
        var tokenizer = Tokenizer;
        var path = Path.Combine(SharedData.RequireFolder("clip-tokenizer"), "token_fixtures_ascii.json");
        var fixtures = JsonSerializer.Deserialize<Dictionary<string, int[]>>(File.ReadAllText(path))!;
        Assert.NotEmpty(fixtures);
        foreach (var (text, expected) in fixtures)
        {
            Assert.Equal(expected, tokenizer.Encode(text));
        }
    }

    public static TheoryData<string, int[]> ReferenceCases() => new()
    {
        { "there's a dog, isn't it?", [49406, 997, 568, 320, 1929, 267, 2923, 713, 585, 286, 49407] },
        { "10 cats in 2023!!", [49406, 272, 271, 3989, 530, 273, 271, 273, 274, 748, 49407] },
        {
            "a_b c-d e.f (g) [h] {i} #1 $2.50 50% @home",
            [49406, 320, 318, 321, 322, 268, 323, 324, 269, 325, 263, 326, 264, 314, 327, 316, 346, 328, 348, 258, 272, 259, 273, 269, 276, 271, 276, 271, 260, 287, 1137, 49407]
        },
        { "café crème brûlée", [49406, 15304, 1075, 12138, 614, 711, 127, 119, 75, 13489, 49407] },
        { "cafe\u0301", [49406, 4979, 136, 479, 49407] },
        { "naïve Zoë in São Paulo", [49406, 1097, 35689, 563, 4397, 40520, 530, 45911, 21628, 49407] },
        {
            "Ελληνικά και русский",
            [49406, 138, 113, 138, 119, 138, 119, 138, 115, 138, 121, 138, 117, 138, 118, 138, 361, 138, 118, 138, 109, 138, 373, 16370, 39729, 23669, 23669, 27152, 29503, 373, 49407]
        },
        { "   many    spaces\tand\nnewlines   ", [49406, 1346, 9006, 537, 1218, 3418, 49407] },
        { "fish &amp; chips", [49406, 2759, 261, 8855, 49407] },
        { "A good picture of a potted plant", [49406, 320, 886, 1674, 539, 320, 48581, 3912, 49407] },
        { "A good picture of a traffic cone", [49406, 320, 886, 1674, 539, 320, 3399, 10266, 49407] },
        {
            "text, low quality, blurry, cartoon, meme, low resolution, bad, poor, faded",
            [49406, 4160, 267, 1042, 3027, 267, 21977, 267, 7651, 267, 9169, 267, 1042, 9977, 267, 2103, 267, 3665, 267, 26051, 49407]
        },
        { "", [49406, 49407] },
        { "😀 emoji", [49406, 7334, 16327, 49407] },
    };

    [Theory]
    [MemberData(nameof(ReferenceCases))]
    public void MatchesOpenAiSimpleTokenizer(string text, int[] expected) => Assert.Equal(expected, Tokenizer.Encode(text));

    [Fact]
    public void LongTextIsTruncatedTo77WithTheEndTokenKept()
    {
        var tokenizer = Tokenizer;
        var text = string.Join(' ', Enumerable.Range(0, 60).Select(i => $"word{i}"));
        int[] expected =
        [
            49406, 2653, 271, 2653, 272, 2653, 273, 2653, 274, 2653, 275, 2653, 276, 2653, 277, 2653, 278, 2653, 279, 2653, 280,
            2653, 272, 271, 2653, 272, 272, 2653, 272, 273, 2653, 272, 274, 2653, 272, 275, 2653, 272, 276, 2653, 272, 277, 2653,
            272, 278, 2653, 272, 279, 2653, 272, 280, 2653, 273, 271, 2653, 273, 272, 2653, 273, 273, 2653, 273, 274, 2653, 273,
            275, 2653, 273, 276, 2653, 273, 277, 2653, 273, 278, 2653, 49407,
        ];
        var ids = tokenizer.Encode(text);
        Assert.Equal(77, ids.Length);
        Assert.Equal(expected, ids);
        Assert.True(tokenizer.IsTruncated(text));
        Assert.Equal(170, tokenizer.EncodeWithoutSpecialTokens(text).Length);
        Assert.Equal(ids, tokenizer.EncodePadded(text));
    }

    [Fact]
    public void PaddingUsesTheEndTokenByDefaultAndKeepsTheStartToken()
    {
        var tokenizer = Tokenizer;
        var empty = tokenizer.EncodePadded(string.Empty);
        Assert.Equal(77, empty.Length);
        Assert.Equal(49406, empty[0]);
        Assert.All(empty.Skip(1), id => Assert.Equal(49407, id));
        var zeroPadded = tokenizer.EncodePadded("a dog", padId: 0);
        Assert.Equal([49406, 320, 1929, 49407], zeroPadded.Take(4));
        Assert.All(zeroPadded.Skip(4), id => Assert.Equal(0, id));
    }

    [Fact]
    public void FindPhraseLocatesTheClassNameTokens()
    {
        var tokenizer = Tokenizer;
        Assert.Equal([6, 7], tokenizer.FindPhrase("A good picture of a potted plant", "potted plant"));
        Assert.Equal([6], tokenizer.FindPhrase("A good picture of a cat", "Cat"));

        // The class's first word also occurs in the template: the class's own place is found, not the template's word.
        var frame = tokenizer.FindPhrase("A good picture of a picture frame", "picture frame");
        Assert.Equal([6, 7], frame);
        Assert.Equal(tokenizer.EncodeWithoutSpecialTokens("picture frame"), frame.Select(i => tokenizer.Encode("A good picture of a picture frame")[i]));

        var missing = Assert.Throws<ArgumentException>(() => tokenizer.FindPhrase("A good picture of a dog", "cat"));
        Assert.Contains("does not contain 'cat'", missing.Message, StringComparison.Ordinal);
        var longPrompt = string.Join(' ', Enumerable.Repeat("very", 80)) + " cat";
        var truncated = Assert.Throws<ArgumentException>(() => tokenizer.FindPhrase(longPrompt, "cat"));
        Assert.Contains("first 77 tokens", truncated.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadsFromAStableDiffusionFolderLayout()
    {
        var source = SharedData.RequireFolder("clip-tokenizer");
        using var temp = new TempFolder();
        Directory.CreateDirectory(temp.Combine("tokenizer"));
        File.Copy(Path.Combine(source, "vocab.json"), temp.Combine("tokenizer", "vocab.json"));
        File.Copy(Path.Combine(source, "merges.txt"), temp.Combine("tokenizer", "merges.txt"));
        var tokenizer = ClipTokenizer.FromFolder(temp.Path);
        Assert.Equal([49406, 320, 1125, 539, 320, 1929, 269, 49407], tokenizer.Encode("a photo of a dog."));
        Assert.Equal("dog</w>", tokenizer.TokenOf(1929));
    }

    [Fact]
    public void MissingFilesAreAClearError()
    {
        using var temp = new TempFolder();
        var error = Assert.Throws<ModelFileNotFoundException>(() => ClipTokenizer.FromFolder(temp.Path));
        Assert.Contains("vocab.json", error.Message, StringComparison.Ordinal);
        Assert.Contains("merges.txt", error.Message, StringComparison.Ordinal);
        Assert.Contains(temp.Path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BrokenFilesNameTheFileAndLine()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp.Combine("vocab.json"), "{\"a</w>\": 1, ");
        File.WriteAllText(temp.Combine("merges.txt"), "#version: 0.2\na b\n");
        var json = Assert.Throws<InvalidDataException>(() => ClipTokenizer.FromFolder(temp.Path));
        Assert.Contains("vocab.json", json.Message, StringComparison.Ordinal);

        File.WriteAllText(temp.Combine("vocab.json"), "{\"a</w>\": 1}");
        var noSpecial = Assert.Throws<InvalidDataException>(() => ClipTokenizer.FromFolder(temp.Path));
        Assert.Contains("<|startoftext|>", noSpecial.Message, StringComparison.Ordinal);

        File.WriteAllText(temp.Combine("vocab.json"), "{\"a\": 0, \"b\": 1, \"ab</w>\": 2, \"<|startoftext|>\": 3, \"<|endoftext|>\": 4}");
        File.WriteAllText(temp.Combine("merges.txt"), "#version: 0.2\na b\nthis line is bad\n");
        var merges = Assert.Throws<InvalidDataException>(() => ClipTokenizer.FromFolder(temp.Path));
        Assert.Contains("merges.txt' line 3", merges.Message, StringComparison.Ordinal);
    }
}
