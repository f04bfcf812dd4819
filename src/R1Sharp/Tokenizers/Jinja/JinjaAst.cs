namespace R1Sharp.Tokenizers.Jinja;

// The syntax tree the parser builds and the interpreter walks. Every node knows where it came from, for errors.

public abstract record Node(SourcePos Pos);

// ---- Statements ----
public sealed record TextNode(string Text, SourcePos Pos) : Node(Pos);
public sealed record OutputNode(Expr Value, SourcePos Pos) : Node(Pos);
public sealed record IfNode(List<(Expr Test, List<Node> Body)> Branches, List<Node>? Else, SourcePos Pos) : Node(Pos);
public sealed record ForNode(Expr Target, Expr Iterable, Expr? Filter, List<Node> Body, List<Node>? Else, SourcePos Pos) : Node(Pos);
public sealed record SetNode(Expr Target, Expr Value, SourcePos Pos) : Node(Pos);
public sealed record SetBlockNode(string Name, List<FilterExpr> Filters, List<Node> Body, SourcePos Pos) : Node(Pos);
public sealed record MacroNode(string Name, List<Parameter> Parameters, List<Node> Body, SourcePos Pos) : Node(Pos);
public sealed record CallBlockNode(CallExpr Call, List<Parameter> CallerParameters, List<Node> Body, SourcePos Pos) : Node(Pos);
public sealed record FilterBlockNode(List<FilterExpr> Filters, List<Node> Body, SourcePos Pos) : Node(Pos);
public sealed record WithNode(List<(string Name, Expr Value)> Assignments, List<Node> Body, SourcePos Pos) : Node(Pos);
public sealed record BreakNode(SourcePos Pos) : Node(Pos);
public sealed record ContinueNode(SourcePos Pos) : Node(Pos);

public sealed record Parameter(string Name, Expr? Default);

// ---- Expressions ----
public abstract record Expr(SourcePos Pos) : Node(Pos);
public sealed record ConstExpr(object? Value, SourcePos Pos) : Expr(Pos);
public sealed record NameExpr(string Name, SourcePos Pos) : Expr(Pos);
public sealed record TupleExpr(List<Expr> Items, SourcePos Pos) : Expr(Pos);
public sealed record ListExpr(List<Expr> Items, SourcePos Pos) : Expr(Pos);
public sealed record DictExpr(List<(Expr Key, Expr Value)> Items, SourcePos Pos) : Expr(Pos);
public sealed record AttributeExpr(Expr Target, string Name, SourcePos Pos) : Expr(Pos);
public sealed record ItemExpr(Expr Target, Expr Key, SourcePos Pos) : Expr(Pos);
public sealed record SliceExpr(Expr? Start, Expr? Stop, Expr? Step, SourcePos Pos) : Expr(Pos);
public sealed record CallExpr(Expr Callee, List<Expr> Args, List<(string Name, Expr Value)> Kwargs, SourcePos Pos) : Expr(Pos);
/// <summary><c>value | name(args)</c>; Value is null inside "{% filter %}" and "{% set x | f %}" blocks.</summary>
public sealed record FilterExpr(Expr? Value, string Name, List<Expr> Args, List<(string Name, Expr Value)> Kwargs, SourcePos Pos) : Expr(Pos);
public sealed record TestExpr(Expr Value, string Name, List<Expr> Args, bool Negated, SourcePos Pos) : Expr(Pos);
/// <summary>Arithmetic and concatenation: + - * / // % ** ~.</summary>
public sealed record BinaryExpr(string Op, Expr Left, Expr Right, SourcePos Pos) : Expr(Pos);
public sealed record UnaryExpr(string Op, Expr Operand, SourcePos Pos) : Expr(Pos);
public sealed record AndExpr(Expr Left, Expr Right, SourcePos Pos) : Expr(Pos);
public sealed record OrExpr(Expr Left, Expr Right, SourcePos Pos) : Expr(Pos);
public sealed record NotExpr(Expr Operand, SourcePos Pos) : Expr(Pos);
/// <summary>A comparison chain as Python evaluates it: <c>a &lt; b &lt;= c</c> is <c>a &lt; b and b &lt;= c</c>.</summary>
public sealed record CompareExpr(Expr First, List<(string Op, Expr Operand)> Rest, SourcePos Pos) : Expr(Pos);
public sealed record ConditionalExpr(Expr Test, Expr Then, Expr? Else, SourcePos Pos) : Expr(Pos);
