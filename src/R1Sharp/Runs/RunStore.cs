using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using R1Sharp.Training;

namespace R1Sharp.Runs;

public enum RunStatus
{
    Running,
    Finished,
    Failed,
    /// <summary>Marked running, but the process that ran it is gone (killed); resumable from its last checkpoint.
    /// Never stored: derived when listing.</summary>
    Interrupted,
}

/// <summary>One run as the index knows it; <paramref name="Cost"/> once it has ended (or a session of it has).</summary>
public sealed record RunRecord(string Name, string Kind, string Path, RunStatus Status, DateTimeOffset StartedAt,
    DateTimeOffset? EndedAt, IReadOnlyDictionary<string, double> FinalMetrics, int ProcessId = 0, CostCard? Cost = null);

/// <summary>
/// The index of runs: an embedded SQLite database, runs.db, in the runs root folder beside the run folders
/// (runs/ under the working directory unless --dir or $R1_RUNS says otherwise). The run folders hold the data; the
/// index lets <c>r1 runs</c> list them quickly and is rebuilt from their run.json files whenever it is found damaged
/// (the damaged file is kept beside it), so a broken index never stops a run.
/// </summary>
public sealed class RunStore
{
    public const string FileName = "runs.db";

    /// <summary>The runs root when none is given: $R1_RUNS, else ./runs.</summary>
    public static string DefaultRoot => Environment.GetEnvironmentVariable("R1_RUNS") is { Length: > 0 } dir ? dir : "runs";

    const string Schema = """
        CREATE TABLE IF NOT EXISTS runs (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            path TEXT NOT NULL,
            status TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            final_metrics TEXT NOT NULL DEFAULT '{}',
            pid INTEGER NOT NULL DEFAULT 0,
            cost TEXT
        )
        """;

    const string Columns = "name, kind, path, status, started_at, ended_at, final_metrics, pid, cost";

    readonly string connectionString;
    readonly Action<string>? notice;

    /// <param name="notice">Told when the index had to be rebuilt (the CLI prints it).</param>
    public RunStore(string runsRoot, Action<string>? notice = null)
    {
        Root = System.IO.Path.GetFullPath(runsRoot);
        Directory.CreateDirectory(Root);
        DatabasePath = System.IO.Path.Combine(Root, FileName);
        this.notice = notice;
        // No pooling: each call opens and closes the file, so no handle outlives it and other processes see changes.
        connectionString = new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString();
        Guarded(() =>
        {
            Execute(Schema);
            AddCostColumn();
        });
    }

    public string Root { get; }
    public string DatabasePath { get; }

    /// <summary>Tells the watcher something worth knowing that is not an error (the CLI prints it).</summary>
    public void Notify(string message) => notice?.Invoke(message);

    /// <summary>Adds or replaces the row of <paramref name="run"/>.</summary>
    public void Upsert(RunRecord run) => Guarded(() => Write(run));

    /// <summary>All runs, newest first. A run still marked running whose process is gone shows as interrupted.</summary>
    public List<RunRecord> List() => Guarded(() => Query($"SELECT {Columns} FROM runs ORDER BY started_at DESC, name"));

    public RunRecord? Find(string name) => Guarded(() =>
        Query($"SELECT {Columns} FROM runs WHERE name = $name", ("$name", name)).SingleOrDefault());

    /// <summary>Rebuilds the index from the run.json of every run folder in the root (after runs.db was damaged or
    /// deleted, or folders were copied in or removed); returns how many runs it holds.</summary>
    public int Reindex() => Guarded(() =>
    {
        var runs = RunFolders();
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        Command(connection, "DELETE FROM runs", []).ExecuteNonQuery();
        foreach (var run in runs) Write(run, connection);
        transaction.Commit();
        return runs.Count;
    });

    /// <summary>The run.json of every run folder in the root; a folder whose run.json cannot be read is passed over, with a notice.</summary>
    List<RunRecord> RunFolders()
    {
        var runs = new List<RunRecord>();
        foreach (var dir in Directory.GetDirectories(Root).Order(StringComparer.Ordinal))
        {
            try
            {
                if (RunFolder.ReadRunInfo(dir) is { } info) runs.Add(info);
            }
            catch (R1Error e)
            {
                notice?.Invoke($"not indexed: {e.Message}");
            }
        }
        return runs;
    }

