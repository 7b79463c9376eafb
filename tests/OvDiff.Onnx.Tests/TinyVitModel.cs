using Google.Protobuf;
using Onnx;

namespace OvDiff.Onnx.Tests;

/// <summary>
/// A tiny ViT-shaped ONNX model built with OnnxSharp protos, with the real exports' I/O and tensor names:
/// pixel_values [B,3,H,W] → Conv patch embedding (stride p) → tokens [1,N,D] → prefix tokens (CLS, registers) prepended →
/// key = tokens · Wk + bk (a MatMul and an Add named like the HF export) → last_hidden_state = key · Wo.
/// The weights are public so the tests can recompute the keys in float64.
/// </summary>
internal sealed class TinyVitModel
{
    public TinyVitModel(int patch, int dim, int prefixTokens, string keyTensorName, int seed = 11)
    {
        Patch = patch;
        Dim = dim;
        PrefixTokens = prefixTokens;
        KeyTensorName = keyTensorName;
        var random = new Random(seed);
        float Next() => (float)((random.NextDouble() * 2) - 1);
        PatchWeights = Enumerable.Range(0, dim * 3 * patch * patch).Select(_ => Next() * 0.3f).ToArray();
        PatchBias = Enumerable.Range(0, dim).Select(_ => Next()).ToArray();
        Prefix = Enumerable.Range(0, prefixTokens * dim).Select(_ => Next()).ToArray();
        KeyWeights = Enumerable.Range(0, dim * dim).Select(_ => Next() * 0.5f).ToArray();
        KeyBias = Enumerable.Range(0, dim).Select(_ => Next()).ToArray();
    }

    public int Patch { get; }

    public int Dim { get; }

    public int PrefixTokens { get; }

    public string KeyTensorName { get; }

    public float[] PatchWeights { get; }

    public float[] PatchBias { get; }

    public float[] Prefix { get; }

    public float[] KeyWeights { get; }

    public float[] KeyBias { get; }

    /// <summary>Writes the model; <paramref name="fixedSize"/> pins the input's H and W, else they are symbolic.</summary>
    /// <paramref name="externalKeyWeights"/> stores the key projection's weights in a separate file beside the model, as large exports do.
    /// <paramref name="positionEmbeddingSize"/> adds learned position embeddings for that square input size (zero, so the keys
    /// stay those of <see cref="ReferenceKeys"/>), which an export without interpolation can only add at that size, however
    /// its input is declared. <paramref name="poolerOutput"/> adds a pooler_output [1, Dim] output as ViTModel exports have.
    public string Write(
        string directory,
        int? fixedSize = null,
        TensorProto.Types.DataType elementType = TensorProto.Types.DataType.Float,
        bool externalKeyWeights = false,
        int? positionEmbeddingSize = null,
        bool poolerOutput = false,
        bool quantizedKey = false)
    {
        var name = $"tiny-vit-{Guid.NewGuid():N}";
        Directory.CreateDirectory(directory);
        var graph = new GraphProto { Name = "tiny-vit" };
        graph.Input.Add(Tensor("pixel_values", elementType, fixedSize is { } s ? [1, 3, s, s] : [null, 3, null, null]));
        var isHalf = elementType == TensorProto.Types.DataType.Float16;
        var input = "pixel_values";
        if (isHalf)
        {
            graph.Node.Add(Node("Cast", "/cast_in", [input], ["/cast_in_output_0"], Attr("to", (long)TensorProto.Types.DataType.Float)));
            input = "/cast_in_output_0";
        }

        graph.Initializer.Add(Initializer("patch_w", [Dim, 3, Patch, Patch], PatchWeights));
        graph.Initializer.Add(Initializer("patch_b", [Dim], PatchBias));
        graph.Initializer.Add(externalKeyWeights ? ExternalInitializer(directory, name + ".onnx_data", "key_w", [Dim, Dim], KeyWeights) : Initializer("key_w", [Dim, Dim], KeyWeights));
        graph.Initializer.Add(Initializer("key_b", [Dim], KeyBias));
        graph.Initializer.Add(Initializer("out_w", [Dim, Dim], KeyWeights.Reverse().ToArray()));
        graph.Initializer.Add(new TensorProto { Name = "flat_shape", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 3 }, Int64Data = { 0, Dim, -1 } });
        graph.Node.Add(Node("Conv", "/embeddings/patch_embeddings/projection/Conv", [input, "patch_w", "patch_b"], ["/embeddings/patch_embeddings/projection/Conv_output_0"],
            Attr("kernel_shape", Patch, Patch), Attr("strides", Patch, Patch)));
        graph.Node.Add(Node("Reshape", "/embeddings/Reshape", ["/embeddings/patch_embeddings/projection/Conv_output_0", "flat_shape"], ["/embeddings/Reshape_output_0"]));
        graph.Node.Add(Node("Transpose", "/embeddings/Transpose", ["/embeddings/Reshape_output_0"], ["/embeddings/Transpose_output_0"], Attr("perm", 0, 2, 1)));
        var tokens = "/embeddings/Transpose_output_0";
        if (PrefixTokens > 0)
        {
            graph.Initializer.Add(Initializer("prefix", [1, PrefixTokens, Dim], Prefix));
            graph.Node.Add(Node("Concat", "/embeddings/Concat", ["prefix", tokens], ["/embeddings/Concat_output_0"], Attr("axis", 1L)));
            tokens = "/embeddings/Concat_output_0";
        }

