// The conditions of a routing rule: an editor (rows of field, operator and value, each of
// which may be negated, combined with "all" or "any", and a JSON editor for what rows cannot
// say: nesting and time windows), and the one-line reading shown in the list of rules.
//
// A condition is the JSON the rules core reads (actors/domain/rules/conditions.py):
// {"field", "op", "value" | "values", "ignore_case"?}, {"all": […]}, {"any": […]}, {"not": …},
// {"time": {"zone", "weekdays"?, "from"?, "to"?}}. No condition at all matches every alert.

import { el } from "/static/ui.js";

const OPERATORS = {
  equals: "equals", in: "is one of", contains: "contains", starts_with: "starts with",
  matches: "matches (RE2)", exists: "exists", lt: "<", le: "≤", gt: ">", ge: "≥",
};
const TEXT_OPERATORS = ["equals", "in", "contains", "starts_with", "matches"];
const NUMBER_OPERATORS = ["lt", "le", "gt", "ge"];
const LEAF_KEYS = ["field", "op", "value", "values", "ignore_case"];
const FIELDS = [
  "summary", "severity", "source", "dedup_key", "action", "format", "class", "component", "group", "priority",
  "entity", "tags", "labels.alertname", "labels.severity", "labels.env", "labels.instance", "labels.team",
  "annotations.summary", "details.", "payload.",
];

/** A condition that is not valid JSON, said as the API says its problems: "path: message". */
export class ConditionError extends Error {}

let editorCount = 0;

/**
 * An editor of the condition at `key` ("conditions", "source", "target") titled `legend`:
 * {element, read(), write(condition)}. read() gives the condition, or undefined for none, and
 * throws a ConditionError when the JSON does not parse. The element holds a ul.problems for
 * the API's problems under `key`.
 */
export function conditionEditor(key, legend) {
  const id = `${key}-${++editorCount}`;
  const combine = el("select", { id: `${id}-combine` },
    el("option", { value: "all" }, "all of these hold"), el("option", { value: "any" }, "any of these holds"));
  const rows = el("ol", { class: "condition-rows" });
  const json = el("textarea", { id: `${id}-json`, rows: 6, spellcheck: "false", class: "code" });
  const note = el("p", { class: "muted" });
  const builder = el("div", { class: "condition-builder" },
    el("div", { class: "field inline-field" }, el("label", { for: `${id}-combine` }, "Match when"), combine),
    rows,
    el("button", { type: "button", class: "small", onclick: () => addRow(rows, {}, true) }, "Add a condition"));
  const raw = el("div", { class: "field", hidden: true },
    el("label", { for: `${id}-json` }, `${legend} as JSON`), json);
  const toggle = el("button", { type: "button", class: "small link" }, "Edit as JSON");
  const element = el("fieldset", { class: "condition-editor", "data-condition": key },
    el("legend", {}, legend), builder, raw, toggle, note,
    el("ul", { class: "problems", "data-for": key, role: "alert" }));

  const inJson = () => !raw.hidden;
  const showJson = (text) => {
    json.value = text;
    raw.hidden = false;
    builder.hidden = true;
    toggle.textContent = "Use the builder";
  };
  const showRows = (shape) => {
    combine.value = shape.combine;
    rows.replaceChildren();
    for (const row of shape.rows) addRow(rows, row);
    if (!shape.rows.length) addRow(rows, {}); // an empty row, ready to fill; left empty, it is no condition
    raw.hidden = true;
    builder.hidden = false;
    toggle.textContent = "Edit as JSON";
  };
  const read = () => (inJson() ? parsed(json.value, key) : fromRows(combine.value, rows));
  const write = (condition) => {
    note.textContent = "";
    const shape = rowsOf(condition);
    if (shape) showRows(shape);
    else showJson(JSON.stringify(condition, null, 2));
  };
  toggle.addEventListener("click", () => {
    note.textContent = "";
    if (!inJson()) {
      const condition = fromRows(combine.value, rows);
      showJson(condition === undefined ? "" : JSON.stringify(condition, null, 2));
      json.focus();
      return;
    }
    let condition;
    try {
      condition = parsed(json.value, key);
    } catch (error) {
      note.textContent = error.message;
      return;
    }
    const shape = rowsOf(condition);
    if (!shape) {
      note.textContent = "The builder has no nesting or time windows: keep editing these conditions as JSON.";
      return;
    }
    showRows(shape);
  });
  write(undefined);
  return { element, read, write };
}

function parsed(text, key) {
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConditionError(`${key}: not valid JSON (${error.message})`);
  }
}

/** The rows' condition: none without rows, the row itself for one, else all/any of them. */
function fromRows(combine, rows) {
  const tests = [...rows.children].map(readRow).filter((test) => test !== null);
  if (tests.length === 0) return undefined;
  return tests.length === 1 ? tests[0] : { [combine]: tests };
}

function readRow(row) {
  const value = (name) => row.querySelector(`[data-part=${name}]`);
  const field = value("field").value.trim();
  const op = value("op").value;
  const text = value("value").value;
  if (!field && !text.trim()) return null; // a row left empty
  const test = { field, op };
  if (op === "in") test.values = text.split(",").map((item) => item.trim()).filter(Boolean);
  else if (NUMBER_OPERATORS.includes(op)) test.value = numberOr(text);
  else if (op !== "exists") test.value = text;
  if (TEXT_OPERATORS.includes(op) && value("ignore_case").checked) test.ignore_case = true;
  return value("not").checked ? { not: test } : test;
}

