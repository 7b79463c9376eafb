namespace OvDiff.Eval;
internal static class AssemblyMarker { }
