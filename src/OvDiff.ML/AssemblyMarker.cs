namespace OvDiff.ML;
internal static class AssemblyMarker { }
