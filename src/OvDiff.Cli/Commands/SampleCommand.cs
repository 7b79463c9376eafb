using System.CommandLine;
using System.Globalization;
using OvDiff.Cli.Infrastructure;
using OvDiff.Core.Segmentation;
using OvDiff.Core.Sharding;
using OvDiff.Diffusion.Pipeline;
using OvDiff.Diffusion.Schedulers;
using OvDiff.Diffusion.Support;
using OvDiff.Imaging.Support;
using OvDiff.Onnx;

namespace OvDiff.Cli.Commands;

/// <summary>
/// <c>ovdiff sample</c>: class names to a support store (OVDiff stage 1): N Stable Diffusion images per class with their
/// cross-attention attribution maps and fg/bg masks. Resumable, shardable, byte-deterministic.
/// </summary>
internal static class SampleCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A Stable Diffusion folder in the diffusers ONNX layout (`ovdiff models download sd15` puts one in models/sd15).", Required = true };
        var classes = new Option<string[]>("--classes") { Description = "Class names, comma-separated (repeatable): \"cat,dog,traffic cone\".", Required = true, AllowMultipleArgumentsPerToken = true };
        var perClass = new Option<int>("--n") { Description = "Images per class (the reference: 32).", DefaultValueFactory = _ => 32 };
        var steps = new Option<int>("--steps") { Description = "Denoising steps.", DefaultValueFactory = _ => 30 };
        var guidance = new Option<double>("--guidance") { Description = "Classifier-free guidance scale.", DefaultValueFactory = _ => 8.0 };
        var seed = new Option<long>("--seed") { Description = "Base seed; image (class, index) has its own seed derived from it.", DefaultValueFactory = _ => 42 };
        var output = new Option<string>("--out") { Description = "The support store folder (created, or resumed when it exists with the same settings).", Required = true };
        var shard = new Option<string?>("--shard") { Description = "Sample only shard i of n (0-based, e.g. 0/4) of the (class, batch) groups; run every shard into one store (or copy them together), then fit." };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N (CUDA needs the GPU build).", DefaultValueFactory = _ => "cpu" };
        var scheduler = new Option<SchedulerKind>("--scheduler") { Description = "Sampler (the reference: DpmSolverMultistep, DPM-Solver++ 2M).", DefaultValueFactory = _ => SchedulerKind.DpmSolverMultistep };
        var batch = new Option<int>("--batch") { Description = "Images per UNet call (each twice with guidance); part of the store's settings.", DefaultValueFactory = _ => 8 };
        var prompt = new Option<string>("--prompt") { Description = "Prompt template with {class}.", DefaultValueFactory = _ => SupportImageRequest.ReferencePromptTemplate };
        var negative = new Option<string>("--negative-prompt") { Description = "Negative prompt (\"\" for none).", DefaultValueFactory = _ => SupportImageRequest.ReferenceNegativePrompt };
        var size = new Option<int?>("--size") { Description = "Image width and height in pixels (default: the UNet's fixed size, else 512)." };
        var fuse = new Option<bool>("--fuse-attn1") { Description = "Fuse the self-attention layers (faster on CUDA; maps unchanged)." };
        var command = new Command("sample", "Sample support images for class names with Stable Diffusion, with attribution maps and fg/bg masks, into a resumable store.")
        {
            model, classes, perClass, steps, guidance, seed, output, shard, device, scheduler, batch, prompt, negative, size, fuse,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            TextWriter stdout = parse.InvocationConfiguration.Output;
            TextWriter stderr = parse.InvocationConfiguration.Error;
            IReadOnlyList<string> names = SupportSamplingSession.CheckClassNames(
                (parse.GetValue(classes) ?? []).SelectMany(c => c.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)));
            int n = CliParsing.RequirePositive(parse, perClass);

            ShardSpec part = parse.GetValue(shard) is { } shardText ? ShardSpec.Parse(shardText) : ShardSpec.Whole;
            var options = new SupportSamplingOptions
            {
                Diffusion = new StableDiffusionOptions
                {
                    Runtime = ExecutionDevice.Parse(parse.GetValue(device) ?? "cpu"),
                    Scheduler = parse.GetValue(scheduler),
                    Steps = parse.GetValue(steps),
                    GuidanceScale = parse.GetValue(guidance),
                    BatchSize = parse.GetValue(batch),
                    Width = parse.GetValue(size),
                    Height = parse.GetValue(size),
                    FuseSelfAttention = parse.GetValue(fuse),
                },
                Seed = parse.GetValue(seed),
                PromptTemplate = parse.GetValue(prompt) ?? SupportImageRequest.ReferencePromptTemplate,
                NegativePrompt = parse.GetValue(negative) ?? "",
            };

            CheckOptions(options.Diffusion);
            ExecutionDevice.EnsureAvailable(options.Diffusion.Runtime); // --device cuda on a CPU build: refused before the store is created
            using var interruption = new Interruption(cancellationToken);   // Ctrl-C: stop after the current model call; images written so far stay
            string store = parse.GetRequiredValue(output);
            SupportSamplingSession session;
            using (var hashing = new ByteProgressDisplay(stderr, "fingerprint"))   // the first run hashes the model (gigabytes)
            {
                session = SupportSamplingSession.Open(parse.GetRequiredValue(model), store, names, n, options, hashing, interruption.Token);
            }

            using (session)
            {
                using var progress = new ConsoleProgress(stderr);
                SupportSamplingResult result;
                try
                {
                    result = await Task.Run(() => session.Run(names, n, part, progress, interruption.Token), CancellationToken.None).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    progress.Finish();
                    int complete = names.Sum(c => Enumerable.Range(0, n).Count(i => session.Store.IsComplete(session.Store.Class(c), i)));
                    stderr.WriteLine($"Interrupted: {complete} of {names.Count * n} images are in {session.Store.Root}; run the same command again to continue.");
                    return ErrorPolicy.InterruptedExitCode;
                }

                progress.Finish();
                SupportSamplingSettings settings = session.Store.Manifest.Settings;
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{session.Store.Root}: {result.Generated} images sampled, {result.AlreadyComplete} already there ({result.ShardItems} in {(part.Count == 1 ? "this run" : $"shard {part}")}; " +
                    $"{settings.Width}x{settings.Height}, {settings.Scheduler}, {settings.Steps} steps, guidance {settings.Guidance}, seed {settings.Seed})."));
                IReadOnlyList<(SupportStoreClass Class, int Index)> missing = session.Store.Missing(names.Select(session.Store.Class), n);
                stdout.WriteLine(missing.Count == 0
                    ? $"Complete. Next: ovdiff fit --support {store} --out MODEL.zip"
                    : $"{missing.Count} images of these classes are still missing (other shards); fit once every shard has run.");
                return 0;
            }
        });
        return command;
    }

    /// <summary>The diffusion settings checked before any work, an error naming the command-line option (not the setting's property).</summary>
    private static void CheckOptions(StableDiffusionOptions diffusion)
    {
        try
        {
            diffusion.Validate();
        }
        catch (ArgumentException e) when (e.ParamName is { } name && OptionOf(name) is { } option)
        {
            throw new CommandLineException(e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal).Replace(name, option, StringComparison.Ordinal));
        }

        static string? OptionOf(string setting) => setting switch
        {
            nameof(StableDiffusionOptions.Steps) => "--steps",
            nameof(StableDiffusionOptions.GuidanceScale) => "--guidance",
            nameof(StableDiffusionOptions.Width) or nameof(StableDiffusionOptions.Height) => "--size",
            nameof(StableDiffusionOptions.BatchSize) => "--batch",
            _ => null,
        };
    }
}
