using OvDiff.Onnx;
using OvDiff.Diffusion.Tests;
using OvDiff.Onnx.Tests;
using OvDiff.Testing;

namespace OvDiff.Cli.Tests;

/// <summary>
/// The full reference configuration (configs/voc21-reference.json: SD + DINO + CLIP features, all prototype levels, CLIP
/// pre-filter, stuff handling, background prototypes, PAMR) end to end through `ovdiff fit` and `ovdiff eval`, on tiny
/// models with the real exports' names in a model folder, and on three real VOC images; and what a missing model file gives.
/// </summary>
public sealed class ReferenceConfigTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private string BuildModelFolder()
    {
        string models = _temp.Combine("models");
        Directory.CreateDirectory(models);
        string sd = TinyStableDiffusion.CopyTo(_temp, "opset17-split");
        Directory.Move(sd, Path.Combine(models, "sd15"));

        string dino = Path.Combine(models, "dino-vitb8", "onnx");
        Directory.CreateDirectory(dino);
        File.Move(new TinyVitModel(8, 768, 1, VitKeyExtractorOptions.DinoLastBlockKeyTensor).Write(_temp.Combine("vit")), Path.Combine(dino, "model.onnx"));

        string clip = Path.Combine(models, "clip-vit-b16");
        var tiny = new TinyClipModel();
        tiny.WriteVision(Path.Combine(clip, "onnx", "vision_model.onnx"), size: null, keyTensorName: VitKeyExtractorOptions.ClipLayerMinus2KeyTensor);
        tiny.WriteText(Path.Combine(clip, "onnx", "text_model.onnx"));
        string tokenizer = SharedData.RequireFolder("clip-tokenizer");
        File.Copy(Path.Combine(tokenizer, "vocab.json"), Path.Combine(clip, "vocab.json"));
        File.Copy(Path.Combine(tokenizer, "merges.txt"), Path.Combine(clip, "merges.txt"));
        return models;
    }

    [Fact]
    public void FitAndEval_WithTheReferenceConfig_OnTinyModels()
    {
        string voc = SharedData.RequireFolder("VOC2012");
        string models = BuildModelFolder();
        var environment = new Dictionary<string, string?> { ["OVDIFF_MODELS"] = models };
        string config = Path.Combine(RepoPaths.Configs, "voc21-reference.json");
        string Image(string id) => Path.Combine(voc, "JPEGImages", id + ".jpg");

        // Two support images (a dog; a horse beside a person), three test images from the dev split.
        string support = _temp.Combine("support.csv");
        File.WriteAllText(support, $"image,classes\n{Image("2007_001239")},dog\n{Image("2007_000783")},horse|person\n");
        string[] small = ["--set", "protocol.shortSide=128", "--set", "protocol.windows=[]"];
        string model = _temp.Combine("model.zip");
        ProcessOutcome fit = OvdiffProcess.Run(_temp.Path, environment, onTerminal: false, ["fit", "--support", support, "--out", model, "--config", config]);
        Assert.True(fit.ExitCode == 0, fit.Output);
        Assert.Contains("sd15-q", fit.Output, StringComparison.Ordinal);
        Assert.Contains("dino-vitb8-keys", fit.Output, StringComparison.Ordinal);
        Assert.Contains("clip-vitb16-keys", fit.Output, StringComparison.Ordinal);

        string split = _temp.Combine("split.txt");
        File.WriteAllLines(split, ["2007_000033", "2007_000332", "2007_001955"]);
        string report = _temp.Combine("eval");
        ProcessOutcome eval = OvdiffProcess.Run(_temp.Path, environment, onTerminal: false,
            ["eval", "-c", config, "--set", $"dataset.root={voc}", "--set", $"dataset.splitFile={split}", .. small, "--model", model, "--out", report, "--set", $"output.ledger={_temp.Combine("ledger.csv")}"]);
        Assert.True(eval.ExitCode == 0, eval.Output);
        Assert.Contains("Pre-filter clip: precision", eval.Output, StringComparison.Ordinal);
        string[] prefilter = File.ReadAllLines(Path.Combine(report, "prefilter.csv"));
        Assert.StartsWith("clip,3,", prefilter[1], StringComparison.Ordinal);
        string[] rows = File.ReadAllLines(Path.Combine(report, "per_image.csv"));
        Assert.Equal(4, rows.Length);

        // A missing model file is one error line naming it and how to get it.
        File.Delete(Path.Combine(models, "clip-vit-b16", "onnx", "text_model.onnx"));
        ProcessOutcome missing = OvdiffProcess.Run(_temp.Path, environment, onTerminal: false,
            ["eval", "-c", config, "--set", $"dataset.root={voc}", "--set", $"dataset.splitFile={split}", .. small, "--model", model, "--out", _temp.Combine("eval2"), "--set", $"output.ledger={_temp.Combine("ledger.csv")}"]);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("clip-vit-b16/onnx/text_model.onnx", missing.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", missing.Output, StringComparison.Ordinal);
    }
}
