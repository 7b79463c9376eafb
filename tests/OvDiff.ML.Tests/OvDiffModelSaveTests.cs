using System.IO.Compression;
using Microsoft.ML;
using OvDiff.Testing;

namespace OvDiff.ML.Tests;

/// <summary><see cref="OvDiffModel.Save"/>: the zip depends on the model only, and loads as ML.NET's own save does.</summary>
public sealed class OvDiffModelSaveTests
{
    [Fact]
    public void Save_SameModelTwice_SameBytesFixedEntryTimes_LoadsToTheSameLabelMapsAsModelSave()
    {
        var context = new MLContext(seed: 0);
        IDataView support = VocFixture.SupportView(context);
        using OvDiffSegmentTransformer fitted = context.Transforms.OvDiffSegment(VocFixture.QuickOptions).Fit(support, TestContext.Current.CancellationToken);

        byte[] first = SaveToBytes(context, fitted, support.Schema);
        byte[] second = SaveToBytes(context, fitted, support.Schema);
        Assert.Equal(first, second);

        using var temp = new TempFolder();
        string ours = temp.Combine("ours.zip"), theirs = temp.Combine("theirs.zip");
        File.WriteAllBytes(ours, first);
        context.Model.Save(fitted, support.Schema, theirs);
        using (ZipArchive zip = ZipFile.OpenRead(ours))
        using (ZipArchive reference = ZipFile.OpenRead(theirs))
        {
            // ML.NET stamps the time of saving (two saves a few seconds apart differ in those bytes alone).
            Assert.All(zip.Entries, e => Assert.Equal(OvDiffModel.EntryTime.DateTime, e.LastWriteTime.DateTime));
            Assert.Equal(reference.Entries.Select(e => (e.FullName, e.Length, e.Crc32)), zip.Entries.Select(e => (e.FullName, e.Length, e.Crc32)));
        }

        List<(int Width, int Height, byte[] Labels)> expected = VocFixture.LabelMaps(context, context.Model.Load(theirs, out _).Transform(VocFixture.PathView(context, VocFixture.Targets)));
        List<(int Width, int Height, byte[] Labels)> actual = VocFixture.LabelMaps(context, context.Model.Load(ours, out _).Transform(VocFixture.PathView(context, VocFixture.Targets)));
        Assert.Equal(expected.Select(m => m.Labels), actual.Select(m => m.Labels));
        using OvDiffModel reopened = OvDiffModel.Load(context, ours);
        Assert.Equal(fitted.LabelNames, reopened.LabelNames);
    }

    private static byte[] SaveToBytes(MLContext context, ITransformer model, DataViewSchema schema)
    {
        using var stream = new MemoryStream();
        OvDiffModel.Save(context, model, schema, stream);
        return stream.ToArray();
    }
}
