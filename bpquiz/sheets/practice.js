// The practice page's marking: `bpquiz grade` (bpquiz/grading/items.py and marking.py) ported to
// a walk over the data bpquiz/sheets/practice.py embeds. No formula lives here: every value comes
// from evaluating the quantity graph's expressions (bpquiz/maths/expr.py), and every mistake from
// its catalogued variation's expressions. Each section names the Python it follows; where it can't
// follow exactly, the comment says so (README, "Practice pages"). Laid out by Prettier (print
// width 100). It never holds a less-than sign followed by a slash: it is inlined in a <script>.
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("pr-data").textContent);
  const quantities = data.quantities;
  const asked = data.asked;

  // --- Exact rationals (Python's Fraction) and decimals as printed (bpquiz/maths/exact.py) -----
  // A rational is [numerator, denominator] of BigInts, the denominator positive, in lowest terms.
  const big = BigInt;
  const gcd = (a, b) => {
    a = a < 0n ? -a : a;
    while (b) [a, b] = [b, b < 0n ? -(a % b) : a % b];
    return a;
  };
  const ratio = (n, d) => {
    if (d === 0n) throw new RangeError("division by zero");
    if (d < 0n) [n, d] = [-n, -d];
    const g = gcd(n, d) || 1n;
    return [n / g, d / g];
  };
  const pow10 = (k) => 10n ** big(k);

  // The decimal a float stands for, as printed (its shortest repr): 0.1 is 1/10.
  function exactOf(x) {
    if (!Number.isFinite(x)) throw new RangeError("not a finite number");
    const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(x));
    const fraction = m[3] || "";
    const shift = Number(m[4] || 0) - fraction.length;
    const n = big(m[1] + m[2] + fraction);
    return shift >= 0 ? [n * pow10(shift), 1n] : ratio(n, pow10(-shift));
  }

  // The float nearest to a rational (Python's float(Fraction), but for double rounding in the
  // 25th digit when the terms are beyond 2^53).
  function toFloat([n, d]) {
    const safe = BigInt(Number.MAX_SAFE_INTEGER);
    if (n <= safe && n >= -safe && d <= safe) return Number(n) / Number(d);
    const digits = (v) => (v < 0n ? -v : v).toString().length;
    const shift = 25 - digits(n) + digits(d);
    const scaled = shift >= 0 ? (n * pow10(shift)) / d : n / (d * pow10(-shift));
    return Number(`${scaled}e${-shift}`);
  }

  const Q = {
    num: (node) => ratio(big(node[1]), big(node[2])),
    add: ([a, b], [c, d]) => ratio(a * d + c * b, b * d),
    sub: ([a, b], [c, d]) => ratio(a * d - c * b, b * d),
    mul: ([a, b], [c, d]) => ratio(a * c, b * d),
    div: ([a, b], [c, d]) => ratio(a * d, b * c),
    neg: ([a, b]) => [-a, b],
    positive: ([a]) => a > 0n,
    zero: [0n, 1n],
    one: [1n, 1n],
  };

  // ⌊log₁₀|x|⌋ of a non-zero rational, exactly.
  function exponent([n, d]) {
    n = n < 0n ? -n : n;
    const e = n.toString().length - d.toString().length;
    if (e >= 0) return n >= d * pow10(e) ? e : e - 1;
    return n * pow10(-e) >= d ? e : e - 1;
  }

  // x rounded to a multiple of 10^place, halves away from zero.
  function roundHalfAway([n, d], place) {
    let a = n < 0n ? -n : n;
    if (place < 0) a *= pow10(-place);
    else d *= pow10(place);
    let whole = a / d;
    if (2n * (a % d) >= d) whole += 1n;
    if (n < 0n) whole = -whole;
    return place < 0 ? ratio(whole, pow10(-place)) : [whole * pow10(place), 1n];
  }

  // A multiple of 10^-places written with exactly `places` decimals (no minus on zero).
  function decimalText([n, d], places) {
    const scaled = (n * pow10(places)) / d;
    const digits = (scaled < 0n ? -scaled : scaled).toString().padStart(places + 1, "0");
    const text = places ? `${digits.slice(0, -places)}.${digits.slice(-places)}` : digits;
    return (scaled < 0n ? "-" : "") + text;
  }

  // --- The rounding rule (bpquiz/maths/rounding.py) ------------------------------------------
  const SIGFIGS = "sigfigs";
  const FLOOR_UNITS = 0.1;
  const ALLOWANCE_UNITS = 0.5 + FLOOR_UNITS;
  const HUGE = 10n ** 15n;
  const tenTo = (k) => Number(`1e${k}`); // 10.0 ** k, correctly rounded as in Python

  const unit = (rule, value) =>
    rule.mode !== SIGFIGS || value === 0 || !Number.isFinite(value)
      ? tenTo(-rule.digits)
      : tenTo(Math.floor(Math.log10(Math.abs(value))) - rule.digits + 1);
  const allowance = (rule, value) => ALLOWANCE_UNITS * unit(rule, value);
  const place = (rule, x) =>
    rule.mode !== SIGFIGS || x[0] === 0n ? -rule.digits : exponent(x) - rule.digits + 1;
  const roundExact = (rule, x) => roundHalfAway(x, place(rule, x));
  // Rounding.round: the printed decimal a float stands for, rounded, as a float.
  const roundFloat = (rule, v) =>
    !Number.isFinite(v) || v === 0 ? v : toFloat(roundExact(rule, exactOf(v)));

  function format(rule, value) {
    const rounded = roundExact(rule, exactOf(value));
    if ((rounded[0] < 0n ? -rounded[0] : rounded[0]) >= HUGE * rounded[1]) {
      return formatG(toFloat(rounded), 6).replace(/-/g, "−");
    }
    let places = rule.digits;
    if (rule.mode === SIGFIGS) {
      places = rounded[0] ? Math.max(0, -exponent(rounded) + rule.digits - 1) : 0;
    }
    return decimalText(rounded, places).replace(/-/g, "−");
  }

  // Python's format(x, ".{p}g"), for the sizes feedback quotes.
  function formatG(x, p) {
    if (x === 0) return "0";
    const [mantissa, power] = x.toExponential(p - 1).split("e");
    const e = Number(power);
    const trim = (s) => (s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s);
    if (e >= -4 && e < p) return trim(x.toFixed(Math.max(0, p - 1 - e)));
    const digits = String(Math.abs(e)).padStart(2, "0");
    return `${trim(mantissa)}e${e < 0 ? "-" : "+"}${digits}`;
  }

  // --- Expressions (bpquiz/maths/expr.py): one case per node type, one table of functions -----
  // Each evaluates in floats (Expr.eval) or exactly (Expr.exact); a function that isn't rational
  // is computed in floats in both (Python's exact path carries 50 digits or more).
  const leaky = data.leaky_slope;
  const sigmoid = (z) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));
  const inFloats = (f) => (x) => {
    const value = f(toFloat(x));
    return exactOf(value); // a ln(0) or an overflow throws: nothing to carry forward
  };
  const FUNCTIONS = {
    σ: { float: sigmoid },
    tanh: { float: Math.tanh },
    exp: { float: (x) => (x < 709 ? Math.exp(x) : Infinity) },
    ln: { float: (x) => (x > 0 ? Math.log(x) : -Infinity) },
    relu: { float: (z) => (z > 0 ? z : 0), exact: (z) => (Q.positive(z) ? z : Q.zero) },
    lrelu: {
      float: (z) => (z > 0 ? z : (leaky[0] / leaky[1]) * z),
      exact: (z) => (Q.positive(z) ? z : Q.mul(ratio(big(leaky[0]), big(leaky[1])), z)),
    },
    "relu′": { float: (z) => (z > 0 ? 1 : 0), exact: (z) => (Q.positive(z) ? Q.one : Q.zero) },
    "lrelu′": {
      float: (z) => (z > 0 ? 1 : leaky[0] / leaky[1]),
      exact: (z) => (Q.positive(z) ? Q.one : ratio(big(leaky[0]), big(leaky[1]))),
    },
  };
  const F = {
    num: (node) => Number(node[1]) / Number(node[2]),
    add: (a, b) => a + b,
    sub: (a, b) => a - b,
    mul: (a, b) => a * b,
    div: (a, b) => {
      if (b === 0) throw new RangeError("division by zero"); // as Python's float division
      return a / b;
    },
    neg: (a) => -a,
    call: (name, x) => FUNCTIONS[name].float(x),
    zero: 0,
    one: 1,
  };
  Q.call = (name, x) => (FUNCTIONS[name].exact || inFloats(FUNCTIONS[name].float))(x);

  function evaluate(node, env, A) {
    const at = (k) => evaluate(node[k], env, A);
    switch (node[0]) {
      case "Ref":
        return env(node[1]);
      case "Num":
        return A.num(node);
      case "Sum":
        return node.slice(1).reduce((total, term) => A.add(total, evaluate(term, env, A)), A.zero);
      case "Diff":
        return A.sub(at(1), at(2));
      case "Prod":
        return node.slice(1).reduce((product, f) => A.mul(product, evaluate(f, env, A)), A.one);
      case "Quot":
        return A.div(at(1), at(2));
      case "Neg":
        return A.neg(at(1));
      case "Square": {
        const value = at(1);
        return A.mul(value, value);
      }
      case "Call":
        return A.call(node[1], at(2));
    }
    throw new Error(`unknown expression ${node[0]}`);
  }

  // The ids an expression refers to, each once, in order of appearance (Quantity.inputs).
  function refs(node, found = []) {
    if (node[0] === "Ref") {
      if (!found.includes(node[1])) found.push(node[1]);
    } else if (node[0] !== "Num") {
      node.slice(node[0] === "Call" ? 2 : 1).forEach((child) => refs(child, found));
    }
    return found;
  }
  const inputs = (id) => (quantities[id].expr ? refs(quantities[id].expr) : []);

  // --- Numbers as people type them (bpquiz/grading/readers/numbers.py) ------------------------
  const MAX_NUMBER_TEXT = 64;
  const MINUS_SIGNS = /[\u2212\u2012\u2013\ufe63\uff0d]/g;
  const NUMBER = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/;
  const SPACE =
    "[\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
  const strip = (s) => s.replace(new RegExp(`^${SPACE}+|${SPACE}+$`, "g"), "");
  const lstrip = (s) => s.replace(new RegExp(`^${SPACE}+`), "");
  const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;
  class NotANumber extends Error {}

  function shown(raw, limit = 40) {
    const chars = Array.from(JSON.stringify(raw), (c) =>
      c !== " " && UNPRINTABLE.test(c) ? "?" : c,
    );
    return chars.length <= limit ? chars.join("") : chars.slice(0, limit - 1).join("") + "…";
  }

  function parseNumber(raw) {
    const length = Array.from(raw).length;
    if (length > MAX_NUMBER_TEXT)
      throw new NotANumber(`too long to be a number (${length} characters)`);
    let text = strip(raw).replace(MINUS_SIGNS, "-");
    let match = NUMBER.exec(text);
    if (!match || !(match[2] || match[3])) [text, match] = retry(raw, text);
    const value = Number(text);
    if (!Number.isFinite(value)) throw new NotANumber(`${shown(raw)} is too large to be an answer`);
    const fraction = match[3] || "";
    const significant = (match[2] + fraction).replace(/^0+/, "");
    return {
      value,
      decimals: fraction.length - Number(match[4] || 0),
      sigfigs: significant ? significant.length : Math.max(fraction.length, 1),
    };
  }
  const digitsOf = (number, rule) => (rule.mode === SIGFIGS ? number.sigfigs : number.decimals);

  function retry(raw, text) {
    if (!text) throw new NotANumber("empty answer");
    if ("+-".includes(text[0])) text = text[0] + lstrip(text.slice(1));
    if (text.includes(",")) {
      if (text.includes("."))
        throw new NotANumber(`${shown(raw)}: use either a decimal point or a decimal comma`);
      if (text.split(",").length === 2) text = text.replace(",", ".");
    }
    const match = NUMBER.exec(text);
    if (match && (match[2] || match[3])) return [text, match];
    const words = text.replace(/^[+-]+/, "").toLowerCase();
    if (words === "nan" || words === "nan(ind)") throw new NotANumber("NaN is not a number");
    if (["inf", "infinity", "∞"].includes(words)) throw new NotANumber("infinity is not an answer");
    if (text.includes("/"))
      throw new NotANumber(`${shown(raw)}: write the fraction as a decimal number`);
    throw new NotANumber(`${shown(raw)} is not a number`);
  }

  // --- One answer against the key (bpquiz/grading/items.py, mark_item; compare.py) ------------
  const rule = data.rounding;
  const accepts = (given, right, tol) =>
    Number.isFinite(given) && Number.isFinite(right) && Math.abs(given - right) <= tol;
  const units = (n) =>
    `${n} ${rule.mode === SIGFIGS ? "significant figure" : "decimal place"}${n === 1 ? "" : "s"}`;
  const asTyped = (typed) => (typed[0] === "-" ? "−" + lstrip(typed.slice(1)) : typed);

  function markItem(q, raw) {
    const item = { id: q.id, status: "missing", credit: 0, points: q.points, expected: q.value };
    Object.assign(item, { given: null, misconception: null, feedback: "no answer", typed: null });
    if (raw === null) return item;
    item.typed = strip(raw);
    let number;
    try {
      number = parseNumber(raw);
    } catch (error) {
      if (!(error instanceof NotANumber)) throw error;
      return Object.assign(item, { status: "invalid", given: raw, feedback: error.message });
    }
    const given = (item.given = number.value);
    if (accepts(given, q.value, q.tol))
      return Object.assign(item, { status: "correct", credit: 1, feedback: "" });
    const typed = digitsOf(number, rule);
    const fewer =
      typed < rule.digits &&
      typed >= 0 &&
      accepts(given, q.value, ALLOWANCE_UNITS * unit({ ...rule, digits: typed }, q.value));
    const expected = format(rule, q.value);
    const [off, tol] = [formatG(Math.abs(given - q.value), 2), formatG(q.tol, 2)];
    item.feedback = fewer
      ? `right to ${units(typed)}, but the sheet asks for ${units(rule.digits)}: ${expected}`
      : `expected ${expected}; ${asTyped(item.typed)} is off by ${off} (accepted: ±${tol})`;
    item.status = "wrong";
    return item;
  }

  // --- Marking like a teacher (bpquiz/grading/marking.py): follow-through, misconceptions -----
  // The defaults of `bpquiz grade`: follow-through full, one deduction per misconception.
  const CARRIED = ["wrong", "follow_through"];
  const UPDATES = ["w_new", "b_new"];
  const key = Object.fromEntries(asked.map((q) => [q.id, q]));
  const printed = Object.fromEntries(
    Object.entries(quantities)
      .filter(([, q]) => !q.expr)
      .map(([id, q]) => [id, q.value]),
  );

  // The values the student's own work implies (OwnWork): their answer where they gave one, else
  // the step recomputed exactly from these same values and rounded as the sheet asks.
  function ownWork(context) {
    const values = new Map(Object.entries({ ...printed, ...context.given }));
    const get = (id) => {
      if (!values.has(id)) values.set(id, recomputeRounded(id, get));
      return values.get(id);
    };
    return get;
  }
  const recompute = (id, env) => evaluate(quantities[id].expr, env, F);
  const recomputeRounded = (id, env) =>
    toFloat(
      roundExact(
        rule,
        evaluate(quantities[id].expr, (ref) => exactOf(env(ref)), Q),
      ),
    );
  const attempt = (compute) => {
    try {
      return { value: compute() };
    } catch (error) {
      if (error instanceof RangeError) return null; // the maths can't take the student's number
      throw error;
    }
  };

  function carriedFrom(id, context) {
    const sources = [];
    const seen = new Set();
    const pending = [...inputs(id)];
    while (pending.length) {
      const ref = pending.shift();
      if (seen.has(ref)) continue;
      seen.add(ref);
      if (ref in context.given) {
        const marked = context.graded[ref];
        if (marked && CARRIED.includes(marked.status)) sources.push(ref);
      } else {
        pending.push(...inputs(ref));
      }
    }
    return sources;
  }

  const keyTol = (id) => key[id].tol;
  const tolerance = (id, value) => Math.max(keyTol(id), allowance(rule, value));
  const baseline = (id, env) => (UPDATES.includes(quantities[id].kind) ? env(inputs(id)[0]) : 0);
  const values = (id) => quantities[id].value;

  function trivialising(context, id) {
    if (context.graded[id].status !== "wrong") return null;
    const q = quantities[id];
    const given = context.given[id];
    const points =
      {
        a: [
          [0, "a zero activation"],
          ...(q.target ? [[values(q.target), "an output equal to its target"]] : []),
        ],
        delta: [[0, "a zero δ"]],
        grad_w: [[0, "a zero gradient"]],
        grad_b: [[0, "a zero gradient"]],
      }[q.kind] || [];
    for (const [point, reason] of points) {
      if (Math.abs(given - point) <= keyTol(id) && keyTol(id) < Math.abs(values(id) - point)) {
        for (const source of carriedFrom(id, context)) {
          const root = trivialising(context, source);
          if (root) return root;
        }
        return reason;
      }
    }
    return null;
  }

  function shownAnswers(context, sources) {
    let answers = sources.map(
      (s) => `${context.graded[s].symbol} = ${format(rule, context.given[s])}`,
    );
    if (answers.length > 3) answers = [...answers.slice(0, 3), `${sources.length - 3} more`];
    return answers.join(", ");
  }

  function followThrough(item, context) {
    if (item.status !== "wrong" || typeof item.given !== "number") return item;
    const sources = carriedFrom(item.id, context);
    const env = ownWork(context);
    const own = attempt(() => recompute(item.id, env));
    if (!own || !accepts(item.given, own.value, tolerance(item.id, own.value))) return item;
    if (!sources.length) {
      return Object.assign(item, {
        status: "correct",
        credit: 1,
        feedback: "right from your own (accepted) rounded answers before it",
      });
    }
    const expected = format(rule, item.expected);
    const tol = keyTol(item.id);
    const trivial = Math.abs(own.value - baseline(item.id, env)) <= tol;
    const causes = new Map();
    if (trivial && Math.abs(item.expected - baseline(item.id, values)) > tol) {
      for (const s of sources) {
        const why = trivialising(context, s);
        if (why) causes.set(s, why);
      }
    }
    if (causes.size) {
      const kind = quantities[item.id].kind;
      const outcome = UPDATES.includes(kind)
        ? `it leaves the ${kind === "w_new" ? "weight" : "bias"} where it was`
        : "it comes out as 0";
      item.feedback =
        `this follows from your ${shownAnswers(context, [...causes.keys()])}, but ` +
        `${[...new Set(causes.values())].join(" and ")} makes this step trivial (${outcome}), ` +
        `so it earns no follow-through credit: expected ${expected}`;
      return item;
    }
    const names = shownAnswers(context, sources);
    return Object.assign(item, {
      status: "follow_through",
      credit: 1,
      feedback: `right method, carried forward from your ${names} (the key has ${expected})`,
    });
  }

  function coarserRule(item) {
    if (item.typed === null) return null;
    let digits;
    try {
      digits = digitsOf(parseNumber(item.typed), rule);
    } catch (error) {
      if (error instanceof NotANumber) return null;
      throw error;
    }
    return digits >= 1 && digits < rule.digits ? { mode: rule.mode, digits } : null;
  }

  function misconception(item, context) {
    if (item.status !== "wrong" || typeof item.given !== "number") return item;
    const env = ownWork(context);
    const made = attempt(() => ({
      own: recompute(item.id, env),
      mistakes: key[item.id].mistakes.map(([code, exprs]) => [
        code,
        exprs.map((e) => evaluate(e, env, F)),
      ]),
    }));
    if (!made) return item;
    const own = made.value.own;
    if (accepts(item.given, own, tolerance(item.id, own))) return item;
    const coarse = coarserRule(item);
    if (coarse && roundFloat(coarse, own) === roundFloat(coarse, item.given)) return item;
    let best = null;
    for (const [code, found] of made.value.mistakes) {
      for (const value of found) {
        if (coarse && roundFloat(coarse, value) === roundFloat(coarse, own)) continue;
        const off = Math.abs(item.given - value);
        if (
          accepts(item.given, value, tolerance(item.id, value)) &&
          (best === null || off < best[0])
        )
          best = [off, code];
      }
    }
    if (best === null) return item;
    const code = best[1];
    const said = `${data.explanations[code]} Expected ${format(rule, item.expected)}.`;
    const earlier = Object.values(context.graded).find(
      (q) => q.misconception === code && q.credit < 1,
    );
    if (earlier) {
      return Object.assign(item, {
        status: "follow_through",
        credit: 1,
        misconception: code,
        feedback:
          `The same mistake as at ${earlier.symbol}, which already lost its points. ` + said,
      });
    }
    return Object.assign(item, { misconception: code, feedback: said });
  }

  // Every asked quantity in teaching order, as grade_sheet does with the default markers.
  function mark(answers) {
    const context = { given: {}, graded: {} };
    for (const q of asked) {
      let item = markItem(q, answers[q.id] ?? null);
      item.symbol = q.symbol;
      if (item.status !== "invalid" && typeof item.given === "number")
        context.given[q.id] = item.given;
      if (item.status === "wrong") item = misconception(followThrough(item, context), context);
      context.graded[q.id] = item;
    }
    return asked.map((q) => context.graded[q.id]);
  }

  // --- The page ------------------------------------------------------------------------------
  const VERDICTS = {
    correct: "correct",
    follow_through: "follow-through",
    wrong: "wrong",
    missing: "blank",
    invalid: "not a number",
  };
  const amount = (x) => String(Math.round(x * 1e9) / 1e9);
  const form = document.getElementById("pr-form");
  const summary = document.getElementById("pr-summary");

  function show(items) {
    const counts = {};
    let score = 0;
    let total = 0;
    for (const item of items) {
      const box = document.getElementById(`pr-${item.id}`);
      const result = document.getElementById(`pr-${item.id}-result`);
      const earned = item.credit * item.points;
      score += earned;
      total += item.points;
      counts[item.status] = (counts[item.status] || 0) + 1;
      Object.assign(result.dataset, {
        status: item.status,
        credit: String(item.credit),
        misconception: item.misconception || "",
      });
      result.className = `pr-result pr-${item.status}`;
      result.querySelector(".pr-verdict").textContent =
        VERDICTS[item.status] +
        (item.misconception ? ` [${item.misconception}]` : "") +
        ` · ${amount(earned)} of ${amount(item.points)}`;
      result.querySelector(".pr-feedback").textContent = item.feedback;
      if (item.status === "wrong" || item.status === "invalid")
        box.setAttribute("aria-invalid", "true");
      else box.removeAttribute("aria-invalid");
    }
    const parts = Object.keys(VERDICTS)
      .filter((s) => counts[s])
      .map((s) => `${counts[s]} ${VERDICTS[s]}`);
    const points = `${amount(score)} of ${amount(total)} points`;
    summary.textContent = `Checked: ${points} (${parts.join(", ")}).`;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const answers = {};
    for (const q of asked) {
      const text = document.getElementById(`pr-${q.id}`).value;
      answers[q.id] = strip(text) === "" ? null : text; // a blank box, as a blank spreadsheet cell
    }
    show(mark(answers));
  });
  window.bpquizPractice = { mark, evaluate: (node, env) => evaluate(node, (id) => env[id], F) };
})();
