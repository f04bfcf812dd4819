namespace R1Sharp.Tasks.Datasets;

/// <summary>
/// Field layouts of the common math datasets. Auto picks one from the first record's fields.
/// Gsm8k: question, answer ending "#### N". Math (MATH, MATH-500): problem, and answer or a solution with \boxed{}.
/// Generic: prompt (text) or messages ([{role, content}]), and answer.
/// </summary>
public enum DatasetLayout { Auto, Gsm8k, Math, Generic }
