using Onnx;

namespace OvDiff.Onnx;

/// <summary>
/// Small, explicit edits of an ONNX graph (OnnxSharp protos) that let OvDiff read intermediate tensors:
/// expose a tensor as a graph output, free the input's spatial dimensions, drop outputs and the nodes only they used.
/// </summary>
public static class OnnxGraphSurgery
{
    /// <summary>
    /// Parses the model at <paramref name="path"/>; a missing file throws <see cref="ModelFileNotFoundException"/> with
    /// <paramref name="missingFileHint"/>, and so does an external weight file (<c>weights.pb</c>, <c>model.onnx_data</c>) that is not beside it.
    /// </summary>
    public static ModelProto Load(string path, string missingFileHint)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            throw new ModelFileNotFoundException(fullPath, missingFileHint);
        }

        // The header walk skips the weights, so a missing external file is named before the whole graph is parsed.
        if (OnnxGraphInfo.Read(fullPath).MissingExternalDataFiles(Path.GetDirectoryName(fullPath)!) is [var missing, ..])
        {
            throw ModelFileNotFoundException.ExternalData(fullPath, missing);
        }

        using var stream = File.OpenRead(fullPath);
        try
        {
            return ModelProto.Parser.ParseFrom(stream);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException ex)
        {
            throw new InvalidDataException($"'{fullPath}' is not a readable ONNX model (truncated or not ONNX?): {ex.Message}", ex);
        }
    }

    /// <summary>True when some initializer keeps its data in an external file (the session then needs that file's folder).</summary>
    public static bool HasExternalData(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Graph.Initializer.Any(t => t.DataLocation == TensorProto.Types.DataLocation.External);
    }

    /// <summary>
    /// Replaces the graph's outputs by the tensors named <paramref name="valueNames"/> (each the output of some node or a
    /// graph input), then removes the nodes and initializers no output needs any more. A name that no node produces throws
    /// <see cref="OnnxModelMismatchException"/> naming <paramref name="source"/> (the model's file) and listing the most
    /// similar names in the graph.
    /// </summary>
    public static void SetOutputs(ModelProto model, IReadOnlyList<string> valueNames, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(valueNames);
        var graph = model.Graph;
        var produced = new HashSet<string>(graph.Node.SelectMany(n => n.Output));
        produced.UnionWith(graph.Input.Select(i => i.Name));
        foreach (var name in valueNames)
        {
            if (!produced.Contains(name))
            {
                var similar = SimilarValueNames(graph, name, 8);
                throw new OnnxModelMismatchException(
                    $"{(source is null ? "The model" : $"The model '{source}'")} has no tensor named '{name}'. Most similar tensor names: {(similar.Count == 0 ? "(none)" : string.Join(", ", similar))}. " +
                    "Check that the export is unfused (no attention fusion) and that the layer index exists.");
            }
        }

        var elementTypes = new ElementTypeResolver(graph);
        var outputs = valueNames.Select(name => new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto
            {
                // Element type only: intermediate shapes were recorded for one input size and may no longer hold.
                TensorType = new TypeProto.Types.Tensor { ElemType = elementTypes.Resolve(name) },
            },
        }).ToList();
        graph.Output.Clear();
        graph.Output.Add(outputs);
        PruneUnusedNodes(graph);
        RemoveUnusedInputs(graph);
    }

    /// <summary>
    /// Removes graph inputs that no node (nor any node of a subgraph) reads and no output is, so that a session does not
    /// ask for them: pruning a combined CLIP export to one tower leaves the other tower's input unread.
    /// </summary>
    public static void RemoveUnusedInputs(GraphProto graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var read = new HashSet<string>(graph.Output.Select(o => o.Name), StringComparer.Ordinal);
        AddNodeInputs(graph, read);
        var unused = graph.Input.Where(i => !read.Contains(i.Name)).ToList();
        foreach (var input in unused)
        {
            graph.Input.Remove(input);
        }
    }

    private static void AddNodeInputs(GraphProto graph, HashSet<string> read)
    {
        foreach (var node in graph.Node)
        {
            read.UnionWith(node.Input.Where(name => name.Length > 0));
            foreach (var attribute in node.Attribute)
            {
                if (attribute.G is { } subgraph)
                {
                    AddNodeInputs(subgraph, read);
                }

                foreach (var nested in attribute.Graphs)
                {
                    AddNodeInputs(nested, read);
                }
            }
        }
    }

    /// <summary>
    /// Makes the last two (spatial) dimensions of input <paramref name="inputName"/> symbolic ("height", "width") and the
    /// first one ("batch"), and forgets every recorded intermediate shape, which held only for the old fixed size.
    /// </summary>
    public static void MakeSpatialInputDimensionsSymbolic(ModelProto model, string inputName)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        var input = graph.Input.FirstOrDefault(i => i.Name == inputName)
            ?? throw new OnnxModelMismatchException($"The model has no input '{inputName}'; inputs: {string.Join(", ", graph.Input.Select(i => i.Name))}.");
        var dims = input.Type.TensorType.Shape.Dim;
        if (dims.Count != 4)
        {
            throw new OnnxModelMismatchException($"Input '{inputName}' has rank {dims.Count}, expected 4 (N,C,H,W).");
        }

        dims[0] = new TensorShapeProto.Types.Dimension { DimParam = "batch" };
        dims[2] = new TensorShapeProto.Types.Dimension { DimParam = "height" };
        dims[3] = new TensorShapeProto.Types.Dimension { DimParam = "width" };
        graph.ValueInfo.Clear();
    }

    /// <summary>
    /// Halves the output stride of one network stage the DeepLab way ("atrous" convolution): every strided convolution
    /// between <paramref name="stageInput"/> and <paramref name="stageOutput"/> gets stride 1, and every convolution reading
    /// a tensor whose resolution a removed stride has raised gets its dilation multiplied by that factor; padding becomes
    /// symmetric, dilation x (kernel - 1) / 2, so each convolution keeps its tensor's size. The receptive field of each
    /// output cell is unchanged, and on the cells the original grid had (every factor-th row and column from the first)
    /// the result equals the original network's output exactly. Returns how many convolutions changed. Throws
    /// <see cref="OnnxModelMismatchException"/> when a tensor is missing, a strided operator other than Conv lies in the
    /// stage, or a convolution has an even kernel or unequal strides.
    /// </summary>
    public static int DilateStage(ModelProto model, string stageInput, string stageOutput)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(stageInput);
        ArgumentException.ThrowIfNullOrEmpty(stageOutput);
        var graph = model.Graph;
        var producedBy = new Dictionary<string, int>();
        for (var i = 0; i < graph.Node.Count; i++)
        {
            foreach (var output in graph.Node[i].Output)
            {
                producedBy[output] = i;
            }
        }

        if (!producedBy.ContainsKey(stageInput) || !producedBy.ContainsKey(stageOutput))
        {
            var missing = producedBy.ContainsKey(stageInput) ? stageOutput : stageInput;
            throw new OnnxModelMismatchException($"The model has no tensor named '{missing}' produced by a node; cannot dilate the stage.");
        }

        // The stage: nodes after the input's producer that the stage output depends on.
        var stage = new HashSet<int>();
        var needed = new HashSet<string> { stageOutput };
        for (var i = producedBy[stageOutput]; i > producedBy[stageInput]; i--)
        {
            var node = graph.Node[i];
            if (node.Output.Any(needed.Contains))
            {
                stage.Add(i);
                needed.UnionWith(node.Input.Where(name => name.Length > 0 && name != stageInput));
            }
        }

        // Resolution factor of each tensor relative to the original network (1 = unchanged).
        var factor = new Dictionary<string, int> { [stageInput] = 1 };
        var changed = 0;
        foreach (var index in stage.Order())
        {
            var node = graph.Node[index];
            var inputFactor = node.Input.Select(name => factor.GetValueOrDefault(name, 1)).DefaultIfEmpty(1).Max();
            var outputFactor = inputFactor;
            var strides = Ints(node, "strides");
            if (node.OpType == "Conv")
            {
                var kernel = Ints(node, "kernel_shape") ?? throw new OnnxModelMismatchException($"Conv '{node.Name}' has no kernel_shape; cannot dilate it.");
                var stride = strides?.Distinct().ToArray() ?? [1];
                if (stride.Length != 1 || kernel.Any(k => k % 2 == 0))
                {
                    throw new OnnxModelMismatchException($"Conv '{node.Name}' has kernel [{string.Join(",", kernel)}] and strides [{string.Join(",", strides ?? [])}]; only odd kernels with equal strides can be dilated.");
                }

                var dilations = Ints(node, "dilations") ?? kernel.Select(_ => 1L).ToArray();
                var newDilations = dilations.Select(d => d * inputFactor).ToArray();
                var pads = kernel.Select((k, axis) => newDilations[axis] * (k - 1) / 2).ToArray();
                if (stride[0] != 1 || inputFactor != 1)
                {
                    SetInts(node, "strides", kernel.Select(_ => 1L).ToArray());
                    SetInts(node, "dilations", newDilations);
                    SetInts(node, "pads", [.. pads, .. pads]);
                    if (node.Attribute.FirstOrDefault(a => a.Name == "auto_pad") is { } autoPad)
                    {
                        node.Attribute.Remove(autoPad);
                    }
                    changed++;
                }

                outputFactor = inputFactor * (int)stride[0];
            }
            else if (strides is not null && strides.Any(s => s != 1))
            {
                throw new OnnxModelMismatchException($"'{node.OpType}' node '{node.Name}' in the stage has strides [{string.Join(",", strides)}]; only Conv strides can be removed.");
            }

            foreach (var output in node.Output)
            {
                factor[output] = outputFactor;
            }
        }

        graph.ValueInfo.Clear();
        return changed;
    }

    private static long[]? Ints(NodeProto node, string name) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } attribute ? [.. attribute.Ints] : null;

    private static void SetInts(NodeProto node, string name, long[] values)
    {
        var attribute = node.Attribute.FirstOrDefault(a => a.Name == name);
        if (attribute is null)
        {
            attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            node.Attribute.Add(attribute);
        }

        attribute.Ints.Clear();
        attribute.Ints.Add(values);
    }

    /// <summary>Removes nodes whose outputs no graph output depends on, and initializers no remaining node reads.</summary>
    public static void PruneUnusedNodes(GraphProto graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var needed = new HashSet<string>(graph.Output.Select(o => o.Name));
        var kept = new List<NodeProto>();
        for (var i = graph.Node.Count - 1; i >= 0; i--)
        {
            // Nodes are topologically sorted, so one backward pass finds every ancestor of the outputs.
            var node = graph.Node[i];
            if (node.Output.Any(needed.Contains))
            {
                kept.Add(node);
                needed.UnionWith(node.Input.Where(name => name.Length > 0));
            }
        }

        kept.Reverse();
        graph.Node.Clear();
        graph.Node.Add(kept);
        var unusedInitializers = graph.Initializer.Where(t => !needed.Contains(t.Name)).ToList();
        foreach (var initializer in unusedInitializers)
        {
            graph.Initializer.Remove(initializer);
        }
    }

    /// <summary>Up to <paramref name="count"/> tensor names of the graph most similar to <paramref name="name"/> (shared path tokens first).</summary>
    public static IReadOnlyList<string> SimilarValueNames(GraphProto graph, string name, int count)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var wanted = Tokens(name);
        return graph.Node.SelectMany(n => n.Output)
            .Where(candidate => candidate.Length > 0)
            .Select(candidate => (candidate, score: Tokens(candidate).Count(wanted.Contains)))
            .Where(x => x.score > 0)
            .OrderByDescending(x => x.score)
            .ThenBy(x => Math.Abs(x.candidate.Length - name.Length))
            .Take(count)
            .Select(x => x.candidate)
            .ToList();
    }

    private static HashSet<string> Tokens(string name) =>
        new(name.Split(['/', '.', '_', ':'], StringSplitOptions.RemoveEmptyEntries), StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Finds a tensor's element type without full ONNX type inference: recorded value_info, graph inputs and initializers
    /// first; then Cast's target, int64 for shape-like operators, otherwise the type of the producing node's first input
    /// (true of the elementwise, MatMul, Conv, normalisation and reshaping operators a ViT or ResNet is made of).
    /// </summary>
    private sealed class ElementTypeResolver
    {
        private static readonly HashSet<string> Int64Operators = ["Shape", "Size", "NonZero", "ArgMax", "ArgMin"];
        private readonly Dictionary<string, int> _known = [];
        private readonly Dictionary<string, NodeProto> _producers = [];

        public ElementTypeResolver(GraphProto graph)
        {
            foreach (var info in graph.ValueInfo.Concat(graph.Output).Concat(graph.Input))
            {
                if (info.Type?.TensorType is { ElemType: > 0 } tensor)
                {
                    _known.TryAdd(info.Name, tensor.ElemType);
                }
            }

            foreach (var initializer in graph.Initializer)
            {
                _known.TryAdd(initializer.Name, initializer.DataType);
            }

            foreach (var node in graph.Node)
            {
                foreach (var output in node.Output)
                {
                    _producers.TryAdd(output, node);
                }
            }
        }

        public int Resolve(string name)
        {
            var pending = new Stack<string>();
            pending.Push(name);
            while (pending.Count > 0)
            {
                var current = pending.Peek();
                if (_known.ContainsKey(current))
                {
                    pending.Pop();
                    continue;
                }

                if (!_producers.TryGetValue(current, out var node) || node.Input.Count == 0)
                {
                    _known[current] = (int)TensorProto.Types.DataType.Float;
                    pending.Pop();
                    continue;
                }

                if (node.OpType == "Cast" && node.Attribute.FirstOrDefault(a => a.Name == "to") is { } to)
                {
                    _known[current] = (int)to.I;
                    pending.Pop();
                }
                else if (Int64Operators.Contains(node.OpType))
                {
                    _known[current] = (int)TensorProto.Types.DataType.Int64;
                    pending.Pop();
                }
                else if (_known.TryGetValue(node.Input[0], out var inputType))
                {
                    _known[current] = inputType;
                    pending.Pop();
                }
                else
                {
                    pending.Push(node.Input[0]);
                }
            }

            return _known[name];
        }
    }
}
