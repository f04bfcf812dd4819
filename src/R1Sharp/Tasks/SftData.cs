using System.Text.Json.Nodes;
using R1Sharp.Tokenizers;

namespace R1Sharp.Tasks;

/// <summary>Worked solutions as supervised fine-tuning / pretraining data.</summary>
public static class SftData
{
    /// <summary>
    /// Writes one chat per line: {"id", "messages": [prompt…, {"role": "assistant", "content": solution}], "answer"}.
    /// Examples without a worked solution are skipped. Returns how many lines were written.
    /// </summary>
    public static int WriteJsonl(string path, IEnumerable<TaskExample> examples) =>
        JsonlFile.Write(path, examples.Where(e => e.Solution is not null).Select(example =>
        {
            var messages = new JsonArray();
            foreach (var turn in example.Prompt.Append(new ChatMessage("assistant", example.Solution!)))
                messages.Add(new JsonObject { ["role"] = turn.Role, ["content"] = turn.Content });
            return new JsonObject { ["id"] = example.Id, ["messages"] = messages, ["answer"] = example.Answer };
        }));
}
