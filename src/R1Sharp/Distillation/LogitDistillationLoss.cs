using static TorchSharp.torch;

namespace R1Sharp.Distillation;

/// <summary>
/// Logit distillation's loss: at each position that carries loss, the forward KL from the teacher's next-token
/// distribution, cut to its top-k tokens and renormalised, to the student's full distribution:
///
///     S = the k tokens with the largest teacher logits z_T
///     p(i) = exp(z_T,i) / Σ_{j∈S} exp(z_T,j)  for i ∈ S, 0 elsewhere
///     q = softmax(z_S) over the whole vocabulary
///     KL(p ‖ q) = Σ_{i∈S} p(i) · (log p(i) − log q(i))
///
/// averaged over the positions. Only the teacher's side is truncated: the student is scored with its full
/// log-softmax, so mass it puts outside S is penalised (its log q(i) on S drop), and the loss is 0 exactly when
/// q = p. k = vocabulary gives the plain KL(teacher ‖ student).
/// </summary>
public static class LogitDistillationLoss
{
    /// <param name="studentLogits">[B, T, V_S].</param>
    /// <param name="teacherLogits">[B, T, V_T] over the same positions; only its first <paramref name="sharedVocab"/> ids are used.</param>
    /// <param name="mask">[B, T], true (or 1) where the position carries loss.</param>
    /// <param name="sharedVocab">Ids both models can produce (the tokenizer's size; a checkpoint may pad its vocabulary).</param>
    public static Tensor Compute(Tensor studentLogits, Tensor teacherLogits, Tensor mask, int topK, int sharedVocab)
    {
        if (topK < 1) throw new R1Error($"top_k must be at least 1, got {topK}");
        using var scope = NewDisposeScope();
        var teacher = teacherLogits.narrow(-1, 0, sharedVocab).detach().to(float32);
        var (values, indices) = teacher.topk(Math.Min(topK, sharedVocab), dim: -1);
        var teacherLogP = values.log_softmax(-1);
        var studentLogP = studentLogits.to(float32).log_softmax(-1).gather(-1, indices);
        var perPosition = (teacherLogP.exp() * (teacherLogP - studentLogP)).sum(-1);
        var weight = mask.to(float32);
        return ((perPosition * weight).sum() / weight.sum().clamp_min(1)).MoveToOuterDisposeScope();
    }
}
