namespace OvDiff.Onnx;
internal static class AssemblyMarker { }
