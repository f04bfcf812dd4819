using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>SFT batches: examples drawn in a seeded shuffle (a new one each epoch), padded, loss on responses only.</summary>
public sealed class SftBatchSource(IReadOnlyList<SftExample> examples, int batchSize, int maxLength, int padId, ulong seed) : IBatchSource
{
    ShuffledSampler sampler = new(examples.Count, seed);

    public TrainingBatch Next(Device device) =>
        SftExample.Collate(sampler.Next(batchSize).Select(i => examples[i]).ToList(), maxLength, padId, device);

    public JsonObject SaveState() => new() { ["sampler"] = JsonNode.Parse(sampler.State.ToJson()) };

    public void RestoreState(JsonObject state) =>
        sampler = ShuffledSampler.FromState(examples.Count, RngState.FromJson(state["sampler"]!.ToJsonString(), "trainer_state.json"));
}
