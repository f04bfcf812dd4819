namespace R1Sharp.Tasks;

/// <summary>
/// Which examples a synthetic task yields. Train and Test never share a problem (split by a hash of the
/// problem); Harder holds test-side problems past the training difficulty (e.g. more digits).
/// </summary>
public enum TaskSplit { Train, Test, Harder }
