using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace OvDiff.Onnx.Tests;

/// <summary>A declared graph input or output: element type and dimensions (an int is fixed, a string symbolic, null unknown).</summary>
internal sealed record TinyTensor(string Name, DataType Type, params object?[] Dims);

/// <summary>
/// Builds tiny ONNX files with chosen inputs and outputs (OnnxSharp protos), for signature checks: each output is a Cast of
/// one input to the output's type, each named intermediate an Identity of the first input. Valid models that ONNX Runtime loads
/// whenever the declared shapes agree.
/// </summary>
internal static class TinyOnnx
{
    /// <summary>Writes the model to <paramref name="path"/> (folders created) and returns the path.</summary>
    /// <param name="path">Where to write.</param>
    /// <param name="inputs">Graph inputs.</param>
    /// <param name="outputs">Graph outputs, each computed from the input named <c>From</c>.</param>
    /// <param name="intermediates">Names of extra tensors produced by Identity nodes (e.g. a ViT key tensor).</param>
    /// <param name="externalData">If set, an initializer whose data lives in this file beside the model (written too).</param>
    /// <param name="initializerInputs">Inputs that also have an initializer (old exports list weights as inputs).</param>
    /// <param name="operators">Extra nodes by op type and count, each applied to the first input (e.g. 16 Softmax, as an unfused UNet has).</param>
    public static string Write(string path, IEnumerable<TinyTensor> inputs, IEnumerable<(TinyTensor Output, string From)> outputs,
        IEnumerable<string>? intermediates = null, string? externalData = null, IEnumerable<string>? initializerInputs = null,
        IEnumerable<(string Type, int Count)>? operators = null)
    {
        var graph = new GraphProto { Name = "tiny" };
        List<TinyTensor> inputList = inputs.ToList();
        foreach (TinyTensor input in inputList)
        {
            graph.Input.Add(ValueInfo(input));
        }

        foreach (string name in initializerInputs ?? [])
        {
            graph.Input.Add(ValueInfo(new TinyTensor(name, DataType.Float, 2)));
            graph.Initializer.Add(new TensorProto { Name = name, DataType = (int)DataType.Float, Dims = { 2 }, FloatData = { 1f, 2f } });
        }

        foreach ((TinyTensor output, string from) in outputs)
        {
            var cast = new NodeProto { OpType = "Cast", Name = "/cast_" + output.Name, Input = { from }, Output = { output.Name } };
            cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)output.Type });
            graph.Node.Add(cast);
            graph.Output.Add(ValueInfo(output));
        }

        foreach ((string type, int count) in operators ?? [])
        {
            for (int i = 0; i < count; i++)
            {
                graph.Node.Add(new NodeProto { OpType = type, Name = $"/{type}_{i}", Input = { inputList[0].Name }, Output = { $"/{type}_{i}_output_0" } });
            }
        }

        foreach (string name in intermediates ?? [])
        {
            graph.Node.Add(new NodeProto { OpType = "Identity", Name = name + "_node", Input = { inputList[0].Name }, Output = { name } });
        }

        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(folder);
        if (externalData is not null)
        {
            byte[] data = new byte[4 * 16];
            File.WriteAllBytes(Path.Combine(folder, externalData), data);
            var tensor = new TensorProto { Name = "external_weight", DataType = (int)DataType.Float, Dims = { 16 }, DataLocation = TensorProto.Types.DataLocation.External };
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = externalData });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = data.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            graph.Initializer.Add(tensor);
        }

        var model = new ModelProto { IrVersion = 8, ProducerName = "ovdiff-tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    private static ValueInfoProto ValueInfo(TinyTensor tensor)
    {
        var shape = new TensorShapeProto();
        foreach (object? dim in tensor.Dims)
        {
            shape.Dim.Add(dim switch
            {
                int size => new TensorShapeProto.Types.Dimension { DimValue = size },
                string name => new TensorShapeProto.Types.Dimension { DimParam = name },
                _ => new TensorShapeProto.Types.Dimension(),
            });
        }

        return new ValueInfoProto
        {
            Name = tensor.Name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)tensor.Type, Shape = shape } },
        };
    }
}
