namespace R1Sharp.Serving;

/// <summary>The batcher's waiting queue is full: the caller should retry later (HTTP 429).</summary>
public sealed class QueueFullError(int maxQueue)
    : Exception($"the server is busy: {maxQueue} requests are already waiting; retry later")
{
    public int MaxQueue => maxQueue;
}
