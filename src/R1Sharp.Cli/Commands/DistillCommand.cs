using System.CommandLine;
using R1Sharp.Checkpoints;
using R1Sharp.Distillation;
using R1Sharp.Training;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// <c>r1 distill --teacher DIR (--student DIR | --student-preset NAME) --data traces.jsonl [--mode sequence|logit] [--top-k 20]</c>:
/// trains a student on a teacher's traces (made by `r1 sample`), in a run folder like every training command.
/// </summary>
public static class DistillCommand
{
    public static Command Create()
    {
        var command = new Command("distill", "Distil a teacher into a student: SFT on the teacher's traces, or KL to its top-k logits");
        var teacher = OptionFactory.Required<string>("--teacher", "Teacher model directory (the traces' author; its logits for --mode logit)");
        var student = OptionFactory.Optional<string>("--student", "Student model directory to start from");
        var preset = OptionFactory.Optional<string>("--student-preset", $"Build a fresh student of the teacher's family and tokenizer: {string.Join(", ", StudentShapes.Names)}");
        var data = OptionFactory.Required<string>("--data", "Traces: chat JSONL as r1 sample writes it ({\"messages\": [...]})");
        var mode = OptionFactory.Optional<string>("--mode", "sequence (SFT on the traces, default) or logit (KL to the teacher's top-k next-token distribution)");
        var topK = OptionFactory.Optional<int?>("--top-k", "Teacher tokens per position for --mode logit (default 20)");
        var steps = OptionFactory.Optional<int?>("--max-steps", "Optimizer steps (default 200)");
        var lr = OptionFactory.Optional<double?>("--learning-rate", "Peak learning rate (default 3e-4)");
        foreach (var option in new Option[] { teacher, student, preset, data, mode, topK, steps, lr }) command.Options.Add(option);
        var run = TrainingCommands.RunOptions.AddTo(command);
        command.SetAction(parse =>
        {
            string? studentDir = parse.GetValue(student), studentPreset = parse.GetValue(preset);
            if ((studentDir is null) == (studentPreset is null)) throw new R1Error("give exactly one of --student and --student-preset");
            DistillConfig Apply(DistillConfig d) => d with
            {
                Mode = parse.GetValue(mode) is { } m ? SnakeCase.Parse<DistillMode>(m, "--mode") : d.Mode,
                TopK = parse.GetValue(topK) ?? d.TopK,
                Training = d.Training with
                {
                    MaxSteps = parse.GetValue(steps) ?? d.Training.MaxSteps,
                    LearningRate = parse.GetValue(lr) ?? d.Training.LearningRate,
                },
            };
            using var teacherBundle = ModelBundle.Load(parse.GetValue(teacher)!);
            // A bad shape is reported before a run folder is made.
            if (studentPreset is not null) StudentShapes.Create(teacherBundle.Model.Config, studentPreset);
            return TrainingCommands.Train(parse, run, "distill", Apply(new DistillConfig()), (json, path) => Apply(DistillConfig.FromJson(json, path)),
                cfg => cfg.Training.MaxSteps,
                cfg => studentPreset is not null ? StudentShapes.Build(teacherBundle, studentPreset, cfg.Training.Seed) : ModelBundle.Load(studentDir!),
                (cfg, studentBundle, folder, checkpoint, onStep) =>
                    new Distiller(teacherBundle, studentBundle, cfg.Validate()).Run(parse.GetValue(data)!, folder, checkpoint, onStep));
        });
        return command;
    }
}
