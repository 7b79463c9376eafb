// Usage: OvDiff.ML.LoadProbe MODEL.zip OUTPUT.bin IMAGE...
// Loads the model with mlContext.Model.Load (nothing else from OvDiff is called), transforms the images, and writes for
// the label names (KeyValues of SegmentationLabelsClasses, joined by '|') and then, for each image: int32 width, int32 height,
// then the label bytes.
using Microsoft.ML;
using Microsoft.ML.Data;

var context = new MLContext(seed: 0);
ITransformer model = context.Model.Load(args[0], out DataViewSchema inputSchema);
var rows = args.Skip(2).Select(p => new ProbeRow { ImagePath = p }).ToArray();
SchemaDefinition definition = SchemaDefinition.Create(typeof(ProbeRow));
definition[0].ColumnName = inputSchema[0].Name;
IDataView output = model.Transform(context.Data.LoadFromEnumerable(rows, definition));
using var writer = new BinaryWriter(File.Create(args[1]));
VBuffer<ReadOnlyMemory<char>> names = default;
output.Schema["SegmentationLabelsClasses"].GetKeyValues(ref names);
writer.Write(string.Join('|', names.DenseValues()));
using DataViewRowCursor cursor = output.GetRowCursor(output.Schema);
var labels = cursor.GetGetter<VBuffer<byte>>(output.Schema["SegmentationLabels"]);
var width = cursor.GetGetter<int>(output.Schema["SegmentationLabelsWidth"]);
var height = cursor.GetGetter<int>(output.Schema["SegmentationLabelsHeight"]);
while (cursor.MoveNext())
{
    VBuffer<byte> l = default;
    int w = 0, h = 0;
    labels(ref l);
    width(ref w);
    height(ref h);
    writer.Write(w);
    writer.Write(h);
    writer.Write(l.DenseValues().ToArray());
}

return 0;

internal sealed class ProbeRow
{
    public string ImagePath { get; set; } = "";
}
