using Microsoft.ML;
using Microsoft.ML.Data;
using OvDiff.Core.Segmentation;

namespace OvDiff.ML;

/// <summary>
/// The optional attribution-map column of support data (<see cref="OvDiffSegmentOptions.AttributionColumnName"/>):
/// a vector of Single per row, the map row-major. Its shape comes from the column type's dimensions [H, W] (what
/// <c>OvDiffSampleSupport</c> produces), else from a square length; an empty vector means "no map for this row".
/// </summary>
internal sealed class SupportAttributionColumn
{
    private readonly int _height;
    private readonly int _width;

    private SupportAttributionColumn(DataViewSchema.Column column, int height, int width)
    {
        Column = column;
        _height = height;
        _width = width;
    }

    /// <summary>The column.</summary>
    public DataViewSchema.Column Column { get; }

    /// <summary>The column called <paramref name="name"/> in <paramref name="schema"/>, or null when the name is null or absent; a column of another type is an error naming it.</summary>
    public static SupportAttributionColumn? Find(DataViewSchema schema, string? name)
    {
        ArgumentNullException.ThrowIfNull(schema);
        if (name is null || schema.GetColumnOrNull(name) is not { } column)
        {
            return null;
        }

        if (column.Type is not VectorDataViewType { ItemType: var item } vector || item != NumberDataViewType.Single)
        {
            throw new ArgumentOutOfRangeException(nameof(schema), $"Column '{name}' (attribution map): expected a vector of Single, got {column.Type}.");
        }

        (int height, int width) = vector.Dimensions.Length == 2 ? (vector.Dimensions[0], vector.Dimensions[1]) : (0, 0);
        return new SupportAttributionColumn(column, height, width);
    }

    /// <summary>A reader of the current row's map (null for an empty vector); errors name the row and column.</summary>
    public Func<long, AttributionMap?> CreateReader(DataViewRowCursor cursor)
    {
        ArgumentNullException.ThrowIfNull(cursor);
        ValueGetter<VBuffer<float>> getter = cursor.GetGetter<VBuffer<float>>(Column);
        VBuffer<float> buffer = default;
        return row =>
        {
            getter(ref buffer);
            if (buffer.Length == 0)
            {
                return null;
            }

            float[] values = buffer.DenseValues().ToArray();
            int side = (int)Math.Round(Math.Sqrt(values.Length));
            (int height, int width) = _height > 0 ? (_height, _width)
                : side * side == values.Length ? (side, side)
                : throw new InvalidDataException($"Support row {row}, column '{Column.Name}': {values.Length} values are not a square map; give the column dimensions [H, W].");
            if (values.Any(v => !float.IsFinite(v)))
            {
                throw new InvalidDataException($"Support row {row}, column '{Column.Name}': the attribution map holds a NaN or infinite value.");
            }

            return new AttributionMap(height, width, values);
        };
    }
}
