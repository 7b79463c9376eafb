using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace OvDiff.Onnx.Text;

/// <summary>
/// CLIP's byte-level BPE tokenizer (OpenAI CLIP, Stable Diffusion's text encoder, the CLIP pre-filter), on
/// Microsoft.ML.Tokenizers with the settings that reproduce OpenAI's <c>SimpleTokenizer</c> ids: CLIP's pre-tokenizer
/// regex, lower-casing, <c>&lt;/w&gt;</c> end-of-word suffix, byte-level encoding. Text is first cleaned as CLIP does
/// (HTML entities unescaped twice, whitespace runs collapsed, trimmed). No Unicode normalisation is applied (ftfy's NFC
/// is absent, as in the reference port; .NET's invariant globalization mode cannot normalise), so the ids never depend on
/// the host: a decomposed accent ("e" + U+0301, as in macOS file names) gives other ids than the precomposed one.
/// Every encoding starts with <c>&lt;|startoftext|&gt;</c> and ends with <c>&lt;|endoftext|&gt;</c>; text longer than the
/// context is truncated with the end token kept. Immutable and safe to use from several threads.
/// </summary>
public sealed class ClipTokenizer
{
    /// <summary>CLIP's context length: 77 tokens including the start and end tokens.</summary>
    public const int DefaultContextLength = 77;

    /// <summary>The start-of-text token.</summary>
    public const string StartOfTextToken = "<|startoftext|>";

    /// <summary>The end-of-text token (also the padding token of Stable Diffusion's tokenizer).</summary>
    public const string EndOfTextToken = "<|endoftext|>";

    /// <summary>OpenAI CLIP's pre-tokenizer: contractions, letter runs, single digits, runs of other non-space characters.</summary>
    private static readonly Regex PreTokenizerPattern = new(
        @"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+",
        RegexOptions.IgnoreCase | RegexOptions.Compiled | RegexOptions.CultureInvariant);

    private static readonly Regex Whitespace = new(@"\s+", RegexOptions.Compiled | RegexOptions.CultureInvariant);

    private readonly BpeTokenizer _bpe;
    private readonly Dictionary<int, string> _tokens;

    private ClipTokenizer(BpeTokenizer bpe, Dictionary<string, int> vocabulary, int startId, int endId, int contextLength, string source)
    {
        _bpe = bpe;
        _tokens = [];
        foreach (var (token, id) in vocabulary)
        {
            _tokens.TryAdd(id, token);
        }

        StartOfTextId = startId;
        EndOfTextId = endId;
        ContextLength = contextLength;
        Source = source;
    }

    /// <summary>Id of <see cref="StartOfTextToken"/> (49406 in CLIP's vocabulary).</summary>
    public int StartOfTextId { get; }

    /// <summary>Id of <see cref="EndOfTextToken"/> (49407 in CLIP's vocabulary).</summary>
    public int EndOfTextId { get; }

    /// <summary>Maximum number of ids <see cref="Encode"/> returns, start and end tokens included.</summary>
    public int ContextLength { get; }

    /// <summary>The folder or files the vocabulary was read from (for messages).</summary>
    public string Source { get; }

