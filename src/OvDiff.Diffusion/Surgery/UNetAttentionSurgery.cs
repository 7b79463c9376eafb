using System.Globalization;
using Onnx;

namespace OvDiff.Diffusion.Surgery;

/// <summary>One cross-attention (<c>attn2</c>) layer of a UNet export, found by structure.</summary>
/// <param name="Index">Position in execution order (0 = first down block's first layer ... 15 = last up block's last layer in SD 1.5).</param>
/// <param name="Label">The module path read from the node names when the export has them (a hint only), else "attn2 #index".</param>
/// <param name="Probabilities">The Softmax output: the attention probabilities, [B*heads, N, 77] or [B, heads, N, 77].</param>
/// <param name="Query">The query projection (<c>to_q</c>) output, [B, N, C]; null when it could not be traced.</param>
/// <param name="QueryChannels">C, read from the projection's weight; null when the weight is not a constant of known shape.</param>
public sealed record CrossAttentionLayer(int Index, string Label, string Probabilities, string? Query, int? QueryChannels);

/// <summary>What <see cref="UNetAttentionSurgery.Patch"/> adds to a UNet. Immutable; the defaults add the attribution maps only.</summary>
public sealed record UNetPatchOptions
{
    /// <summary>The default: attribution maps, no query features, no fusion.</summary>
    public static UNetPatchOptions Default { get; } = new();

    /// <summary>
    /// Add input <see cref="UNetAttentionSurgery.TokenIndicesInput"/> (int64 [K]) and output
    /// <see cref="UNetAttentionSurgery.AttentionMapsOutput"/> (float32 [B, K, H, W], H x W the latent size). Default true.
    /// </summary>
    public bool AttentionMaps { get; init; } = true;

    /// <summary>Cross-attention layers (execution order) whose <c>to_q</c> output becomes output <c>sd_q_{layer}</c> (float32 [B, N, C]). Default none.</summary>
    public IReadOnlyList<int> QueryLayers { get; init; } = [];

    /// <summary>
    /// Replace every self-attention (<c>attn1</c>) MatMul-Softmax-MatMul by one com.microsoft <c>MultiHeadAttention</c> node
    /// (ONNX Runtime's fused kernel, CPU and CUDA), keeping the cross-attention unfused for the maps. Default false.
    /// </summary>
    public bool FuseSelfAttention { get; init; }

    /// <summary>A short stable text of the options, part of the patched file's cache key.</summary>
    public string CacheKey =>
        string.Create(CultureInfo.InvariantCulture, $"maps={AttentionMaps};q={string.Join(',', QueryLayers)};fuse1={FuseSelfAttention}");
}

/// <summary>What a patch found and did.</summary>
public sealed record UNetPatchReport(IReadOnlyList<CrossAttentionLayer> CrossAttention, int FusedSelfAttentionLayers, int OpsetVersion);

/// <summary>A UNet export whose attention is fused, so that its cross-attention probabilities cannot be read.</summary>
public sealed class FusedAttentionException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public FusedAttentionException(string message)
        : base(message)
    {
    }
}

/// <summary>
/// Graph surgery on a Stable Diffusion UNet export (OnnxSharp protos) that exposes what OVDiff reads from the UNet:
/// <list type="bullet">
/// <item>the cross-attention probabilities of every <c>attn2</c> layer, found by structure: a Softmax fed (through scale,
/// mask and cast operators) by a MatMul whose key operand depends on <c>encoder_hidden_states</c> and not on
/// <c>sample</c>, and whose query operand depends on <c>sample</c>. Node names are used only as labels. Works on
/// torch.onnx exports (opsets 11+), Optimum exports, with or without module-scoped names, heads folded into the batch
/// ([B*h, N, 77]) or not ([B, h, N, 77]);</item>
/// <item>their reduction inside the graph, as the reference's DAAM store does per UNet call: the probabilities of the
/// token positions fed in <see cref="TokenIndicesInput"/>, per head and token resized bicubically (half-pixel, a = -0.75,
/// as PyTorch's bicubic without aligned corners) from the layer's grid to the latent size, clamped at 0, summed over
/// heads and over layers: <see cref="AttentionMapsOutput"/> [B, K, H, W] float32 (a sum, not yet divided by heads,
/// layers or steps; the sampler normalises);</item>
/// <item>optionally the <c>to_q</c> outputs of chosen layers (SD features), and the fusion of the self-attention layers.</item>
/// </list>
/// A layer's grid is a_h x a_w with a_h = round(sqrt(N * H / W)), a_w = N / a_h (H x W the latent size), which holds for
/// any latent whose sides are multiples of 8.
/// </summary>
public static class UNetAttentionSurgery
{
    /// <summary>The patched UNet's extra input: the token positions (int64 [K], 0..76) whose attention the maps sum.</summary>
    public const string TokenIndicesInput = "attn_token_indices";

