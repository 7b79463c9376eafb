using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using OvDiff.Testing;

namespace OvDiff.Onnx.Tests;

public sealed class OnnxModelSessionTests : IDisposable
{
    private readonly TempFolder _temporary = new();

    private string TempPath => _temporary.Path;

    public void Dispose() => _temporary.Dispose();

    private string TinyModel(int? fixedSize = null) =>
        new TinyVitModel(8, 4, 1, VitKeyExtractorOptions.DinoLastBlockKeyTensor).Write(TempPath, fixedSize);

    [Fact]
    public void Open_WrongInputName_ListsExpectedAndActual()
    {
        var error = Assert.Throws<OnnxModelMismatchException>(() => OnnxModelSession.Open(
            TinyModel(), OnnxRuntimeOptions.Default, [OnnxTensorSpec.AnyFloat("images", 4)], [OnnxTensorSpec.AnyFloat("last_hidden_state", 3)], "hint"));

        Assert.Contains("input 'images' is missing", error.Message, StringComparison.Ordinal);
        Assert.Contains("model input 'pixel_values' is not one OvDiff feeds", error.Message, StringComparison.Ordinal);
        Assert.Contains("Expected inputs: images: Float|Float16[?,?,?,?]", error.Message, StringComparison.Ordinal);
        Assert.Contains("Actual inputs: pixel_values: Float[d0,3,d1,d2]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_WrongRankOrFixedSize_ListsTheMismatch()
    {
        var error = Assert.Throws<OnnxModelMismatchException>(() => OnnxModelSession.Open(
            TinyModel(fixedSize: 32),
            OnnxRuntimeOptions.Default,
            [new OnnxTensorSpec("pixel_values", [1, 3, 224, 224], OnnxTensorSpec.FloatingPoint)],
            [OnnxTensorSpec.AnyFloat("last_hidden_state", 4)],
            "hint"));

        Assert.Contains("input 'pixel_values' has size 32 on axis 2, expected 224", error.Message, StringComparison.Ordinal);
        Assert.Contains("output 'last_hidden_state' has rank 3, expected 4", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_MissingFile_ThrowsWithHint()
    {
        var path = Path.Combine(TempPath, "absent.onnx");

        var error = Assert.Throws<ModelFileNotFoundException>(() => OnnxModelSession.Open(path, OnnxRuntimeOptions.Default, [], [], "Put it there."));

        Assert.Equal(path, error.FileName);
        Assert.Equal("Put it there.", error.Hint);
    }

    [Fact]
    public void Run_BindsByName_AndReturnsRequestedOutput()
    {
        using var session = OnnxModelSession.Open(
            TinyModel(), OnnxRuntimeOptions.Default with { IntraOpNumThreads = 1 },
            [OnnxTensorSpec.AnyFloat("pixel_values", 4)], [OnnxTensorSpec.AnyFloat("last_hidden_state", 3)], "hint");
        Assert.Equal([-1, 3, -1, -1], session.InputDimensions("pixel_values"));
        using var input = session.CreateFloatInput("pixel_values", new float[3 * 16 * 24], [1, 3, 16, 24]);

        using var outputs = session.Run(new Dictionary<string, OrtValue> { ["pixel_values"] = input }, ["last_hidden_state"], TestContext.Current.CancellationToken);

        OnnxModelSession.ReadFloatTensor(outputs.Single(), out var shape);
        Assert.Equal([1L, 1 + 6, 4], shape);
        Assert.Equal(TensorElementType.Float, session.OutputMetadata["last_hidden_state"].ElementDataType);
    }

    [Fact]
    public void SetOutputs_KeyTensor_PrunesEverythingAfterIt()
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TinyModel()));
        Assert.Contains(model.Graph.Initializer, t => t.Name == "out_w");

        OnnxGraphSurgery.SetOutputs(model, [VitKeyExtractorOptions.DinoLastBlockKeyTensor]);

        Assert.Equal(VitKeyExtractorOptions.DinoLastBlockKeyTensor, model.Graph.Output.Single().Name);
        Assert.Equal((int)TensorProto.Types.DataType.Float, model.Graph.Output.Single().Type.TensorType.ElemType);
        Assert.DoesNotContain(model.Graph.Node, n => n.Name == "/encoder/output/MatMul");
        Assert.DoesNotContain(model.Graph.Initializer, t => t.Name == "out_w");
        Assert.Contains(model.Graph.Node, n => n.Name == "/embeddings/patch_embeddings/projection/Conv");
    }

    [Fact]
    public void MakeSpatialInputDimensionsSymbolic_FixedInput_FreesBatchHeightWidthOnly()
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TinyModel(fixedSize: 32)));
        model.Graph.ValueInfo.Add(new ValueInfoProto { Name = "stale" });

        OnnxGraphSurgery.MakeSpatialInputDimensionsSymbolic(model, "pixel_values");

        var dims = model.Graph.Input.Single().Type.TensorType.Shape.Dim;
        Assert.Equal(["batch", string.Empty, "height", "width"], dims.Select(d => d.DimParam));
        Assert.Equal(3, dims[1].DimValue);
        Assert.Empty(model.Graph.ValueInfo);
    }

    [Fact]
    public void ResNet18PatchedModel_HasLayerOutputsAndNoPooling()
    {
        var model = ModelProto.Parser.ParseFrom(ResNet18ModelFiles.GetPatchedModel(ResNet18ModelFiles.DefaultModelPath));

        Assert.Equal([ResNet18ModelFiles.Layer3OutputName, ResNet18ModelFiles.Layer4OutputName], model.Graph.Output.Select(o => o.Name));
        Assert.DoesNotContain(model.Graph.Node, n => n.OpType == "AveragePool");
        Assert.Equal(73, model.Graph.Node.Count);
        Assert.Same(ResNet18ModelFiles.GetPatchedModel(ResNet18ModelFiles.DefaultModelPath), ResNet18ModelFiles.GetPatchedModel(ResNet18ModelFiles.DefaultModelPath));
    }

    [Fact]
    public void ResNet18DilatedPatchedModel_Layer4HasNoStrideAndDilatedConvolutions_EarlierLayersUnchanged()
    {
        var plain = ModelProto.Parser.ParseFrom(ResNet18ModelFiles.GetPatchedModel(ResNet18ModelFiles.DefaultModelPath));
        var dilated = ModelProto.Parser.ParseFrom(ResNet18ModelFiles.GetPatchedModel(ResNet18ModelFiles.DefaultModelPath, dilateLayer4: true));

        static long[] Ints(NodeProto node, string name) => [.. node.Attribute.Single(a => a.Name == name).Ints];
        var layer4Start = plain.Graph.Node.ToList().FindIndex(n => n.Input.Contains(ResNet18ModelFiles.Layer3OutputName));
        var changed = plain.Graph.Node.Zip(dilated.Graph.Node).Select((pair, index) => (pair.First, pair.Second, index))
            .Where(x => x.First.OpType == "Conv" && !x.First.Equals(x.Second)).ToList();

        Assert.Equal(plain.Graph.Node.Count, dilated.Graph.Node.Count);
        Assert.Equal(7, changed.Count);
        Assert.All(changed, x => Assert.True(x.index >= layer4Start, $"node {x.index} before layer 4 changed"));
        Assert.All(changed, x => Assert.Equal([1L, 1L], Ints(x.Second, "strides")));
        var threeByThree = changed.Where(x => Ints(x.Second, "kernel_shape")[0] == 3).ToList();
        Assert.Equal(6, threeByThree.Count);
        Assert.Equal([1L, 1L], Ints(threeByThree[0].Second, "dilations"));
        Assert.Equal([1L, 1L, 1L, 1L], Ints(threeByThree[0].Second, "pads"));
        Assert.All(threeByThree.Skip(1), x => Assert.Equal([2L, 2L], Ints(x.Second, "dilations")));
        Assert.All(threeByThree.Skip(1), x => Assert.Equal([2L, 2L, 2L, 2L], Ints(x.Second, "pads")));
    }

    [Fact]
    public void DilateStage_StridedPoolingInTheStage_ThrowsNamingIt()
    {
        var graph = new GraphProto();
        graph.Node.Add(new NodeProto { Name = "relu", OpType = "Relu", Input = { "x" }, Output = { "a" } });
        var pool = new NodeProto { Name = "pool", OpType = "MaxPool", Input = { "a" }, Output = { "b" } };
        pool.Attribute.Add(new AttributeProto { Name = "strides", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 2, 2 } });
        graph.Node.Add(pool);
        graph.Node.Add(new NodeProto { Name = "out", OpType = "Relu", Input = { "b" }, Output = { "c" } });
        var model = new ModelProto { Graph = graph };

        var error = Assert.Throws<OnnxModelMismatchException>(() => OnnxGraphSurgery.DilateStage(model, "a", "c"));

        Assert.Contains("'MaxPool' node 'pool'", error.Message, StringComparison.Ordinal);
    }
}
