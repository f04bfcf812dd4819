using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using R1Sharp.Checkpoints;
using R1Sharp.Model;
using R1Sharp.Runs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>
/// Where a trainer stands, as trainer_state.json of a checkpoint holds it: the step and training wall-clock, and the
/// counters of the data read so far, so a resumed run reads on exactly where the killed one stopped.
/// </summary>
public sealed record TrainerState
{
    /// <summary>Optimizer steps done.</summary>
    public int Step { get; init; }
    /// <summary>Training wall-clock so far (what max_seconds counts).</summary>
    public double ElapsedSeconds { get; init; }
    /// <summary>Pretraining and SFT: input tokens trained on so far.</summary>
    public long? TokensSeen { get; init; }
    /// <summary>Pretraining and SFT: the batch source's position.</summary>
    public DataPosition? Data { get; init; }
    /// <summary>GRPO: prompts drawn so far, over all epochs.</summary>
    public long? PromptsUsed { get; init; }
    /// <summary>The precision the run trains in (what auto chose), kept so a resumed run goes on in it; absent in
    /// checkpoints from before mixed precision, which trained in fp32.</summary>
    public Precision? Precision { get; init; }
    /// <summary>Why the run trains in <see cref="Precision"/> (what auto measured).</summary>
    public string? PrecisionReason { get; init; }

    public const string OptimizerFile = "optimizer.bin";
    public const string StateFile = "trainer_state.json";
    public const string RngFile = "rng_state.bin";

    static readonly JsonSerializerOptions Json = new(SnakeCase.Report);

    /// <summary>Writes a checkpoint folder: the model (HF layout, float32) — or, when a LoRA <paramref name="adapter"/> is
    /// trained, the adapter alone (PEFT's format) — the optimizer's moments, torch's RNG and this state.</summary>
    public void Save(string dir, CausalLanguageModel model, OptimizerHelper optimizer, LoraAdapter? adapter = null)
    {
        if (adapter is null) ModelCheckpoint.Save(model, dir);
        else PeftAdapter.Save(adapter, dir);
        optimizer.save_state_dict(Path.Combine(dir, OptimizerFile));
        TorchRngState.Save(Path.Combine(dir, RngFile));
        File.WriteAllText(Path.Combine(dir, StateFile), JsonSerializer.Serialize(this, Json));
    }

    /// <summary>Loads weights into <paramref name="model"/> (or into the trained LoRA <paramref name="adapter"/>), moments
    /// into <paramref name="optimizer"/> and torch's RNG from checkpoint folder <paramref name="dir"/>; returns its trainer state.</summary>
    public static TrainerState Load(string dir, CausalLanguageModel model, OptimizerHelper optimizer, LoraAdapter? adapter = null)
    {
        if (adapter is not null) PeftAdapter.LoadInto(adapter, dir);
        else
            using (var loaded = ModelCheckpoint.Load(dir))
            using (no_grad())
            {
                var own = model.HfStateDict();
                foreach (var (name, value) in loaded.HfStateDict()) own[name].copy_(value);
            }
        optimizer.load_state_dict(Path.Combine(dir, OptimizerFile));
        TorchRngState.Restore(File.ReadAllBytes(Path.Combine(dir, RngFile)));
        string path = Path.Combine(dir, StateFile);
        return ConfigJson.Deserialize<TrainerState>(File.ReadAllText(path), path, Json);
    }
}

/// <summary>
/// The loop every trainer runs around its own step: each step's learning rate, the stop at max_steps or max_seconds,
/// held-out evaluation every eval_steps and at the end, one metrics line per step, a checkpoint every save_steps and
/// at the end. Whatever stops the run between two steps — an error, a cancellation, the watcher — first saves a
/// checkpoint of the last whole step, so `--resume` loses nothing. (A stop in the middle of a step cannot: its model
/// and data are half-way; the run resumes from the checkpoint before.)
/// </summary>
/// <param name="adapter">The LoRA adapter trained over the frozen model, or null when the model itself is trained: what checkpoints hold.</param>
public sealed class TrainingLoop(TrainingArguments args, RunFolder run, CausalLanguageModel model, AdamW optimizer, LoraAdapter? adapter = null)
{
    public TrainerState State { get; private set; } = new();

    /// <summary>The arithmetic of the run's forward passes, decided by <see cref="Resume"/>: the trainer runs its forward and
    /// loss inside <c>Precision.Autocast(device)</c>.</summary>
    public PrecisionChoice Precision { get; private set; } = PrecisionChoice.Fp32;