        if (positionEmbeddingSize is { } embedded)
        {
            var tokenCount = PrefixTokens + ((embedded / Patch) * (embedded / Patch));
            graph.Initializer.Add(Initializer("position_embeddings", [1, tokenCount, Dim], new float[tokenCount * Dim]));
            graph.Node.Add(Node("Add", "/embeddings/Add", [tokens, "position_embeddings"], ["/embeddings/Add_output_0"]));
            tokens = "/embeddings/Add_output_0";
        }

        var stem = KeyTensorName.EndsWith("/Add_output_0", StringComparison.Ordinal) ? KeyTensorName[..^"/Add_output_0".Length] : "/key";
        if (quantizedKey)
        {
            // As ONNX Runtime's dynamic quantization (the *_quantized.onnx exports) writes a MatMul with a constant weight:
            // activations quantized per run (uint8), weights stored as int8 with one scale, MatMulInteger, then rescaled,
            // keeping the MatMul's output name so the bias Add and the key tensor keep theirs.
            var weightScale = KeyWeights.Max(Math.Abs) / 127f;
            var quantized = new TensorProto { Name = "key_w_quantized", DataType = (int)TensorProto.Types.DataType.Int8, Dims = { Dim, Dim } };
            quantized.RawData = Google.Protobuf.ByteString.CopyFrom(KeyWeights.Select(w => (byte)(sbyte)Math.Round(w / weightScale)).ToArray());
            graph.Initializer.Add(quantized);
            graph.Initializer.Add(Initializer("key_w_scale", [], [weightScale]));
            graph.Node.Add(Node("DynamicQuantizeLinear", stem + "/MatMul_QuantizeLinear", [tokens], ["tokens_q", "tokens_scale", "tokens_zero"]));
            graph.Node.Add(Node("MatMulInteger", stem + "/MatMul_quant", ["tokens_q", "key_w_quantized", "tokens_zero"], ["key_int32"]));
            graph.Node.Add(Node("Cast", stem + "/MatMul_cast", ["key_int32"], ["key_float"], Attr("to", (long)TensorProto.Types.DataType.Float)));
            graph.Node.Add(Node("Mul", stem + "/MatMul_scales", ["tokens_scale", "key_w_scale"], ["key_scale"]));
            graph.Node.Add(Node("Mul", stem + "/MatMul_rescale", ["key_float", "key_scale"], [stem + "/MatMul_output_0"]));
        }
        else
        {
            graph.Node.Add(Node("MatMul", stem + "/MatMul", [tokens, "key_w"], [stem + "/MatMul_output_0"]));
        }

        if (isHalf)
        {
            // The key Add runs in float16, so the exposed key tensor is float16 as in an fp16 export.
            var bias = new TensorProto { Name = "key_b16", DataType = (int)TensorProto.Types.DataType.Float16, Dims = { Dim } };
            bias.Int32Data.Add(KeyBias.Select(v => (int)BitConverter.HalfToUInt16Bits((Half)v)));
            graph.Initializer.Add(bias);
            graph.Node.Add(Node("Cast", "/cast_mm", [stem + "/MatMul_output_0"], ["/cast_mm_output_0"], Attr("to", (long)TensorProto.Types.DataType.Float16)));
            graph.Node.Add(Node("Add", stem + "/Add", ["/cast_mm_output_0", "key_b16"], [KeyTensorName]));
            graph.Node.Add(Node("Cast", "/cast_key", [KeyTensorName], ["/cast_key_output_0"], Attr("to", (long)TensorProto.Types.DataType.Float)));
            graph.Node.Add(Node("MatMul", "/encoder/output/MatMul", ["/cast_key_output_0", "out_w"], ["last_hidden_state"]));
        }
        else
        {
            graph.Node.Add(Node("Add", stem + "/Add", [stem + "/MatMul_output_0", "key_b"], [KeyTensorName]));
            graph.Node.Add(Node("MatMul", "/encoder/output/MatMul", [KeyTensorName, "out_w"], ["last_hidden_state"]));
        }
        graph.Output.Add(Tensor("last_hidden_state", TensorProto.Types.DataType.Float, [1, null, Dim]));
        if (poolerOutput)
        {
            graph.Node.Add(Node("ReduceMean", "/pooler/ReduceMean", ["last_hidden_state"], ["pooler_output"], Attr("axes", 1), new AttributeProto { Name = "keepdims", Type = AttributeProto.Types.AttributeType.Int, I = 0 }));
            graph.Output.Add(Tensor("pooler_output", TensorProto.Types.DataType.Float, [1, Dim]));
        }

