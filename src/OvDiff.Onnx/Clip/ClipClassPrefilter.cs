using System.Diagnostics;
using OvDiff.Core.Segmentation;
using OvDiff.Onnx.Text;

namespace OvDiff.Onnx;

/// <summary>
/// The reference's CLIP class pre-filter (reference.md 1.7): the image squashed to 224 through CLIP ViT-B/16's image tower;
/// prompts "a {class}" through its text tower; softmax over the cosine similarities; the classes with probability at least
/// 1/C (at most 10; the 10 most similar if none) enter an exact search over every non-empty subset, each written as one
/// prompt ("a cat and a dog"), and the subset most similar to the image is kept (<see cref="ClipClassSelection"/>).
/// Stuff classes are not scored (the segmenter always keeps them). Text embeddings are cached: per class, and per subset
/// prompt up to <see cref="SubsetCacheCapacity"/> prompts. Safe to call from several threads (the text tower and its cache
/// take turns). Owns its encoders when it created them; dispose it.
/// </summary>
public sealed class ClipClassPrefilter : IClassPrefilter, IDisposable
{
    /// <summary>Subset-prompt embeddings kept between images (512 floats each: 64 MiB at this capacity).</summary>
    public const int SubsetCacheCapacity = 32768;

    private readonly ClipImageEncoder _image;
    private readonly ClipTextEncoder _text;
    private readonly bool _ownsEncoders;
    private readonly ClassPrefilterOptions _options;
    private readonly Dictionary<string, float[]> _promptCache = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>Uses <paramref name="image"/> and <paramref name="text"/> (disposed with this pre-filter when <paramref name="ownsEncoders"/>).</summary>
    public ClipClassPrefilter(ClipImageEncoder image, ClipTextEncoder text, ClassPrefilterOptions? options = null, bool ownsEncoders = false)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(text);
        _options = options ?? new ClassPrefilterOptions { Kind = ClassPrefilterKind.Clip };
        _options.Validate();
        _image = image;
        _text = text;
        _ownsEncoders = ownsEncoders;
    }

    /// <inheritdoc />
    public string Name => "clip";

    /// <summary>Subset prompts encoded so far (cache misses), for cost reports.</summary>
    public long PromptsEncoded { get; private set; }

    /// <summary>
    /// Opens the CLIP files of <paramref name="store"/> (<see cref="ClipModelFiles"/>: the split towers, or a combined export
    /// in their place); a missing file is a
    /// <see cref="ModelFileNotFoundException"/> naming it and how to get it.
    /// </summary>
    public static ClipClassPrefilter FromStore(ModelStore store, ClassPrefilterOptions? options = null, OnnxRuntimeOptions? runtime = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        string vision = ClipModelFiles.Locate(store, ClipModelFiles.Vision), text = ClipModelFiles.Locate(store, ClipModelFiles.Text);
        string folder = Path.Combine(store.Root, ClipModelFiles.Role);
        foreach (string file in new[] { "vocab.json", "merges.txt" })
        {
            if (!File.Exists(Path.Combine(folder, file)))
            {
                throw new ModelFileNotFoundException(Path.Combine(folder, file), ClipModelFiles.MissingFileHint(Path.Combine(folder, file)));
            }
        }

        ClipTokenizer tokenizer = ClipTokenizer.FromFolder(folder);
        var imageEncoder = new ClipImageEncoder(vision, runtime);
        try
        {
            return new ClipClassPrefilter(imageEncoder, new ClipTextEncoder(text, tokenizer, runtime), options, ownsEncoders: true);
        }
        catch
        {
            imageEncoder.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public ClassPrefilterDecision Select(ClassPrefilterInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        long started = Stopwatch.GetTimestamp();
        int[] scored = Enumerable.Range(0, input.ClassNames.Count).Where(c => !input.IsStuff[c]).ToArray();
        var scores = new float[input.ClassNames.Count];
        Array.Fill(scores, float.NaN);
        if (scored.Length == 0)
        {
            return new ClassPrefilterDecision(Name, [], scores, 0);
        }

        float[] image = _image.Encode(input.Image, cancellationToken);
        float[][] classEmbeddings = Embed(scored.Select(c => ClipClassSelection.ClassPrompt(_options.ClipPrompt, _options.PromptName(input.ClassNames[c]))).ToArray(), cancellationToken);
        float[] cosines = classEmbeddings.Select(e => Dot(image, e)).ToArray();
        ClipFirstStage first = ClipClassSelection.FirstStage(cosines, _options.ClipMaxClasses);
        for (int i = 0; i < scored.Length; i++)
        {
            scores[scored[i]] = first.Probabilities[i];
        }

        int[][] subsets = ClipClassSelection.Subsets(first.Candidates).ToArray();
        string[] prompts = subsets.Select(s => ClipClassSelection.SubsetPrompt(s.Select(i => _options.PromptName(input.ClassNames[scored[i]])), _options.ClipPrompt, _options.ClipConnector)).ToArray();
        float[] similarity = Embed(prompts, cancellationToken).Select(e => Dot(image, e)).ToArray();
        int best = ClipClassSelection.ArgMax(similarity);
        int[] kept = subsets[best].Select(i => scored[i]).Order().ToArray();
        return new ClassPrefilterDecision(Name, kept, scores, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsEncoders)
        {
            _image.Dispose();
            _text.Dispose();
        }
    }

    /// <summary>Embeddings of <paramref name="prompts"/>, from the cache or encoded in batches (and cached while there is room).</summary>
    private float[][] Embed(IReadOnlyList<string> prompts, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return EmbedLocked(prompts, cancellationToken);
        }
    }

    private float[][] EmbedLocked(IReadOnlyList<string> prompts, CancellationToken cancellationToken)
    {
        string[] missing = prompts.Where(p => !_promptCache.ContainsKey(p)).Distinct(StringComparer.Ordinal).ToArray();
        var fresh = new Dictionary<string, float[]>(StringComparer.Ordinal);
        if (missing.Length > 0)
        {
            float[][] encoded = _text.Encode(missing, cancellationToken);
            PromptsEncoded += missing.Length;
            for (int i = 0; i < missing.Length; i++)
            {
                fresh[missing[i]] = encoded[i];
                if (_promptCache.Count < SubsetCacheCapacity)
                {
                    _promptCache[missing[i]] = encoded[i];
                }
            }
        }

        return prompts.Select(p => _promptCache.TryGetValue(p, out float[]? e) ? e : fresh[p]).ToArray();
    }

    private static float Dot(float[] a, float[] b)
    {
        if (a.Length != b.Length)
        {
            throw new OnnxModelMismatchException($"CLIP image embeddings have {a.Length} values but text embeddings {b.Length}: the towers do not belong together.");
        }

        return System.Numerics.Tensors.TensorPrimitives.Dot(a, b);
    }
}
