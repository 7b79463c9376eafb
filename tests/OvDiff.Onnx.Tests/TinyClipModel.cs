using Google.Protobuf;
using Onnx;

namespace OvDiff.Onnx.Tests;

/// <summary>
/// Tiny CLIP-shaped ONNX towers (OnnxSharp protos) with the real exports' input and output names, for the pre-filter:
/// <list type="bullet">
/// <item>image: pixel_values [B,3,H,W] → 16x16 patch Conv (D channels) → mean over patches → · Wi → image_embeds [B,E];</item>
/// <item>text: input_ids [B,S] (int64 or int32) → embedding table row (id mod Vocab), zeroed where attention_mask is 0
/// (when the model has that input) → running sum over the sequence → the sum at the first end token (ArgMax of the ids,
/// as CLIP pools at the highest id) → · Wt → text_embeds [B,E].</item>
/// </list>
/// The weights are public so tests recompute the embeddings in float64. Proto helpers are <see cref="TinyVitModel"/>'s.
/// </summary>
internal sealed class TinyClipModel
{
    public const int Patch = 16;

    public TinyClipModel(int dim = 6, int embed = 5, int vocab = 97, int seed = 5)
    {
        Dim = dim;
        Embed = embed;
        Vocab = vocab;
        var random = new Random(seed);
        float Next() => (float)((random.NextDouble() * 2) - 1);
        PatchWeights = Enumerable.Range(0, dim * 3 * Patch * Patch).Select(_ => Next() * 0.05f).ToArray();
        PatchBias = Enumerable.Range(0, dim).Select(_ => Next()).ToArray();
        ImageProjection = Enumerable.Range(0, dim * embed).Select(_ => Next()).ToArray();
        TokenTable = Enumerable.Range(0, vocab * embed).Select(_ => Next()).ToArray();
        TextProjection = Enumerable.Range(0, embed * embed).Select(_ => Next()).ToArray();
    }

    public int Dim { get; }

    public int Embed { get; }

    public int Vocab { get; }

    public float[] PatchWeights { get; }

    public float[] PatchBias { get; }

    public float[] ImageProjection { get; }

    public float[] TokenTable { get; }

    public float[] TextProjection { get; }

    /// <summary>
    /// Writes the image tower; <paramref name="size"/> fixes H and W (the exports have 224), null leaves them symbolic.
    /// <paramref name="keyTensorName"/> adds a ViT-style key tensor [B, 1 + patches, <paramref name="keyChannels"/>] (a CLS
    /// token prepended to the patch tokens, then a linear map) under that name, as the dense CLIP key extractor reads it.
    /// </summary>
    /// <paramref name="batch"/> fixes the batch dimension (null: symbolic); <paramref name="float16"/> makes pixel_values and
    /// image_embeds float16, as the <c>*_fp16.onnx</c> exports have them (the inside stays float32, so it runs on the CPU).
    public void WriteVision(string path, int? size = 224, string? keyTensorName = null, int keyChannels = 768, int? batch = null, bool float16 = false)
    {
        var graph = new GraphProto { Name = "tiny-clip-vision" };
        AddVision(graph, size, batch, float16);
        if (keyTensorName is not null)
        {
            var random = new Random(Dim + keyChannels);
            graph.Initializer.Add(new TensorProto { Name = "flat_shape", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 3 }, Int64Data = { 0, Dim, -1 } });
            graph.Initializer.Add(TinyVitModel.Initializer("cls", [1, 1, Dim], [.. Enumerable.Range(0, Dim).Select(_ => (float)random.NextDouble())]));
            graph.Initializer.Add(TinyVitModel.Initializer("key_w", [Dim, keyChannels], [.. Enumerable.Range(0, Dim * keyChannels).Select(_ => (float)((random.NextDouble() * 2) - 1))]));
            graph.Initializer.Add(TinyVitModel.Initializer("key_b", [keyChannels], [.. Enumerable.Range(0, keyChannels).Select(_ => (float)random.NextDouble())]));
            graph.Node.Add(TinyVitModel.Node("Reshape", "flatten", ["patches", "flat_shape"], ["flat"]));
            graph.Node.Add(TinyVitModel.Node("Transpose", "tokens", ["flat"], ["tokens"], Ints("perm", 0, 2, 1)));
            graph.Node.Add(TinyVitModel.Node("Concat", "with_cls", ["cls", "tokens"], ["with_cls"], Int("axis", 1)));
            graph.Node.Add(TinyVitModel.Node("MatMul", "key_mm", ["with_cls", "key_w"], ["key_mm"]));
            graph.Node.Add(TinyVitModel.Node("Add", "key_add", ["key_mm", "key_b"], [keyTensorName]));
            graph.Node.Add(TinyVitModel.Node("ReduceMean", "key_pool", [keyTensorName], ["last_hidden_state"], Ints("axes", 2), Int("keepdims", 1)));
            graph.Output.Add(TinyVitModel.Tensor("last_hidden_state", TensorProto.Types.DataType.Float, [null, null, 1]));
        }

