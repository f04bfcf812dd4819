using R1Sharp.Cli;
using R1Sharp.Training;
using Spectre.Console;

namespace R1Sharp.Tests.Cli;

public class TrainingViewTests
{
    static readonly Dictionary<string, double> StepMetrics = new()
    {
        [MetricNames.Reward] = 0.53125, [MetricNames.RewardStd] = 0.21,
        [MetricNames.Accuracy] = 0.5, [MetricNames.MeanLength] = 23.125, [MetricNames.MinLength] = 12, [MetricNames.MaxLength] = 36,
        [MetricNames.TruncatedRatio] = 0.02, [MetricNames.Kl] = 0.00125, [MetricNames.ClipRatioRegion] = 0.01,
        [MetricNames.Entropy] = 0.87, [MetricNames.GradNorm] = 0.452, [MetricNames.LearningRate] = 1e-4,
        [MetricNames.RolloutTokensPerSecond] = 13659.4, [MetricNames.TrainTokensPerSecond] = 9100, [MetricNames.StepTime] = 0.614,
        ["rewards/format/mean"] = 0.75,
    };

    internal static (IAnsiConsole Console, StringWriter Output) Console(bool terminal)
    {
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = terminal ? AnsiSupport.Yes : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.TrueColor : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Yes : InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 120;
        return (console, output);
    }

    [Fact]
    public void WithoutATerminalEachUpdateIsOnePlainLineWithTheNumbers()
    {
        var (console, output) = Console(terminal: false);
        using (var view = new TrainingView(console, "grpo demo", totalSteps: 100))
        {
            Assert.False(view.IsLive);
            view.Update(12, StepMetrics);
            view.Message("checkpoint step-000012 saved");
        }
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("grpo demo: 100 steps", lines[0].TrimEnd());
        Assert.Equal("step 12/100 | reward 0.531±0.210 | accuracy 0.500 | length 23.1 [12..36] | truncated 2.0% | kl 1.25e-3 | " +
                     "clip 1.0% | entropy 0.870 | grad norm 0.452 | lr 1.00e-4 | rollout 13659 tok/s | train 9100 tok/s | " +
                     "step time 0.61 s | rewards/format/mean 0.7500", lines[1].TrimEnd());
        Assert.Equal("checkpoint step-000012 saved", lines[2].TrimEnd());
        Assert.DoesNotContain('\u001b', output.ToString()); // no escape codes in a log file
    }

    [Fact]
    public void OnATerminalTheLiveViewDrawsProgressAndMetrics()
    {
        var (console, output) = Console(terminal: true);
        using (var view = new TrainingView(console, "grpo demo", totalSteps: 4, live: true))
        {
            Assert.True(view.IsLive);
            view.Update(2, StepMetrics);
        }
        var text = output.ToString();
        Assert.Contains("step 2/4 (50%)", text);
        Assert.Contains("0.531±0.210", text);
        Assert.Contains("13659 tok/s", text);
    }

    [Fact]
    public void PretrainingMetricsShowUnderTheirOwnNames()
    {
        var line = TrainingView.PlainLine(3, 10, new Dictionary<string, double>
        {
            [MetricNames.Loss] = 2.5, ["eval_loss"] = 2.75, [MetricNames.LearningRate] = 3e-4, ["x"] = double.NaN,
        });
        Assert.Equal("step 3/10 | loss 2.5000 | lr 3.00e-4 | eval_loss 2.7500", line);
    }
}
