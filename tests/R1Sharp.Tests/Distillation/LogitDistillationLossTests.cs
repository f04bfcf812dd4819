using R1Sharp.Distillation;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Distillation;

public class LogitDistillationLossTests
{
    static double[] LogSoftmax(double[] z)
    {
        double max = z.Max(), log = Math.Log(z.Sum(v => Math.Exp(v - max))) + max;
        return z.Select(v => v - log).ToArray();
    }

    /// <summary>KL(p ‖ q) at one position, written out: p = teacher softmax over its top-k ids, q = student softmax over all ids.</summary>
    static double HandKl(double[] teacher, double[] student, int k)
    {
        int[] top = teacher.Select((v, i) => (v, i)).OrderByDescending(t => t.v).Take(k).Select(t => t.i).ToArray();
        double[] logP = LogSoftmax(top.Select(i => teacher[i]).ToArray());
        double[] logQ = LogSoftmax(student);
        return top.Select((id, j) => Math.Exp(logP[j]) * (logP[j] - logQ[id])).Sum();
    }

    static readonly double[][] Teacher = [[2.0, 0.5, -1.0, 1.0, 0.0], [0.1, 3.0, 0.2, -2.0, 1.5], [1.0, 1.1, 0.9, 0.0, -3.0]];
    static readonly double[][] Student = [[0.3, 1.0, 0.0, -0.5, 0.2], [1.0, 0.0, 2.0, 0.5, -1.0], [-1.0, 0.5, 0.5, 2.0, 0.0]];

    static Tensor Logits(double[][] rows) => tensor(rows.SelectMany(r => r).Select(v => (float)v).ToArray()).view(1, rows.Length, rows[0].Length);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void The_loss_is_the_hand_computed_top_k_kl_averaged_over_masked_positions(int k)
    {
        var mask = tensor(new[] { true, false, true }).view(1, 3);   // the middle position carries no loss
        double loss = LogitDistillationLoss.Compute(Logits(Student), Logits(Teacher), mask, k, sharedVocab: 5).item<float>();
        double expected = (HandKl(Teacher[0], Student[0], k) + HandKl(Teacher[2], Student[2], k)) / 2;
        Assert.Equal(expected, loss, 5);
    }

    [Fact]
    public void The_loss_is_zero_only_when_the_student_matches_the_teacher_and_ignores_ids_beyond_the_shared_vocabulary()
    {
        var mask = ones(1, 3, dtype: ScalarType.Bool);
        Assert.Equal(0, LogitDistillationLoss.Compute(Logits(Teacher), Logits(Teacher), mask, 5, 5).item<float>(), 6);
        Assert.True(LogitDistillationLoss.Compute(Logits(Student), Logits(Teacher), mask, 5, 5).item<float>() > 0.1);

        // A padded teacher vocabulary: the extra id has the largest logit but is not a token the student can read.
        var padded = Teacher.Select(r => r.Append(9.0).ToArray()).ToArray();
        double withPadding = LogitDistillationLoss.Compute(Logits(Student), Logits(padded), mask, 2, sharedVocab: 5).item<float>();
        double without = LogitDistillationLoss.Compute(Logits(Student), Logits(Teacher), mask, 2, sharedVocab: 5).item<float>();
        Assert.Equal(without, withPadding, 6);
    }

    [Fact]
    public void Gradients_reach_the_student_and_not_the_teacher()
    {
        var student = Logits(Student).requires_grad_(true);
        var teacher = Logits(Teacher).requires_grad_(true);
        LogitDistillationLoss.Compute(student, teacher, ones(1, 3, dtype: ScalarType.Bool), 3, 5).backward();
        Assert.True(student.grad is not null && student.grad.abs().sum().item<float>() > 0);
        Assert.Null(teacher.grad);
    }
}
