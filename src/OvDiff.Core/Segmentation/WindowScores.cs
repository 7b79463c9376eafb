namespace OvDiff.Core.Segmentation;

/// <summary>
/// One window's label scores on its feature grid (planar) and where the window lies in the image; <paramref name="Mirrored"/>:
/// the grid is of the window mirrored left to right, so its upsampled scores are mirrored back in pixel space.
/// </summary>
internal sealed record WindowScores(float[] Grid, int GridHeight, int GridWidth, int X1, int Y1, int X2, int Y2, bool Mirrored = false);
