using System.CommandLine;
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
        var teacher = OptionFactory.RequiredPath("--teacher", "Teacher model directory (the traces' author; its logits for --mode logit)");
        var student = OptionFactory.OptionalPath("--student", "Student model directory to start from");
        var preset = OptionFactory.Optional<string>("--student-preset", $"Build a fresh student of the teacher's family and tokenizer: {string.Join(", ", StudentShapes.Names)}");
        var data = OptionFactory.RequiredPath("--data", "Traces: chat JSONL as r1 sample writes it ({\"messages\": [...]})");
        foreach (var option in new Option[] { teacher, student, preset, data }) command.Options.Add(option);
        var flags = new ConfigFlags<DistillConfig>(command, new DistillConfig())
            .AddChoice("--mode", "sequence: SFT on the traces; logit: KL to the teacher's top-k next-token distribution", c => c.Mode, (c, v) => c with { Mode = v })
            .Add("--top-k", "Teacher tokens per position for --mode logit", c => c.TopK, (c, v) => c with { TopK = v })
            .Add("--max-steps", "Optimizer steps", c => c.Training.MaxSteps, (c, v) => c with { Training = c.Training with { MaxSteps = v } })
            .Add("--learning-rate", "Peak learning rate", c => c.Training.LearningRate, (c, v) => c with { Training = c.Training with { LearningRate = v } })
            .AddChoice("--precision", TrainingCommands.PrecisionHelp, c => c.Training.Precision, (c, v) => c with { Training = c.Training with { Precision = v } })
            .AddLora(c => c.Training, (c, a) => c with { Training = (LmTrainingConfig)a });
        var run = TrainingCommands.RunOptions.AddTo(command);
        run.Action(command, (parse, target, observer, cancellation) => Distiller.Train(target, flags.Layers(parse, run.ConfigFile(parse)),
            parse.GetValue(teacher)!, parse.GetValue(student), parse.GetValue(preset), parse.GetValue(data)!, observer, cancellation));
        return command;
    }
}
