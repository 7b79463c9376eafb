using System.CommandLine;
using OvDiff.Cli.Infrastructure;
using OvDiff.Core.Segmentation;
using OvDiff.Eval.Configuration;
using OvDiff.ML;

namespace OvDiff.Cli.Commands;

/// <summary>
/// The options that change a model's stored inference defaults at run time (<c>--config</c>, <c>--set</c>, <c>--levels</c>,
/// <c>--pamr</c>), shared by <c>segment</c> and <c>explain</c> so that explain shows what segment does with the same flags.
/// </summary>
internal sealed class InferenceOverrides
{
    private readonly Option<FileInfo?> _config = new("--config", "-c") { Description = "An eval config whose protocol and segmenter.options replace the model's stored inference defaults (as `ovdiff eval` applies them)." };
    private readonly Option<string[]> _set = new("--set") { Description = "Override a field of that config (or of the defaults, without --config): key=value, repeatable, e.g. --set protocol.windows=[].", Arity = ArgumentArity.ZeroOrMore };
    private readonly Option<string?> _levels = new("--levels") { Description = "Prototype levels to match (must be fitted): all, or a comma list of mean,image,parts. Default: the model's." };
    private readonly Option<bool> _pamr = new("--pamr") { Description = "Refine scores with PAMR (10 iterations, dilations 1,2,4,8,12,24). Models from `ovdiff fit` store it on already; --set segmenter.options.pamr=false turns it off." };

    /// <summary>The options, to add to a command.</summary>
    public IEnumerable<Option> Options => [_config, _set, _levels, _pamr];

    /// <summary>
    /// The model's stored inference options with a config's protocol and segmenter.options (--config, --set), --levels and
    /// --pamr applied. A warning goes to <paramref name="stderr"/> when the config asks for what the model cannot do (the
    /// support pre-filter's shared background on a model without one).
    /// </summary>
    public SegmentationOptions Apply(ParseResult parse, OvDiffModel model, TextWriter stderr)
    {
        SegmentationOptions options = model.State.Segmentation;
        if (CliParsing.OptionalConfig(parse, _config, _set) is EvalConfig applied)
        {
            options = ModelSegmenterFactory.Apply(options, applied);
            if (ModelSegmenterFactory.SharedBackgroundWarning(applied, model.State.Model, model.Path) is string warning)
            {
                stderr.WriteLine(warning);
            }
        }

        if (parse.GetValue(_levels) is string levelText)
        {
            options = options with { Levels = CliParsing.ParseLevels(levelText) };
        }

        return parse.GetValue(_pamr) ? options with { Pamr = new Core.Numerics.PamrOptions() } : options;
    }
}
