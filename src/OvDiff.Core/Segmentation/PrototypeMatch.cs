namespace OvDiff.Core.Segmentation;

/// <summary>One prototype's similarity to a pixel's features, with where the prototype came from.</summary>
/// <param name="ExtractorName">The bank the prototype belongs to.</param>
/// <param name="PrototypeIndex">Row in that bank.</param>
/// <param name="Origin">Class, role, level, support image and cluster.</param>
/// <param name="Similarity">Cosine similarity at the pixel.</param>
public sealed record PrototypeMatch(string ExtractorName, int PrototypeIndex, PrototypeOrigin Origin, float Similarity);
