using Onnx;

namespace OvDiff.Diffusion.Surgery;

/// <summary>
/// Replaces the UNet's self-attention layers (<c>attn1</c>: query and key both computed from the sample) by ONNX Runtime's
/// com.microsoft <c>MultiHeadAttention</c> (fused kernels on CPU and CUDA). A layer is fused when its pieces are found by
/// structure: the query, key and value projections ([B, N, C] MatMuls by weights), the head count (the constant third
/// size of the query's head-splitting Reshape), and the merged-heads tensor that feeds the output projection. The
/// scale is the kernel's default 1/sqrt(C / heads), which is attention's. Layers that do not match are left as they are.
/// </summary>
internal static class SelfAttentionFusion
{
    private static readonly HashSet<string> MergeOperators = ["Reshape", "Transpose"];

    public static int Fuse(OnnxGraph graph, string modelDescription)
    {
        _ = modelDescription;
        var replacements = new List<(NodeProto Old, NodeProto New)>();
        foreach (var softmax in graph.Graph.Node.Where(n => n.OpType == "Softmax").ToList())
        {
            var match = Match(graph, softmax);
            if (match is null)
            {
                continue;
            }

            var (query, key, value, heads, merged) = match.Value;
            var fused = new NodeProto
            {
                OpType = "MultiHeadAttention",
                Domain = "com.microsoft",
                Name = graph.NewName("MultiHeadAttention") + "/" + softmax.Name,
            };
            fused.Input.Add([query, key, value]);
            fused.Output.Add(merged.Output[0]);
            fused.Attribute.Add(OnnxGraph.Int("num_heads", heads));
            replacements.Add((merged, fused));
        }

        foreach (var (old, replacement) in replacements)
        {
            var index = graph.Graph.Node.IndexOf(old);
            graph.Graph.Node[index] = replacement;
        }

        return replacements.Count;
    }

    private static (string Query, string Key, string Value, long Heads, NodeProto Merged)? Match(OnnxGraph graph, NodeProto softmax)
    {
        // Score MatMul above the Softmax (through scale operators), both operands from the sample.
        var score = Walk(graph, softmax.Input[0]);
        if (score is null || !graph.DependsOn(score.Input[0], "sample") || !graph.DependsOn(score.Input[1], "sample")
            || graph.DependsOn(score.Input[1], "encoder_hidden_states") && !graph.DependsOn(score.Input[1], "sample"))
        {
            return null;
        }

        var query = UNetAttentionSurgery.TraceProjection(graph, score.Input[0]);
        var key = UNetAttentionSurgery.TraceProjection(graph, score.Input[1]);
        if (query is null || key is null)
        {
            return null;
        }

        // probs @ V: the only consumer of the Softmax output.
        var consumers = graph.Consumers(softmax.Output[0]);
        if (consumers is not [{ OpType: "MatMul" } output] || output.Input[0] != softmax.Output[0])
        {
            return null;
        }

        var value = UNetAttentionSurgery.TraceProjection(graph, output.Input[1]);
        var heads = HeadCount(graph, score.Input[0]);
        if (value is null || heads is not > 0)
        {
            return null;
        }

        // Down from probs @ V through the reshapes/transposes that merge the heads, to the output projection's input.
        var tensor = output.Output[0];
        NodeProto? last = null;
        for (var depth = 0; depth < 6; depth++)
        {
            var next = graph.Consumers(tensor);
            if (next is not [var node] || !MergeOperators.Contains(node.OpType) || node.Input[0] != tensor)
            {
                break;
            }

            last = node;
            tensor = node.Output[0];
        }

        var projection = graph.Consumers(tensor);
        if (last is null || projection is not [{ OpType: "MatMul" or "Gemm" } outProjection] || !graph.IsConstantLike(outProjection.Input[1]))
        {
            return null;
        }

        return (query, key, value, heads.Value, last);
    }

    private static NodeProto? Walk(OnnxGraph graph, string tensor)
    {
        for (var depth = 0; depth < 6; depth++)
        {
            var producer = graph.Producer(tensor);
            if (producer is null)
            {
                return null;
            }

            if (producer.OpType == "MatMul")
            {
                return producer;
            }

            if (producer.OpType is not ("Mul" or "Div" or "Add" or "Cast" or "Identity"))
            {
                return null;
            }

            var dynamicInputs = producer.Input.Where(i => i.Length > 0 && !graph.IsConstantLike(i)).ToList();
            if (dynamicInputs.Count != 1)
            {
                return null;
            }

            tensor = dynamicInputs[0];
        }

        return null;
    }

    /// <summary>The head count: the constant third size of the first Reshape to rank 4 on the query's path.</summary>
    private static long? HeadCount(OnnxGraph graph, string tensor)
    {
        for (var depth = 0; depth < 10; depth++)
        {
            var producer = graph.Producer(tensor);
            if (producer is null)
            {
                return null;
            }

            if (producer.OpType == "Reshape")
            {
                var shape = ShapeValues(graph, producer.Input[1]);
                if (shape is { Length: 4 } && shape[2] is { } heads && heads > 0)
                {
                    // Keep walking: the reshape nearest the projection splits the heads; later ones fold them.
                    var earlier = HeadCount(graph, producer.Input[0]);
                    return earlier ?? heads;
                }
            }

            if (producer.OpType is "MatMul" or "Gemm")
            {
                return null;
            }

            tensor = producer.Input.FirstOrDefault(i => i.Length > 0 && !graph.IsConstantLike(i)) ?? producer.Input[0];
        }

        return null;
    }

    /// <summary>The entries of a Reshape's shape operand that are constants (null where computed at run time).</summary>
    private static long?[]? ShapeValues(OnnxGraph graph, string shape)
    {
        if (graph.ConstantInt64(shape) is { } constant)
        {
            return constant.Select(v => (long?)v).ToArray();
        }

        var producer = graph.Producer(shape);
        if (producer?.OpType != "Concat")
        {
            return null;
        }

        return producer.Input.Select(part =>
        {
            var source = part;
            while (graph.Producer(source) is { OpType: "Unsqueeze" or "Cast" or "Identity" } view)
            {
                source = view.Input[0];
            }

            return graph.ConstantInt64(source) is [var single] ? (long?)single : null;
        }).ToArray();
    }
}