    /// <summary>
    /// Runs an index operation; when SQLite finds the database damaged (or not a database at all), moves it aside,
    /// rebuilds it from the run folders, says so, and runs the operation again. Other SQLite failures become an
    /// <see cref="R1Error"/> naming the file.
    /// </summary>
    T Guarded<T>(Func<T> operation)
    {
        try
        {
            return operation();
        }
        catch (SqliteException e) when (e.SqliteErrorCode is SqliteCorrupt or SqliteNotADatabase)
        {
            string aside = $"{DatabasePath}.damaged-{DateTime.UtcNow:yyyyMMdd-HHmmss}";
            foreach (var suffix in new[] { "", "-journal", "-wal", "-shm" })
                if (File.Exists(DatabasePath + suffix)) File.Move(DatabasePath + suffix, aside + suffix, overwrite: true);
            int count;
            try
            {
                Execute(Schema);
                count = Reindex();
                notice?.Invoke($"{DatabasePath} was damaged ({e.Message}); rebuilt the run index from {count} run folder(s), kept the damaged file as {aside}");
                return operation();
            }
            catch (SqliteException again)
            {
                throw new R1Error($"{DatabasePath}: the run index was damaged and could not be rebuilt ({again.Message})", again);
            }
        }
        catch (SqliteException e)
        {
            throw new R1Error($"{DatabasePath}: {e.Message}", e);
        }
    }

    void Guarded(Action operation) => Guarded(() =>
    {
        operation();
        return 0;
    });

    const int SqliteCorrupt = 11, SqliteNotADatabase = 26;

    SqliteConnection Open()
    {
        var connection = new SqliteConnection(connectionString);
        connection.Open();
        return connection;
    }

    void Write(RunRecord run, SqliteConnection? connection = null)
    {
        using var owned = connection is null ? Open() : null;
        using var command = Command(connection ?? owned!, $"""
            INSERT INTO runs ({Columns})
            VALUES ($name, $kind, $path, $status, $started, $ended, $metrics, $pid, $cost)
            ON CONFLICT(name) DO UPDATE SET kind = $kind, path = $path, status = $status, started_at = $started,
                ended_at = $ended, final_metrics = $metrics, pid = $pid, cost = $cost
            """, [("$name", run.Name), ("$kind", run.Kind), ("$path", run.Path), ("$status", StatusName(run.Status)),
            ("$started", Timestamp(run.StartedAt)), ("$ended", run.EndedAt is { } e ? Timestamp(e) : null),
            ("$metrics", JsonSerializer.Serialize(FiniteOnly(run.FinalMetrics))), ("$pid", run.ProcessId),
            ("$cost", run.Cost is { } cost ? JsonSerializer.Serialize(cost, SnakeCase.Report) : null)]);
        command.ExecuteNonQuery();
    }

    List<RunRecord> Query(string sql, params (string Name, object? Value)[] parameters)
    {
        using var connection = Open();
        using var command = Command(connection, sql, parameters);
        using var reader = command.ExecuteReader();
        var runs = new List<RunRecord>();
        while (reader.Read())
        {
            var status = ParseStatus(reader.GetString(3));
            int pid = reader.GetInt32(7);
            if (status == RunStatus.Running && !IsAlive(pid))
                status = RunStatus.Interrupted;
            runs.Add(new RunRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), status,
                ParseTimestamp(reader.GetString(4)), reader.IsDBNull(5) ? null : ParseTimestamp(reader.GetString(5)),
                JsonSerializer.Deserialize<Dictionary<string, double>>(reader.GetString(6)) ?? [], pid,
                reader.IsDBNull(8) ? null : JsonSerializer.Deserialize<CostCard>(reader.GetString(8), SnakeCase.Report)));
        }
        return runs;
    }

    /// <summary>An index made before cost cards has no cost column: adds it (its runs show no cost until reindexed).</summary>
    void AddCostColumn()
    {
        using var connection = Open();
        using var probe = Command(connection, "SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name = 'cost'", []);
        if ((long)probe.ExecuteScalar()! == 0)
        {
            using var alter = Command(connection, "ALTER TABLE runs ADD COLUMN cost TEXT", []);
            alter.ExecuteNonQuery();
        }
    }

    void Execute(string sql)
    {
        using var connection = Open();
        using var command = Command(connection, sql, []);
        command.ExecuteNonQuery();
    }

    static SqliteCommand Command(SqliteConnection connection, string sql, (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    static bool IsAlive(int pid)
    {
        if (pid <= 0) return false;
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    static Dictionary<string, double> FiniteOnly(IReadOnlyDictionary<string, double> metrics) =>
        metrics.Where(kv => double.IsFinite(kv.Value)).ToDictionary(kv => kv.Key, kv => kv.Value);

    internal static string StatusName(RunStatus status) => status.ToString().ToLowerInvariant();

    internal static RunStatus ParseStatus(string text) =>
        Enum.TryParse<RunStatus>(text, ignoreCase: true, out var status) ? status : throw new R1Error($"unknown run status '{text}'");

    internal static string Timestamp(DateTimeOffset time) => time.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    internal static DateTimeOffset ParseTimestamp(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture);
}
