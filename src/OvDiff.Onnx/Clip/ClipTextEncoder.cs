using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OvDiff.Core.Numerics;
using OvDiff.Onnx.Text;

namespace OvDiff.Onnx;

/// <summary>
/// CLIP's text tower (e.g. <c>onnx/text_model.onnx</c>): prompts tokenised with the one <see cref="ClipTokenizer"/>, padded
/// with the end token to the longest prompt of a batch (or to the model's fixed length), to unit embeddings
/// (<c>text_embeds</c>, float32 or float16). <c>input_ids</c> is fed as int64 or int32 as the model declares; an
/// <c>attention_mask</c> input, when the export has one, marks the padding. CLIP pools at the first end token behind a
/// causal mask, so the padding does not change an embedding. An export with a fixed batch size (1, say) gets batches of
/// that size (a short last batch filled up with its last prompt); a combined CLIP export (<c>model.onnx</c> with both
/// towers) is pruned to the text tower. Owns its session; dispose it.
/// </summary>
public sealed class ClipTextEncoder : IDisposable
{
    /// <summary>The token input of the exports.</summary>
    public const string InputIdsName = "input_ids";

    /// <summary>The optional mask input of some exports.</summary>
    public const string AttentionMaskName = "attention_mask";

    /// <summary>The projected text embedding of the exports.</summary>
    public const string OutputName = "text_embeds";

    private static readonly TensorElementType[] IdTypes = [TensorElementType.Int64, TensorElementType.Int32];

    private readonly OnnxModelSession _session;
    private readonly ClipTokenizer _tokenizer;
    private readonly int _fixedBatch;
    private readonly int _fixedLength;
    private readonly bool _hasMask;
    private readonly TensorElementType _idType;
    private readonly TensorElementType _maskType;

    /// <summary>Opens <paramref name="modelPath"/>; a missing file is a <see cref="ModelFileNotFoundException"/> saying where it goes.</summary>
    public ClipTextEncoder(string modelPath, ClipTokenizer tokenizer, OnnxRuntimeOptions? runtime = null, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        _tokenizer = tokenizer;
        BatchSize = batchSize;
        _session = ClipTowerSession.Open(
            modelPath,
            runtime ?? OnnxRuntimeOptions.Default,
            [new OnnxTensorSpec(InputIdsName, [-1, -1], IdTypes), new OnnxTensorSpec(AttentionMaskName, [-1, -1], IdTypes) { Optional = true }],
            OnnxTensorSpec.AnyFloat(OutputName, 2),
            ClipModelFiles.MissingFileHint(modelPath));
        _idType = _session.InputMetadata[InputIdsName].ElementDataType;
        _fixedBatch = Math.Max(0, _session.InputDimensions(InputIdsName)[0]);
        _fixedLength = _session.InputDimensions(InputIdsName)[1];
        if (_session.InputMetadata.TryGetValue(AttentionMaskName, out NodeMetadata? mask))
        {
            _hasMask = true;
            _maskType = mask.ElementDataType;
        }
    }

    /// <summary>Prompts per model call.</summary>
    public int BatchSize { get; }

    /// <summary>The model file.</summary>
    public string ModelDescription => _session.ModelDescription;

    /// <summary>The unit embeddings of <paramref name="prompts"/>, in order.</summary>
    public float[][] Encode(IReadOnlyList<string> prompts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        var result = new float[prompts.Count][];
        int batchSize = _fixedBatch > 0 ? _fixedBatch : BatchSize;
        for (int start = 0; start < prompts.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, prompts.Count - start);
            int rows = _fixedBatch > 0 ? _fixedBatch : count;
            int[][] ids = Enumerable.Range(start, rows).Select(i => _tokenizer.Encode(prompts[Math.Min(i, prompts.Count - 1)])).ToArray();
            int length = _fixedLength > 0 ? _fixedLength : ids.Max(t => t.Length);
            var flat = new long[rows * length];
            var mask = new long[rows * length];
            for (int b = 0; b < rows; b++)
            {
                for (int t = 0; t < length; t++)
                {
                    bool real = t < ids[b].Length;
                    flat[(b * length) + t] = real ? ids[b][t] : _tokenizer.EndOfTextId;
                    mask[(b * length) + t] = real ? 1 : 0;
                }
            }

            long[] shape = [rows, length];
            using OrtValue idsValue = CreateIntegers(flat, shape, _idType);
            var inputs = new Dictionary<string, OrtValue> { [InputIdsName] = idsValue };
            using OrtValue? maskValue = _hasMask ? CreateIntegers(mask, shape, _maskType) : null;
            if (maskValue is not null)
            {
                inputs[AttentionMaskName] = maskValue;
            }

            using var outputs = _session.Run(inputs, [OutputName], cancellationToken);
            float[] embeddings = OnnxModelSession.ReadFloatTensor(outputs.First(), out long[] outShape);
            if (outShape.Length != 2 || outShape[0] != rows)
            {
                throw new OnnxModelMismatchException($"'{OutputName}' of '{_session.ModelDescription}' has shape [{string.Join(",", outShape)}]; expected [{rows}, D].");
            }

            int dim = (int)outShape[1];
            Matrix.NormalizeRows(embeddings, rows, dim, 1e-12f);
            for (int b = 0; b < count; b++)
            {
                result[start + b] = embeddings.AsSpan(b * dim, dim).ToArray();
            }
        }

        return result;
    }

    private static OrtValue CreateIntegers(long[] values, long[] shape, TensorElementType type) => type == TensorElementType.Int64
        ? OrtValue.CreateTensorValueFromMemory(values, shape)
        : OrtValue.CreateTensorValueFromMemory(values.Select(v => checked((int)v)).ToArray(), shape);

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();
}
