namespace OvDiff.Core.Segmentation;

/// <summary>
/// One support image as fitted: its class, where it came from, and the foreground/background masks used for pooling
/// (on the mask grid, row-major), kept in the model for inspection and explanation.
/// </summary>
/// <param name="ClassIndex">Index into <see cref="PrototypeModel.ClassNames"/>.</param>
/// <param name="Source">The image's path or identifier as given by the support source.</param>
/// <param name="MaskHeight">Rows of the mask grid.</param>
/// <param name="MaskWidth">Columns of the mask grid.</param>
/// <param name="Foreground">Foreground cells (length MaskHeight * MaskWidth).</param>
/// <param name="Background">Background cells (length MaskHeight * MaskWidth); disjoint from Foreground.</param>
public sealed record SupportImageRecord(int ClassIndex, string Source, int MaskHeight, int MaskWidth, bool[] Foreground, bool[] Background);
