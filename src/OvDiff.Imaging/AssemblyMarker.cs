namespace OvDiff.Imaging;
internal static class AssemblyMarker { }
