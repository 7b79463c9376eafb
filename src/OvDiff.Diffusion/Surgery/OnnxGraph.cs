using Google.Protobuf;
using Onnx;

namespace OvDiff.Diffusion.Surgery;

/// <summary>
/// An index over an ONNX graph for structural search and editing: producers and consumers of each tensor, constants,
/// and which graph inputs each tensor depends on as data. A Shape or Size node cuts the dependence (its output depends
/// on the input's shape, not its values), so a reshape whose target size is read from the sample does not make the
/// key path of a cross-attention layer "depend on the sample".
/// </summary>
internal sealed class OnnxGraph
{
    private readonly Dictionary<string, NodeProto> _producers = [];
    private readonly Dictionary<string, List<NodeProto>> _consumers = [];
    private readonly Dictionary<string, int> _nodeIndex = [];
    private readonly HashSet<string> _initializers;
    private readonly Dictionary<string, ulong> _dependencies = [];
    private readonly List<string> _trackedInputs;
    private int _counter;

    public OnnxGraph(ModelProto model, IReadOnlyList<string> trackedInputs)
    {
        Model = model;
        Graph = model.Graph;
        _trackedInputs = trackedInputs.ToList();
        _initializers = new HashSet<string>(Graph.Initializer.Select(i => i.Name));
        for (var i = 0; i < Graph.Node.Count; i++)
        {
            var node = Graph.Node[i];
            _nodeIndex[NodeKey(node)] = i;
            foreach (var output in node.Output.Where(o => o.Length > 0))
            {
                _producers[output] = node;
            }

            foreach (var input in node.Input.Where(x => x.Length > 0))
            {
                if (!_consumers.TryGetValue(input, out var list))
                {
                    _consumers[input] = list = [];
                }

                list.Add(node);
            }
        }

        for (var i = 0; i < _trackedInputs.Count; i++)
        {
            _dependencies[_trackedInputs[i]] = 1UL << i;
        }

        foreach (var node in Graph.Node)
        {
            ulong flags = 0;
            if (node.OpType is not ("Shape" or "Size"))
            {
                foreach (var input in node.Input.Where(x => x.Length > 0))
                {
                    flags |= _dependencies.GetValueOrDefault(input);
                }
            }

            foreach (var output in node.Output.Where(o => o.Length > 0))
            {
                _dependencies[output] = flags;
            }
        }

        OpsetVersion = (int)(model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 0);
    }

    public ModelProto Model { get; }

    public GraphProto Graph { get; }

    /// <summary>The default domain's opset version.</summary>
    public int OpsetVersion { get; }

    public NodeProto? Producer(string tensor) => _producers.GetValueOrDefault(tensor);

    public IReadOnlyList<NodeProto> Consumers(string tensor) => _consumers.TryGetValue(tensor, out var list) ? list : [];

    public int IndexOf(NodeProto node) => _nodeIndex.TryGetValue(NodeKey(node), out var index) ? index : -1;

    /// <summary>True when the tensor's values depend on graph input <paramref name="input"/> (one of those tracked).</summary>
    public bool DependsOn(string tensor, string input)
    {
        var bit = _trackedInputs.IndexOf(input);
        return bit >= 0 && (_dependencies.GetValueOrDefault(tensor) & (1UL << bit)) != 0;
    }

    /// <summary>True when the tensor depends on no tracked input (a weight, a constant, or a shape computation).</summary>
    public bool IsConstantLike(string tensor) => _dependencies.GetValueOrDefault(tensor) == 0;

    public bool IsInitializer(string tensor) => _initializers.Contains(tensor);

    /// <summary>A fresh tensor or node name with OvDiff's prefix.</summary>
    public string NewName(string stem) => $"ovdiff/{stem}_{_counter++}";

    public NodeProto AddNode(string opType, IEnumerable<string> inputs, string? output = null, string domain = "", params AttributeProto[] attributes)
    {
        var name = NewName(opType);
        var node = new NodeProto { OpType = opType, Name = name, Domain = domain };
        node.Input.Add(inputs);
        node.Output.Add(output ?? name + "_output");
        node.Attribute.Add(attributes);
        Graph.Node.Add(node);
        return node;
    }

    public string Add(string opType, IEnumerable<string> inputs, params AttributeProto[] attributes) => AddNode(opType, inputs, null, "", attributes).Output[0];

    public string Int64Constant(string stem, params long[] values)
    {
        var name = NewName(stem);
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.Add(values);
        Graph.Initializer.Add(tensor);
        _initializers.Add(name);
        return name;
    }

    public string EmptyFloatConstant(string stem)
    {
        var name = NewName(stem);
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.Add(0);
        Graph.Initializer.Add(tensor);
        _initializers.Add(name);
        return name;
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.Add(values);
        return attribute;
    }

    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Text(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    /// <summary>The int64 values of a constant tensor (an initializer or a Constant node's value), or null.</summary>
    public long[]? ConstantInt64(string tensor)
    {
        var proto = Graph.Initializer.FirstOrDefault(i => i.Name == tensor)
            ?? (Producer(tensor) is { OpType: "Constant" } constant ? constant.Attribute.FirstOrDefault(a => a.Name == "value")?.T : null);
        if (proto is null || proto.DataType != (int)TensorProto.Types.DataType.Int64)
        {
            return null;
        }

        if (proto.Int64Data.Count > 0)
        {
            return proto.Int64Data.ToArray();
        }

        var bytes = proto.RawData.Span;
        var values = new long[bytes.Length / 8];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = BitConverter.ToInt64(bytes.Slice(i * 8, 8));
        }

        return values;
    }

    private static string NodeKey(NodeProto node) => node.Output.Count > 0 ? "out:" + node.Output[0] : "name:" + node.Name;
}
