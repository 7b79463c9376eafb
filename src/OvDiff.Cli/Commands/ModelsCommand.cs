using System.CommandLine;
using System.Globalization;
using OvDiff.Cli.Infrastructure;
using OvDiff.Core.Segmentation;
using OvDiff.Onnx;

namespace OvDiff.Cli.Commands;

/// <summary>
/// <c>ovdiff models list|download|verify</c>: the pretrained models of configs/models.json (SD 1.5, CLIP ViT-B/16,
/// DINO ViT-B/8) in the model folder (<c>--models</c>, <c>$OVDIFF_MODELS</c>, <c>./models</c>).
/// </summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var models = new Option<string?>("--models") { Description = "Model folder (default: $OVDIFF_MODELS, else ./models)." };
        var manifest = new Option<FileInfo?>("--manifest") { Description = "A model manifest to use instead of the built-in configs/models.json." };

        var list = new Command("list", "List the model roles, their Hugging Face repositories and files, and what the model folder holds.") { models, manifest };
        list.SetAction(parse =>
        {
            (ModelManifest m, ModelStore store) = Open(parse, manifest, models);
            TextWriter stdout = parse.InvocationConfiguration.Output;
            stdout.WriteLine($"Model folder: {store.Root}");
            foreach (ModelRole role in m.Roles)
            {
                int present = role.Files.Count(f => File.Exists(store.PathOf(role, f)));
                stdout.WriteLine();
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{role.Name}  {role.Repository}@{role.Revision}  about {Gigabytes(role.ApproximateBytes(requiredOnly: false))}  {present}/{role.Files.Count} files present  ({role.License})"));
                stdout.WriteLine($"  {role.Description}");
                foreach (ModelFileEntry file in role.Files)
                {
                    string state = File.Exists(store.PathOf(role, file)) ? "present" : file.Required ? "missing" : "missing (optional)";
                    string from = file.Repository == role.Repository ? "" : $"  from {file.Repository}";
                    stdout.WriteLine($"  {state,-18} {file.Path,-34} {Gigabytes(file.Size ?? file.ApproximateBytes ?? 0),9}{from}");
                }
            }

            return 0;
        });

        var roles = new Argument<string[]>("role") { Description = "Roles to act on (see `ovdiff models list`).", Arity = ArgumentArity.ZeroOrMore };
        var all = new Option<bool>("--all") { Description = "Every role of the manifest." };
        var requiredOnly = new Option<bool>("--required-only") { Description = "Skip optional files (e.g. the SD VAE encoder, needed only for SD features)." };
        var download = new Command("download", "Fetch the files of the given roles from the Hugging Face Hub (honours HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_OFFLINE; resumes; checks SHA-256).")
        {
            roles, all, requiredOnly, models, manifest,
        };
        download.SetAction(async (parse, cancellationToken) =>
        {
            (ModelManifest m, ModelStore store) = Open(parse, manifest, models);
            TextWriter stdout = parse.InvocationConfiguration.Output;
            using var downloader = new HuggingFaceDownloader();
            var installer = new ModelInstaller(store, downloader);
            foreach (ModelRole role in Select(m, parse.GetValue(roles), parse.GetValue(all), requireSome: true))
            {
                IReadOnlyList<InstalledModelFile> installed;
                try
                {
                    using var display = new ByteProgressDisplay(parse.InvocationConfiguration.Error);
                    installed = await installer.InstallAsync(role, parse.GetValue(requiredOnly), display, cancellationToken);
                }
                catch (ModelsUnavailableException unavailable)
                {
                    // Kept on several lines (the error policy would join them): one file per line, to copy from.
                    parse.InvocationConfiguration.Error.WriteLine($"error: {unavailable.Message}");
                    return ErrorPolicy.BadInputExitCode;
                }

                foreach (InstalledModelFile file in installed)
                {
                    stdout.WriteLine($"{role.Name}/{file.File.Path}: {Describe(file.Origin)}");
                }

                if (!Report(stdout, ModelVerifier.Verify(store, role, hash: false, cancellationToken: cancellationToken)))
                {
                    return 1;
                }
            }

            return 0;
        });

        var noHash = new Option<bool>("--no-hash") { Description = "Check presence, sizes and signatures only (hashing reads every byte: about 1 s per GB from cache, the disk's speed otherwise)." };
        var verify = new Command("verify", "Check the files of the given roles (default: every role with a folder): present, sizes and SHA-256 as expected, ONNX inputs/outputs as OvDiff needs.")
        {
            roles, noHash, models, manifest,
        };
        verify.SetAction((parse, cancellationToken) =>
        {
            (ModelManifest m, ModelStore store) = Open(parse, manifest, models);
            TextWriter stdout = parse.InvocationConfiguration.Output;
            string[] named = parse.GetValue(roles) ?? [];
            IEnumerable<ModelRole> chosen = named.Length > 0
                ? Select(m, named, all: false, requireSome: false)
                : m.Roles.Where(r => Directory.Exists(store.FolderOf(r)));
            bool ok = true;
            int checkedRoles = 0;
            foreach (ModelRole role in chosen)
            {
                checkedRoles++;
                IReadOnlyList<ModelFileCheck> checks;
                using (var hashing = new ByteProgressDisplay(parse.InvocationConfiguration.Error))
                {
                    checks = ModelVerifier.Verify(store, role, !parse.GetValue(noHash), hashing, cancellationToken);
                }

                ok &= Report(stdout, checks);   // after the progress line is finished (an error was printed at its end)
            }

            if (checkedRoles == 0)
            {
                stdout.WriteLine($"No model folders in {store.Root}; `ovdiff models download ROLE` fetches one (roles: {string.Join(", ", m.Roles.Select(r => r.Name))}).");
            }

            return Task.FromResult(ok ? 0 : 1);
        });

        return new Command("models", "The pretrained models (configs/models.json): list, download from the Hugging Face Hub, verify.") { list, download, verify };
    }

    private static (ModelManifest Manifest, ModelStore Store) Open(ParseResult parse, Option<FileInfo?> manifest, Option<string?> models)
    {
        ModelManifest m = parse.GetValue(manifest) is { } file ? ModelManifest.Load(file.FullName) : ModelManifest.Default;
        ModelStore store = parse.GetValue(models) is { Length: > 0 } folder ? new ModelStore(folder) : ModelStore.Default;
        return (m, store);
    }

    private static IEnumerable<ModelRole> Select(ModelManifest manifest, string[]? names, bool all, bool requireSome)
    {
        if (all)
        {
            return manifest.Roles;
        }

        if (names is not { Length: > 0 })
        {
            return requireSome
                ? throw new ArgumentException($"Name the roles to download, or --all (about {Gigabytes(manifest.Roles.Sum(r => r.ApproximateBytes(requiredOnly: false)))}). Roles: {string.Join(", ", manifest.Roles.Select(r => r.Name))}.")
                : manifest.Roles;
        }

        return names.Select(n => manifest[n]).Distinct().ToArray();
    }

    /// <summary>Prints each file's state; problems as "error: PATH: problem" lines. True when nothing is an error.</summary>
    private static bool Report(TextWriter stdout, IReadOnlyList<ModelFileCheck> checks)
    {
        foreach (ModelFileCheck check in checks)
        {
            if (check.Status == ModelFileStatus.Ok)
            {
                stdout.WriteLine($"ok       {check.LocalPath}{(check.Sha256 is null ? "" : "  sha256 " + check.Sha256)}");
                continue;
            }

            foreach (string problem in check.Problems)
            {
                stdout.WriteLine($"{(check.IsError ? "error:" : "note:"),-8} {check.LocalPath}: {problem}");
            }
        }

        var errors = checks.Where(c => c.IsError).ToList();
        if (errors.Count > 0 && errors.All(c => c.Status == ModelFileStatus.Missing))
        {
            ModelRole role = errors[0].Role;
            stdout.WriteLine($"{errors.Count} file(s) of '{role.Name}' missing: `ovdiff models download {role.Name}` fetches them from {role.Repository}.");
        }

        return errors.Count == 0;
    }

    private static string Describe(ModelFileOrigin origin) => origin switch
    {
        ModelFileOrigin.AlreadyPresent => "already present",
        ModelFileOrigin.FromHubCache => "copied from the Hugging Face cache",
        ModelFileOrigin.Downloaded => "downloaded",
        _ => "not in the repository (optional)",
    };

    private static string Gigabytes(long bytes) =>
        bytes >= 1_000_000_000 ? string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e9:F1} GB")
        : bytes >= 1_000_000 ? string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:F0} MB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e3:F0} kB");
}
