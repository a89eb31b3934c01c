/**
 * A small evaluator for the subset of CloudWatch metric math remedy generates (numbers, metric
 * ids, + - * /, comparisons, IF, FILL), on one datapoint: each id is a number or missing
 * (`undefined`, no datapoint in the period). Lets tests check what an alarm expression means on
 * scenarios, not just its text. Semantics as CloudWatch documents them: a comparison yields 1 or
 * 0, IF picks by a non-zero condition, FILL replaces a missing value, and arithmetic on a
 * missing value is missing.
 */
type Value = number | undefined;

export function evaluate(expression: string, values: Readonly<Record<string, Value>>): Value {
  const tokens = expression.match(/\s*(>=|<=|==|!=|[-+*/(),<>]|[0-9]+(?:\.[0-9]+)?|[A-Za-z_][A-Za-z0-9_]*)/g)?.map((t) => t.trim()) ?? [];
  if (tokens.join("") !== expression.replace(/\s+/g, "")) throw new Error(`cannot tokenize ${expression}`);
  let i = 0;
  const peek = () => tokens[i];
  const take = (want?: string) => {
    const t = tokens[i++];
    if (want !== undefined && t !== want) throw new Error(`expected ${want} at token ${i - 1} of ${expression}, got ${t}`);
    return t;
  };
  const arith = (a: Value, b: Value, f: (x: number, y: number) => number): Value => (a === undefined || b === undefined ? undefined : f(a, b));
  function primary(): Value {
    const t = take();
    if (t === "(") {
      const v = comparison();
      take(")");
      return v;
    }
    if (t === "-") return arith(0, primary(), (x, y) => x - y);
    if (/^[0-9]/.test(t)) return Number(t);
    if (peek() === "(") {
      take("(");
      const args: Value[] = [comparison()];
      while (peek() === ",") {
        take(",");
        args.push(comparison());
      }
      take(")");
      if (t === "IF") {
        if (args.length !== 3) throw new Error("IF takes 3 arguments");
        return args[0] === undefined ? undefined : args[0] !== 0 ? args[1] : args[2];
      }
      if (t === "FILL") return args[0] ?? args[1];
      throw new Error(`function ${t} is not supported by this evaluator`);
    }
    if (!Object.hasOwn(values, t)) throw new Error(`unknown id ${t} in ${expression}`);
    return values[t];
  }
  function term(): Value {
    let v = primary();
    while (peek() === "*" || peek() === "/") {
      const op = take();
      const r = primary();
      v = arith(v, r, op === "*" ? (x, y) => x * y : (x, y) => (y === 0 ? Number.NaN : x / y));
    }
    return v;
  }
  function sum(): Value {
    let v = term();
    while (peek() === "+" || peek() === "-") {
      const op = take();
      const r = term();
      v = arith(v, r, op === "+" ? (x, y) => x + y : (x, y) => x - y);
    }
    return v;
  }
  function comparison(): Value {
    const v = sum();
    const op = peek();
    if (op === ">=" || op === "<=" || op === ">" || op === "<" || op === "==" || op === "!=") {
      take();
      const r = sum();
      return arith(v, r, (x, y) => Number(op === ">=" ? x >= y : op === "<=" ? x <= y : op === ">" ? x > y : op === "<" ? x < y : op === "==" ? x === y : x !== y));
    }
    return v;
  }
  const out = comparison();
  if (i !== tokens.length) throw new Error(`unexpected ${tokens[i]} in ${expression}`);
  return out;
}

/**
 * Evaluates a metric-math alarm's queries in order (expressions may use earlier ones) and
 * returns the value of the one with `returnData`.
 */
export function evaluateQueries(queries: readonly { id: string; expression?: string; returnData: boolean }[], metrics: Readonly<Record<string, Value>>): Value {
  const values: Record<string, Value> = { ...metrics };
  let result: Value;
  for (const q of queries) {
    if (q.expression !== undefined) values[q.id] = evaluate(q.expression, values);
    if (q.returnData) result = values[q.id];
  }
  return result;
}
