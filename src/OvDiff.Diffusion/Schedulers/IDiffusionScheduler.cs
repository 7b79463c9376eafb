namespace OvDiff.Diffusion.Schedulers;

/// <summary>
/// One sampling run of a diffusion scheduler: the timesteps to feed the model and the update from one noise level to the
/// next. Samples are flat float spans (a whole batch at once: every element is updated by the same coefficients, so a
/// batch gives exactly the values each of its samples would get alone). Steps must be taken in order 0..StepCount-1;
/// multistep solvers keep the previous model outputs, so a run serves one batch once (create another for the next).
/// </summary>
public interface IDiffusionScheduler
{
    /// <summary>The algorithm.</summary>
    SchedulerKind Kind { get; }

    /// <summary>The settings used (after the folder's config and any overrides).</summary>
    SchedulerConfig Config { get; }

    /// <summary>Number of denoising steps (model calls).</summary>
    int StepCount { get; }

    /// <summary>The model timestep of each step (fractional for Euler with linspace spacing).</summary>
    IReadOnlyList<double> Timesteps { get; }

    /// <summary>Standard deviation of the initial noise: the sampler starts from noise times this.</summary>
    double InitialNoiseSigma { get; }

    /// <summary>Factor by which the current sample is multiplied to form the model's input at <paramref name="step"/> (1 except for Euler).</summary>
    double ModelInputScale(int step);

    /// <summary>Moves <paramref name="sample"/> (in place) from step <paramref name="step"/>'s noise level to the next, given the model's output there.</summary>
    void Step(int step, ReadOnlySpan<float> modelOutput, Span<float> sample);
}