        Save(graph, path);
    }

    /// <summary>
    /// Writes the text tower with int64 or int32 ids, with or without an attention_mask input (required when present, as
    /// the model reads it), a fixed batch and length where given, and text_embeds float16 when <paramref name="float16Output"/>.
    /// </summary>
    public void WriteText(string path, bool int32Ids = false, bool attentionMask = false, int? fixedLength = null, int? batch = null, bool float16Output = false)
    {
        var graph = new GraphProto { Name = "tiny-clip-text" };
        AddText(graph, int32Ids, attentionMask, fixedLength, batch, float16Output);
        Save(graph, path);
    }

    /// <summary>
    /// Writes both towers in one graph, as Optimum's combined CLIP export: inputs input_ids, attention_mask (int64) and
    /// pixel_values; outputs logits_per_image, logits_per_text, text_embeds, image_embeds.
    /// </summary>
    public void WriteCombined(string path)
    {
        var graph = new GraphProto { Name = "tiny-clip" };
        AddText(graph, int32Ids: false, attentionMask: true, fixedLength: null, batch: null, float16Output: false);
        AddVision(graph, size: null, batch: null, float16: false);
        graph.Node.Add(TinyVitModel.Node("Transpose", "text_t", ["text_embeds"], ["text_t"], Ints("perm", 1, 0)));
        graph.Node.Add(TinyVitModel.Node("MatMul", "logits_image", ["image_embeds", "text_t"], ["logits_per_image"]));
        graph.Node.Add(TinyVitModel.Node("Transpose", "logits_text", ["logits_per_image"], ["logits_per_text"], Ints("perm", 1, 0)));
        graph.Output.Clear();
        graph.Output.Add(TinyVitModel.Tensor("logits_per_image", TensorProto.Types.DataType.Float, [null, null]));
        graph.Output.Add(TinyVitModel.Tensor("logits_per_text", TensorProto.Types.DataType.Float, [null, null]));
        graph.Output.Add(TinyVitModel.Tensor("text_embeds", TensorProto.Types.DataType.Float, [null, Embed]));
        graph.Output.Add(TinyVitModel.Tensor("image_embeds", TensorProto.Types.DataType.Float, [null, Embed]));
        Save(graph, path);
    }

    private void AddVision(GraphProto graph, int? size, int? batch, bool float16)
    {
        var boundary = float16 ? TensorProto.Types.DataType.Float16 : TensorProto.Types.DataType.Float;
        graph.Input.Add(TinyVitModel.Tensor("pixel_values", boundary, [batch, 3, size, size]));
        string pixels = "pixel_values";
        if (float16)
        {
            graph.Node.Add(TinyVitModel.Node("Cast", "pixels32", [pixels], ["pixels32"], Int("to", (long)TensorProto.Types.DataType.Float)));
            pixels = "pixels32";
        }

        graph.Initializer.Add(TinyVitModel.Initializer("patch_w", [Dim, 3, Patch, Patch], PatchWeights));
        graph.Initializer.Add(TinyVitModel.Initializer("patch_b", [Dim], PatchBias));
        graph.Initializer.Add(TinyVitModel.Initializer("proj_w", [Dim, Embed], ImageProjection));
        graph.Node.Add(TinyVitModel.Node("Conv", "patch", [pixels, "patch_w", "patch_b"], ["patches"], Ints("kernel_shape", Patch, Patch), Ints("strides", Patch, Patch)));
        graph.Node.Add(TinyVitModel.Node("ReduceMean", "pool", ["patches"], ["pooled"], Ints("axes", 2, 3), Int("keepdims", 0)));
        graph.Node.Add(TinyVitModel.Node("MatMul", "proj", ["pooled", "proj_w"], [float16 ? "image_embeds32" : "image_embeds"]));
        if (float16)
        {
            graph.Node.Add(TinyVitModel.Node("Cast", "image_embeds16", ["image_embeds32"], ["image_embeds"], Int("to", (long)boundary)));
        }

        graph.Output.Add(TinyVitModel.Tensor("image_embeds", boundary, [batch, Embed]));
    }

    private void AddText(GraphProto graph, bool int32Ids, bool attentionMask, int? fixedLength, int? batch, bool float16Output)
    {
        var ids = int32Ids ? TensorProto.Types.DataType.Int32 : TensorProto.Types.DataType.Int64;
        graph.Input.Add(TinyVitModel.Tensor("input_ids", ids, [batch, fixedLength]));
        graph.Initializer.Add(TinyVitModel.Initializer("table", [Vocab, Embed], TokenTable));
        graph.Initializer.Add(TinyVitModel.Initializer("proj_t", [Embed, Embed], TextProjection));
        graph.Initializer.Add(new TensorProto { Name = "vocab", DataType = (int)TensorProto.Types.DataType.Int64, Int64Data = { Vocab } });
        graph.Initializer.Add(new TensorProto { Name = "one_axis", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 1 }, Int64Data = { 1 } });
        graph.Initializer.Add(new TensorProto { Name = "embed_shape", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 3 }, Int64Data = { 1, 1, Embed } });
        graph.Node.Add(TinyVitModel.Node("Cast", "ids64", ["input_ids"], ["ids64"], Int("to", (long)TensorProto.Types.DataType.Int64)));
        graph.Node.Add(TinyVitModel.Node("Mod", "mod", ["ids64", "vocab"], ["rows"]));
        graph.Node.Add(TinyVitModel.Node("Gather", "embed", ["table", "rows"], ["tokens"], Int("axis", 0)));
        string tokens = "tokens";
        if (attentionMask)
        {
            graph.Input.Add(TinyVitModel.Tensor("attention_mask", ids, [batch, fixedLength]));
            graph.Node.Add(TinyVitModel.Node("Cast", "maskf", ["attention_mask"], ["maskf"], Int("to", (long)TensorProto.Types.DataType.Float)));
            graph.Node.Add(TinyVitModel.Node("Unsqueeze", "mask3", ["maskf", "one_axis_neg"], ["mask3"]));
            graph.Initializer.Add(new TensorProto { Name = "one_axis_neg", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 1 }, Int64Data = { 2 } });
            graph.Node.Add(TinyVitModel.Node("Mul", "masked", ["tokens", "mask3"], ["masked"]));
            tokens = "masked";
        }

        graph.Node.Add(TinyVitModel.Node("CumSum", "running", [tokens, "axis_scalar"], ["running"]));
        graph.Initializer.Add(new TensorProto { Name = "axis_scalar", DataType = (int)TensorProto.Types.DataType.Int64, Int64Data = { 1 } });
        graph.Node.Add(TinyVitModel.Node("ArgMax", "eos", ["ids64"], ["eos"], Int("axis", 1), Int("keepdims", 1)));
        graph.Node.Add(TinyVitModel.Node("Unsqueeze", "eos3", ["eos", "one_axis_neg2"], ["eos3"]));
        graph.Initializer.Add(new TensorProto { Name = "one_axis_neg2", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 1 }, Int64Data = { 2 } });
        graph.Node.Add(TinyVitModel.Node("Expand", "index", ["eos3", "embed_shape"], ["index"]));
        graph.Node.Add(TinyVitModel.Node("GatherElements", "pick", ["running", "index"], ["picked"], Int("axis", 1)));
        graph.Node.Add(TinyVitModel.Node("Squeeze", "text_pooled", ["picked", "one_axis"], ["text_pooled"]));
        graph.Node.Add(TinyVitModel.Node("MatMul", "proj_text", ["text_pooled", "proj_t"], [float16Output ? "text_embeds32" : "text_embeds"]));
        var output = float16Output ? TensorProto.Types.DataType.Float16 : TensorProto.Types.DataType.Float;
        if (float16Output)
        {
            graph.Node.Add(TinyVitModel.Node("Cast", "text_embeds16", ["text_embeds32"], ["text_embeds"], Int("to", (long)output)));
        }

        graph.Output.Add(TinyVitModel.Tensor("text_embeds", output, [batch, Embed]));
    }

    /// <summary>The image embedding (not normalised) of planar CLIP-normalised pixels [3, H, W], in float64.</summary>
    public double[] ReferenceImage(float[] planar, int height, int width)
    {
        int gh = height / Patch, gw = width / Patch;
        var pooled = new double[Dim];
        for (int d = 0; d < Dim; d++)
        {
            double sum = 0;
            for (int py = 0; py < gh; py++)
            {
                for (int px = 0; px < gw; px++)
                {
                    double v = PatchBias[d];
                    for (int c = 0; c < 3; c++)
                    {
                        for (int ky = 0; ky < Patch; ky++)
                        {
                            for (int kx = 0; kx < Patch; kx++)
                            {
                                v += (double)PatchWeights[(((((d * 3) + c) * Patch) + ky) * Patch) + kx] * planar[(c * height * width) + (((py * Patch) + ky) * width) + (px * Patch) + kx];
                            }
                        }
                    }

                    sum += v;
                }
            }

            pooled[d] = sum / (gh * gw);
        }

        return Project(pooled, ImageProjection, Dim);
    }

    /// <summary>The text embedding (not normalised) of token ids (start … end), in float64: rows summed up to the first end token.</summary>
    public double[] ReferenceText(IReadOnlyList<int> ids)
    {
        int eos = 0;
        for (int i = 0; i < ids.Count; i++)
        {
            if (ids[i] > ids[eos])
            {
                eos = i;
            }
        }

        var sum = new double[Embed];
        for (int t = 0; t <= eos; t++)
        {
            for (int e = 0; e < Embed; e++)
            {
                sum[e] += TokenTable[((ids[t] % Vocab) * Embed) + e];
            }
        }

        return Project(sum, TextProjection, Embed);
    }

    private double[] Project(double[] x, float[] w, int rows)
    {
        var y = new double[Embed];
        for (int e = 0; e < Embed; e++)
        {
            for (int k = 0; k < rows; k++)
            {
                y[e] += x[k] * w[(k * Embed) + e];
            }
        }

        return y;
    }

    private static void Save(GraphProto graph, string path)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "OvDiff.Onnx.Tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllBytes(path, model.ToByteArray());
    }

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.Add(values);
        return attribute;
    }
}