    /// <summary>
    /// Loads <c>vocab.json</c> and <c>merges.txt</c> from <paramref name="folder"/>: a Stable Diffusion model folder (files in
    /// its <c>tokenizer/</c> subfolder) or the tokenizer folder itself. A missing file throws
    /// <see cref="ModelFileNotFoundException"/> naming both files and where they go.
    /// </summary>
    public static ClipTokenizer FromFolder(string folder, int contextLength = DefaultContextLength)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        var full = Path.GetFullPath(folder);
        var tokenizerFolder = Path.Combine(full, "tokenizer");
        var dir = File.Exists(Path.Combine(full, "vocab.json")) || !Directory.Exists(tokenizerFolder) ? full : tokenizerFolder;
        return FromFiles(Path.Combine(dir, "vocab.json"), Path.Combine(dir, "merges.txt"), contextLength);
    }

    /// <summary>Loads the vocabulary (<c>vocab.json</c>: token to id) and the merges (<c>merges.txt</c>, one pair a line).</summary>
    public static ClipTokenizer FromFiles(string vocabPath, string mergesPath, int contextLength = DefaultContextLength)
    {
        ArgumentException.ThrowIfNullOrEmpty(vocabPath);
        ArgumentException.ThrowIfNullOrEmpty(mergesPath);
        ArgumentOutOfRangeException.ThrowIfLessThan(contextLength, 2);
        vocabPath = Path.GetFullPath(vocabPath);
        mergesPath = Path.GetFullPath(mergesPath);
        foreach (var path in new[] { vocabPath, mergesPath })
        {
            if (!File.Exists(path))
            {
                throw new ModelFileNotFoundException(path, MissingFilesHint(Path.GetDirectoryName(path)!));
            }
        }

        var vocabulary = ReadVocabulary(vocabPath);
        var merges = ReadMerges(mergesPath);
        var startId = RequireToken(vocabulary, StartOfTextToken, vocabPath);
        var endId = RequireToken(vocabulary, EndOfTextToken, vocabPath);
        var options = new BpeOptions(vocabulary)
        {
            Merges = merges,
            PreTokenizer = new RegexPreTokenizer(PreTokenizerPattern, null),
            Normalizer = new LowerCaseNormalizer(),
            EndOfWordSuffix = "</w>",
            ByteLevel = true,
            SpecialTokens = new Dictionary<string, int> { [StartOfTextToken] = startId, [EndOfTextToken] = endId },
        };
        BpeTokenizer bpe;
        try
        {
            bpe = BpeTokenizer.Create(options);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"The CLIP tokenizer files '{vocabPath}' and '{mergesPath}' do not form a BPE vocabulary: {ex.Message}", ex);
        }

        return new ClipTokenizer(bpe, vocabulary, startId, endId, contextLength, Path.GetDirectoryName(vocabPath)!);
    }

    /// <summary>Where the tokenizer files go, for errors about missing files.</summary>
    public static string MissingFilesHint(string folder) =>
        $"The CLIP tokenizer needs vocab.json and merges.txt in '{folder}' (in a Stable Diffusion folder: tokenizer/vocab.json and " +
        "tokenizer/merges.txt, as in the Hugging Face repository's tokenizer/ folder; `ovdiff models download` fetches them).";

    /// <summary>CLIP's text cleaning: HTML entities unescaped twice, whitespace runs collapsed to one space, trimmed.</summary>
    public static string Clean(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = WebUtility.HtmlDecode(WebUtility.HtmlDecode(text));
        return Whitespace.Replace(text, " ").Trim();
    }

    /// <summary>The BPE ids of <paramref name="text"/> without start/end tokens and without truncation.</summary>
    public int[] EncodeWithoutSpecialTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var cleaned = Clean(text);
        return cleaned.Length == 0 ? [] : _bpe.EncodeToIds(cleaned).ToArray();
    }

    /// <summary>
    /// Start token, the ids of <paramref name="text"/>, end token; at most <see cref="ContextLength"/> ids (longer text is
    /// cut and the end token kept last, as Hugging Face's CLIPTokenizer with truncation does).
    /// </summary>
    public int[] Encode(string text)
    {
        var body = EncodeWithoutSpecialTokens(text);
        var kept = Math.Min(body.Length, ContextLength - 2);
        var ids = new int[kept + 2];
        ids[0] = StartOfTextId;
        body.AsSpan(0, kept).CopyTo(ids.AsSpan(1));
        ids[^1] = EndOfTextId;
        return ids;
    }

    /// <summary>
    /// <see cref="Encode"/> padded to exactly <see cref="ContextLength"/> ids with <paramref name="padId"/> (default: the end
    /// token, as Stable Diffusion 1.x's tokenizer pads; CLIP's pooled output does not depend on the padding).
    /// </summary>
    public int[] EncodePadded(string text, int? padId = null)
    {
        var ids = Encode(text);
        var padded = new int[ContextLength];
        ids.CopyTo(padded, 0);
        padded.AsSpan(ids.Length).Fill(padId ?? EndOfTextId);
        return padded;
    }

    /// <summary>True when <see cref="Encode"/> of <paramref name="text"/> had to drop tokens.</summary>
    public bool IsTruncated(string text) => EncodeWithoutSpecialTokens(text).Length > ContextLength - 2;

    /// <summary>
    /// Positions in <see cref="Encode"/>(<paramref name="text"/>) of the tokens of <paramref name="phrase"/> (e.g. the class
    /// name inside a prompt): the last place where the phrase's ids occur contiguously. Unlike taking the first occurrence of
    /// the phrase's first token, this is right when the template repeats a word of the class name ("a picture of a picture
    /// frame"). Throws <see cref="ArgumentException"/> when the phrase is not in the (possibly truncated) encoding.
    /// </summary>
    public int[] FindPhrase(string text, string phrase)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentException.ThrowIfNullOrWhiteSpace(phrase);
        var ids = Encode(text);
        var wanted = EncodeWithoutSpecialTokens(phrase);
        for (var start = ids.Length - 1 - wanted.Length; start >= 1; start--)
        {
            if (ids.AsSpan(start, wanted.Length).SequenceEqual(wanted))
            {
                return Enumerable.Range(start, wanted.Length).ToArray();
            }
        }

        throw new ArgumentException(
            IsTruncated(text)
                ? $"'{phrase}' is not within the first {ContextLength} tokens of the prompt '{text}'; shorten the prompt."
                : $"The prompt '{text}' does not contain '{phrase}' as whole words; the prompt template must contain the class name.",
            nameof(phrase));
    }

    /// <summary>The token string of <paramref name="id"/> (byte-level form, e.g. "cat&lt;/w&gt;"), or null.</summary>
    public string? TokenOf(int id) => _tokens.GetValueOrDefault(id);

    private static Dictionary<string, int> ReadVocabulary(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            var vocabulary = JsonSerializer.Deserialize<Dictionary<string, int>>(stream);
            if (vocabulary is null || vocabulary.Count == 0)
            {
                throw new InvalidDataException($"The CLIP vocabulary '{path}' is empty; expected a JSON object of token to id.");
            }

            return vocabulary;
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException(
                $"The CLIP vocabulary '{path}' is not a JSON object of token to id (line {ex.LineNumber + 1}, position {ex.BytePositionInLine}): {ex.Message}", ex);
        }
    }

    private static List<string> ReadMerges(string path)
    {
        var merges = new List<string>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0 || (lineNumber == 1 && line.StartsWith("#version", StringComparison.Ordinal)))
            {
                continue;
            }

            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space <= 0 || space == line.Length - 1 || line.IndexOf(' ', space + 1) >= 0)
            {
                throw new InvalidDataException(
                    string.Create(CultureInfo.InvariantCulture, $"The CLIP merges file '{path}' line {lineNumber} is '{line}'; expected two tokens separated by one space."));
            }

            merges.Add(line);
        }

        return merges.Count > 0
            ? merges
            : throw new InvalidDataException($"The CLIP merges file '{path}' has no merges.");
    }

    private static int RequireToken(Dictionary<string, int> vocabulary, string token, string path) =>
        vocabulary.TryGetValue(token, out var id)
            ? id
            : throw new InvalidDataException($"The CLIP vocabulary '{path}' has no '{token}' token; is it a CLIP tokenizer's vocab.json?");
}
