using Plotly.NET;
using Plotly.NET.CSharp;
using Chart = Plotly.NET.CSharp.Chart;

namespace OvDiff.Eval.Reports;

/// <summary>
/// The report's charts with Plotly.NET, each as an HTML fragment (a div and the script that draws it). The page
/// carries plotly.js itself once (<see cref="PlotlyJs"/>), so the fragments need no network.
/// </summary>
internal static class ReportCharts
{
    private static readonly Lazy<string> Script = new(ReadPlotlyJs);

    /// <summary>The plotly.js bundle that ships inside Plotly.NET (its "Full" reference), to inline in the page's head.</summary>
    public static string PlotlyJs => Script.Value;

    /// <summary>Grouped bars of per-class IoU and accuracy in percent (NaN: no bar).</summary>
    public static string ClassScores(IReadOnlyList<string> classes, IReadOnlyList<double> iou, IReadOnlyList<double> accuracy)
    {
        int width = Math.Max(720, 160 + (classes.Count * 26));
        GenericChart chart = Chart.Combine(
        [
            Chart.Column<double, string, string>(iou, Keys: classes.ToArray(), Name: "IoU", MarkerColor: Color.fromHex("#1f5fa8")),
            Chart.Column<double, string, string>(accuracy, Keys: classes.ToArray(), Name: "Acc", MarkerColor: Color.fromHex("#9cc3e6")),
        ])
            .WithYAxisStyle<double, double, string>(TitleText: "%", MinMax: Tuple.Create(0.0, 100.0))
            .WithXAxisStyle<string, string, string>(TitleText: "class")
            .WithSize(width, 430);
        return ToHtml(chart);
    }

    /// <summary>A heat map of <paramref name="percent"/> (row = ground truth, column = prediction), class names on both axes, first class on top.</summary>
    public static string Confusion(IReadOnlyList<string> classes, double[][] percent)
    {
        int side = Math.Max(460, 190 + (classes.Count * 24));
        StyleParam.Colorscale scale = StyleParam.Colorscale.NewCustom(
        [
            Tuple.Create(0.0, Color.fromHex("#ffffff")),
            Tuple.Create(0.25, Color.fromHex("#9cc3e6")),
            Tuple.Create(1.0, Color.fromHex("#08306b")),
        ]);
        GenericChart chart = Chart.Heatmap<double, string, string, string>(
                percent,
                X: classes.ToArray(),
                Y: classes.ToArray(),
                Name: "% of ground-truth pixels",
                ColorScale: scale,
                ReverseYAxis: true)
            .WithXAxisStyle<string, string, string>(TitleText: "predicted")
            .WithYAxisStyle<string, string, string>(TitleText: "ground truth")
            .WithSize(side + 80, side);
        return ToHtml(chart);
    }

    /// <summary>mIoU (and mAcc) of the ledger's runs, oldest first, by finish time.</summary>
    public static string Trend(IReadOnlyList<string> timestamps, IReadOnlyList<double> meanIoU, IReadOnlyList<double> meanAccuracy, IReadOnlyList<string> hover)
    {
        GenericChart chart = Chart.Combine(
        [
            Chart.Line<string, double, string>(timestamps.ToArray(), meanIoU.ToArray(), ShowMarkers: true, Name: "mIoU", MultiText: hover.ToArray(), LineColor: Color.fromHex("#1f5fa8")),
            Chart.Line<string, double, string>(timestamps.ToArray(), meanAccuracy.ToArray(), ShowMarkers: true, Name: "mAcc", MultiText: hover.ToArray(), LineColor: Color.fromHex("#9cc3e6")),
        ])
            .WithYAxisStyle<double, double, string>(TitleText: "%")
            .WithXAxisStyle<string, string, string>(TitleText: "finished (UTC)")
            .WithSize(Math.Max(640, 120 + (timestamps.Count * 60)), 360);
        return ToHtml(chart);
    }

    private static string ToHtml(GenericChart chart) => Plotly.NET.GenericChart.toChartHTML(chart);

    private static string ReadPlotlyJs()
    {
        string name = $"Plotly.NET.plotly-{Globals.PLOTLYJS_VERSION}.min.js";
        using Stream stream = typeof(Plotly.NET.GenericChart).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Plotly.NET does not carry '{name}'.");
        using var reader = new StreamReader(stream);
        string script = reader.ReadToEnd();

        // Inlined inside <script>: a literal "</script" would end the element early.
        return script.Replace("</script", "<\\/script", StringComparison.OrdinalIgnoreCase);
    }
}
