using System.Globalization;
using Microsoft.Data.Sqlite;
using R1Sharp.Generation;

namespace R1Sharp.Arena;

/// <summary>What became of a vote.</summary>
public enum VoteResult { Recorded, AlreadyDecided, NotFound }

/// <summary>
/// The arena database (SQLite, arena.db by default): one row per battle — both contestants, the prompt, both replies
/// with their reasoning, the verdict, who judged it (human or checker), the anonymous voter and the times. The page,
/// <c>r1 arena auto</c> and <c>r1 arena import</c> write it; the leaderboard reads it.
/// </summary>
public sealed class ArenaStore
{
    public const string DefaultFileName = "arena.db";

    readonly string connectionString;

    ArenaStore(string path, SqliteOpenMode mode)
    {
        Path = path;
        // No pooling: each call opens and closes the file, so other processes (an import beside a running page) see changes.
        connectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false }.ToString();
    }

    public string Path { get; }

    /// <summary>Opens the database, creating it (and its folder) if needed.</summary>
    public static ArenaStore Open(string path)
    {
        string? folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        var store = new ArenaStore(path, SqliteOpenMode.ReadWriteCreate);
        store.Run(connection => Execute(connection, """
            CREATE TABLE IF NOT EXISTS battles (
                id TEXT PRIMARY KEY,
                model_a TEXT NOT NULL,
                model_b TEXT NOT NULL,
                prompt TEXT,
                reasoning_a TEXT,
                reply_a TEXT,
                finish_a TEXT,
                reasoning_b TEXT,
                reply_b TEXT,
                finish_b TEXT,
                winner TEXT CHECK (winner IN ('model_a', 'model_b', 'tie', 'tie (bothbad)')),
                judge TEXT NOT NULL CHECK (judge IN ('human', 'checker')),
                voter TEXT,
                created_at TEXT NOT NULL,
                voted_at TEXT,
                source TEXT NOT NULL,
                extra TEXT NOT NULL DEFAULT '{}'
            );
            CREATE INDEX IF NOT EXISTS battles_by_judge ON battles (judge, winner);
            """));
        return store;
    }

    /// <summary>Opens an existing database to read it; a missing file is an error, not an empty arena.</summary>
    public static ArenaStore OpenExisting(string path)
    {
        if (!File.Exists(path)) throw new R1Error($"{path}: no arena database here (r1 arena serve, auto and import create one)");
        return new ArenaStore(path, SqliteOpenMode.ReadWrite);
    }

    public void Add(Battle battle) => Run(connection => Insert(connection, null, battle));

    /// <summary>Adds all of <paramref name="battles"/> in one transaction: if reading them fails part-way (a bad line of
    /// an import), none is stored.</summary>
    public int AddAll(IEnumerable<Battle> battles) => Run(connection =>
    {
        using var transaction = connection.BeginTransaction();
        int count = 0;
        foreach (var battle in battles)
        {
            Insert(connection, transaction, battle);
            count++;
        }
        transaction.Commit();
        return count;
    });

    /// <summary>Records a person's verdict on an undecided battle; a battle already decided keeps its first verdict.</summary>
    public VoteResult Vote(string id, Winner winner, string voter, DateTimeOffset at) => Run(connection =>
    {
        using var update = Command(connection, null, """
            UPDATE battles SET winner = $winner, voter = $voter, voted_at = $at
            WHERE id = $id AND winner IS NULL AND judge = 'human'
            """, ("$id", id), ("$winner", ArenaNames.Name(winner)), ("$voter", voter), ("$at", Timestamp(at)));
        if (update.ExecuteNonQuery() == 1) return VoteResult.Recorded;
        using var exists = Command(connection, null, "SELECT COUNT(*) FROM battles WHERE id = $id", ("$id", id));
        return Convert.ToInt64(exists.ExecuteScalar(), CultureInfo.InvariantCulture) > 0 ? VoteResult.AlreadyDecided : VoteResult.NotFound;
    });

    public Battle? Find(string id) => Run(connection =>
    {
        using var command = Command(connection, null, "SELECT * FROM battles WHERE id = $id", ("$id", id));
        using var reader = command.ExecuteReader();
        return reader.Read() ? Read(reader) : null;
    });

    /// <summary>Every battle, oldest first.</summary>
    public List<Battle> All() => Run(connection =>
    {
        using var command = Command(connection, null, "SELECT * FROM battles ORDER BY created_at, rowid");
        using var reader = command.ExecuteReader();
        var battles = new List<Battle>();
        while (reader.Read()) battles.Add(Read(reader));
        return battles;
    });

    /// <summary>The decided battles judged by <paramref name="judge"/> (null: every judge), in the order they were stored.</summary>
    public List<BattleOutcome> Outcomes(Judge? judge) => Run(connection =>
    {
        using var command = Command(connection, null,
            "SELECT model_a, model_b, winner FROM battles WHERE winner IS NOT NULL AND ($judge IS NULL OR judge = $judge) ORDER BY rowid",
            ("$judge", judge is { } j ? ArenaNames.Name(j) : null));
        using var reader = command.ExecuteReader();
        var outcomes = new List<BattleOutcome>();
        while (reader.Read())
            outcomes.Add(new BattleOutcome(reader.GetString(0), reader.GetString(1), ArenaNames.ParseWinner(reader.GetString(2))!.Value));
        return outcomes;
    });

    /// <summary>How many decided battles <paramref name="judge"/> has (null: all); it only grows, so it tells whether a
    /// leaderboard computed earlier is still current.</summary>
    public long DecidedCount(Judge? judge) => Run(connection =>
    {
        using var command = Command(connection, null, "SELECT COUNT(*) FROM battles WHERE winner IS NOT NULL AND ($judge IS NULL OR judge = $judge)",
            ("$judge", judge is { } j ? ArenaNames.Name(j) : null));
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    });

    /// <summary>Battles stored so far between each pair of contestants (either side), for pairing.</summary>
    public Dictionary<(string, string), int> PairCounts(Judge judge) => Run(connection =>
    {
        using var command = Command(connection, null, "SELECT model_a, model_b, COUNT(*) FROM battles WHERE judge = $judge GROUP BY model_a, model_b",
            ("$judge", ArenaNames.Name(judge)));
        using var reader = command.ExecuteReader();
        var counts = new Dictionary<(string, string), int>();
        while (reader.Read())
        {
            var key = PairScheduler.Key(reader.GetString(0), reader.GetString(1));
            counts[key] = counts.GetValueOrDefault(key) + reader.GetInt32(2);
        }
        return counts;
    });

    static void Insert(SqliteConnection connection, SqliteTransaction? transaction, Battle b)
    {
        using var command = Command(connection, transaction, """
            INSERT INTO battles (id, model_a, model_b, prompt, reasoning_a, reply_a, finish_a, reasoning_b, reply_b, finish_b,
                                 winner, judge, voter, created_at, voted_at, source, extra)
            VALUES ($id, $model_a, $model_b, $prompt, $reasoning_a, $reply_a, $finish_a, $reasoning_b, $reply_b, $finish_b,
                    $winner, $judge, $voter, $created_at, $voted_at, $source, $extra)
            """,
            ("$id", b.Id), ("$model_a", b.ModelA), ("$model_b", b.ModelB), ("$prompt", b.Prompt),
            ("$reasoning_a", b.ReplyA?.Reasoning), ("$reply_a", b.ReplyA?.Content), ("$finish_a", FinishName(b.ReplyA?.Finish)),
            ("$reasoning_b", b.ReplyB?.Reasoning), ("$reply_b", b.ReplyB?.Content), ("$finish_b", FinishName(b.ReplyB?.Finish)),
            ("$winner", b.Winner is { } w ? ArenaNames.Name(w) : null), ("$judge", ArenaNames.Name(b.Judge)), ("$voter", b.Voter),
            ("$created_at", Timestamp(b.CreatedAt)), ("$voted_at", b.VotedAt is { } v ? Timestamp(v) : null), ("$source", b.Source), ("$extra", b.Extra));
        command.ExecuteNonQuery();
    }

    static Battle Read(SqliteDataReader r)
    {
        string? Text(string column) => r.IsDBNull(r.GetOrdinal(column)) ? null : r.GetString(r.GetOrdinal(column));
        ContestantReply? Reply(string side) => Text("reply_" + side) is { } content
            ? new ContestantReply(Text("reasoning_" + side) ?? "", content, ParseFinish(Text("finish_" + side)))
            : null;
        return new Battle(Text("id")!, Text("model_a")!, Text("model_b")!, Text("judge") == "checker" ? Judge.Checker : Judge.Human,
            ParseTimestamp(Text("created_at")!))
        {
            Prompt = Text("prompt"), ReplyA = Reply("a"), ReplyB = Reply("b"), Winner = ArenaNames.ParseWinner(Text("winner")),
            Voter = Text("voter"), VotedAt = Text("voted_at") is { } v ? ParseTimestamp(v) : null, Source = Text("source")!, Extra = Text("extra")!,
        };
    }

    /// <summary>Runs <paramref name="work"/> on an open connection; a file that is not an arena database is the user's error.</summary>
    T Run<T>(Func<SqliteConnection, T> work)
    {
        try
        {
            using var connection = new SqliteConnection(connectionString);
            connection.Open();
            return work(connection);
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 26 /* SQLITE_NOTADB */ or 11 /* SQLITE_CORRUPT */ or 1 /* SQLITE_ERROR: e.g. no such table/column */)
        {
            throw new R1Error($"{Path}: not an arena database ({e.Message})", e);
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 14 /* SQLITE_CANTOPEN */ or 8 /* SQLITE_READONLY */)
        {
            throw new R1Error($"{Path}: cannot open the arena database ({e.Message})", e);
        }
    }

    void Run(Action<SqliteConnection> work) => Run(connection =>
    {
        work(connection);
        return 0;
    });

    static void Execute(SqliteConnection connection, string sql)
    {
        using var command = Command(connection, null, sql);
        command.ExecuteNonQuery();
    }

    static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    static string? FinishName(FinishReason? finish) => finish switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        _ => null,
    };

    static FinishReason? ParseFinish(string? name) => name switch
    {
        "stop" => FinishReason.Stop,
        "length" => FinishReason.Length,
        _ => null,
    };

    static string Timestamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    static DateTimeOffset ParseTimestamp(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
}