        var model = new ModelProto { IrVersion = 8, ProducerName = "OvDiff.Onnx.Tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
        var path = Path.Combine(directory, name + ".onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    /// <summary>
    /// The keys of the patch tokens, computed in float64 from the image: normalise, zero-pad to a multiple of the patch,
    /// patch embedding, key projection. Returns [gridHeight, gridWidth, Dim] (HWC) over the padded grid.
    /// </summary>
    public double[] ReferenceKeys(OvDiff.Core.Images.RgbImage image, PixelNormalization normalization, out int gridHeight, out int gridWidth)
    {
        gridHeight = (image.Height + Patch - 1) / Patch;
        gridWidth = (image.Width + Patch - 1) / Patch;
        double[] mean = [normalization.MeanR, normalization.MeanG, normalization.MeanB];
        double[] std = [normalization.StdR, normalization.StdG, normalization.StdB];
        double Pixel(int c, int y, int x) =>
            y < image.Height && x < image.Width ? ((image.Pixels[(((y * image.Width) + x) * 3) + c] / 255.0) - mean[c]) / std[c] : 0.0;

        var result = new double[gridHeight * gridWidth * Dim];
        var token = new double[Dim];
        for (var gy = 0; gy < gridHeight; gy++)
        {
            for (var gx = 0; gx < gridWidth; gx++)
            {
                for (var d = 0; d < Dim; d++)
                {
                    double sum = PatchBias[d];
                    for (var c = 0; c < 3; c++)
                    {
                        for (var ky = 0; ky < Patch; ky++)
                        {
                            for (var kx = 0; kx < Patch; kx++)
                            {
                                sum += PatchWeights[(((((d * 3) + c) * Patch) + ky) * Patch) + kx] * Pixel(c, (gy * Patch) + ky, (gx * Patch) + kx);
                            }
                        }
                    }

                    token[d] = sum;
                }

                for (var k = 0; k < Dim; k++)
                {
                    double sum = KeyBias[k];
                    for (var d = 0; d < Dim; d++)
                    {
                        sum += token[d] * KeyWeights[(d * Dim) + k];
                    }

                    result[(((gy * gridWidth) + gx) * Dim) + k] = sum;
                }
            }
        }

        return result;
    }

    internal static ValueInfoProto Tensor(string name, TensorProto.Types.DataType type, long?[] dims)
    {
        var shape = new TensorShapeProto();
        var symbol = 0;
        foreach (var dim in dims)
        {
            shape.Dim.Add(dim is { } value ? new TensorShapeProto.Types.Dimension { DimValue = value } : new TensorShapeProto.Types.Dimension { DimParam = $"d{symbol++}" });
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    internal static TensorProto Initializer(string name, long[] dims, float[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.Add(dims);
        tensor.FloatData.Add(values);
        return tensor;
    }

    private static TensorProto ExternalInitializer(string directory, string fileName, string name, long[] dims, float[] values)
    {
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        File.WriteAllBytes(Path.Combine(directory, fileName), bytes);
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
        tensor.Dims.Add(dims);
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = fileName });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        return tensor;
    }

    internal static NodeProto Node(string op, string name, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.Add(inputs);
        node.Output.Add(outputs);
        node.Attribute.Add(attributes);
        return node;
    }

    internal static AttributeProto Attr(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name };
        if (name is "axis" or "to")
        {
            attribute.Type = AttributeProto.Types.AttributeType.Int;
            attribute.I = values[0];
        }
        else
        {
            attribute.Type = AttributeProto.Types.AttributeType.Ints;
            attribute.Ints.Add(values);
        }

        return attribute;
    }
}
