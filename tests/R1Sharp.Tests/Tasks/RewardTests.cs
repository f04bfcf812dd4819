using R1Sharp.Tasks;
using R1Sharp.Tasks.Rewards;
using R1Sharp.Tasks.Synthetic;
using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Tasks;

public class RewardTests
{
    static readonly ArithmeticTask Task = new();
    static readonly TaskExample Example = Task.Examples(TaskSplit.Train, 0).First();

    static double Format(string completion, bool templateOpenedThink = false) =>
        new FormatReward().Score(new RewardContext(Task, Example, completion, templateOpenedThink));

    [Theory]
    [InlineData("<think>\nadd the digits\n</think>\n42", 1)]
    [InlineData("  <think>reason</think>answer", 1)]
    [InlineData("<think>reason</think>", 0)]                           // no answer
    [InlineData("<think>reason</think>   \n", 0)]                      // blank answer
    [InlineData("<think></think>42", 0)]                               // empty reasoning
    [InlineData("42", 0)]                                              // no think block
    [InlineData("preamble <think>reason</think>42", 0)]                // text before the block
    [InlineData("<think>a</think><think>b</think>42", 0)]              // two blocks
    [InlineData("<think>a</think>42</think>", 0)]                      // stray close
    [InlineData("</think>reason<think>42", 0)]                         // reversed
    [InlineData("reason</think>42", 0)]                                // template didn't open it
    public void Format_reward_wants_exactly_one_think_block_then_an_answer(string completion, double expected) =>
        Assert.Equal(expected, Format(completion));

    [Theory]
    [InlineData("reason\n</think>\n42", 1)]
    [InlineData("<think>reason</think>42", 0)]                         // the template already opened it
    [InlineData("reason 42", 0)]
    [InlineData("reason</think>", 0)]
    public void Format_reward_accepts_only_the_close_tag_when_the_template_opened_think(string completion, double expected) =>
        Assert.Equal(expected, Format(completion, templateOpenedThink: true));

    [Fact]
    public void Language_consistency_is_the_share_of_reasoning_words_in_the_prompts_language()
    {
        Assert.Equal(1, LanguageConsistencyReward.Share("What is 2+3?", "First add two and three to get five."));
        Assert.Equal(0, LanguageConsistencyReward.Share("What is 2+3?", "先把二和三相加"));
        // 4 English words, 4 Han characters.
        Assert.Equal(0.5, LanguageConsistencyReward.Share("What is 2+3?", "add two and three 二三相加"), 6);
        // LaTeX commands and one-letter variables are not words of any language.
        Assert.Equal(1, LanguageConsistencyReward.Share("求 x 的值", "因为 \\frac{x}{2} = y，所以 x 等于 4"));
        Assert.Equal(1, LanguageConsistencyReward.Share("次の値を求めよ", "まず計算する"));
        Assert.Equal(1, LanguageConsistencyReward.Share("Решите уравнение", "Сначала вычтем"));
        Assert.Equal(0, LanguageConsistencyReward.Share("Решите уравнение", "First subtract"));
        Assert.Equal(1, LanguageConsistencyReward.Share("12+34=?", "anything at all"));   // the prompt has no words
    }

    [Fact]
    public void Language_reward_reads_the_reasoning_not_the_answer()
    {
        var chinese = Example with { Prompt = [ChatMessage.User("计算 12+34")] };
        var context = new RewardContext(Task, chinese, "<think>先算个位</think>The answer is 46");
        Assert.Equal(1, new LanguageConsistencyReward().Score(context));
        context = new RewardContext(Task, chinese, "<think>first the units</think>46");
        Assert.Equal(0, new LanguageConsistencyReward().Score(context));
    }

    [Theory]
    [InlineData(100, 1000, 1.0)]
    [InlineData(800, 1000, 1.0)]
    [InlineData(900, 1000, 0.5)]
    [InlineData(1000, 1000, 0.0)]
    public void Length_reward_falls_over_the_last_fifth_of_the_budget(int tokens, int max, double expected) =>
        Assert.Equal(expected, new LengthReward().Score(new RewardContext(Task, Example, "x", CompletionTokens: tokens, MaxTokens: max)), 6);

    [Fact]
    public void Standard_reward_totals_components_by_weight()
    {
        string right = $"<think>\nadd\n</think>\n{Example.Answer}";
        var breakdown = Task.Score(Example, right);
        Assert.Equal(1, breakdown.Accuracy);
        Assert.Equal(1, breakdown.Format);
        Assert.Equal(1, breakdown.LanguageConsistency);
        Assert.Equal(1.0 + 0.2 + 0.1, breakdown.Total, 9);

        var weights = new RewardWeights { Accuracy = 2, Format = 0, LanguageConsistency = 0 };
        var wrongButWellFormed = Task.Score(Example, "<think>\nadd\n</think>\n-1", weights);
        Assert.Equal(0, wrongButWellFormed.Accuracy);
        Assert.Equal(1, wrongButWellFormed.Format);
        Assert.Equal(0, wrongButWellFormed.Total);
        Assert.Equal(2, Task.Score(Example, right, weights).Total, 9);
    }

    [Fact]
    public void Weights_can_be_given_in_order_as_a_list()
    {
        var reward = CompositeReward.Standard().Reweighted([0.5, 1, 0, 0]);
        var scored = reward.Score(new RewardContext(Task, Example, $"<think>add</think>{Example.Answer}"));
        Assert.Equal(1.5, scored.Total, 9);
        var error = Assert.Throws<R1Error>(() => CompositeReward.Standard().Reweighted([1, 2]));
        Assert.Contains("accuracy, format, language, length", error.Message);
    }

    /// <summary>The docs' example of a user-defined reward: prefer short reasoning.</summary>
    sealed class BrevityReward : IRewardFunction
    {
        public string Name => "brevity";
        public double Score(RewardContext context) => context.Parts.Reasoning.Length <= 20 ? 1 : 0;
    }

    [Fact]
    public void A_user_reward_composes_with_the_standard_ones()
    {
        var reward = CompositeReward.Standard().With(new BrevityReward(), 0.5);
        var shortOne = reward.Score(new RewardContext(Task, Example, $"<think>add</think>{Example.Answer}"));
        var longOne = reward.Score(new RewardContext(Task, Example, $"<think>{new string('a', 100)}</think>{Example.Answer}"));
        Assert.Equal(1, shortOne.Scores["brevity"]);
        Assert.Equal(0, longOne.Scores["brevity"]);
        Assert.Equal(0.5, shortOne.Total - longOne.Total, 9);
        Assert.Throws<R1Error>(() => reward.With(new BrevityReward(), 1));
    }
}
