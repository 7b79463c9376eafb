using OvDiff.Diffusion.Schedulers;
using OvDiff.Testing;

namespace OvDiff.Diffusion.Tests.Schedulers;

public sealed class SchedulerConfigTests
{
    [Fact]
    public void ReadsStableDiffusion15sPndmConfig()
    {
        using var temp = new TempFolder();
        var path = temp.Combine("scheduler_config.json");
        File.WriteAllText(path, """
            {
              "_class_name": "PNDMScheduler",
              "_diffusers_version": "0.6.0",
              "beta_end": 0.012,
              "beta_schedule": "scaled_linear",
              "beta_start": 0.00085,
              "num_train_timesteps": 1000,
              "set_alpha_to_one": false,
              "skip_prk_steps": true,
              "steps_offset": 1,
              "trained_betas": null,
              "clip_sample": false
            }
            """);
        var config = SchedulerConfig.Read(path);
        Assert.Equal("PNDMScheduler", config.ClassName);
        Assert.Equal(SchedulerConfig.StableDiffusion15 with { ClassName = "PNDMScheduler", TimestepSpacing = null }, config);
    }

    [Theory]
    [InlineData("{\"beta_schedule\": \"sigmoid\"}", "beta_schedule")]
    [InlineData("{\"prediction_type\": \"flow_prediction\"}", "prediction_type")]
    [InlineData("{\"use_karras_sigmas\": true}", "use_karras_sigmas")]
    [InlineData("{\"num_train_timesteps\": \"1000\"}", "num_train_timesteps")]
    [InlineData("{\"timestep_spacing\": \"quadratic\"}", "timestep_spacing")]
    [InlineData("{\"algorithm_type\": \"sde-dpmsolver++\"}", "algorithm_type")]
    [InlineData("[1, 2]", "JSON object")]
    [InlineData("{\"beta_start\": 0.1,", "not valid JSON")]
    public void BadValuesNameTheFileAndTheKey(string json, string expected)
    {
        using var temp = new TempFolder();
        var path = temp.Combine("scheduler_config.json");
        File.WriteAllText(path, json);
        var error = Assert.Throws<InvalidDataException>(() => SchedulerConfig.Read(path));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFileSaysWhereItBelongs()
    {
        using var temp = new TempFolder();
        var error = Assert.Throws<FileNotFoundException>(() => SchedulerConfig.Read(temp.Combine("scheduler", "scheduler_config.json")));
        Assert.Contains("scheduler/scheduler_config.json", error.Message, StringComparison.Ordinal);
    }
}
