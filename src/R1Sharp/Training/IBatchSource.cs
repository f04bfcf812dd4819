using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>Where a trainer's batches come from; its position is saved in checkpoints so a resumed run reads on.</summary>
public interface IBatchSource
{
    TrainingBatch Next(Device device);
    JsonObject SaveState();
    void RestoreState(JsonObject state);
}