    /// <summary>The patched UNet's extra output: float32 [B, K, H, W].</summary>
    public const string AttentionMapsOutput = "attn_maps";

    /// <summary>Raised to the patch version whenever the patch's graph changes (patched files are cached by it).</summary>
    public const int Version = 1;

    private static readonly HashSet<string> ScoreOperators = ["Mul", "Div", "Add", "Sub", "Cast", "Identity", "Where", "Clip"];
    private static readonly HashSet<string> ViewOperators = ["Reshape", "Transpose", "Cast", "Identity", "Squeeze", "Unsqueeze", "Flatten", "Mul", "Div"];
    private static readonly HashSet<string> FusedAttentionOperators =
        ["Attention", "MultiHeadAttention", "PackedAttention", "PackedMultiHeadAttention", "GroupQueryAttention", "DecoderMaskedMultiHeadAttention"];

    /// <summary>The output name of layer <paramref name="layer"/>'s query features.</summary>
    public static string QueryOutput(int layer) => string.Create(CultureInfo.InvariantCulture, $"sd_q_{layer}");

    /// <summary>
    /// Finds the cross-attention layers of <paramref name="model"/> in execution order. Throws
    /// <see cref="FusedAttentionException"/> when there is none (a fused export) and <see cref="Onnx.OnnxModelMismatchException"/>
    /// when the UNet inputs are missing.
    /// </summary>
    public static IReadOnlyList<CrossAttentionLayer> FindCrossAttention(ModelProto model, string modelDescription)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = Index(model, modelDescription);
        return FindCrossAttention(graph, modelDescription);
    }

    /// <summary>
    /// Patches <paramref name="model"/> in place as <paramref name="options"/> ask and says what it found. The original
    /// outputs stay; initializers (and their external-data references) are untouched.
    /// </summary>
    public static UNetPatchReport Patch(ModelProto model, UNetPatchOptions options, string modelDescription)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        var graph = Index(model, modelDescription);
        if (graph.OpsetVersion < 11)
        {
            throw new OvDiff.Onnx.OnnxModelMismatchException(
                $"The UNet '{modelDescription}' uses ONNX opset {graph.OpsetVersion}; OvDiff's graph surgery needs opset 11 or later (export with opset_version=14..17).");
        }

        var layers = FindCrossAttention(graph, modelDescription);
        var fused = 0;
        if (options.FuseSelfAttention)
        {
            fused = SelfAttentionFusion.Fuse(graph, modelDescription);
        }

        if (options.AttentionMaps)
        {
            AddAttentionMaps(graph, layers);
        }

        foreach (var layer in options.QueryLayers)
        {
            if (layer < 0 || layer >= layers.Count)
            {
                throw new ArgumentOutOfRangeException(nameof(options), layer, $"Query layer {layer} does not exist: '{modelDescription}' has {layers.Count} cross-attention layers.");
            }

            var query = layers[layer].Query
                ?? throw new OvDiff.Onnx.OnnxModelMismatchException($"The query projection of cross-attention layer {layer} ({layers[layer].Label}) of '{modelDescription}' could not be traced.");
            graph.AddNode("Cast", [query], QueryOutput(layer), "", OnnxGraph.Int("to", (long)TensorProto.Types.DataType.Float));
            model.Graph.Output.Add(FloatOutput(QueryOutput(layer), 3));
        }

        if (fused > 0)
        {
            OvDiff.Onnx.OnnxGraphSurgery.PruneUnusedNodes(model.Graph);
            if (!model.OpsetImport.Any(o => o.Domain == "com.microsoft"))
            {
                model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
            }
        }

        model.Graph.ValueInfo.Clear();
        return new UNetPatchReport(layers, fused, graph.OpsetVersion);
    }

    private static OnnxGraph Index(ModelProto model, string modelDescription)
    {
        var inputs = model.Graph.Input.Select(i => i.Name).ToList();
        foreach (var required in new[] { "sample", "encoder_hidden_states" })
        {
            if (!inputs.Contains(required))
            {
                throw new OvDiff.Onnx.OnnxModelMismatchException(
                    $"'{modelDescription}' is not a Stable Diffusion UNet export: it has no input '{required}' (inputs: {string.Join(", ", inputs)}).");
            }
        }

        return new OnnxGraph(model, ["sample", "encoder_hidden_states", "timestep"]);
    }

    private static IReadOnlyList<CrossAttentionLayer> FindCrossAttention(OnnxGraph graph, string modelDescription)
    {
        var layers = new List<CrossAttentionLayer>();
        foreach (var node in graph.Graph.Node)
        {
            if (node.OpType != "Softmax" || node.Domain is not ("" or "ai.onnx"))
            {
                continue;
            }

            var score = FindScoreMatMul(graph, node.Input[0]);
            if (score is null)
            {
                continue;
            }

            var (query, key) = (score.Input[0], score.Input[1]);
            var keyFromContext = graph.DependsOn(key, "encoder_hidden_states") && !graph.DependsOn(key, "sample");
            if (!keyFromContext || !graph.DependsOn(query, "sample"))
            {
                continue;
            }

            var index = layers.Count;
            var projection = TraceProjection(graph, query);
            layers.Add(new CrossAttentionLayer(index, Label(node, index), node.Output[0], projection, projection is null ? null : ProjectionChannels(graph, projection)));
        }

        if (layers.Count > 0)
        {
            return layers;
        }

        var fusedNodes = graph.Graph.Node.Where(n => FusedAttentionOperators.Contains(n.OpType)).ToList();
        var softmaxCount = graph.Graph.Node.Count(n => n.OpType == "Softmax");
        var what = fusedNodes.Count > 0
            ? $"its attention is fused ({fusedNodes.Count} {string.Join("/", fusedNodes.Select(n => n.OpType).Distinct())} nodes)"
            : softmaxCount == 0 ? "it has no Softmax at all (fused or non-standard attention)" : $"none of its {softmaxCount} Softmax nodes is fed by a key computed from encoder_hidden_states";
        throw new FusedAttentionException(
            $"The UNet '{modelDescription}' exposes no cross-attention probabilities: {what}. OvDiff reads the attn2 Softmax of an " +
            "unfused export: export with torch.onnx (diffusers' scripts/convert_stable_diffusion_checkpoint_to_onnx.py) or " +
            "`optimum-cli export onnx --model runwayml/stable-diffusion-v1-5 --task text-to-image OUT` without --optimize; " +
            "ONNX Runtime/Olive-optimised UNets (attention fusion) cannot be used. See docs/diffusion.md.");
    }

    /// <summary>Walks up from a Softmax input through scale/mask/cast operators to the score MatMul.</summary>
    private static NodeProto? FindScoreMatMul(OnnxGraph graph, string tensor)
    {
        var pending = new Stack<(string Tensor, int Depth)>();
        pending.Push((tensor, 0));
        while (pending.Count > 0)
        {
            var (current, depth) = pending.Pop();
            var producer = graph.Producer(current);
            if (producer is null || depth > 8)
            {
                continue;
            }

            if (producer.OpType == "MatMul" && producer.Input.Count == 2)
            {
                return producer;
            }

            if (ScoreOperators.Contains(producer.OpType))
            {
                foreach (var input in producer.Input.Where(i => i.Length > 0 && !graph.IsConstantLike(i)))
                {
                    pending.Push((input, depth + 1));
                }
            }
        }

        return null;
    }

    /// <summary>Walks up the query operand through views and scalings to the projection (a MatMul by a weight, plus its bias).</summary>
    internal static string? TraceProjection(OnnxGraph graph, string tensor)
    {
        for (var depth = 0; depth < 12; depth++)
        {
            var producer = graph.Producer(tensor);
            if (producer is null)
            {
                return null;
            }

            if (producer.OpType is "MatMul" or "Gemm" && producer.Input.Count >= 2 && graph.IsConstantLike(producer.Input[1]))
            {
                // A bias Add right after the projection belongs to it.
                var consumers = graph.Consumers(producer.Output[0]);
                return consumers is [{ OpType: "Add" } add] && add.Input.Any(i => i != producer.Output[0] && graph.IsConstantLike(i))
                    ? add.Output[0]
                    : producer.Output[0];
            }

            if (producer.OpType == "Add" && producer.Input.Count == 2 && producer.Input.Any(graph.IsConstantLike))
            {
                tensor = producer.Input.First(i => !graph.IsConstantLike(i));
                continue;
            }

            if (!ViewOperators.Contains(producer.OpType))
            {
                return null;
            }

            tensor = producer.Input.FirstOrDefault(i => i.Length > 0 && !graph.IsConstantLike(i)) ?? producer.Input[0];
        }

        return null;
    }

    /// <summary>The output width of the projection producing <paramref name="tensor"/> (its weight's last dimension, or the first for Gemm with transB).</summary>
    private static int? ProjectionChannels(OnnxGraph graph, string tensor)
    {
        var node = graph.Producer(tensor);
        if (node?.OpType == "Add")
        {
            node = node.Input.Select(graph.Producer).FirstOrDefault(p => p?.OpType is "MatMul" or "Gemm");
        }

        if (node is null || node.Input.Count < 2)
        {
            return null;
        }

        var weight = node.Input[1];
        var transposed = node.OpType == "Gemm" && node.Attribute.Any(a => a.Name == "transB" && a.I == 1);
        while (graph.Producer(weight) is { OpType: "Cast" or "Identity" or "Transpose" } view)
        {
            transposed ^= view.OpType == "Transpose";
            weight = view.Input[0];
        }

        var dims = graph.Graph.Initializer.FirstOrDefault(i => i.Name == weight)?.Dims
            ?? (graph.Producer(weight) is { OpType: "Constant" } constant ? constant.Attribute.FirstOrDefault(a => a.Name == "value")?.T?.Dims : null);
        return dims is { Count: 2 } ? (int)(transposed ? dims[0] : dims[1]) : null;
    }

    private static string Label(NodeProto softmax, int index)
    {
        var name = softmax.Name;
        var cut = name.LastIndexOf('/');
        return cut > 0 && name.Contains("attn", StringComparison.Ordinal)
            ? name[..cut].Trim('/').Replace('/', '.')
            : string.Create(CultureInfo.InvariantCulture, $"attn2 #{index}");
    }

    private static void AddAttentionMaps(OnnxGraph graph, IReadOnlyList<CrossAttentionLayer> layers)
    {
        var model = graph.Model;
        var input = new ValueInfoProto
        {
            Name = TokenIndicesInput,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Int64, Shape = new TensorShapeProto() } },
        };
        input.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "tokens" });
        model.Graph.Input.Add(input);

        var opset = graph.OpsetVersion;
        const long End = long.MaxValue;
        string Slice(string data, long start, long end) =>
            graph.Add("Slice", [data, graph.Int64Constant("start", start), graph.Int64Constant("end", end), graph.Int64Constant("axis", 0)]);
        string ToFloat(string x) => graph.Add("Cast", [x], OnnxGraph.Int("to", (long)TensorProto.Types.DataType.Float));
        string ToInt64(string x) => graph.Add("Cast", [x], OnnxGraph.Int("to", (long)TensorProto.Types.DataType.Int64));

        var sampleShape = graph.Add("Shape", ["sample"]);
        var batch = Slice(sampleShape, 0, 1);
        var latentSize = Slice(sampleShape, 2, 4);
        var latentHeight = Slice(sampleShape, 2, 3);
        var latentWidth = Slice(sampleShape, 3, 4);
        var aspect = graph.Add("Div", [ToFloat(latentHeight), ToFloat(latentWidth)]);
        var tokenCount = graph.Add("Shape", [TokenIndicesInput]);
        var minusOne = graph.Int64Constant("minus_one", -1);
        var roi = opset >= 13 ? string.Empty : graph.EmptyFloatConstant("roi");
        var scales = opset >= 13 ? string.Empty : graph.EmptyFloatConstant("scales");

        string? total = null;
        foreach (var layer in layers)
        {
            var probsShape = graph.Add("Shape", [layer.Probabilities]);
            var lastTwo = Slice(probsShape, -2, End);
            var sequence = Slice(probsShape, -2, -1);

            // [B*h, N, M] or [B, h, N, M] -> [B, h, N, M]; the chosen tokens; float32; [B, h, K, N].
            var perHead = graph.Add("Reshape", [layer.Probabilities, graph.Add("Concat", [batch, minusOne, lastTwo], OnnxGraph.Int("axis", 0))]);
            var tokens = ToFloat(graph.Add("Gather", [perHead, TokenIndicesInput], OnnxGraph.Int("axis", 3)));
            var transposed = graph.Add("Transpose", [tokens], OnnxGraph.Ints("perm", 0, 1, 3, 2));

            // The layer's grid: a_h = round(sqrt(N * H / W)), a_w = N / a_h.
            var gridHeight = ToInt64(graph.Add("Round", [graph.Add("Sqrt", [graph.Add("Mul", [ToFloat(sequence), aspect])])]));
            var gridWidth = graph.Add("Div", [sequence, gridHeight]);
            var grid = graph.Add("Reshape", [transposed, graph.Add("Concat", [batch, minusOne, gridHeight, gridWidth], OnnxGraph.Int("axis", 0))]);

            // Per head and token: bicubic to the latent size (PyTorch's bicubic, align_corners=False), clamp >= 0.
            var sizes = graph.Add("Concat", [Slice(graph.Add("Shape", [grid]), 0, 2), latentSize], OnnxGraph.Int("axis", 0));
            var resized = graph.Add(
                "Resize",
                [grid, roi, scales, sizes],
                OnnxGraph.Text("mode", "cubic"),
                OnnxGraph.Text("coordinate_transformation_mode", "half_pixel"),
                OnnxGraph.Float("cubic_coeff_a", -0.75f),
                OnnxGraph.Int("exclude_outside", 0));
            var clamped = graph.Add("Relu", [resized]);

            // [B, h, K, H, W] summed over heads -> [B, K, H, W].
            var split = graph.Add("Reshape", [clamped, graph.Add("Concat", [batch, minusOne, tokenCount, latentSize], OnnxGraph.Int("axis", 0))]);
            var summed = opset >= 13
                ? graph.Add("ReduceSum", [split, graph.Int64Constant("axes", 1)], OnnxGraph.Int("keepdims", 0))
                : graph.Add("ReduceSum", [split], OnnxGraph.Ints("axes", 1), OnnxGraph.Int("keepdims", 0));
            total = total is null ? summed : graph.Add("Add", [total, summed]);
        }

        graph.AddNode("Identity", [total!], AttentionMapsOutput);
        model.Graph.Output.Add(FloatOutput(AttentionMapsOutput, 4));
    }

    private static ValueInfoProto FloatOutput(string name, int rank)
    {
        var shape = new TensorShapeProto();
        for (var i = 0; i < rank; i++)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = $"{name}_d{i}" });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