    bool Continues => State.Step < args.MaxSteps && (args.MaxSeconds == 0 || State.ElapsedSeconds < args.MaxSeconds);

    /// <summary>Starts from checkpoint <paramref name="from"/> (weights or adapter, optimizer, RNG, precision), or from step 0 when
    /// null, and decides the run's precision (<see cref="MixedPrecision.ForRun"/>), telling the run's watcher.</summary>
    public TrainerState Resume(CheckpointInfo? from)
    {
        State = from is null ? new TrainerState() : TrainerState.Load(from.Path, model, optimizer, adapter);
        Precision = MixedPrecision.ForRun(args.Precision, from is null ? null : State.Precision ?? Training.Precision.Fp32, model, args.RowsPerMicroBatch);
        State = State with { Precision = Precision.Precision, PrecisionReason = Precision.Reason };
        run.Store.Notify($"precision {Precision.Reason}");
        return State;
    }

    /// <param name="step">One optimizer step: gets the 0-based step and its learning rate, returns its metrics.</param>
    /// <param name="counters">The trainer's own counters (data position, tokens, prompts) after a step.</param>
    /// <param name="evaluate">Held-out metrics, added to the line of every eval_steps-th step and of the last.</param>
    /// <returns>The last step's metrics.</returns>
    public IReadOnlyDictionary<string, double> Run(Func<int, double, Dictionary<string, double>> step, Func<TrainerState, TrainerState> counters,
        Func<IReadOnlyDictionary<string, double>>? evaluate, Action<int, IReadOnlyDictionary<string, double>>? onStep,
        CancellationToken cancellation)
    {
        var schedule = args.Schedule();
        var metrics = new Dictionary<string, double>();
        int saved = State.Step; // a resumed run has this step's checkpoint; step 0 needs none
        bool whole = true;      // nothing of the next step has run yet
        try
        {
            while (Continues)
            {
                cancellation.ThrowIfCancellationRequested();
                whole = false;
                var clock = Stopwatch.StartNew();
                metrics = step(State.Step, schedule.Apply(optimizer, State.Step));
                double seconds = clock.Elapsed.TotalSeconds;
                State = counters(State with { Step = State.Step + 1, ElapsedSeconds = State.ElapsedSeconds + seconds });
                metrics[MetricNames.StepTime] = seconds;
                bool last = !Continues;
                if (evaluate is not null && args.EvalSteps > 0 && (State.Step % args.EvalSteps == 0 || last))
                    foreach (var (key, value) in evaluate()) metrics[key] = value;
                run.LogMetrics(State.Step, metrics);
                whole = true;
                onStep?.Invoke(State.Step, metrics);
                if (last || (args.SaveSteps > 0 && State.Step % args.SaveSteps == 0))
                {
                    saved = State.Step;
                    Save();
                }
            }
        }
        catch (Exception e) when ((whole || e is StepNotTakenError) && State.Step > saved)
        {
            Save();
            throw;
        }
        return metrics;
    }

    void Save()
    {
        var state = State;
        run.SaveCheckpoint(state.Step, dir => state.Save(dir, model, optimizer, adapter), args.SaveTotalLimit);
    }
}

/// <summary>
/// A step failed before it changed the model, the optimizer or the trainer's counters (GRPO with no rollout server
/// left): the state of the last whole step is intact, so <see cref="TrainingLoop"/> saves it as after a stop between steps.
/// </summary>
public sealed class StepNotTakenError(string message, Exception? inner = null) : R1Error(message, inner);

/// <summary>
/// Saves and restores the state of a torch random generator (the one rollouts sample tokens with), so a resumed run
/// samples the same completions an unbroken run would have.
/// </summary>
public static class TorchRngState
{
    /// <summary>The generator's state as bytes; <paramref name="generator"/> null means torch's default generator.</summary>
    public static byte[] Capture(Generator? generator = null)
    {
        using var state = generator is null ? random.get_rng_state() : generator.get_state();
        return state.data<byte>().ToArray();
    }

    public static void Restore(byte[] state, Generator? generator = null)
    {
        using var tensor = torch.tensor(state, dtype: uint8);
        if (generator is null)
            random.set_rng_state(tensor);
        else
            generator.set_state(tensor);
    }

    public static void Save(string path, Generator? generator = null) => File.WriteAllBytes(path, Capture(generator));

    public static void Load(string path, Generator? generator = null) => Restore(File.ReadAllBytes(path), generator);
}
