using System.Text.Json.Nodes;

namespace OvDiff.Eval.Reports;

/// <summary>
/// The report's charts as Plotly figures: each a data/layout specification (System.Text.Json's DOM, so strings are
/// escaped for a script, '&lt;' included) and a div that plotly.js draws it into. The page carries plotly.js itself once
/// (<see cref="PlotlyJs"/>, the bundle that ships inside the Plotly.NET package), so the fragments need no network.
/// The specifications are written here rather than through Plotly.NET's chart API: that API's first use cost about
/// 0.6 s of start-up per process (F# and Newtonsoft initialisation), most of an `eval --predictions` run.
/// </summary>
internal static class ReportCharts
{
    private static readonly Lazy<string> Script = new(ReadPlotlyJs);

    /// <summary>The plotly.js bundle that ships inside Plotly.NET (its "Full" reference), to inline in the page's head.</summary>
    public static string PlotlyJs => Script.Value;

    /// <summary>Grouped bars of per-class IoU and accuracy in percent (NaN: no bar).</summary>
    public static string ClassScores(IReadOnlyList<string> classes, IReadOnlyList<double> iou, IReadOnlyList<double> accuracy)
    {
        JsonArray data =
        [
            Bars("IoU", classes, iou, "#1f5fa8"),
            Bars("Acc", classes, accuracy, "#9cc3e6"),
        ];
        var layout = Layout(Math.Max(720, 160 + (classes.Count * 26)), 430, "class", "%");
        layout["barmode"] = "group";
        layout["yaxis"]!["range"] = new JsonArray(0.0, 100.0);
        return ToHtml("chart-classes", data, layout);
    }

    /// <summary>A heat map of <paramref name="percent"/> (row = ground truth, column = prediction), class names on both axes, first class on top.</summary>
    public static string Confusion(IReadOnlyList<string> classes, double[][] percent)
    {
        int side = Math.Max(460, 190 + (classes.Count * 24));
        var heatmap = new JsonObject
        {
            ["type"] = "heatmap",
            ["name"] = "% of ground-truth pixels",
            ["x"] = Strings(classes),
            ["y"] = Strings(classes),
            ["z"] = new JsonArray([.. percent.Select(row => (JsonNode)Numbers(row))]),
            ["colorscale"] = new JsonArray(new JsonArray(0.0, "#ffffff"), new JsonArray(0.25, "#9cc3e6"), new JsonArray(1.0, "#08306b")),
        };
        var layout = Layout(side + 80, side, "predicted", "ground truth");
        layout["yaxis"]!["autorange"] = "reversed";
        return ToHtml("chart-confusion", [heatmap], layout);
    }

    /// <summary>mIoU (and mAcc) of the ledger's runs, oldest first, by finish time.</summary>
    public static string Trend(IReadOnlyList<string> timestamps, IReadOnlyList<double> meanIoU, IReadOnlyList<double> meanAccuracy, IReadOnlyList<string> hover)
    {
        JsonObject Line(string name, IReadOnlyList<double> values, string color) => new()
        {
            ["type"] = "scatter",
            ["mode"] = "lines+markers",
            ["name"] = name,
            ["x"] = Strings(timestamps),
            ["y"] = Numbers(values),
            ["text"] = Strings(hover),
            ["line"] = new JsonObject { ["color"] = color },
        };

        return ToHtml("chart-trend", [Line("mIoU", meanIoU, "#1f5fa8"), Line("mAcc", meanAccuracy, "#9cc3e6")], Layout(Math.Max(640, 120 + (timestamps.Count * 60)), 360, "finished (UTC)", "%"));
    }

    private static JsonObject Bars(string name, IReadOnlyList<string> keys, IReadOnlyList<double> values, string color) => new()
    {
        ["type"] = "bar",
        ["name"] = name,
        ["x"] = Strings(keys),
        ["y"] = Numbers(values),
        ["marker"] = new JsonObject { ["color"] = color },
    };

    private static JsonObject Layout(int width, int height, string xTitle, string yTitle) => new()
    {
        ["width"] = width,
        ["height"] = height,
        // automargin: the margins grow to fit long class names and the axis titles.
        ["xaxis"] = new JsonObject { ["title"] = new JsonObject { ["text"] = xTitle }, ["automargin"] = true },
        ["yaxis"] = new JsonObject { ["title"] = new JsonObject { ["text"] = yTitle }, ["automargin"] = true },
    };

    private static JsonArray Strings(IEnumerable<string> values) => [.. values.Select(v => (JsonNode)JsonValue.Create(v))];

    // JSON has no NaN: an undefined value is null, which plotly.js leaves out (no bar, a gap in a line, an empty cell).
    private static JsonArray Numbers(IEnumerable<double> values) => [.. values.Select(v => double.IsFinite(v) ? (JsonNode)JsonValue.Create(v) : null)];

    /// <summary>A div (<paramref name="id"/>: one per chart of the page) and the script that draws the figure into it.</summary>
    private static string ToHtml(string id, JsonArray data, JsonObject layout)
    {
        return $"<div id=\"{id}\"></div>\n<script type=\"text/javascript\">Plotly.newPlot(\"{id}\", {data.ToJsonString()}, {layout.ToJsonString()}, {{\"responsive\": true}});</script>";
    }

    private static string ReadPlotlyJs()
    {
        // Found by name pattern, so that none of Plotly.NET's F# code (and its start-up) runs.
        System.Reflection.Assembly plotly = typeof(Plotly.NET.GenericChart).Assembly;
        string name = plotly.GetManifestResourceNames().SingleOrDefault(n => n.StartsWith("Plotly.NET.plotly-", StringComparison.Ordinal) && n.EndsWith(".min.js", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("The Plotly.NET package does not carry its plotly-<version>.min.js bundle.");
        using Stream stream = plotly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        string script = reader.ReadToEnd();

        // Inlined inside <script>: a literal "</script" would end the element early.
        return script.Replace("</script", "<\\/script", StringComparison.OrdinalIgnoreCase);
    }
}
