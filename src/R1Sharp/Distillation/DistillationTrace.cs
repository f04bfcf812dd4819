using System.Text.Json.Nodes;
using R1Sharp.Tasks;
using R1Sharp.Tokenizers;

namespace R1Sharp.Distillation;

/// <summary>
/// One teacher completion kept by rejection sampling, as a line of chat-format SFT data:
/// {"messages": [prompt…, {"role": "assistant", "content": "&lt;think&gt;\n…\n&lt;/think&gt;\nanswer"}], "answer", "prompt_id", ...}.
/// </summary>
/// <param name="Completion">The generated text (without end-of-sequence), as the model wrote it after the prompt.</param>
/// <param name="TemplateOpenedThink">The prompt ended in "&lt;think&gt;\n", so the completion starts inside the reasoning.</param>
/// <param name="Tokens">Generated tokens, end-of-sequence included (as evaluation counts them).</param>
public sealed record DistillationTrace(string PromptId, IReadOnlyList<ChatMessage> Prompt, string Answer, string Completion,
    bool TemplateOpenedThink, int Tokens, TraceVerdict Verdict)
{
    /// <summary>The assistant turn with its whole think block: the "&lt;think&gt;\n" the template opened is written back.</summary>
    public string AssistantContent => TemplateOpenedThink ? ChatTokens.ThinkStart + "\n" + Completion : Completion;

    public JsonObject ToJson()
    {
        var messages = new JsonArray();
        foreach (var turn in Prompt.Append(new ChatMessage("assistant", AssistantContent)))
            messages.Add(new JsonObject { ["role"] = turn.Role, ["content"] = turn.Content });
        return new JsonObject
        {
            ["messages"] = messages, ["answer"] = Answer, ["prompt_id"] = PromptId, ["tokens"] = Tokens,
            ["correct"] = Verdict.Correct, ["well_formed"] = Verdict.WellFormed, ["finished"] = Verdict.Finished,
        };
    }

    /// <summary>Writes one trace per line (temp file, then rename).</summary>
    public static void WriteJsonl(string path, IEnumerable<DistillationTrace> traces) => JsonlFile.Write(path, traces.Select(t => t.ToJson()));
}