/** A number typed as one; anything else as typed, for the API to name what is wrong with it. */
function numberOr(text) {
  return text.trim() !== "" && !Number.isNaN(Number(text)) ? Number(text) : text;
}

/** {combine, rows} when the builder can show `condition`, else null. */
function rowsOf(condition) {
  if (condition === undefined || condition === null) return { combine: "all", rows: [] };
  const single = rowOf(condition);
  if (single) return { combine: "all", rows: [single] };
  for (const combine of ["all", "any"]) {
    const parts = condition[combine];
    if (Object.keys(condition).length !== 1 || !Array.isArray(parts) || parts.length === 0) continue;
    const shown = parts.map(rowOf);
    return shown.every(Boolean) ? { combine, rows: shown } : null;
  }
  return null;
}

/** A row's values for a field test or a negated one, or null when it is something else. */
function rowOf(condition) {
  const negated = isObject(condition) && Object.keys(condition).length === 1 && isObject(condition.not);
  const test = negated ? condition.not : condition;
  if (!isObject(test) || typeof test.field !== "string" || !(test.op in OPERATORS)) return null;
  if (!Object.keys(test).every((name) => LEAF_KEYS.includes(name))) return null;
  let value = "";
  if (test.op === "in") {
    if (!Array.isArray(test.values) || test.values.some((item) => String(item).includes(","))) return null;
    value = test.values.join(", ");
  } else if (test.value !== undefined) {
    if (isObject(test.value) || Array.isArray(test.value)) return null;
    value = String(test.value);
  }
  return { field: test.field, op: test.op, value, ignore_case: test.ignore_case === true, not: negated };
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function addRow(rows, { field = "", op = "equals", value = "", ignore_case = false, not = false }, focus = false) {
  const fieldInput = el("input", { "data-part": "field", "aria-label": "Field", list: fieldList(), value: field,
    placeholder: "labels.alertname", spellcheck: "false" });
  const opSelect = el("select", { "data-part": "op", "aria-label": "Operator" },
    ...Object.entries(OPERATORS).map(([name, label]) => el("option", { value: name, selected: name === op }, label)));
  const valueInput = el("input", { "data-part": "value", "aria-label": "Value", value, spellcheck: "false" });
  const caseBox = el("input", { type: "checkbox", "data-part": "ignore_case", checked: ignore_case });
  const caseLabel = el("label", { class: "check" }, caseBox, " ignore case");
  const fitOperator = () => {
    const takesValue = opSelect.value !== "exists";
    valueInput.disabled = !takesValue;
    valueInput.placeholder = opSelect.value === "in" ? "a, b, c" : takesValue ? "" : "(no value)";
    caseLabel.hidden = !TEXT_OPERATORS.includes(opSelect.value);
  };
  opSelect.addEventListener("change", fitOperator);
  const row = el("li", { class: "condition-row" },
    el("label", { class: "check" }, el("input", { type: "checkbox", "data-part": "not", checked: not }), " not"),
    fieldInput, opSelect, valueInput, caseLabel,
    el("button", { type: "button", class: "small", "aria-label": "Remove this condition", onclick: () => row.remove() },
      "Remove"));
  fitOperator();
  rows.append(row);
  if (focus) fieldInput.focus();
}

/** The id of the page's one <datalist> of field paths, made on first use. */
function fieldList() {
  if (!document.getElementById("rule-fields")) {
    document.body.append(el("datalist", { id: "rule-fields" }, ...FIELDS.map((path) => el("option", { value: path }))));
  }
  return "rule-fields";
}

/** `condition` in one line: `labels.env = "prod" and not severity in ["info"]`. */
export function describeCondition(condition, nested = false) {
  if (condition === undefined || condition === null) return "every alert";
  const { all, any } = condition;
  if (Array.isArray(all)) return all.length ? joined(all, " and ", nested) : "every alert";
  if (Array.isArray(any)) return any.length ? joined(any, " or ", nested) : "no alert";
  if (condition.not !== undefined) return `not ${describeCondition(condition.not, true)}`;
  if (condition.time !== undefined) return describeTime(condition.time);
  return describeTest(condition);
}

function joined(parts, joiner, nested) {
  const text = parts.map((part) => describeCondition(part, true)).join(joiner);
  return nested && parts.length > 1 ? `(${text})` : text;
}

const VERBS = { equals: "=", in: "in", starts_with: "starts with", lt: "<", le: "≤", gt: ">", ge: "≥" };

function describeTest({ field, op, value, values, ignore_case: ignoreCase }) {
  let operand = quoted(value);
  if (op === "in") operand = `[${(values ?? []).map(quoted).join(", ")}]`;
  else if (op === "matches") operand = `/${value}/`;
  else if (op === "exists") operand = "";
  const text = [field, VERBS[op] ?? op, operand].filter(Boolean).join(" ");
  return ignoreCase ? `${text} (any case)` : text;
}

function describeTime({ zone, weekdays, from, to }) {
  const days = Array.isArray(weekdays) && weekdays.length ? weekdays.join(", ") : "every day";
  return `time ${days} ${from ?? "00:00"}–${to ?? "24:00"} ${zone}`;
}

function quoted(value) {
  return typeof value === "string" ? `"${value}"` : JSON.stringify(value);
}
